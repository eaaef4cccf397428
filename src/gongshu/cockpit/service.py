"""Cockpit business rules: indicators, refresh pipeline, forecasts, alerts, webhooks.

Who sees what: leaders and admins see every indicator and alert; a department officer
sees those of their own org (404 for others); consumers, operators and the public have
no cockpit. Admins and the owning org's officer may edit an indicator and handle its
alerts; leaders may handle alerts too (they are on duty), but not edit definitions.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from croniter import croniter
from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.orm import Session

from gongshu.audit import service as audit
from gongshu.auth.principal import Principal, Role
from gongshu.cockpit import alerts as rules
from gongshu.cockpit import compute, sqlcheck
from gongshu.cockpit.forecast import anomaly_table, forecast_many
from gongshu.cockpit.models import (
    Alert,
    Anomaly,
    Delivery,
    ForecastPoint,
    Indicator,
    IndicatorValue,
    Webhook,
)
from gongshu.cockpit.registry import IndicatorSpec, builtin_specs
from gongshu.cockpit.schemas import IndicatorIn, IndicatorUpdate, WebhookIn
from gongshu.db import utcnow
from gongshu.errors import Forbidden, NotFound, ValidationFailed
from gongshu.warehouse import validate_table_name

log = logging.getLogger("gongshu.cockpit")
TZ = ZoneInfo("Asia/Shanghai")
READERS = (Role.admin, Role.leader, Role.officer)
HANDLERS = (Role.admin, Role.leader, Role.officer)
HORIZON = {"day": 14, "month": 6}
HISTORY_FOR_FORECAST = {"day": 730, "month": 60}
# The backtest over every candidate model (the costly part of a forecast) reruns on a full
# refresh and when the last choice is older than this; incremental refreshes in between
# backtest and refit only the chosen model (and naive, the fallback), on the new data.
RESELECT_EVERY = timedelta(days=7)
SYSTEM = Principal.system("cockpit")


def local_today() -> date:
    return datetime.now(TZ).date()


# ---- visibility ---------------------------------------------------------------------


def ensure_reader(actor: Principal) -> None:
    if actor.role not in READERS:
        raise Forbidden("当前角色无权查看驾驶舱")


def _visible(stmt: Select[Any], actor: Principal, column: Any) -> Select[Any]:
    ensure_reader(actor)
    if actor.role in (Role.admin, Role.leader) or actor.kind == "system":
        return stmt
    return stmt.where(column == actor.org_id)


def org_codes(session: Session) -> dict[str, int]:
    from gongshu.orgs import service as orgs

    rows, _ = orgs.list_orgs(session, SYSTEM, limit=100_000)
    return {o.code: o.id for o in rows}


def org_names(session: Session) -> dict[int, str]:
    from gongshu.orgs import service as orgs

    rows, _ = orgs.list_orgs(session, SYSTEM, limit=100_000)
    return {o.id: o.name for o in rows}


# ---- indicators ---------------------------------------------------------------------


def list_indicators(
    session: Session, actor: Principal, *, topic: str | None = None, featured: bool = False
) -> list[Indicator]:
    stmt = _visible(select(Indicator), actor, Indicator.owner_org_id)
    if topic:
        stmt = stmt.where(Indicator.topic == topic)
    if featured:
        stmt = stmt.where(Indicator.featured.is_(True))
    return list(session.scalars(stmt.order_by(Indicator.topic, Indicator.code)))


def get_indicator(session: Session, actor: Principal, code: str) -> Indicator:
    ensure_reader(actor)
    ind = session.scalar(select(Indicator).where(Indicator.code == code))
    if ind is None:
        raise NotFound("指标不存在或无权访问")
    actor.ensure_read(ind.owner_org_id, "指标")
    return ind


def _check_sources(sources: list[str]) -> list[str]:
    out = []
    for name in sources:
        try:
            out.append(validate_table_name(name))
        except ValueError:
            raise ValidationFailed(f"来源表名 {name} 不合法") from None
    return out


def _check_cron(expr: str) -> None:
    if not croniter.is_valid(expr):
        raise ValidationFailed(f"刷新计划 {expr} 不是合法的 cron 表达式")


def create_indicator(session: Session, actor: Principal, data: IndicatorIn) -> Indicator:
    ensure_reader(actor)
    owner = data.owner_org_id if data.owner_org_id is not None else actor.org_id
    actor.ensure_write(owner, "部门")
    sources = _check_sources(data.sources)
    sqlcheck.validate_sql(data.definition, sources)
    _check_cron(data.refresh)
    if session.scalar(select(Indicator.id).where(Indicator.code == data.code)) is not None:
        raise ValidationFailed(f"指标编码 {data.code} 已存在")
    values = data.model_dump(exclude={"owner_org_id", "sources", "higher_is_better"})
    ind = Indicator(
        **values,
        owner_org_id=owner,
        kind="sql",
        sources=sources,
        higher_is_better=True if data.higher_is_better is None else data.higher_is_better,
        builtin=False,
        enabled=True,
    )
    session.add(ind)
    session.flush()
    audit.record(session, actor, "cockpit.indicator.create", "indicator", ind.code, org_id=owner)
    session.commit()
    return ind


def update_indicator(
    session: Session, actor: Principal, code: str, data: IndicatorUpdate
) -> Indicator:
    ind = get_indicator(session, actor, code)
    actor.ensure_write(ind.owner_org_id, "指标")
    changes = data.model_dump(exclude_unset=True)
    if ind.builtin and ({"definition", "sources"} & set(changes)):
        raise ValidationFailed("内置指标的定义由其所属模块注册，不能在此修改")
    sources = _check_sources(changes.get("sources", ind.sources))
    if "definition" in changes or "sources" in changes:
        sqlcheck.validate_sql(changes.get("definition", ind.definition), sources)
        changes["sources"] = sources
    if "refresh" in changes:
        _check_cron(changes["refresh"])
    redefined = bool({"definition", "sources"} & set(changes))
    for key, value in changes.items():
        if key == "higher_is_better" and value is None:
            continue
        setattr(ind, key, value)
    if redefined:  # old values came from another definition: recompute everything
        ind.last_period = None
        ind.evaluated_through = None
    audit.record(
        session,
        actor,
        "cockpit.indicator.update",
        "indicator",
        ind.code,
        detail={"fields": sorted(changes)},
        org_id=ind.owner_org_id,
    )
    session.commit()
    return ind


def sync_builtins(session: Session, specs: dict[str, IndicatorSpec] | None = None) -> int:
    """Upsert one row per registered spec; thresholds set by people are kept."""
    specs = builtin_specs() if specs is None else specs
    orgs = org_codes(session)
    existing = {
        i.code: i for i in session.scalars(select(Indicator).where(Indicator.builtin.is_(True)))
    }
    for spec in specs.values():
        ind = existing.get(spec.code)
        meta = {
            "name": spec.name,
            "unit": spec.unit,
            "topic": spec.topic,
            "description": spec.description,
            "kind": "plugin",
            "definition": spec.code,
            "sources": list(spec.sources),
            "granularity": spec.granularity,
            "dimensions": list(spec.dimensions),
            "rollup": spec.rollup,
            "owner_org_id": orgs.get(spec.owner_org or ""),
        }
        if ind is None:
            ind = Indicator(
                code=spec.code,
                builtin=True,
                enabled=True,
                featured=spec.featured,
                higher_is_better=spec.higher_is_better,
                target=spec.target,
                upper=spec.upper,
                lower=spec.lower,
                rate_pct=spec.rate_pct,
                consecutive=spec.consecutive,
                refresh=spec.refresh,
                **meta,
            )
            session.add(ind)
        else:
            for key, value in meta.items():
                if getattr(ind, key) != value:
                    setattr(ind, key, value)
    session.flush()
    return len(specs)


# ---- the refresh pipeline -----------------------------------------------------------


@dataclass
class RefreshResult:
    computed: int = 0
    values: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    forecasts: int = 0
    alerts_opened: int = 0
    notifications: int = 0
    compute_s: float = 0.0
    forecast_s: float = 0.0


def _order(inds: list[Indicator], specs: dict[str, IndicatorSpec]) -> list[Indicator]:
    def deps(ind: Indicator) -> int:
        spec = specs.get(ind.definition) if ind.kind == "plugin" else None
        return len(spec.extra.get("depends_on", [])) if spec else 0

    return sorted(inds, key=lambda i: (deps(i), i.id))


def refresh(
    session: Session,
    warehouse: Any,
    *,
    codes: list[str] | None = None,
    full: bool = False,
    until: date | None = None,
    forecast: bool = True,
    evaluate: bool = True,
    window: int | None = None,
    workers: int = 1,
    actor: Principal = SYSTEM,
) -> RefreshResult:
    """Compute (incrementally unless ``full``), evaluate alerts, forecast, notify."""
    until = until or local_today()
    specs = builtin_specs()
    sync_builtins(session, specs)
    stmt = select(Indicator).where(Indicator.enabled.is_(True))
    if codes:
        stmt = stmt.where(Indicator.code.in_(codes))
    inds = _order(list(session.scalars(stmt)), specs)
    result = RefreshResult()
    started = time.perf_counter()
    updated: list[Indicator] = []
    for ind in inds:
        try:
            with session.begin_nested():
                result.values += compute.recompute(
                    session, warehouse, ind, until=until, specs=specs, full=full
                )
                ind.compute_error = None
        except Exception as exc:  # one broken definition must not stop the others
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            ind.compute_error = str(message)[:1000]
            result.failed[ind.code] = ind.compute_error
            log.warning("indicator %s failed: %s", ind.code, ind.compute_error)
            continue
        ind.computed_at = utcnow()
        result.computed += 1
        updated.append(ind)
    session.flush()
    result.compute_s = time.perf_counter() - started
    events: list[tuple[Alert, str]] = []
    if evaluate:
        for ind in updated:
            events += rules.evaluate(session, ind, window=window)
    started = time.perf_counter()
    if forecast:
        forecasted = run_forecasts(session, updated, workers=workers, reselect=full)
        for ind, points in forecasted.items():
            result.forecasts += 1
            if evaluate:
                events += rules.predicted_breach(session, ind, points)
    result.forecast_s = time.perf_counter() - started
    by_id = {i.id: i for i in inds}
    for alert, event in events:
        if event == "opened":
            result.alerts_opened += 1
        result.notifications += rules.queue_notifications(
            session, alert, by_id[alert.indicator_id], event
        )
    audit.record(
        session,
        actor,
        "cockpit.refresh",
        "indicator",
        None,
        detail={
            "full": full,
            "computed": result.computed,
            "failed": sorted(result.failed),
            "alerts_opened": result.alerts_opened,
        },
    )
    session.commit()
    return result


def _chosen_model(ind: Indicator, now: datetime) -> str | None:
    """The model to refit without a new selection, or None when it is time to select."""
    if not ind.forecast_model or ind.forecast_selected_at is None:
        return None
    return ind.forecast_model if now - ind.forecast_selected_at < RESELECT_EVERY else None


def run_forecasts(
    session: Session, inds: list[Indicator], *, workers: int = 1, reselect: bool = True
) -> dict[Indicator, list[ForecastPoint]]:
    """Forecast every daily and monthly indicator; store forecast, anomalies and MAPE.

    With ``reselect`` every candidate model is backtested; without it an indicator whose
    model was chosen less than ``RESELECT_EVERY`` ago keeps that model (refitted)."""
    now = utcnow()
    keep: dict[str, list[str]] = {}
    series: dict[str, pd.Series] = {}
    by_code: dict[str, Indicator] = {}
    groups: dict[str, list[str]] = {"day": [], "month": []}
    for ind in inds:
        if ind.granularity not in HORIZON:
            continue
        s = compute.total_series(session, ind.id)
        s = s.iloc[-HISTORY_FOR_FORECAST[ind.granularity] :]
        if len(s) < 3:
            continue
        series[ind.code] = s
        by_code[ind.code] = ind
        chosen = None if reselect else _chosen_model(ind, now)
        if chosen:
            keep[ind.code] = [chosen]
        groups[ind.granularity].append(ind.code)
    out: dict[Indicator, list[ForecastPoint]] = {}
    for gran, codes in groups.items():
        if not codes:
            continue
        freq = "D" if gran == "day" else "M"
        results = forecast_many(
            {c: series[c] for c in codes},
            horizon=HORIZON[gran],
            freq=freq,
            workers=workers,
            candidates_for=keep,
        )
        for code, res in results.items():
            ind = by_code[code]
            session.execute(delete(ForecastPoint).where(ForecastPoint.indicator_id == ind.id))
            session.execute(delete(Anomaly).where(Anomaly.indicator_id == ind.id))
            points = [
                ForecastPoint(
                    indicator_id=ind.id,
                    period=p.to_pydatetime(),
                    forecast=float(f),
                    lower=float(lo),
                    upper=float(hi),
                )
                for p, f, lo, hi in zip(res.index, res.forecast, res.lower, res.upper, strict=True)
            ]
            session.add_all(points)
            table = anomaly_table(series[code], res)
            if len(table):
                session.execute(
                    insert(Anomaly),
                    [
                        {
                            "indicator_id": ind.id,
                            "period": p.to_pydatetime(),
                            "actual": float(r.actual),
                            "expected": float(r.expected),
                            "lower": float(r.lower),
                            "upper": float(r.upper),
                            "direction": r.direction,
                        }
                        for p, r in table.iterrows()
                    ],
                )
            ind.forecast_model = res.model
            ind.forecast_mape = _finite(res.mape)
            ind.naive_mape = _finite(res.naive_mape)
            ind.forecast_at = now
            if code not in keep:
                ind.forecast_selected_at = now
            elif res.model != keep[code][0]:  # the kept model failed: select afresh next time
                ind.forecast_selected_at = None
            out[ind] = points
    session.flush()
    return out


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def due_for_refresh(session: Session, now: datetime | None = None) -> list[str]:
    """Codes of indicators whose cron schedule (local time) fired since their last run."""
    now = (now or utcnow()).astimezone(TZ)
    due = []
    for ind in session.scalars(select(Indicator).where(Indicator.enabled.is_(True))):
        last = (ind.computed_at or (now - timedelta(days=1))).astimezone(TZ)
        try:
            nxt = croniter(ind.refresh, last).get_next(datetime)
        except (ValueError, KeyError):
            continue
        if nxt <= now:
            due.append(ind.code)
    return due


# ---- values for pages ---------------------------------------------------------------


def history(session: Session, ind: Indicator, *, periods: int | None = None) -> pd.Series:
    s = compute.total_series(session, ind.id)
    return s.iloc[-periods:] if periods else s


def breakdown(
    session: Session, ind: Indicator, dimension: str, period: datetime | None = None
) -> list[tuple[str, float]]:
    """Values of the latest (or given) period by district or org."""
    period = period or ind.last_period
    if period is None:
        return []
    col = IndicatorValue.district if dimension == "district" else IndicatorValue.org
    other = IndicatorValue.org if dimension == "district" else IndicatorValue.district
    rows = session.execute(
        select(col, IndicatorValue.value)
        .where(
            IndicatorValue.indicator_id == ind.id,
            IndicatorValue.period == period,
            col != "",
            other == "",
        )
        .order_by(IndicatorValue.value.desc())
    ).all()
    return [(r[0], float(r[1])) for r in rows if r[1] is not None]


def forecast_points(session: Session, ind: Indicator) -> list[ForecastPoint]:
    return list(
        session.scalars(
            select(ForecastPoint)
            .where(ForecastPoint.indicator_id == ind.id)
            .order_by(ForecastPoint.period)
        )
    )


def anomalies(session: Session, ind: Indicator, *, since: datetime | None = None) -> list[Anomaly]:
    stmt = select(Anomaly).where(Anomaly.indicator_id == ind.id)
    if since is not None:
        stmt = stmt.where(Anomaly.period >= since)
    return list(session.scalars(stmt.order_by(Anomaly.period)))


# ---- alerts -------------------------------------------------------------------------


def list_alerts(
    session: Session,
    actor: Principal,
    *,
    status: str | None = None,
    level: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Alert], int]:
    stmt = _visible(select(Alert), actor, Alert.owner_org_id)
    if status == "active":
        stmt = stmt.where(Alert.status.in_(rules.OPEN_STATUSES))
    elif status:
        stmt = stmt.where(Alert.status == status)
    if level:
        stmt = stmt.where(Alert.level == level)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Alert.last_period.desc(), Alert.id.desc()).offset(offset).limit(limit)
    )
    return list(rows), int(total)


def get_alert(session: Session, actor: Principal, alert_id: int) -> Alert:
    ensure_reader(actor)
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound("预警不存在或无权访问")
    actor.ensure_read(alert.owner_org_id, "预警")
    return alert


def _handle(session: Session, actor: Principal, alert_id: int) -> Alert:
    alert = get_alert(session, actor, alert_id)
    if actor.role not in HANDLERS or (
        actor.role == Role.officer and alert.owner_org_id != actor.org_id
    ):
        raise Forbidden("无权处理该预警")
    if alert.status == "closed":
        raise ValidationFailed("预警已关闭")
    return alert


def acknowledge(
    session: Session, actor: Principal, alert_id: int, note: str | None = None
) -> Alert:
    alert = _handle(session, actor, alert_id)
    if alert.status == "open":
        alert.status = "acknowledged"
        alert.acknowledged_by = actor.name
        alert.acknowledged_at = utcnow()
        audit.record(
            session,
            actor,
            "cockpit.alert.ack",
            "alert",
            alert.id,
            detail={"note": note} if note else None,
            org_id=alert.owner_org_id,
        )
        session.commit()
    return alert


def assign(session: Session, actor: Principal, alert_id: int, assignee_id: int | None) -> Alert:
    from gongshu.auth import service as auth

    alert = _handle(session, actor, alert_id)
    if assignee_id is None:
        raise ValidationFailed("请选择指派对象")
    users = {u.id: u for u in auth.list_users(session, SYSTEM)}
    user = users.get(assignee_id)
    if user is None or not user.is_active:
        raise ValidationFailed("指派对象不存在或已停用")
    if user.role not in HANDLERS or (
        user.role == Role.officer and user.org_id != alert.owner_org_id
    ):
        raise ValidationFailed("只能指派给领导、管理员或指标所属部门的数据专员")
    alert.assignee_id = assignee_id
    if alert.status == "open":
        alert.status = "acknowledged"
        alert.acknowledged_by = actor.name
        alert.acknowledged_at = utcnow()
    audit.record(
        session,
        actor,
        "cockpit.alert.assign",
        "alert",
        alert.id,
        detail={"assignee": user.username},
        org_id=alert.owner_org_id,
    )
    session.commit()
    return alert


def close(session: Session, actor: Principal, alert_id: int, note: str | None) -> Alert:
    alert = _handle(session, actor, alert_id)
    if not note or not note.strip():
        raise ValidationFailed("关闭预警须填写处置说明")
    alert.status = "closed"
    alert.closed_by = actor.name
    alert.closed_at = utcnow()
    alert.close_note = note.strip()
    if alert.acknowledged_at is None:
        alert.acknowledged_by, alert.acknowledged_at = actor.name, alert.closed_at
    audit.record(
        session,
        actor,
        "cockpit.alert.close",
        "alert",
        alert.id,
        detail={"note": alert.close_note},
        org_id=alert.owner_org_id,
    )
    session.commit()
    return alert


def assignable_users(session: Session, alert: Alert) -> list[Any]:
    from gongshu.auth import service as auth

    return [
        u
        for u in auth.list_users(session, SYSTEM)
        if u.is_active
        and (
            u.role in (Role.admin, Role.leader)
            or (u.role == Role.officer and u.org_id == alert.owner_org_id)
        )
    ]


# ---- webhooks -----------------------------------------------------------------------


def list_webhooks(session: Session, actor: Principal) -> list[Webhook]:
    actor.ensure_role(Role.admin)
    return list(session.scalars(select(Webhook).order_by(Webhook.id)))


def create_webhook(session: Session, actor: Principal, data: WebhookIn) -> Webhook:
    actor.ensure_role(Role.admin)
    hook = Webhook(
        name=data.name,
        url=str(data.url),
        format=data.format,
        min_level=data.min_level,
        enabled=data.enabled,
    )
    session.add(hook)
    session.flush()
    audit.record(
        session, actor, "cockpit.webhook.create", "webhook", hook.id, detail={"name": hook.name}
    )
    session.commit()
    return hook


def delete_webhook(session: Session, actor: Principal, webhook_id: int) -> None:
    actor.ensure_role(Role.admin)
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound("通知地址不存在")
    session.delete(hook)
    audit.record(session, actor, "cockpit.webhook.delete", "webhook", webhook_id)
    session.commit()


def delivery_stats(session: Session) -> dict[str, int]:
    return dict(
        session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
        .tuples()
        .all()
    )
