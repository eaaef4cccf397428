"""A live server on a free loopback port and headless Chromium (the system's, via Playwright).

Every page load is watched: a request to any host other than this machine fails the
test, as do console errors and failed requests.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import uvicorn
from rich.console import Console
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gongshu import db
from gongshu.app import create_app
from gongshu.config import Settings
from gongshu.demo import build_demo

CHROMIUM = os.environ.get("GONGSHU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    settings: Settings


def _database_for(db_kind: str, template: str, tmp: Path) -> str:
    if db_kind == "sqlite":
        path = tmp / "live.db"
        shutil.copyfile(make_url(template).database or "", path)
        return f"sqlite:///{path}"
    tmpl = make_url(template)
    name = f"gongshu_live_{uuid.uuid4().hex[:10]}"
    admin = db.make_engine(
        tmpl.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{tmpl.database}"'))
    admin.dispose()
    return tmpl.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def live_server(
    _db_template: str, db_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The demo city served by uvicorn in a background thread."""
    tmp = tmp_path_factory.mktemp("live")
    settings = Settings(
        data_dir=tmp / "var",
        database_url=_database_for(db_kind, _db_template, tmp),
        secret_key="browser-test",
    )
    build_demo(settings, console=Console(file=open(os.devnull, "w")))  # noqa: SIM115
    port = _free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("live server did not start")
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{port}", settings)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; `make test` installs it")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Watch:
    external: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert not self.external, f"requests left this machine: {self.external}"
        assert not self.failed, f"failed requests: {self.failed}"
        assert not self.console_errors, f"console errors: {self.console_errors}"


@pytest.fixture
def page_factory(browser: Any, artifacts_dir: Path) -> Iterator[Any]:
    contexts: list[Any] = []

    def make(width: int = 1440, height: int = 900) -> tuple[Any, Watch]:
        context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        contexts.append(context)
        watch = Watch()

        def guard(route: Any) -> None:
            host = urlparse(route.request.url).hostname or ""
            if route.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
                route.continue_()
            else:
                watch.external.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        # ERR_ABORTED is the browser cancelling a previous page's loads on navigation.
        page.on(
            "requestfailed",
            lambda r: (
                None
                if "ERR_ABORTED" in (r.failure or "")
                else watch.failed.append(f"{r.url} {r.failure}")
            ),
        )
        page.on(
            "response",
            lambda r: watch.failed.append(f"{r.url} HTTP {r.status}") if r.status >= 400 else None,
        )
        page.on(
            "console",
            lambda m: watch.console_errors.append(m.text) if m.type == "error" else None,
        )
        return page, watch

    yield make
    for context in contexts:
        context.close()
