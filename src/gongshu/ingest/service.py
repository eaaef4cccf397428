"""Aggregation rules: sources, loads, rejects, ledger, 应归未归 and IoT devices.

Functions take ``(session, actor, ...)``; the warehouse is passed in explicitly (the
server shares one per process, see :func:`gongshu.warehouse.shared`). A load is a
control-plane row committed as *running* before any staging, so a crash or ``kill -9``
leaves it visible; :func:`reap_stale_loads` marks such loads failed (every CLI run and
the server's startup call it), while the warehouse's atomic publish guarantees the
published table was never touched.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import logging
import os
import secrets
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import Date, cast, func, select, type_coerce
from sqlalchemy.orm import Session

from gongshu.audit import service as audit
from gongshu.auth.principal import Principal, Role
from gongshu.config import Settings
from gongshu.db import UTCDateTime, utcnow
from gongshu.errors import AppError, Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from gongshu.ingest import catalog_port, connectors
from gongshu.ingest.connectors import ConnectorContext, Pull, WatermarkTracker
from gongshu.ingest.connectors.files import allowed_roots
from gongshu.ingest.models import Device, Load, LoadStatus, Source
from gongshu.ingest.pipeline import LoadStats, Progress, run_load
from gongshu.ingest.readers import TabularReader, format_for
from gongshu.ingest.schemas import DeviceCreate, SourceCreate, SourceUpdate
from gongshu.ingest.settings import ingest_settings
from gongshu.ingest.spec import ResourceSpec
from gongshu.ingest.transform import ColumnMap, check_mapping, suggest_mapping
from gongshu.orgs import service as orgs
from gongshu.processes import pid_alive
from gongshu.warehouse import Warehouse, WarehouseError

log = logging.getLogger("gongshu.ingest")
LOCAL = ZoneInfo("Asia/Shanghai")
HOST = socket.gethostname()
DEVICE_KEY_PREFIX = "gsd"

# How old the newest successful load may be before a resource counts as 应归未归.
CYCLE_DAYS: dict[str, float] = {
    "实时": 1,
    "每日": 2,
    "每周": 8,
    "每旬": 11,
    "每月": 32,
    "每季度": 93,
    "每年": 367,
}


def connector_context(settings: Settings) -> ConnectorContext:
    return ConnectorContext(
        settings, allowed_roots(settings.data_dir, ingest_settings().file_roots)
    )


def _scoped(stmt: Any, actor: Principal, column: Any) -> Any:
    return stmt if actor.can_read_org(None) else stmt.where(column == actor.org_id)


def _staff(actor: Principal) -> None:
    actor.ensure_role(Role.admin, Role.officer, Role.leader)


# ---- sources -------------------------------------------------------------------------


def _validate_schedule(expr: str | None) -> str | None:
    if not expr or not expr.strip():
        return None
    expr = " ".join(expr.split())
    if not croniter.is_valid(expr) or len(expr.split()) != 5:
        raise ValidationFailed(
            f"计划“{expr}”不是有效的 cron 表达式（分 时 日 月 周）", code="bad_schedule"
        )
    return expr


def next_run(expr: str | None, after: datetime | None = None) -> datetime | None:
    """Next run time of a cron schedule, read in Asia/Shanghai, returned in UTC."""
    if not expr:
        return None
    base = (after or utcnow()).astimezone(LOCAL)
    return croniter(expr, base).get_next(datetime).astimezone(UTC)


def _check_mapping(spec: ResourceSpec, mapping: list[ColumnMap], columns: list[str] | None) -> None:
    check_mapping(
        spec, mapping, columns if columns is not None else [m.source for m in mapping if m.source]
    )


def _check_mode(spec: ResourceSpec, mode: str, watermark_column: str | None, kind: str) -> None:
    if mode == "incremental" and not spec.key_columns:
        raise ValidationFailed(
            "增量归集按主键更新，该资源在目录中没有主键数据项", code="no_key", field="mode"
        )
    if watermark_column and kind == "file":
        raise ValidationFailed("文件来源不使用水位列", code="bad_watermark")


def create_source(
    session: Session, actor: Principal, data: SourceCreate, settings: Settings
) -> Source:
    spec = catalog_port.require_published(
        catalog_port.get_resource(session, actor, data.resource_id)
    )
    actor.ensure_write(spec.owner_org_id, "数据资源")
    connector = connectors.get(data.kind)
    config = connector.check(data.config, connector_context(settings))
    mapping = [ColumnMap.from_dict(m.model_dump()) for m in data.mapping or []]
    if mapping:
        _check_mapping(spec, mapping, None)
    _check_mode(spec, data.mode, data.watermark_column, data.kind)
    schedule = _validate_schedule(data.schedule)
    source = Source(
        org_id=spec.owner_org_id,
        resource_id=spec.id,
        resource_code=spec.code,
        name=data.name,
        kind=data.kind,
        config=config,
        mapping=[m.as_dict() for m in mapping],
        mode=data.mode,
        watermark_column=data.watermark_column or None,
        schedule=schedule,
        enabled=data.enabled,
        max_reject_ratio=data.max_reject_ratio,
        next_run_at=next_run(schedule) if data.enabled else None,
        created_by=actor.name,
    )
    session.add(source)
    session.flush()
    audit.record(
        session,
        actor,
        "ingest.source.create",
        "ingest_source",
        source.id,
        org_id=source.org_id,
        detail={"resource": spec.code, "kind": data.kind, "name": data.name},
    )
    session.commit()
    return source


def list_sources(
    session: Session,
    actor: Principal,
    *,
    resource_id: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Source], int]:
    _staff(actor)
    stmt = _scoped(select(Source), actor, Source.org_id)
    if resource_id is not None:
        stmt = stmt.where(Source.resource_id == resource_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Source.id.desc()).offset(offset).limit(limit))
    return list(rows), total


def get_source(session: Session, actor: Principal, source_id: int) -> Source:
    source = session.get(Source, source_id)
    if source is None or not actor.can_read_org(source.org_id):
        raise NotFound("归集来源不存在或无权访问")
    _staff(actor)
    return source


def update_source(
    session: Session, actor: Principal, source_id: int, data: SourceUpdate, settings: Settings
) -> Source:
    source = get_source(session, actor, source_id)
    actor.ensure_write(source.org_id, "归集来源")
    spec = catalog_port.resource(session, source.resource_id)
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and not changes["name"]:
        raise ValidationFailed("来源名称不能为空", code="required", field="name")
    if changes.get("config") is not None:
        changes["config"] = connectors.get(source.kind).check(
            changes["config"], connector_context(settings)
        )
    if changes.get("mapping") is not None:
        mapping = [ColumnMap.from_dict(m) for m in changes["mapping"]]
        _check_mapping(spec, mapping, None)
        changes["mapping"] = [m.as_dict() for m in mapping]
    if "schedule" in changes:
        changes["schedule"] = _validate_schedule(changes["schedule"])
    mode = changes.get("mode") or source.mode
    _check_mode(spec, mode, changes.get("watermark_column", source.watermark_column), source.kind)
    diff = {}
    for field, value in changes.items():
        if value is None and field not in ("schedule", "watermark_column"):
            continue
        if getattr(source, field) != value:
            diff[field] = "mapping" if field == "mapping" else [getattr(source, field), value]
            setattr(source, field, value)
    if "mode" in diff or "watermark_column" in diff:
        source.watermark = None  # a new mode starts from the beginning
    source.next_run_at = next_run(source.schedule) if source.enabled else None
    audit.record(
        session,
        actor,
        "ingest.source.update",
        "ingest_source",
        source.id,
        org_id=source.org_id,
        detail={k: v for k, v in diff.items() if k != "config"}
        | ({"config": "changed"} if "config" in diff else {}),
    )
    session.commit()
    return source


def describe_source(
    session: Session, actor: Principal, source_id: int, settings: Settings, rows: int = 5
) -> dict[str, Any]:
    """Source columns, a few preview rows and the mapping (suggested if none saved)."""
    source = get_source(session, actor, source_id)
    spec = catalog_port.resource(session, source.resource_id)
    connector = connectors.get(source.kind)
    reader = connector.open(source.config, connector_context(settings), Pull())
    columns = list(reader.columns)
    encoding = reader.encoding
    try:
        preview = reader.preview(rows)
    except AppError:
        preview = []
    mapping = [ColumnMap.from_dict(m) for m in source.mapping] or suggest_mapping(spec, columns)
    return {
        "columns": columns,
        "encoding": encoding,
        "preview": [{k: (None if v is None else str(v)) for k, v in r.items()} for r in preview],
        "mapping": [m.as_dict() for m in mapping],
        "suggested": not source.mapping,
        "resource": spec,
    }


# ---- uploads -------------------------------------------------------------------------


def save_upload(
    session: Session,
    actor: Principal,
    resource_id: int,
    filename: str,
    stream: BinaryIO,
    settings: Settings,
    *,
    mode: str = "full",
    encoding: str | None = None,
) -> Source:
    """Store an uploaded file under ``uploads/`` and make a file source for it.

    The source starts with the suggested mapping; the operator edits it, then runs.
    """
    spec = catalog_port.require_published(catalog_port.get_resource(session, actor, resource_id))
    actor.ensure_write(spec.owner_org_id, "数据资源")
    name = Path(filename or "upload.csv").name.replace("\x00", "")[:200] or "upload.csv"
    fmt = format_for(name)
    folder = settings.data_dir / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    target = folder / f"data.{fmt}"
    try:
        with open(target, "wb") as out:
            shutil.copyfileobj(stream, out, 8 * 1024 * 1024)
        if target.stat().st_size == 0:
            raise ValidationFailed("上传的文件是空的", code="empty_file")
        config: dict[str, Any] = {"path": str(target), "format": fmt, "file_name": name}
        if encoding:
            config["encoding"] = encoding
        data = SourceCreate(
            resource_id=spec.id,
            name=f"上传：{name}"[:100],
            kind="file",
            config=config,
            mode=mode,  # type: ignore[arg-type]
        )
        source = create_source(session, actor, data, settings)
        reader = connectors.get("file").open(source.config, connector_context(settings), Pull())
        source.mapping = [m.as_dict() for m in suggest_mapping(spec, reader.columns)]
        reader.close()
        session.commit()
        return source
    except BaseException:
        session.rollback()
        shutil.rmtree(folder, ignore_errors=True)
        raise


# ---- loads ---------------------------------------------------------------------------


def reap_stale_loads(session: Session) -> int:
    """Mark failed the running loads of processes on this host that no longer exist."""
    count = 0
    for load in session.scalars(select(Load).where(Load.status == LoadStatus.running)):
        if load.host != HOST or load.pid is None or pid_alive(load.pid):
            continue
        load.status = LoadStatus.failed
        load.error = "归集进程意外中断（已保留原有数据）"
        load.finished_at = utcnow()
        count += 1
    if count:
        session.commit()
    return count


def start_load(
    session: Session,
    actor: Principal,
    spec: ResourceSpec,
    *,
    kind: str,
    config: dict[str, Any],
    mapping: list[dict[str, Any]],
    mode: str,
    source: Source | None = None,
    file_name: str | None = None,
    max_reject_ratio: float = 0.5,
) -> Load:
    """Record a running load (committed), after checking no other load of the resource runs."""
    catalog_port.require_published(spec)
    actor.ensure_write(spec.owner_org_id, "数据资源")
    reap_stale_loads(session)
    busy = session.scalar(
        select(Load.id).where(Load.resource_id == spec.id, Load.status == LoadStatus.running)
    )
    if busy is not None:
        raise Conflict(f"资源“{spec.name}”正在归集（批次 {busy}），请稍后再试", code="load_running")
    load = Load(
        org_id=spec.owner_org_id,
        resource_id=spec.id,
        resource_code=spec.code,
        resource_name=spec.name,
        source_id=source.id if source else None,
        kind=kind,
        mode=mode,
        status=LoadStatus.running,
        file_name=file_name,
        actor_type=actor.kind,
        actor_name=actor.name,
        pid=os.getpid(),
        host=HOST,
    )
    session.add(load)
    session.flush()
    load_plans[load.id] = {
        "kind": kind,
        "config": config,
        "mapping": mapping,
        "mode": mode,
        "max_reject_ratio": max_reject_ratio,
        "watermark_column": source.watermark_column if source else None,
        "watermark": source.watermark if source else None,
    }
    audit.record(
        session,
        actor,
        "ingest.load.start",
        "ingest_load",
        load.id,
        org_id=load.org_id,
        detail={"resource": spec.code, "kind": kind, "mode": mode, "source": load.source_id},
    )
    session.commit()
    return load


# What each started load runs; kept in-process (a load never outlives its process).
load_plans: dict[int, dict[str, Any]] = {}


def start_source_load(session: Session, actor: Principal, source_id: int) -> Load:
    source = get_source(session, actor, source_id)
    actor.ensure_write(source.org_id, "归集来源")
    spec = catalog_port.resource(session, source.resource_id)
    if not source.mapping:
        raise ValidationFailed("请先设置列映射", code="mapping_required")
    return start_load(
        session,
        actor,
        spec,
        kind=source.kind,
        config=source.config,
        mapping=source.mapping,
        mode=source.mode,
        source=source,
        file_name=source.config.get("file_name")
        or (Path(source.config["path"]).name if source.kind == "file" else None),
        max_reject_ratio=source.max_reject_ratio,
    )


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, AppError):
        return exc.message
    if isinstance(exc, WarehouseError):
        return f"数仓写入失败：{str(exc)[:300]}"
    if isinstance(exc, MemoryError):
        return "内存不足，归集失败"
    return f"归集失败：内部错误（{type(exc).__name__}）"


def execute_load(
    session: Session,
    actor: Principal,
    load_id: int,
    *,
    wh: Warehouse,
    settings: Settings,
    progress: Progress | None = None,
    reader: TabularReader | None = None,
) -> Load:
    """Run a started load to the end. Never raises for a failed load: it is recorded."""
    load = session.get(Load, load_id)
    if load is None or load.status != LoadStatus.running:
        raise NotFound("归集批次不存在或不在进行中")
    plan = load_plans.pop(load_id, None)
    tracker = WatermarkTracker(plan["watermark_column"] if plan else None)
    try:
        if plan is None:
            raise ValidationFailed("归集任务已失效（服务重启），请重新发起", code="plan_lost")
        spec = catalog_port.require_published(catalog_port.resource(session, load.resource_id))
        if reader is None:
            pull = Pull(
                mode=plan["mode"],
                watermark_column=plan["watermark_column"],
                watermark=connectors.decode_watermark(plan["watermark"]),
            )
            reader = connectors.get(plan["kind"]).open(
                plan["config"], connector_context(settings), pull
            )
        load.encoding = reader.encoding
        load.columns = list(reader.columns)[:500]
        mapping = [ColumnMap.from_dict(m) for m in plan["mapping"]] or suggest_mapping(
            spec, reader.columns
        )
        stats = run_load(
            wh,
            spec,
            reader,
            mapping,
            load_id=load.id,
            mode=plan["mode"],
            max_reject_ratio=plan["max_reject_ratio"],
            progress=progress,
            tmp_dir=settings.data_dir / "tmp",
            on_batch=tracker,
        )
    except Exception as exc:  # every failure is recorded on the load, never half-published
        if not isinstance(exc, AppError):
            log.exception("load %s failed", load_id)
        session.rollback()
        load = session.get(Load, load_id)
        assert load is not None
        partial = getattr(exc, "stats", None)
        _finish(session, actor, load, LoadStatus.failed, partial, _error_text(exc))
        return load
    if load.source_id is not None:
        source = session.get(Source, load.source_id)
        if source is not None:
            source.last_load_id = load.id
            if tracker.value is not None:
                source.watermark = connectors.encode_watermark(tracker.value)
    _finish(session, actor, load, LoadStatus.succeeded, stats, None)
    _announce(session, load, spec, wh)
    return load


def _announce(session: Session, load: Load, spec: ResourceSpec, wh: Warehouse) -> None:
    """Tell the ``gongshu.load_listeners`` plugins (open data, …) that a load was published.

    Listener failures are logged by ``notify`` and never undo the load."""
    from gongshu.opendata.hooks import LoadPublished, notify

    event = LoadPublished(
        resource_id=spec.id,
        table=spec.table,
        load_id=load.id,
        rows=load.rows_accepted,
        mode=load.mode,
    )
    notify(session, event, warehouse=wh)


def _finish(
    session: Session,
    actor: Principal,
    load: Load,
    status: str,
    stats: LoadStats | None,
    error: str | None,
) -> None:
    load.status = status
    load.error = error
    load.finished_at = utcnow()
    load.duration_s = (load.finished_at - load.started_at).total_seconds()
    if stats is not None:
        load.rows_read = stats.rows_read
        load.rows_accepted = stats.rows_accepted
        load.rows_rejected = stats.rows_rejected
        load.bytes_read = stats.bytes_read
    if load.source_id is not None:
        source = session.get(Source, load.source_id)
        if source is not None and source.enabled and source.schedule:
            source.next_run_at = next_run(source.schedule)
    audit.record(
        session,
        actor,
        "ingest.load.finish",
        "ingest_load",
        load.id,
        outcome="ok" if status == LoadStatus.succeeded else "failed",
        org_id=load.org_id,
        detail={
            "resource": load.resource_code,
            "rows_read": load.rows_read,
            "rows_accepted": load.rows_accepted,
            "rows_rejected": load.rows_rejected,
            "error": error,
        },
    )
    session.commit()


def run_source(
    session: Session,
    actor: Principal,
    source_id: int,
    *,
    wh: Warehouse,
    settings: Settings,
    progress: Progress | None = None,
) -> Load:
    load = start_source_load(session, actor, source_id)
    return execute_load(session, actor, load.id, wh=wh, settings=settings, progress=progress)


def ingest_file(
    session: Session,
    actor: Principal,
    resource: str | int,
    path: str | os.PathLike[str],
    *,
    wh: Warehouse,
    settings: Settings,
    mode: str = "full",
    encoding: str | None = None,
    mapping: list[ColumnMap] | None = None,
    progress: Progress | None = None,
    reader: TabularReader | None = None,
) -> Load:
    """One-off load of a server file (the CLI); mapping suggested from the header."""
    spec = (
        catalog_port.get_resource(session, actor, resource)
        if isinstance(resource, int)
        else catalog_port.resource_by_code(session, resource)
    )
    actor.ensure_read(spec.owner_org_id, "数据资源")
    path = Path(path).resolve()
    config = {"path": str(path)} | ({"encoding": encoding} if encoding else {})
    load = start_load(
        session,
        actor,
        spec,
        kind="file",
        config=config,
        mapping=[m.as_dict() for m in mapping or []],
        mode=mode,
        file_name=path.name,
    )
    if reader is None:
        from gongshu.ingest.readers import open_file

        try:
            reader = open_file(path, encoding=encoding)
        except AppError as exc:
            load_plans.pop(load.id, None)
            _finish(session, actor, load, LoadStatus.failed, None, exc.message)
            return load
    return execute_load(
        session, actor, load.id, wh=wh, settings=settings, progress=progress, reader=reader
    )


def list_loads(
    session: Session,
    actor: Principal,
    *,
    resource_id: int | None = None,
    source_id: int | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Load], int]:
    _staff(actor)
    stmt = _scoped(select(Load), actor, Load.org_id)
    if resource_id is not None:
        stmt = stmt.where(Load.resource_id == resource_id)
    if source_id is not None:
        stmt = stmt.where(Load.source_id == source_id)
    if status:
        stmt = stmt.where(Load.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Load.id.desc()).offset(offset).limit(limit))
    return list(rows), total


def get_load(session: Session, actor: Principal, load_id: int) -> Load:
    load = session.get(Load, load_id)
    if load is None or not actor.can_read_org(load.org_id):
        raise NotFound("归集批次不存在或无权访问")
    _staff(actor)
    return load


def _rejects_expr(wh: Warehouse, load: Load) -> Any:
    from gongshu.ingest.spec import ResourceSpec as Spec

    table = Spec(
        id=load.resource_id, code=load.resource_code, name="", owner_org_id=0
    ).rejects_table
    if not wh.exists(table):
        return None
    t = wh.table(table)
    return t.filter(t.load_id == load.id).order_by(t.line).select("line", "reason", "raw")


def rejects_preview(
    session: Session, actor: Principal, load_id: int, wh: Warehouse, limit: int = 50
) -> list[dict[str, Any]]:
    load = get_load(session, actor, load_id)
    expr = _rejects_expr(wh, load)
    if expr is None or not load.rows_rejected:
        return []
    return wh.to_pyarrow(expr.limit(limit)).to_pylist()


def rejects_csv(
    session: Session, actor: Principal, load_id: int, wh: Warehouse
) -> tuple[str, Iterator[bytes]]:
    """(file name, UTF-8-with-BOM CSV stream): 行号, 原因, then the row's original fields."""
    load = get_load(session, actor, load_id)
    expr = _rejects_expr(wh, load)
    header = ["行号", "问题原因", *(load.columns or [])]
    name = f"rejects-{load.resource_code}-{load.id}.csv"

    def rows() -> Iterator[bytes]:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerow(header)
        yield b"\xef\xbb\xbf" + buf.getvalue().encode()
        if expr is None:
            return
        for batch in wh.to_batches(expr, batch_size=20_000):
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="")
            for line, reason, raw in zip(
                batch.column("line").to_pylist(),
                batch.column("reason").to_pylist(),
                batch.column("raw").to_pylist(),
                strict=True,
            ):
                w.writerow([line, reason])
                buf.write("," + (raw or "").replace("\r\n", "\n").replace("\n", " ") + "\r\n")
            yield buf.getvalue().encode()

    return name, rows()


