"""The cockpit inside the server: a small scheduler (on the process-wide warehouse,
``gongshu.warehouse.shared``).

The scheduler wakes every ``GONGSHU_COCKPIT_TICK_S`` seconds (default 60; set
``GONGSHU_COCKPIT_SCHEDULER=0`` to switch it off) and, in a worker thread, refreshes the
indicators whose cron schedule fired, sends due webhook deliveries (retries included)
and writes yesterday's operation log once it is past 06:30 local time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from datetime import datetime, timedelta
from typing import Any

from gongshu.warehouse import shared

log = logging.getLogger("gongshu.cockpit")
REPORT_AFTER = (6, 30)


def tick(app: Any, now: datetime | None = None) -> dict[str, Any]:
    """One scheduler round (also callable from tests)."""
    from gongshu.cockpit import alerts, report, service
    from gongshu.cockpit.models import Report

    done: dict[str, Any] = {}
    session = app.state.sessionmaker()
    try:
        due = service.due_for_refresh(session, now)
        if due:
            result = service.refresh(session, shared(app.state.settings.warehouse_url), codes=due)
            done["refreshed"] = result.computed
        done["deliveries"] = alerts.deliver_due(session, now=now)
        local = (now or datetime.now(service.TZ)).astimezone(service.TZ)
        yesterday = local.date() - timedelta(days=1)
        if (local.hour, local.minute) >= REPORT_AFTER and session.query(Report).filter(
            Report.day == yesterday
        ).first() is None:
            report.generate(session, yesterday)
            done["report"] = yesterday.isoformat()
    finally:
        session.close()
    return done


async def _loop(app: Any, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(tick, app)
        except Exception:  # keep the scheduler alive; the error is in the log
            log.exception("cockpit scheduler round failed")


async def on_startup(app: Any) -> None:
    if os.environ.get("GONGSHU_COCKPIT_SCHEDULER", "1") == "0":
        return
    every = float(os.environ.get("GONGSHU_COCKPIT_TICK_S", "60"))
    app.state.cockpit_task = asyncio.create_task(_loop(app, every))


async def on_shutdown(app: Any) -> None:
    task = getattr(app.state, "cockpit_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
