"""The share gateway ``/gw/<interface code>``: the one door for approved use.

Hot path (a pure ASGI handler, no dependency graph): API key → SHA-256 → in-process
snapshot (keys, interfaces, active grants) → grant check (resource, system, validity)
→ token bucket (rate) and daily quota in memory → the interface kind (parameter
validation, warehouse lookup, items/rows/masking) → orjson → a call record appended
to an in-memory buffer. Nothing on the hot path touches the control-plane database.

Cache coherence ("revocation takes effect on the next call"): every committed change
to a grant, interface or API key in this process bumps a process-local generation
(SQLAlchemy hooks in ``gongshu.sharing.coherence``) *after* the commit, so the next call
rebuilds the snapshot from committed state. The same transaction bumps the row
``share_gateway_state.generation``; other worker processes poll it every
``GONGSHU_SHARING_CACHE_POLL_S`` (1 s) in the flusher, so there a revocation takes
effect within that interval. Expiry (key ``expires_at``, grant ``valid_until``) is
checked on every call against the clock.

Call log (``gongshu.sharing.calllog``): records are buffered and written by a background task every
``flush_interval_s`` in one transaction (bulk insert into ``share_call``, additive
upserts into the daily rollups, one audit-chain entry sealing the batch with a SHA-256
over its records). A failed write keeps the batch for the next attempt; shutdown drains
the buffer, so the call-log count equals the calls served, also across a restart.

Warehouse lookups of concurrent calls are coalesced: while a query runs in a lookup
thread, new keys wait and go together in the next ``IN (...)`` query (group commit
style): no added delay when idle, far fewer DuckDB plans under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gongshu.auth.models import ApiKey
from gongshu.catalog import service as catalog
from gongshu.sharing import coherence, maskers, serving, warehouse_access
from gongshu.sharing.calllog import CallLog, CallRecord, local_day, write_calls
from gongshu.sharing.models import (
    CallDaily,
    GatewayState,
    Grant,
    Interface,
)
from gongshu.sharing.params import normalise, validator_for
from gongshu.sharing.service import LOCAL_TZ, sharing_settings
from gongshu.sharing.warehouse_access import Rows
from gongshu.warehouse import shared as shared_warehouse
from gongshu.warehouse import table_name_for

log = logging.getLogger("gongshu.sharing.gateway")
PREFIX = "/gw/"
JSON_HEADERS = [(b"content-type", b"application/json")]


class GatewayError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# ---- snapshot ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: int
    org_id: int
    system_id: int | None
    expires_at: datetime | None
    revoked: bool
    expires_ts: float | None = None  # expires_at as epoch seconds (checked on every call)


@dataclass(frozen=True, slots=True)
class ItemInfo:
    column: str
    data_element: str | None


@dataclass(slots=True)
class IfaceInfo:
    id: int
    code: str
    name: str
    kind: str
    resource_id: int
    owner_org_id: int
    table: str
    key_columns: tuple[str, ...]
    columns: tuple[str, ...]
    items: dict[str, ItemInfo]
    batch_max: int
    page_size: int
    cursor_column: str | None
    online: bool


@dataclass(slots=True)
class GrantInfo:
    id: int
    consumer_org_id: int
    system_id: int | None
    resource_id: int
    items: tuple[str, ...]
    masking: dict[str, str]
    filter_column: str | None
    filter_values: pa.Array | None
    valid_from: date
    valid_until: date
    daily_quota: int
    rate_limit: float
    filter_set: frozenset[str] | None = None
    # Per-snapshot caches (a changed grant is a new GrantInfo): shaping plans by
    # (result columns, fields), fetched columns by interface.
    _plans: dict[tuple[tuple[str, ...], tuple[str, ...]], Any] = field(
        default_factory=dict, repr=False, compare=False
    )
    _columns: dict[int, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)

    def keep_rows(self, table: pa.Table) -> pa.Table:
        if self.filter_column is None or table.num_rows == 0:
            return table
        mask = pc.is_in(table.column(self.filter_column), value_set=self.filter_values)
        return table.filter(mask)

    def shape(self, table: pa.Table, columns: list[str]) -> pa.Table:
        """Rows the grant allows, only ``columns``, masked: what leaves the gateway."""
        return maskers.apply(self.keep_rows(table).select(columns), self.masking)

    def shape_rows(self, rows: Rows, columns: list[str]) -> list[dict[str, Any]]:
        """``shape(rows.to_arrow(), columns).to_pylist()``, in plain Python for a small
        result (a point query's one row): the same filter, items and scalar masking twins.
        Anything else (many rows, a plugin masker, an unmapped type) takes the Arrow path.
        """
        plan = self._plan(rows, columns) if len(rows.rows) <= maskers.SMALL else None
        if plan is None:
            return self.shape(rows.to_arrow(), columns).to_pylist()
        fi, out = plan
        data = rows.rows
        if fi is not None:
            allowed = self.filter_set or frozenset()
            data = [r for r in data if r[fi] in allowed]
        return [{name: r[i] if fn is None else fn(r[i]) for name, i, fn in out} for r in data]

    def _plan(self, rows: Rows, columns: list[str]) -> Any:
        key = (rows.columns, tuple(columns))
        plan = self._plans.get(key, False)
        if plan is not False:
            return plan
        plan = _shape_plan(self, rows, columns)
        if len(self._plans) >= 64:  # ``fields`` is caller-chosen: keep the cache bounded
            self._plans.clear()
        self._plans[key] = plan
        return plan


def _shape_plan(grant: GrantInfo, rows: Rows, columns: list[str]) -> Any:
    """(index of the filter column or None, [(item, index, scalar masker or None)]), or
    None where only the Arrow path gives the exact same answer."""
    names = rows.columns
    fi = None
    if grant.filter_column is not None:
        if grant.filter_column not in names:
            return None
        fi = names.index(grant.filter_column)
        if rows.types[fi] != pa.string():
            return None
    out = []
    for name in dict.fromkeys(columns):
        if name not in names:
            return None
        i = names.index(name)
        if rows.types[i] is None:  # unmapped type: its Arrow round trip decides
            return None
        rule = grant.masking.get(name, "none")
        fn = None
        if rule != "none":
            fn = maskers.scalar_for(rule)
            if fn is None:
                return None
        out.append((name, i, fn))
    return fi, out


@dataclass(slots=True)
class Snapshot:
    generation: int
    keys: dict[str, KeyInfo]
    interfaces: dict[str, IfaceInfo]
    grants: dict[tuple[int, int], list[GrantInfo]]
    quota_used: dict[int, int]
    day: date


def _load_snapshot(
    session: Session, gen: int, day: date, on_table: Callable[[IfaceInfo], None]
) -> Snapshot:
    keys = {
        k.key_hash: KeyInfo(
            k.id,
            k.org_id,
            k.system_id,
            k.expires_at,
            k.revoked_at is not None,
            k.expires_at.timestamp() if k.expires_at is not None else None,
        )
        for k in session.scalars(select(ApiKey))
    }
    interfaces: dict[str, IfaceInfo] = {}
    for iface in session.scalars(select(Interface)):
        spec = catalog.resource_spec(session, iface.resource_id)
        info = IfaceInfo(
            id=iface.id,
            code=iface.code,
            name=iface.name,
            kind=iface.kind,
            resource_id=iface.resource_id,
            owner_org_id=iface.owner_org_id,
            table=table_name_for(spec.code),
            key_columns=tuple(iface.key_columns),
            columns=tuple(spec.columns),
            items={i.column: ItemInfo(i.column, i.data_element) for i in spec.items},
            batch_max=iface.batch_max,
            page_size=iface.page_size,
            cursor_column=iface.cursor_column,
            online=iface.status == "online" and spec.status == "published",
        )
        interfaces[iface.code] = info
        on_table(info)
    grants: dict[tuple[int, int], list[GrantInfo]] = defaultdict(list)
    for g in session.scalars(select(Grant).where(Grant.status == "active")):
        rf = g.row_filter or {}
        grants[(g.consumer_org_id, g.resource_id)].append(
            GrantInfo(
                id=g.id,
                consumer_org_id=g.consumer_org_id,
                system_id=g.system_id,
                resource_id=g.resource_id,
                items=tuple(g.items),
                masking=dict(g.masking or {}),
                filter_column=rf.get("column"),
                filter_values=pa.array(rf["values"], pa.string()) if rf else None,
                filter_set=frozenset(rf["values"]) if rf else None,
                valid_from=g.valid_from,
                valid_until=g.valid_until,
                daily_quota=g.daily_quota,
                rate_limit=g.rate_limit,
            )
        )
    used = dict(
        session.execute(
            select(CallDaily.grant_id, func.sum(CallDaily.ok))
            .where(CallDaily.day == day, CallDaily.grant_id > 0)
            .group_by(CallDaily.grant_id)
        ).all()
    )
    return Snapshot(gen, keys, interfaces, dict(grants), {k: int(v) for k, v in used.items()}, day)


# ---- lookups -----------------------------------------------------------------------


class KeyLookup:
    """Coalesces concurrent key lookups on one table into ``IN (...)`` queries.

    While a query runs in a lookup thread, keys of new calls wait and go together in the
    next one (group commit style). A query starts one event-loop pass after it could, so
    the calls already parsed and queued on the loop join it: no timer, no added delay
    when idle, and under load one DuckDB
    statement answers ~10 calls, which matters as its fixed cost (parse, plan, optimise,
    schedule: ~1 ms here) is several times that of fetching a row by the index.
    (Running the lookups on the event loop itself was measured: smaller batches and
    no overlap with the loop's own work made it ~2× the CPU per call.)
    """

    MAX_KEYS = 2000

    def __init__(self, runtime: Runtime, table: str, key: str, columns: tuple[str, ...]) -> None:
        self.runtime = runtime
        self.table = table
        self.key = key
        self.columns = columns
        self.key_index = columns.index(key)
        self.waiting: list[tuple[list[str], asyncio.Future[Rows]]] = []
        self.inflight = 0
        self.soon = False  # a launch is queued behind the calls ready on the loop

    async def get(self, keys: list[str]) -> Rows:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Rows] = loop.create_future()
        self.waiting.append((keys, fut))
        self._launch_soon(loop)
        return await fut

    def _launch_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self.soon and self.inflight < self.runtime.lookup_threads:
            self.soon = True
            loop.call_soon(self._launch)

    def _take(self) -> tuple[list[tuple[list[str], asyncio.Future[Rows]]], list[str]]:
        batch: list[tuple[list[str], asyncio.Future[Rows]]] = []
        n = 0
        while self.waiting and (not batch or n + len(self.waiting[0][0]) <= self.MAX_KEYS):
            keys, fut = self.waiting.pop(0)
            batch.append((keys, fut))
            n += len(keys)
        return batch, list(dict.fromkeys(k for keys, _ in batch for k in keys))

    def _launch(self) -> None:
        self.soon = False
        if self.inflight >= self.runtime.lookup_threads:
            return
        batch, wanted = self._take()
        if not batch:
            return
        self.inflight += 1
        task = asyncio.get_running_loop().run_in_executor(
            self.runtime.executor, self.runtime.query, self.table, self.columns, self.key, wanted
        )
        task.add_done_callback(lambda f: self._done(f, batch))

    def _done(
        self, f: asyncio.Future[Rows], batch: list[tuple[list[str], asyncio.Future[Rows]]]
    ) -> None:
        self.inflight -= 1
        try:
            exc = f.exception()
            self._deliver(batch, None if exc else f.result(), exc)
        finally:
            if self.waiting:
                self._launch_soon(asyncio.get_running_loop())

    def _deliver(
        self,
        batch: list[tuple[list[str], asyncio.Future[Rows]]],
        result: Rows | None,
        exc: BaseException | None,
    ) -> None:
        if result is None:
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc or RuntimeError("lookup failed"))
            return
        if len(batch) == 1:
            batch[0][1].done() or batch[0][1].set_result(result)
            return
        ki = self.key_index
        by_key: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for row in result.rows:
            v = row[ki]
            by_key[v if type(v) is str else str(v)].append(row)
        for keys, fut in batch:
            if not fut.done():
                fut.set_result(result.with_rows([r for k in keys for r in by_key.get(k, ())]))


# ---- rate limits, quotas -----------------------------------------------------------


class Limits:
    """Token bucket per grant (burst = one second of rate) and the daily quota."""

    def __init__(self) -> None:
        self.buckets: dict[int, list[float]] = {}
        self.used: dict[int, int] = {}
        self.day: date | None = None

    def reset(self, day: date, used: dict[int, int]) -> None:
        if self.day != day:
            self.used = dict(used)
            self.day = day
        else:
            for gid, n in used.items():
                self.used[gid] = max(self.used.get(gid, 0), n)

    def admit(self, grant: GrantInfo, now: float, day: date) -> None:
        if day != self.day:
            self.day, self.used = day, {}
        bucket = self.buckets.get(grant.id)
        cap = max(grant.rate_limit, 1.0)
        if bucket is None:
            bucket = self.buckets[grant.id] = [cap, now]
        tokens = min(cap, bucket[0] + (now - bucket[1]) * grant.rate_limit)
        bucket[1] = now
        if tokens < 1.0:
            bucket[0] = tokens
            raise GatewayError(429, "rate_limited", "调用过于频繁，已超过授权的速率限制")
        used = self.used.get(grant.id, 0)
        if used >= grant.daily_quota:
            bucket[0] = tokens
            raise GatewayError(429, "quota_exceeded", "今日调用次数已达授权配额")
        bucket[0] = tokens - 1.0
        self.used[grant.id] = used + 1  # reserved; released if the call fails

    def release(self, grant: GrantInfo) -> None:
        self.used[grant.id] = max(0, self.used.get(grant.id, 0) - 1)


# ---- the runtime -------------------------------------------------------------------


class Runtime:
    """Per-app gateway state: snapshot, limits, lookups, call log and the flusher."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.settings = sharing_settings()
        self.sessionmaker: sessionmaker[Session] = app.state.sessionmaker
        self.warehouse_url: str = app.state.settings.warehouse_url
        self.lookup_threads = max(1, self.settings.lookup_threads)
        self.executor = ThreadPoolExecutor(self.lookup_threads, thread_name_prefix="gw-lookup")
        self.snapshot: Snapshot | None = None
        self.db_generation: int | None = None
        self.limits = Limits()
        self.lookups: dict[tuple[str, str, tuple[str, ...]], KeyLookup] = {}
        self.calls = CallLog()
        self.flusher: asyncio.Task[None] | None = None
        self.stopping = False
        self._indexed: set[tuple[str, str]] = set()
        self._load_lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._wake = asyncio.Event()
        self._day: tuple[date, float, float] = (date.min, 0.0, 0.0)  # day, [start, end)
        self.serving = serving.Serving(
            Path(app.state.settings.data_dir), enabled=self.settings.serving
        )

    def today(self, now: float) -> date:
        """The local calendar day of ``now`` (epoch seconds), cached until it ends."""
        span = self._day
        if span[1] <= now < span[2]:
            return span[0]
        day = local_day(now)
        start = datetime.combine(day, datetime.min.time(), LOCAL_TZ).timestamp()
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), LOCAL_TZ)
        self._day = (day, start, end.timestamp())
        return day

    # -- snapshot
    def current(self) -> Snapshot:
        snap = self.snapshot
        gen = coherence.generation()
        if snap is None or snap.generation != gen:
            snap = self.reload(gen)
        return snap

    def reload(self, gen: int | None = None) -> Snapshot:
        gen = coherence.generation() if gen is None else gen
        today = datetime.now(LOCAL_TZ).date()
        with self._load_lock, self.sessionmaker() as session:
            snap = _load_snapshot(session, gen, today, self._note_table)
        self.limits.reset(today, snap.quota_used)
        self.snapshot = snap
        self._indexed.clear()  # republished tables lose their indexes: re-check lazily
        return snap

    def _note_table(self, info: IfaceInfo) -> None:
        return None

    def ensure_index(self, table: str, column: str) -> None:
        if (table, column) in self._indexed:
            return
        with self._index_lock:
            if (table, column) not in self._indexed:
                warehouse_access.ensure_key_index(self.warehouse(), table, column)
                self._indexed.add((table, column))

    def warehouse(self) -> Any:
        return shared_warehouse(self.warehouse_url)

    def query(self, table: str, columns: tuple[str, ...], key: str, keys: list[str]) -> Rows:
        # Runs in a lookup thread, so building a missing index never blocks the loop.
        self.ensure_index(table, key)
        return warehouse_access.lookup_rows(self.warehouse(), table, columns, key, keys)

    def lookup_for(self, iface: IfaceInfo, key: str, columns: tuple[str, ...]) -> KeyLookup:
        k = (iface.table, key, columns)
        lk = self.lookups.get(k)
        if lk is None:
            lk = self.lookups[k] = KeyLookup(self, iface.table, key, columns)
        return lk

    async def run_blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # -- flushing
    async def flush_loop(self) -> None:
        interval = self.settings.flush_interval_s
        last_poll = 0.0
        while not self.stopping:
            # Woken early on shutdown; never cancelled mid-write (a batch in flight
            # must either commit or go back to the buffer).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            await self.flush()
            now = time.monotonic()
            if now - last_poll >= self.settings.cache_poll_s:
                last_poll = now
                await self.poll_generation()

    async def flush(self) -> int:
        """Write what is buffered now (in ``flush_max`` chunks). Calls served meanwhile
        wait for the next tick: chasing them would write back-to-back small batches
        under load, and each batch has a fixed cost (transaction, rollups, audit seal)."""
        written = 0
        pending = len(self.calls.records)
        while pending > 0 and self.calls.records:
            batch = self.calls.records[: min(pending, self.settings.flush_max)]
            del self.calls.records[: len(batch)]
            pending -= len(batch)
            try:
                await asyncio.to_thread(self._write, batch)
            except Exception:
                log.exception("call log flush failed; %d records kept for retry", len(batch))
                self.calls.records[:0] = batch
                return written
            written += len(batch)
            self.calls.written += len(batch)
        return written

    def _write(self, batch: list[CallRecord]) -> None:
        with self.sessionmaker() as session:
            write_calls(session, batch)
            session.commit()

    async def poll_generation(self) -> None:
        def read() -> int | None:
            with self.sessionmaker() as session:
                return session.scalar(select(GatewayState.generation).where(GatewayState.id == 1))

        try:
            db_gen = await asyncio.to_thread(read)
        except Exception:
            log.warning("gateway generation poll failed", exc_info=True)
            return
        if self.db_generation is not None and db_gen != self.db_generation:
            coherence.touch()  # another process changed grants, interfaces or keys
        self.db_generation = db_gen

    async def start(self) -> None:
        if self.serving.enabled:
            await asyncio.to_thread(self.serving.cleanup_stale)
        await self.poll_generation()
        self.flusher = asyncio.create_task(self.flush_loop())

    async def stop(self) -> None:
        self.stopping = True
        self._wake.set()
        if self.flusher is not None:
            await self.flusher
        for attempt in range(20):  # drain: never lose a served call
            await self.flush()
            if not self.calls.records:
                break
            await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
        if self.calls.records:
            log.error("call log: %d records could not be written", len(self.calls.records))
        self.executor.shutdown(wait=True)
        await asyncio.to_thread(self.serving.close)