# ---- ledger --------------------------------------------------------------------------


def ledger(session: Session, actor: Principal, *, days: int = 30) -> dict[str, Any]:
    """归集量: accepted rows of successful loads by org, level, resource and day."""
    _staff(actor)
    ok = (
        _scoped(select(Load), actor, Load.org_id)
        .where(Load.status == LoadStatus.succeeded)
        .subquery()
    )
    org_rows, _ = orgs.list_orgs(session, actor, limit=100_000)
    org_info = {o.id: o for o in org_rows}
    by_org = {
        org_id: (int(rows or 0), int(n))
        for org_id, rows, n in session.execute(
            select(ok.c.org_id, func.sum(ok.c.rows_accepted), func.count()).group_by(ok.c.org_id)
        )
    }
    by_resource = [
        {
            "resource_id": rid,
            "code": code,
            "name": name,
            "org_id": org_id,
            "rows": int(rows or 0),
            "loads": int(n),
            "last": last,
        }
        for rid, code, name, org_id, rows, n, last in session.execute(
            select(
                ok.c.resource_id,
                ok.c.resource_code,
                func.max(ok.c.resource_name),
                ok.c.org_id,
                func.sum(ok.c.rows_accepted),
                func.count(),
                type_coerce(func.max(ok.c.finished_at), UTCDateTime),
            )
            .group_by(ok.c.resource_id, ok.c.resource_code, ok.c.org_id)
            .order_by(func.sum(ok.c.rows_accepted).desc())
        )
    ]
    since = utcnow() - timedelta(days=days)
    day_col = _local_day(session, ok.c.started_at)
    per_day: dict[str, int] = {}
    for day, rows in session.execute(
        select(day_col, func.sum(ok.c.rows_accepted))
        .where(ok.c.started_at >= since)
        .group_by(day_col)
        .order_by(day_col)
    ):
        per_day[str(day)] = int(rows or 0)
    levels: dict[str, int] = {}
    for org_id, (rows, _n) in by_org.items():
        level = org_info[org_id].level if org_id in org_info else "其他"
        levels[level] = levels.get(level, 0) + rows
    return {
        "total_rows": sum(r for r, _ in by_org.values()),
        "total_loads": sum(n for _, n in by_org.values()),
        "by_org": sorted(
            (
                {
                    "org_id": org_id,
                    "name": org_info[org_id].name if org_id in org_info else str(org_id),
                    "level": org_info[org_id].level if org_id in org_info else "",
                    "rows": rows,
                    "loads": n,
                }
                for org_id, (rows, n) in by_org.items()
            ),
            key=lambda r: -r["rows"],
        ),
        "by_level": levels,
        "by_resource": by_resource,
        "by_day": per_day,
    }


