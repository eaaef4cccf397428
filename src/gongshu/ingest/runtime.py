"""The server side of ingest: the shared warehouse, a worker pool for loads, the
scheduler loop and the IoT flusher. Started and drained by the domain's hooks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request

from gongshu.auth.principal import Principal
from gongshu.config import Settings
from gongshu.ingest import service
from gongshu.ingest.iot import IotBuffer
from gongshu.ingest.settings import IngestSettings, ingest_settings
from gongshu.warehouse import Warehouse, shared

log = logging.getLogger("gongshu.ingest")


@dataclass
class Runtime:
    settings: Settings
    options: IngestSettings
    wh: Warehouse
    pool: ThreadPoolExecutor
    iot: IotBuffer
    sessions: Any
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    running: dict[int, Future[Any]] = field(default_factory=dict)

    def submit(self, actor: Principal, load_id: int) -> Future[Any]:
        """Run a started load on the pool (the page returns at once and polls)."""

        def work() -> None:
            session = self.sessions()
            try:
                service.execute_load(session, actor, load_id, wh=self.wh, settings=self.settings)
            finally:
                session.close()
                self.running.pop(load_id, None)

        future = self.pool.submit(work)
        self.running[load_id] = future
        return future


def runtime(request: Request) -> Runtime:
    return request.app.state.ingest  # type: ignore[no-any-return]


async def _every(seconds: float, fn: Any) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await asyncio.to_thread(fn)
        except Exception:
            log.exception("ingest background job failed")


async def startup(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    options = ingest_settings()
    wh = shared(settings.warehouse_url)
    rt = Runtime(
        settings=settings,
        options=options,
        wh=wh,
        pool=ThreadPoolExecutor(max(1, options.workers), thread_name_prefix="ingest"),
        iot=IotBuffer(settings, app.state.sessionmaker, wh),
        sessions=app.state.sessionmaker,
    )
    app.state.ingest = rt
    session = app.state.sessionmaker()
    try:
        service.reap_stale_loads(session)
    finally:
        session.close()
    # Readings spooled before a crash are loaded first.
    await asyncio.to_thread(rt.iot.flush)

    def flush_if_due() -> None:
        rt.iot.flush()

    def run_due() -> None:
        session = rt.sessions()
        try:
            service.run_due(session, wh=rt.wh, settings=rt.settings)
        finally:
            session.close()

    rt.tasks.append(asyncio.create_task(_every(options.iot_flush_interval_s, flush_if_due)))
    if options.scheduler:
        rt.tasks.append(asyncio.create_task(_every(options.scheduler_interval_s, run_due)))


async def shutdown(app: FastAPI) -> None:
    rt: Runtime | None = getattr(app.state, "ingest", None)
    if rt is None:
        return
    for task in rt.tasks:
        task.cancel()
    for task in rt.tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    # Graceful: finish running loads, then load every buffered reading.
    await asyncio.to_thread(rt.pool.shutdown, True)
    await asyncio.to_thread(rt.iot.flush)
