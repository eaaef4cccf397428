"""``kill -9`` of the loading process: the published table is exactly as before and the
load is marked failed by the next process.

The loader pulls from a department HTTP API that serves a number of full pages and then
holds the next request open, so the kill always lands mid-load (rows staged, nothing
published) however fast the machine is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy.orm import Session

from gongshu import db
from gongshu.auth.principal import Principal
from gongshu.config import Settings
from gongshu.ingest import service
from gongshu.ingest.models import Load
from gongshu.ingest.schemas import ColumnMapIn, SourceCreate
from gongshu.warehouse import connect, table_name_for

from .conftest import CLEAN_ROWS, write_csv

PAGE_SIZE = 5_000
FULL_PAGES = 6
COLUMNS = ("gmsfhm", "xm", "nl", "csrq", "xzqh", "djsj", "ysr")


class StallingApi(BaseHTTPRequestHandler):
    """Serves ``FULL_PAGES`` full pages, then holds the next request until released."""

    stalled = threading.Event()
    release = threading.Event()

    def do_GET(self) -> None:
        page = int(parse_qs(urlparse(self.path).query)["page"][0])
        if page > FULL_PAGES:
            type(self).stalled.set()
            type(self).release.wait(120)
            rows: list[dict[str, Any]] = []
        else:
            rows = [
                {
                    "gmsfhm": f"3306021990{page:02d}{i:06d}",
                    "xm": "某人",
                    "nl": 30,
                    "csrq": "1990-01-01",
                    "xzqh": "330602",
                    "djsj": "2024-01-01 08:00:00",
                    "ysr": 1,
                }
                for i in range(PAGE_SIZE)
            ]
        body = json.dumps({"list": rows}).encode()
        try:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the loader was killed while we held its request
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stalling_api() -> Iterator[str]:
    StallingApi.stalled.clear()
    StallingApi.release.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), StallingApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/people"
    StallingApi.release.set()
    server.shutdown()


def test_kill_9_mid_load(
    settings: Settings, session: Session, resource: Any, tmp_path: Path, stalling_api: str
) -> None:
    settings.ensure_dirs()
    with connect(settings.warehouse_url) as wh:
        first = service.ingest_file(
            session,
            Principal.system("test"),
            resource.code,
            write_csv(tmp_path / "a.csv", CLEAN_ROWS),
            wh=wh,
            settings=settings,
        )
        assert first.status == "succeeded"
        table = table_name_for(resource.code)
        before = wh.to_pyarrow(wh.table(table)).sort_by("gmsfhm")
    source = service.create_source(
        session,
        Principal.system("test"),
        SourceCreate(
            resource_id=resource.id,
            name="人口接口",
            kind="http",
            config={
                "url": stalling_api,
                "records_path": "list",
                "paging": "page",
                "page_size": PAGE_SIZE,
            },
            mapping=[ColumnMapIn(target=c, source=c) for c in COLUMNS],
        ),
        settings,
    )
    env = os.environ | {
        "GONGSHU_DATA_DIR": str(settings.data_dir),
        "GONGSHU_DATABASE_URL": settings.database_url,
        "GONGSHU_WAREHOUSE_URL": settings.warehouse_url,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gongshu.cli", "ingest", "run", str(source.id)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert StallingApi.stalled.wait(120), "loader never reached the held page"
        time.sleep(0.5)  # let the pipeline stage what it has read
        session.expire_all()
        running = session.query(Load).filter(Load.status == "running").one()
        assert proc.poll() is None, "loader ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    with connect(settings.warehouse_url) as wh:
        after = wh.to_pyarrow(wh.table(table_name_for(resource.code))).sort_by("gmsfhm")
        assert after.equals(before)
        assert not [t for t in wh.list_tables() if t.startswith("_")]
    engine = db.make_engine(settings.database_url)
    try:
        with db.session_scope(db.make_sessionmaker(engine)) as fresh:
            assert service.reap_stale_loads(fresh) == 1
            load = fresh.get(Load, running.id)
            assert load is not None and load.status == "failed"
            assert "中断" in (load.error or "")
    finally:
        engine.dispose()