def _local_day(session: Session, column: Any) -> Any:
    """The Asia/Shanghai calendar day of a UTC timestamp, as text, on either backend."""
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column, "+8 hours")
    return cast(func.timezone("Asia/Shanghai", column), Date)


def missing(
    session: Session, actor: Principal, now: datetime | None = None
) -> list[dict[str, Any]]:
    """应归未归: published resources with no successful load, or none within their cycle."""
    _staff(actor)
    now = now or utcnow()
    specs = catalog_port.published(session, None if actor.can_read_org(None) else actor.org_id)
    newest = type_coerce(func.max(Load.finished_at), UTCDateTime)  # max() loses the type
    last = {
        rid: when
        for rid, when in session.execute(
            select(Load.resource_id, newest)
            .where(Load.status == LoadStatus.succeeded)
            .group_by(Load.resource_id)
        )
    }
    names = {o.id: o.name for o in orgs.list_orgs(session, actor, limit=100_000)[0]}
    out = []
    for spec in specs:
        when = last.get(spec.id)
        limit = timedelta(days=CYCLE_DAYS.get(spec.update_cycle, 32))
        if when is None:
            reason = "从未归集"
        elif now - when > limit:
            reason = f"超过更新周期（{spec.update_cycle}）未归集"
        else:
            continue
        out.append(
            {
                "resource_id": spec.id,
                "code": spec.code,
                "name": spec.name,
                "org_id": spec.owner_org_id,
                "org_name": names.get(spec.owner_org_id, ""),
                "update_cycle": spec.update_cycle,
                "last": when,
                "reason": reason,
            }
        )
    return out


