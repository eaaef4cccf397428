# 公数 gongshu — two commands: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
VENDOR := src/gongshu/web/static/vendor
PG_PORT ?= 55432
PG_DATA := $(CURDIR)/var/pgtest
PG_BIN = $(shell ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
TEST_PG_URL := postgresql+psycopg://postgres@127.0.0.1:$(PG_PORT)/postgres
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := chromium chromium-driver fonts-wqy-microhei postgresql openjdk-17-jre-headless wrk

.PHONY: demo test serve install assets system-deps pg-start pg-stop lint format test-sqlite test-pg bench clean

## make demo: set everything up, build 示例市 and serve it on http://127.0.0.1:8000
demo: install assets
	$(BIN)/gongshu demo --reset
	$(BIN)/gongshu serve

## make test: set everything up (venv, assets, PostgreSQL, Chromium, Java) and run every test
test: install assets system-deps pg-start lint test-sqlite test-pg

serve: install assets
	$(BIN)/gongshu serve

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "需要 Python 3.11（$(PYTHON)）"; exit 1; }
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

assets: $(VENDOR)/.built

$(VENDOR)/.built: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/echarts.min.js
	touch $@

system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium chromium-driver"; \
	dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || missing="$$missing fonts-wqy-microhei"; \
	[ -n "$(PG_BIN)" ] || missing="$$missing postgresql"; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	if [ -n "$$missing" ]; then \
	  echo "安装系统依赖：$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# A throwaway PostgreSQL on loopback for the test suite; reused when already running.
pg-start:
	@PGBIN=$$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); \
	AS=""; if [ "$$(id -u)" = 0 ]; then AS="runuser -u postgres --"; fi; \
	if [ ! -f $(PG_DATA)/PG_VERSION ]; then \
	  mkdir -p $(PG_DATA); [ -z "$$AS" ] || chown postgres $(PG_DATA); \
	  $$AS $$PGBIN/initdb -D $(PG_DATA) -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null; \
	fi; \
	if ! $$AS $$PGBIN/pg_ctl -D $(PG_DATA) status >/dev/null 2>&1; then \
	  $$AS $$PGBIN/pg_ctl -D $(PG_DATA) -l $(PG_DATA)/server.log -w \
	    -o "-p $(PG_PORT) -h 127.0.0.1 -k /tmp -c fsync=off -c full_page_writes=off -c max_connections=200" start >/dev/null; \
	fi; \
	echo "PostgreSQL 已在 127.0.0.1:$(PG_PORT) 运行"

pg-stop:
	@PGBIN=$$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); \
	AS=""; if [ "$$(id -u)" = 0 ]; then AS="runuser -u postgres --"; fi; \
	$$AS $$PGBIN/pg_ctl -D $(PG_DATA) stop -m fast || true

PY_DIRS = $(wildcard src tests benchmarks)

lint: install
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)

format: install
	$(BIN)/ruff check --fix $(PY_DIRS)
	$(BIN)/ruff format $(PY_DIRS)

# The whole suite on the embedded defaults (SQLite control plane, DuckDB, Spark, Chromium) ...
test-sqlite: install assets
	$(BIN)/python -m pytest --db=sqlite -q

# ... and every control-plane test again on PostgreSQL.
test-pg: install assets pg-start
	GONGSHU_TEST_PG_URL=$(TEST_PG_URL) $(BIN)/python -m pytest --db=postgresql -m controlplane -q

bench: install assets
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf var test-artifacts .pytest_cache
