"""A live open-data server on loopback for real HTTP clients (ckanapi, httpx streaming)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

from gongshu.app import create_app
from gongshu.config import Settings
from gongshu.warehouse import release_shared as close
from gongshu.warehouse import shared as warehouse
from tests.browser.conftest import _database_for, _free_port


@dataclass
class OpenServer:
    url: str
    app: Any
    settings: Settings


def serve(app: Any) -> tuple[str, Any, threading.Thread]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("live server did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


@pytest.fixture(scope="module")
def open_server(
    _db_template: str, db_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OpenServer]:
    """Two published datasets (one unconditional with 500 rows, one restricted)."""
    from tests.factories import make_org
    from tests.opendata.helpers import bus_resource, bus_rows, load, publish

    tmp = tmp_path_factory.mktemp("open")
    settings = Settings(
        data_dir=tmp / "var",
        database_url=_database_for(db_kind, _db_template, tmp),
        secret_key="open-test",
    )
    app = create_app(settings)
    wh = warehouse(settings.warehouse_url)
    session = app.state.sessionmaker()
    try:
        org = make_org(session, "JTJ", name="示例市交通运输局")
        res = bus_resource(session, org)
        load(wh, res.code, bus_rows(500))
        publish(session, wh, org, res, tags=["公交", "出行"])
        res2 = bus_resource(
            session, org, name="出租车运营", open_type="受限开放", open_reason="须申请", grade="L2"
        )
        load(wh, res2.code, bus_rows(20))
        publish(
            session,
            wh,
            org,
            res2,
            title="出租车运营明细",
            tags=["出租车"],
            description="出租车运营明细数据，须申请获批后使用。",
        )
    finally:
        session.close()
    url, server, thread = serve(app)
    yield OpenServer(url, app, settings)
    server.should_exit = True
    thread.join(timeout=10)
    close(settings.warehouse_url)