# ---- schedules -----------------------------------------------------------------------


def due_sources(session: Session, now: datetime | None = None) -> list[Source]:
    now = now or utcnow()
    return list(
        session.scalars(
            select(Source)
            .where(
                Source.enabled.is_(True), Source.schedule.is_not(None), Source.next_run_at <= now
            )
            .order_by(Source.next_run_at)
        )
    )


def scheduler_principal() -> Principal:
    return Principal.system("scheduler")


def run_due(
    session: Session,
    *,
    wh: Warehouse,
    settings: Settings,
    now: datetime | None = None,
    on_load: Callable[[Load], None] | None = None,
) -> list[Load]:
    """Run every due scheduled source once (``gongshu ingest run-due`` and the server loop)."""
    reap_stale_loads(session)
    actor = scheduler_principal()
    done = []
    for source in due_sources(session, now):
        try:
            load = run_source(session, actor, source.id, wh=wh, settings=settings)
        except AppError as exc:  # busy or misconfigured: try again next time
            session.rollback()
            log.warning("scheduled source %s skipped: %s", source.id, exc.message)
            source = session.get(Source, source.id)
            if source is not None:
                source.next_run_at = next_run(source.schedule)
                session.commit()
            continue
        done.append(load)
        if on_load:
            on_load(load)
    return done


