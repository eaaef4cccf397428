"""Shared fixtures: a real control-plane database (SQLite or PostgreSQL), the app, users.

``--db=sqlite`` (default) or ``--db=postgresql`` chooses the control plane; PostgreSQL
needs ``GONGSHU_TEST_PG_URL`` (``make test`` starts one on loopback). Every test that
touches the control plane is marked ``controlplane`` automatically, so the PostgreSQL
run can select exactly those.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from gongshu import db
from gongshu.app import create_app
from gongshu.config import Settings

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# The demo city's synthetic rows at 1% (10,000 persons): every demo build stays quick.
os.environ.setdefault("GONGSHU_INGEST_DEMO_ROWS", "0.01")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgresql"),
        default=os.environ.get("GONGSHU_TEST_DB", "sqlite"),
        help="control-plane database for the tests",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "db_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.controlplane)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "controlplane: uses the control-plane database")


@pytest.fixture(scope="session")
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--db"))


@pytest.fixture(scope="session")
def _db_template(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database to copy for each test (migrations run once)."""
    if db_kind == "sqlite":
        path = tmp_path_factory.mktemp("template") / "template.db"
        url = f"sqlite:///{path}"
        db.upgrade(url)
        yield url
        return
    admin_url = os.environ.get("GONGSHU_TEST_PG_URL")
    if not admin_url:
        pytest.fail("--db=postgresql needs GONGSHU_TEST_PG_URL (make test starts PostgreSQL)")
    name = f"gongshu_tmpl_{os.getpid()}"
    admin = db.make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    db.upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def db_url(_db_template: str, db_kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated control-plane database for one test."""
    if db_kind == "sqlite":
        path = tmp_path / "gongshu.db"
        shutil.copyfile(make_url(_db_template).database or "", path)
        yield f"sqlite:///{path}"
        return
    template = make_url(_db_template)
    name = f"gongshu_t_{uuid.uuid4().hex[:12]}"
    admin = db.make_engine(
        template.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
    yield template.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    data = tmp_path / "var"
    return Settings(
        data_dir=data,
        database_url=db_url,
        warehouse_url=f"duckdb:///{data / 'warehouse.duckdb'}",
        secret_key="test-secret-key",
    )


@pytest.fixture
def app(settings: Settings):  # type: ignore[no-untyped-def]
    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as c:
        yield c


@pytest.fixture
def session(app) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    s: Session = app.state.sessionmaker()
    try:
        yield s
    finally:
        s.close()


def login(client: TestClient, username: str, password: str) -> str:
    """Sign in through the login page; returns the CSRF token for API writes."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "login page has no CSRF token"
    resp = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text
    home = client.get("/")
    meta = re.search(r'name="csrf-token" content="([^"]+)"', home.text)
    assert meta
    client.headers["X-CSRF-Token"] = meta.group(1)
    return meta.group(1)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
