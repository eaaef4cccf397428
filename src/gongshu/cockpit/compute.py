"""Computing indicators: run a definition, roll it up, store the time series.

Recomputation is incremental: an indicator that already has values is recomputed from
its last stored period (inclusive, because that period may have been partial) onwards;
older periods are kept. ``full=True`` recomputes the whole history. Snapshot indicators
(``IndicatorSpec.snapshot``: the state as of today, e.g. records in the warehouse) only
ever replace the current period, so their history accumulates one point per refresh. Both produce the
same stored series (``tests/cockpit/test_compute.py``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gongshu.cockpit import sqlcheck
from gongshu.cockpit.models import Indicator, IndicatorValue
from gongshu.cockpit.registry import IndicatorContext, IndicatorSpec, period_start

VALUE_COLUMNS = ("period", "district", "org", "value")


def _floor(periods: pd.Series, granularity: str) -> pd.Series:
    ts = pd.to_datetime(periods, cache=False)
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    if granularity == "hour":
        return ts.dt.floor("h")
    if granularity == "month":
        return ts.dt.to_period("M").dt.to_timestamp()
    return ts.dt.floor("D")


def rollup(raw: pd.DataFrame, granularity: str, dimensions: list[str], how: str) -> pd.DataFrame:
    """City total plus one breakdown per dimension, as rows of (period, district, org, value)."""
    if raw is None or len(raw) == 0:
        return pd.DataFrame({c: [] for c in VALUE_COLUMNS})
    frame = raw.copy()
    frame.columns = [str(c).lower() for c in frame.columns]
    if "period" not in frame:
        raise ValueError("result has no period column")
    frame["period"] = pd.to_datetime(frame["period"], cache=False)
    frame["_raw_period"] = frame["period"]
    frame["period"] = _floor(frame["period"], granularity)
    frame = frame[frame["period"].notna()]
    dims = [d for d in dimensions if d in frame.columns]
    for d in dims:
        frame[d] = frame[d].astype("string").fillna("").astype(str)
    if how == "ratio":
        for c in ("num", "den"):
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
    else:
        frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype(float)
    parts = []
    for group in [[], *([d] for d in dims)]:
        keys = ["period", *group]
        if how == "ratio":
            agg = frame.groupby(keys, sort=True)[["num", "den"]].sum().reset_index()
            den = agg["den"].replace(0, np.nan)
            agg["value"] = 100.0 * agg["num"] / den
        elif how == "last":
            # A stock: sum over the other dimensions at each raw timestamp, then the last
            # sub-period of each period.
            inner = frame.groupby([*keys, "_raw_period"], sort=True)["value"].sum().reset_index()
            agg = inner.groupby(keys, sort=True)["value"].last().reset_index()
        else:
            agg = frame.groupby(keys, sort=True)["value"].agg(how).reset_index()
        for d in ("district", "org"):
            if d not in agg:
                agg[d] = ""
        parts.append(agg[list(VALUE_COLUMNS)])
    out = pd.concat(parts, ignore_index=True)
    out = out[np.isfinite(out["value"].astype(float))]
    return out.reset_index(drop=True)


def _sql_for(ind: Indicator, since: datetime | None) -> str:
    sql = sqlcheck.validate_sql(ind.definition, ind.sources)
    if since is None:
        return sql
    return f"SELECT * FROM ({sql}) AS q WHERE q.period >= TIMESTAMP '{since:%Y-%m-%d %H:%M:%S}'"


def _run_plugin(spec: IndicatorSpec, ctx: IndicatorContext, since: datetime | None) -> Any:
    result = spec.compute(ctx)
    if isinstance(result, pd.DataFrame):
        return result
    expr = result
    if since is not None:
        col = expr["period"]
        bound: Any = since.date() if col.type().is_date() else since
        expr = expr.filter(col >= bound)
    if ctx.warehouse is None:
        raise RuntimeError("no warehouse configured")
    return ctx.warehouse.execute(expr)


def _stored_by_code(session: Session, code: str) -> pd.Series:
    indicator_id = session.scalar(select(Indicator.id).where(Indicator.code == code))
    if indicator_id is None:
        return pd.Series([], dtype=float)
    return total_series(session, indicator_id)


def compute_frame(
    session: Session,
    warehouse: Any,
    ind: Indicator,
    *,
    since: datetime | None,
    until: date,
    specs: dict[str, IndicatorSpec],
    timeout_s: float = sqlcheck.DEFAULT_TIMEOUT_S,
) -> pd.DataFrame:
    """The rolled-up values of ``ind`` for periods ``since`` .. ``until``."""
    if ind.kind == "sql":
        if warehouse is None:
            raise RuntimeError("no warehouse configured")
        raw = sqlcheck.run_sql(warehouse, _sql_for(ind, since), timeout_s)
    else:
        spec = specs.get(ind.definition)
        if spec is None:
            raise LookupError(f"插件指标 {ind.definition} 未注册")
        ctx = IndicatorContext(
            session=session,
            warehouse=warehouse,
            since=since.date() if since else None,
            until=until,
            sources=tuple(spec.sources),
            stored_values=lambda code: _stored_by_code(session, code),
        )
        raw = _run_plugin(spec, ctx, since)
    frame = rollup(raw, ind.granularity, list(ind.dimensions or []), ind.rollup)
    last = period_start(until, ind.granularity)
    if ind.granularity == "hour":
        last = datetime(until.year, until.month, until.day) + timedelta(hours=23)
    keep = frame["period"] <= last
    if since is not None:
        keep &= frame["period"] >= since
    return frame[keep]


def _insert_values(session: Session, indicator_id: int, frame: pd.DataFrame) -> None:
    periods = frame["period"].to_numpy().astype("datetime64[us]")
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        # Tens of thousands of rows per indicator: skip SQLAlchemy's per-row parameter
        # processing and write DateTime in the dialect's own storage format.
        text = np.datetime_as_string(periods, unit="us").astype(object)
        rows = list(
            zip(
                [indicator_id] * len(frame),
                [t.replace("T", " ") for t in text],
                frame["district"].tolist(),
                frame["org"].tolist(),
                frame["value"].astype(float).tolist(),
                strict=True,
            )
        )
        conn.exec_driver_sql(
            "INSERT INTO cockpit_value (indicator_id, period, district, org, value) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        return
    rows = [
        {"indicator_id": indicator_id, "period": p, "district": d, "org": o, "value": v}
        for p, d, o, v in zip(
            periods.tolist(),
            frame["district"].tolist(),
            frame["org"].tolist(),
            frame["value"].astype(float).tolist(),
            strict=True,
        )
    ]
    session.execute(IndicatorValue.__table__.insert(), rows)


def store(session: Session, ind: Indicator, frame: pd.DataFrame, since: datetime | None) -> int:
    """Replace the stored values from ``since`` on (all of them when ``since`` is None)."""
    stmt = delete(IndicatorValue).where(IndicatorValue.indicator_id == ind.id)
    if since is not None:
        stmt = stmt.where(IndicatorValue.period >= since)
    session.execute(stmt)
    if len(frame):
        _insert_values(session, ind.id, frame)
    last = session.scalar(
        select(IndicatorValue.period)
        .where(IndicatorValue.indicator_id == ind.id)
        .order_by(IndicatorValue.period.desc())
        .limit(1)
    )
    ind.last_period = last
    return len(frame)


def recompute(
    session: Session,
    warehouse: Any,
    ind: Indicator,
    *,
    until: date,
    specs: dict[str, IndicatorSpec],
    full: bool = False,
) -> int:
    """Compute and store one indicator; returns the number of values written."""
    since = None if full or ind.last_period is None else ind.last_period
    spec = specs.get(ind.definition) if ind.kind == "plugin" else None
    if spec is not None and spec.snapshot:
        since = period_start(until, ind.granularity)
    frame = compute_frame(session, warehouse, ind, since=since, until=until, specs=specs)
    return store(session, ind, frame, since)


def total_series(
    session: Session,
    indicator_id: int,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.Series:
    """The stored city-wide series of one indicator, indexed by period."""
    stmt = select(IndicatorValue.period, IndicatorValue.value).where(
        IndicatorValue.indicator_id == indicator_id,
        IndicatorValue.district == "",
        IndicatorValue.org == "",
    )
    if start is not None:
        stmt = stmt.where(IndicatorValue.period >= start)
    if end is not None:
        stmt = stmt.where(IndicatorValue.period <= end)
    rows = session.execute(stmt.order_by(IndicatorValue.period)).all()
    return pd.Series(
        [r[1] for r in rows], index=pd.DatetimeIndex([r[0] for r in rows]), dtype=float
    )
