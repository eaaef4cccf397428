"""Call statistics from the daily rollup: volume, success rate (调用成功率), latency.

Success = an answered call (HTTP 2xx; a query that finds no record is a 200 with an
empty list). Client errors (4xx: bad key, not granted, bad parameter, 429) and server
errors (5xx) are failures. p50/p95 are interpolated from the rollup's latency histogram
(bucket bounds in ``LATENCY_BOUNDS_MS``), exact to the bucket.

Public reads for the cockpit: :func:`call_stats`, :func:`kpis`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gongshu.auth.principal import CITYWIDE_READERS, Principal
from gongshu.sharing.models import LATENCY_BOUNDS_MS, N_BUCKETS, CallDaily, CallErrorDaily
from gongshu.sharing.service import backflow_volumes, local_today, satisfaction, sharing_settings

LAT_COLS = [getattr(CallDaily, f"lat{i}") for i in range(N_BUCKETS)]


def percentile(hist: list[int], q: float) -> float | None:
    total = sum(hist)
    if not total:
        return None
    target = q * total
    seen = 0
    for i, n in enumerate(hist):
        if n and seen + n >= target:
            lo = LATENCY_BOUNDS_MS[i - 1] if i > 0 else 0.0
            hi = LATENCY_BOUNDS_MS[i] if i < len(LATENCY_BOUNDS_MS) else LATENCY_BOUNDS_MS[-1] * 2
            return round(lo + (hi - lo) * (target - seen) / n, 2)
        seen += n
    return float(LATENCY_BOUNDS_MS[-1])


def _scope(stmt: Any, actor: Principal | None, model: Any) -> Any:
    if actor is None or actor.role in CITYWIDE_READERS:
        return stmt
    if actor.org_id is None:
        return stmt.where(False)
    return stmt.where(
        or_(model.consumer_org_id == actor.org_id, model.owner_org_id == actor.org_id)
    )


def _aggs() -> list[Any]:
    return [
        func.sum(CallDaily.calls),
        func.sum(CallDaily.ok),
        func.sum(CallDaily.client_errors),
        func.sum(CallDaily.server_errors),
        func.sum(CallDaily.rows),
        func.sum(CallDaily.bytes),
        func.sum(CallDaily.latency_sum_ms),
        *[func.sum(c) for c in LAT_COLS],
    ]


def _row(values: Any) -> dict[str, Any]:
    calls, ok, cerr, serr, rows, nbytes = (int(v or 0) for v in values[:6])
    lat_sum = float(values[6] or 0)
    hist = [int(v or 0) for v in values[7:]]
    return {
        "calls": calls,
        "ok": ok,
        "client_errors": cerr,
        "server_errors": serr,
        "success_rate": ok / calls if calls else None,
        "rows": rows,
        "bytes": nbytes,
        "avg_ms": round(lat_sum / calls, 2) if calls else None,
        "p50_ms": percentile(hist, 0.5),
        "p95_ms": percentile(hist, 0.95),
    }


def call_stats(
    session: Session,
    actor: Principal | None,
    *,
    since: date | None = None,
    until: date | None = None,
    interface_id: int | None = None,
    consumer_org_id: int | None = None,
    owner_org_id: int | None = None,
    top: int = 10,
) -> dict[str, Any]:
    """Volume, success rate and latency overall and by interface, consumer, owner, day."""
    until = until or local_today()
    since = since or until - timedelta(days=29)

    def base(*cols: Any) -> Any:
        stmt = select(*cols).where(CallDaily.day >= since, CallDaily.day <= until)
        if interface_id is not None:
            stmt = stmt.where(CallDaily.interface_id == interface_id)
        if consumer_org_id is not None:
            stmt = stmt.where(CallDaily.consumer_org_id == consumer_org_id)
        if owner_org_id is not None:
            stmt = stmt.where(CallDaily.owner_org_id == owner_org_id)
        return _scope(stmt, actor, CallDaily)

    total = _row(session.execute(base(*_aggs())).one())
    grouped: dict[str, list[dict[str, Any]]] = {}
    for name, col in (
        ("by_interface", CallDaily.interface_id),
        ("by_consumer", CallDaily.consumer_org_id),
        ("by_owner", CallDaily.owner_org_id),
        ("by_day", CallDaily.day),
    ):
        rows = session.execute(base(col, *_aggs()).group_by(col).order_by(col)).all()
        grouped[name] = [{"key": r[0]} | _row(r[1:]) for r in rows]
    err = select(CallErrorDaily.error_code, func.sum(CallErrorDaily.count)).where(
        CallErrorDaily.day >= since, CallErrorDaily.day <= until
    )
    if interface_id is not None:
        err = err.where(CallErrorDaily.interface_id == interface_id)
    if consumer_org_id is not None:
        err = err.where(CallErrorDaily.consumer_org_id == consumer_org_id)
    if owner_org_id is not None:
        err = err.where(CallErrorDaily.owner_org_id == owner_org_id)
    err = _scope(err, actor, CallErrorDaily)
    errors = session.execute(
        err.group_by(CallErrorDaily.error_code)
        .order_by(func.sum(CallErrorDaily.count).desc())
        .limit(top)
    ).all()
    threshold = sharing_settings().success_threshold
    warnings = [
        r
        for r in grouped["by_interface"]
        if r["calls"] and r["success_rate"] is not None and r["success_rate"] < threshold
    ]
    return {
        "since": since,
        "until": until,
        "total": total,
        **grouped,
        "top_errors": [{"code": c, "count": int(n)} for c, n in errors],
        "threshold": threshold,
        "warnings": warnings,
    }


def kpis(
    session: Session, *, since: date | None = None, until: date | None = None
) -> dict[str, Any]:
    """Headline figures for the cockpit: call volume, 调用成功率, 共享满足率, 回流量."""
    until = until or local_today()
    since = since or until - timedelta(days=29)
    stmt = select(func.sum(CallDaily.calls), func.sum(CallDaily.ok)).where(
        CallDaily.day >= since, CallDaily.day <= until
    )
    calls, ok = (int(v or 0) for v in session.execute(stmt).one())
    sat = satisfaction(session, None, since=since, until=until)["overall"]
    return {
        "since": since,
        "until": until,
        "calls": calls,
        "success_rate": ok / calls if calls else None,
        "satisfaction_rate": sat["rate"],
        "demands": sat,
        "backflow_rows": backflow_volumes(session, Principal.system(), since=since)["rows"],
    }
