"""Server side of quality: binds the shared warehouse to the app's sessions for the
ingest gate, and runs scheduled checks (every ``GONGSHU_QUALITY_INTERVAL_S`` seconds,
default 6 hours; 0 turns it off) plus the overdue warnings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

from fastapi import FastAPI

from gongshu.quality import gate, service
from gongshu.warehouse import shared

log = logging.getLogger("gongshu.quality")


def interval_s() -> float:
    try:
        return float(os.environ.get("GONGSHU_QUALITY_INTERVAL_S", "21600"))
    except ValueError:
        return 21600.0


async def _loop(app: FastAPI, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await asyncio.to_thread(_scheduled, app)
        except Exception:
            log.exception("scheduled quality run failed")


def _scheduled(app: FastAPI) -> None:
    session = app.state.sessionmaker()
    try:
        service.run_due(session, wh=app.state.quality_wh)
    finally:
        session.close()


async def startup(app: FastAPI) -> None:
    wh = shared(app.state.settings.warehouse_url)
    app.state.quality_wh = wh
    gate.bind(wh.url, app.state.sessionmaker)
    seconds = interval_s()
    app.state.quality_task = asyncio.create_task(_loop(app, seconds)) if seconds > 0 else None


async def shutdown(app: FastAPI) -> None:
    task = getattr(app.state, "quality_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    wh = getattr(app.state, "quality_wh", None)
    if wh is not None:
        gate.unbind(wh.url)