# ---- devices -------------------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_device(session: Session, actor: Principal, data: DeviceCreate) -> tuple[Device, str]:
    spec = catalog_port.require_published(
        catalog_port.get_resource(session, actor, data.resource_id)
    )
    actor.ensure_write(spec.owner_org_id, "数据资源")
    if not spec.key_columns:
        raise ValidationFailed(
            "物联感知资源需要主键数据项（如设备编号+采集时间），以便重复上报不产生重复数据",
            code="no_key",
        )
    clash = session.scalar(
        select(Device.id).where(Device.org_id == spec.owner_org_id, Device.code == data.code)
    )
    if clash:
        raise Conflict(f"本部门已有编号为“{data.code}”的设备", code="duplicate_code", field="code")
    prefix = secrets.token_hex(4)
    plaintext = f"{DEVICE_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    device = Device(
        org_id=spec.owner_org_id,
        resource_id=spec.id,
        code=data.code,
        name=data.name,
        key_prefix=prefix,
        key_hash=_digest(plaintext),
        created_by=actor.name,
    )
    session.add(device)
    session.flush()
    audit.record(
        session,
        actor,
        "ingest.device.create",
        "ingest_device",
        device.id,
        org_id=device.org_id,
        detail={"code": data.code, "resource": spec.code},
    )
    session.commit()
    return device, plaintext


