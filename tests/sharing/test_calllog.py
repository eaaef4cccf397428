"""No call is lost: the call-log count equals the calls served, under concurrent load
and across a graceful restart of a real uvicorn server."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongshu.audit import service as audit
from gongshu.config import Settings
from gongshu.sharing.models import Call, CallDaily
from gongshu.sharing.schemas import Terms
from tests.sharing.helpers import build_world, consumer_key, grant_person, publish_interface


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, app: Any) -> None:
        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True  # graceful: finish requests, run lifespan shutdown
        self.thread.join(30)
        assert not self.thread.is_alive()


def _hammer(port: int, key: str, people: list[str], n: int, workers: int = 16) -> int:
    """``n`` calls from ``workers`` concurrent connections; returns the responses received."""
    base = f"http://127.0.0.1:{port}"

    def worker(i: int) -> int:
        got = 0
        with httpx.Client(base_url=base, timeout=30) as c:
            for j in range(i, n, workers):
                params = {"gmsfhm": people[j % len(people)]}
                if j % 7 == 0:
                    params = {"gmsfhm": "11010519491231002Y"}  # 400s are calls too
                headers = {"Authorization": f"Bearer {key if j % 11 else key + 'x'}"}
                r = c.get("/gw/person-query", params=params, headers=headers)
                assert r.status_code in (200, 400, 401), r.text
                got += 1
        return got

    with ThreadPoolExecutor(workers) as pool:
        return sum(pool.map(worker, range(workers)))


@pytest.mark.slow
def test_call_log_count_equals_calls_served(app: Any, session: Session, settings: Settings) -> None:
    w = build_world(session, settings, rows=200)
    grant_person(session, w, Terms(rate_limit=100_000, daily_quota=1_000_000))
    publish_interface(session, w, "query")
    _, key = consumer_key(session, w)
    people = w.persons.column("gmsfhm").to_pylist()
    served = 0
    with Server(app) as s:
        served += _hammer(s.port, key, people, 600)
    # Restarted (a new server and runtime on the same app and database).
    with Server(app) as s:
        served += _hammer(s.port, key, people, 400)
        served += _hammer(s.port, key, people, 64, workers=32)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Call)) == served
    assert session.scalar(select(func.sum(CallDaily.calls))) == served
    assert audit.verify(session).ok
