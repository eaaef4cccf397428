"""Webhook notifications against a real HTTP receiver on loopback: retries, no duplicates."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongshu.cockpit import alerts, service
from gongshu.cockpit.models import Delivery
from gongshu.cockpit.schemas import IndicatorIn, WebhookIn
from gongshu.db import utcnow
from tests.factories import SYSTEM, make_org


class Receiver:
    """Fails the first ``fail_first`` requests with 500; the next one it accepts but
    answers too late (the sender times out, as when a response is lost); it remembers
    idempotency keys, so a repeat of an accepted message is acknowledged, not kept twice."""

    def __init__(self, fail_first: int, slow_once_s: float) -> None:
        self.fail_first = fail_first
        self.slow_once_s = slow_once_s
        self.requests: list[str] = []
        self.kept: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers["Idempotency-Key"]
                with receiver.lock:
                    receiver.requests.append(key)
                    n = len(receiver.requests)
                    fail = n <= receiver.fail_first
                    slow = n == receiver.fail_first + 1
                    if not fail:
                        receiver.kept.setdefault(key, body)
                if slow:
                    time.sleep(receiver.slow_once_s)
                self.send_response(500 if fail else 200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"errcode": %d}' % (1 if fail else 0))

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/robot/send"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=2, slow_once_s=1.5)
    yield r
    r.close()


def _open_alerts(session: Session, n: int) -> list[Any]:
    org = make_org(session, "SJJ", name="示例市数据局")
    ind = service.create_indicator(
        session,
        SYSTEM,
        IndicatorIn(
            code="test.hook",
            name="测试指标",
            topic="城市管理",
            owner_org_id=org.id,
            definition="SELECT day AS period, aqi AS value FROM city_air_quality_daily",
            sources=["city_air_quality_daily"],
        ),
    )
    out = []
    for i in range(n):
        alert, event = alerts.raise_alert(
            session,
            ind,
            rule=("upper", "lower", "rate")[i],
            level="orange",
            message=f"测试预警{i}",
            period=datetime(2026, 1, 1),
            value=1.0,
            threshold=0.5,
            detail={},
        )
        assert event == "opened"
        out.append((alert, ind, event))
    session.commit()
    return out


def test_deliveries_are_retried_with_backoff_and_never_duplicated(
    session: Session, receiver: Receiver
) -> None:
    service.create_webhook(
        session, SYSTEM, WebhookIn(name="值班群", url=receiver.url, format="json")
    )
    opened = _open_alerts(session, 3)
    for alert, ind, event in opened:
        assert alerts.queue_notifications(session, alert, ind, event) == 1
        assert alerts.queue_notifications(session, alert, ind, event) == 0  # same event: no new row
    session.commit()

    now = utcnow()
    rounds = 0
    while session.scalar(select(func.count()).where(Delivery.status == "pending")) and rounds < 6:
        alerts.deliver_due(session, now=now, timeout_s=0.5)
        now += alerts.BACKOFF_MAX_S * timedelta(seconds=1)  # jump past any backoff
        rounds += 1
    session.expire_all()
    rows = list(session.scalars(select(Delivery).order_by(Delivery.id)))
    assert [r.status for r in rows] == ["sent"] * 3
    # Two 500s and one lost response were retried ...
    assert len(receiver.requests) == 3 + 3
    assert sum(r.attempts for r in rows) == 6
    # ... and the receiver kept each message exactly once, under its own key.
    assert sorted(receiver.kept) == sorted(r.key for r in rows)
    assert len(set(receiver.requests)) == 3
    body = receiver.kept[rows[0].key]
    assert body["idempotency_key"] == rows[0].key and "测试预警" in body["text"]["content"]


def test_backoff_waits_before_retrying(session: Session, receiver: Receiver) -> None:
    service.create_webhook(session, SYSTEM, WebhookIn(name="值班群", url=receiver.url))
    ((alert, ind, event),) = _open_alerts(session, 1)
    alerts.queue_notifications(session, alert, ind, event)
    session.commit()
    now = utcnow()
    assert alerts.deliver_due(session, now=now)["retry"] == 1
    # Not due yet: nothing is sent before the backoff has passed.
    assert alerts.deliver_due(session, now=now + timedelta(seconds=5)) == {
        "sent": 0,
        "retry": 0,
        "failed": 0,
    }
    assert len(receiver.requests) == 1
    later = now + alerts.backoff(1) + timedelta(seconds=1)
    assert alerts.deliver_due(session, now=later)["retry"] == 1  # second 500
    assert len(receiver.requests) == 2


def test_im_bot_payload_formats(session: Session) -> None:
    ((alert, ind, _),) = _open_alerts(session, 1)
    ding = alerts.payload_for("dingtalk", alert, ind, "opened", "k")
    assert ding["msgtype"] == "markdown" and "橙色预警" in ding["markdown"]["title"]
    assert alerts.payload_for("wecom", alert, ind, "opened", "k")["markdown"]["content"]
    assert alerts.payload_for("feishu", alert, ind, "opened", "k")["msg_type"] == "text"