def list_devices(session: Session, actor: Principal) -> list[Device]:
    _staff(actor)
    return list(
        session.scalars(_scoped(select(Device), actor, Device.org_id).order_by(Device.id.desc()))
    )


def get_device(session: Session, actor: Principal, device_id: int) -> Device:
    device = session.get(Device, device_id)
    if device is None or not actor.can_read_org(device.org_id):
        raise NotFound("设备不存在或无权访问")
    _staff(actor)
    return device


def revoke_device(session: Session, actor: Principal, device_id: int) -> Device:
    device = get_device(session, actor, device_id)
    actor.ensure_write(device.org_id, "设备")
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        audit.record(
            session, actor, "ingest.device.revoke", "ingest_device", device.id, org_id=device.org_id
        )
        session.commit()
    return device


def authenticate_device(session: Session, presented: str | None) -> Device:
    invalid = Unauthorized("设备密钥无效", code="invalid_device_key")
    parts = (presented or "").strip().split("_")
    if len(parts) < 3 or parts[0] != DEVICE_KEY_PREFIX or len(parts[1]) != 8:
        raise invalid
    device = session.scalar(select(Device).where(Device.key_prefix == parts[1]))
    if device is None or not hmac.compare_digest(device.key_hash, _digest(presented.strip())):  # type: ignore[union-attr]
        raise invalid
    if device.revoked_at is not None:
        raise Unauthorized("设备密钥已吊销", code="revoked_device_key")
    return device


def device_principal(device: Device) -> Principal:
    """Who an IoT load runs as: the device, writing to its own org only."""
    return Principal(
        kind="device",
        id=device.id,
        name=f"设备 {device.code}",
        role=Role.officer,
        org_id=device.org_id,
    )


def ensure_can_upload(actor: Principal) -> None:
    if actor.role not in (Role.admin, Role.officer):
        raise Forbidden("当前角色无权归集数据")