def runtime(app: Any) -> Runtime:
    # ``State`` keeps its attributes in ``_state``; reading the dict skips a Python-level
    # ``__getattr__`` on every call.
    rt = app.state._state.get("gateway")
    if rt is None:
        rt = app.state.gateway = Runtime(app)
    return rt


async def startup(app: Any) -> None:
    app.state.gateway = Runtime(app)  # fresh on every start (a restarted app, tests)
    _route_first(app)
    await app.state.gateway.start()


def _route_first(app: Any) -> None:
    """Match ``/gw/`` before every other route.

    The sharing router already holds the same route (so it works without the lifespan
    too), but routers are tried in domain order and matching every page and API route
    first costs more than a whole gateway call.
    """
    from starlette.routing import Route

    routes = app.router.routes
    if not any(getattr(r, "endpoint", None) is gateway_app for r in routes[:1]):
        routes.insert(0, Route("/gw/{path:path}", gateway_app, include_in_schema=False))


async def shutdown(app: Any) -> None:
    rt = getattr(app.state, "gateway", None)
    if rt is not None:
        await rt.stop()


# ---- the ASGI handler --------------------------------------------------------------


@dataclass(slots=True)
class CallContext:
    """What an interface kind gets: the checked interface and grant, and the request."""

    runtime: Runtime
    iface: IfaceInfo
    grant: GrantInfo
    method: str
    query: dict[str, str]
    receive: Callable[[], Awaitable[dict[str, Any]]]
    rows: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def fields(self) -> list[str]:
        """Requested items (``?fields=a,b``), all granted items by default; 403 beyond."""
        wanted = self.query.get("fields")
        if not wanted:
            return list(self.grant.items)
        # Each item once: a repeated name must not yield a second, unmasked column.
        cols = list(dict.fromkeys(c.strip() for c in wanted.split(",") if c.strip()))
        self.require_items(cols)
        return cols

    def require_items(self, cols: list[str]) -> None:
        denied = [c for c in cols if c not in self.grant.items]
        if denied:
            raise GatewayError(403, "item_not_granted", f"未获授权的数据项：{'、'.join(denied)}")

    def key_value(self, column: str, raw: str | None) -> str:
        if raw is None or not raw.strip():
            raise GatewayError(400, "missing_param", f"缺少查询参数：{column}")
        value = normalise(raw)
        item = self.iface.items.get(column)
        check, message = validator_for(column, item.data_element if item else None)
        if not check(value):
            raise GatewayError(400, "bad_param", f"{column}：{message}")
        return value

    async def body_json(self, limit: int = 1_048_576) -> Any:
        chunks = []
        size = 0
        while True:
            msg = await self.receive()
            body = msg.get("body", b"")
            size += len(body)
            if size > limit:
                raise GatewayError(413, "payload_too_large", "请求内容过大")
            chunks.append(body)
            if not msg.get("more_body"):
                break
        try:
            return orjson.loads(b"".join(chunks) or b"null")
        except orjson.JSONDecodeError:
            raise GatewayError(400, "bad_json", "请求体不是合法的 JSON") from None

    def grant_columns(self) -> tuple[str, ...]:
        """The columns any call under this grant may need: its items, the interface's key
        items and the row-filter column (one set per grant, so its calls coalesce)."""
        g, iface = self.grant, self.iface
        cols = g._columns.get(iface.id)
        if cols is None:
            wanted = {*g.items, *iface.key_columns, *([g.filter_column] if g.filter_column else [])}
            cols = g._columns[iface.id] = tuple(c for c in iface.columns if c in wanted)
        return cols

    async def lookup_rows(
        self, key: str, keys: list[str], columns: tuple[str, ...] | None = None
    ) -> Rows:
        """Rows for ``keys`` with ``columns`` (default: every column of the resource):
        from the serving replica, inline, when it holds the table's current version;
        otherwise from the warehouse in a lookup thread."""
        columns = columns or self.iface.columns
        rows = self.served_rows(key, keys, columns)
        return rows if rows is not None else await self.warehouse_rows(key, keys, columns)

    async def warehouse_rows(self, key: str, keys: list[str], columns: tuple[str, ...]) -> Rows:
        """The rows from the warehouse, in a lookup thread (coalesced with other calls)."""
        try:
            return await self.runtime.lookup_for(self.iface, key, columns).get(keys)
        except Exception as exc:
            log.exception("lookup failed on %s", self.iface.table)
            raise GatewayError(503, "warehouse_unavailable", "数据暂不可用，请稍后重试") from exc

    def served_rows(self, key: str, keys: list[str], columns: tuple[str, ...]) -> Rows | None:
        """The rows from the serving replica, inline, when it holds the table's current
        version; None when the warehouse must answer."""
        rt = self.runtime
        if not rt.serving.enabled:
            return None
        try:
            rep = rt.serving.get(rt.warehouse(), self.iface.table, key)
            rows = rep.lookup(keys, columns) if rep is not None else None
        except Exception:  # the warehouse still answers
            log.exception("serving replica lookup failed on %s", self.iface.table)
            return None
        if rows is not None:
            rt.serving.hits += 1
        return rows

    async def lookup(self, key: str, keys: list[str]) -> pa.Table:
        """:meth:`lookup_rows` as an Arrow table."""
        rows = await self.lookup_rows(key, keys)
        try:
            return rows.to_arrow()
        except Exception as exc:
            log.exception("lookup failed on %s", self.iface.table)
            raise GatewayError(503, "warehouse_unavailable", "数据暂不可用，请稍后重试") from exc


def _query_dict(raw: bytes) -> dict[str, str]:
    if not raw:
        return {}
    text = raw.decode("latin-1")
    if "%" in text or "+" in text or ";" in text:
        return dict(parse_qsl(text, keep_blank_values=True))
    # Nothing to unquote: parse_qsl's answer by plain splitting (tests compare the two).
    out: dict[str, str] = {}
    for pair in text.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            out[name] = value
    return out


def _presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    api_key = None
    for name, value in headers:
        if name == b"authorization":
            v = value.decode("latin-1")
            if v[:7].lower() == "bearer ":
                return v[7:].strip()
        elif name == b"x-api-key":
            api_key = value.decode("latin-1").strip()
    return api_key


async def _send(send: Callable[..., Awaitable[None]], status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*JSON_HEADERS, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


PING = orjson.dumps({"status": "ok"})


def _error_body(code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}})


class Gateway:
    """ASGI app for ``/gw/{path}``."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path: str = scope["path"]
        code = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
        if code == "ping":  # the bare floor of the stack; not a share call, not logged
            await _send(send, 200, PING)
            return
        t0 = time.perf_counter()
        now = time.time()
        rt = runtime(scope["app"])
        raw_query: bytes = scope.get("query_string", b"")
        digest = hashlib.blake2b(
            scope["method"].encode() + b" " + path.encode() + b"?" + raw_query, digest_size=8
        ).hexdigest()
        key: KeyInfo | None = None
        iface: IfaceInfo | None = None
        grant: GrantInfo | None = None
        admitted = False
        nrows = 0
        err: str | None = None
        try:
            snap = rt.current()
            presented = _presented_key(scope["headers"])
            if not presented:
                raise GatewayError(
                    401, "missing_key", "请提供接口密钥（Authorization: Bearer 或 X-API-Key）"
                )
            key = snap.keys.get(hashlib.sha256(presented.encode()).hexdigest())
            if key is None:
                raise GatewayError(401, "invalid_key", "接口密钥无效")
            if key.revoked:
                raise GatewayError(401, "revoked_key", "接口密钥已吊销")
            if key.expires_ts is not None and key.expires_ts <= now:
                raise GatewayError(401, "expired_key", "接口密钥已过期")
            iface = snap.interfaces.get(code)
            if iface is None or not iface.online:
                raise GatewayError(404, "interface_not_found", "接口不存在或已下线")
            today = rt.today(now)
            grant = _grant_for(snap, key, iface, today)
            kind = _kind(iface.kind)
            if scope["method"] not in kind.methods:
                raise GatewayError(405, "method_not_allowed", "该接口不支持此请求方法")
            ctx = CallContext(rt, iface, grant, scope["method"], _query_dict(raw_query), receive)
            await kind.prepare(ctx)
            rt.limits.admit(grant, time.monotonic(), today)
            admitted = True
            payload = await kind.run(ctx)
            nrows = ctx.rows
            body = orjson.dumps(payload, default=str)
            status = 200
        except GatewayError as exc:
            status, err = exc.status, exc.code
            body = _error_body(exc.code, exc.message)
        except Exception:
            log.exception("gateway call failed: %s", path)
            status, err = 500, "internal_error"
            body = _error_body(err, "服务器内部错误，请联系管理员")
        if admitted and status >= 400 and grant is not None:
            rt.limits.release(grant)
        # Logged before the send: a call whose answer is decided is a call served.
        rt.calls.append(
            (
                now,
                key.id if key else None,
                key.org_id if key else None,
                grant.id if grant else None,
                iface.id if iface else None,
                iface.owner_org_id if iface else None,
                digest,
                status,
                nrows,
                len(body),
                (time.perf_counter() - t0) * 1000.0,
                err,
            )
        )
        await _send(send, status, body)


_kinds: dict[str, Any] = {}


def _kind(name: str) -> Any:
    kind = _kinds.get(name)
    if kind is None:
        from gongshu.sharing.kinds import interface_kinds

        try:
            kind = _kinds[name] = interface_kinds.get(name)()
        except KeyError:
            raise GatewayError(404, "interface_not_found", "接口类型未安装") from None
    return kind


def _grant_for(snap: Snapshot, key: KeyInfo, iface: IfaceInfo, today: date) -> GrantInfo:
    """The first grant of the key's org (and system) on the resource valid today."""
    granted = False
    for g in snap.grants.get((key.org_id, iface.resource_id), ()):
        if g.system_id is None or g.system_id == key.system_id:
            if g.valid_from <= today <= g.valid_until:
                return g
            granted = True
    if not granted:
        raise GatewayError(403, "not_granted", "未获得该数据资源的共享授权")
    raise GatewayError(403, "grant_expired", "共享授权不在有效期内")


gateway_app = Gateway()
