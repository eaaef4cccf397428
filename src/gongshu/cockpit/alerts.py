"""Warnings: threshold, rate-of-change, consecutive-period and forecast rules; webhooks.

Rules (evaluated on the city-wide series, for every period not evaluated before):

=============  ==================================================================  =========
rule           fires when                                                          level
=============  ==================================================================  =========
``upper``      value > upper                                                       黄; 橙 at
``lower``      value < lower                                                       +20%, 红
                                                                                   at +50%
                                                                                   beyond
``rate``       abs(change vs the previous period) >= rate_pct percent              黄 (橙 at
                                                                                   2x)
``consecutive`` the value has been outside [lower, upper] (or worse than target)  橙 (红 at
               for ``consecutive`` periods in a row                                2x)
``forecast``   value outside the interval forecast for that period before it       蓝
               was observed
``predicted``  the latest forecast crosses upper/lower within its horizon          蓝
=============  ==================================================================  =========

Deduplication: an alert's fingerprint is (indicator, rule). While an alert with that
fingerprint is open or acknowledged, further crossings update it (``occurrences``, last
period and value, level raised when worse) instead of opening another. Only a new alert
or a raised level notifies. After it is closed, the next crossing opens a new alert.

Notifications: for every enabled webhook whose minimum level is reached, one
``Delivery`` row with the unique key ``alert-<id>-<event>-wh<webhook>`` is queued in the
same transaction as the alert. :func:`deliver_due` posts them (JSON, header
``Idempotency-Key`` = that key), retries failures with exponential backoff and claims each
row before sending, so concurrent dispatchers never send one twice; a receiver that saw a
key already (our response was lost) can drop the repeat.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import httpx
import pandas as pd
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from gongshu.cockpit.models import Alert, Delivery, ForecastPoint, Indicator, Webhook
from gongshu.db import utcnow

LEVELS = ("blue", "yellow", "orange", "red")
LEVEL_LABELS = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
RULE_LABELS = {
    "upper": "超上限",
    "lower": "低于下限",
    "rate": "变化率异常",
    "consecutive": "连续越限",
    "forecast": "偏离预测",
    "predicted": "预测越限",
}
STATUS_LABELS = {"open": "待处理", "acknowledged": "已确认", "closed": "已关闭"}
OPEN_STATUSES = ("open", "acknowledged")
BACKOFF_BASE_S = 30.0
BACKOFF_MAX_S = 3600.0
MAX_ATTEMPTS = 8
CLAIM_S = 60.0
CHART_POINTS = 30


def rank(level: str) -> int:
    return LEVELS.index(level)


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text}{unit if unit and unit != '%' else ''}{'%' if unit == '%' else ''}"


def _excess_level(value: float, bound: float) -> str:
    rel = abs(value - bound) / abs(bound) if bound else math.inf
    return "red" if rel >= 0.5 else "orange" if rel >= 0.2 else "yellow"


def _outside(ind: Indicator, value: float) -> bool:
    if ind.upper is not None and value > ind.upper:
        return True
    if ind.lower is not None and value < ind.lower:
        return True
    if ind.upper is None and ind.lower is None and ind.target is not None:
        return value < ind.target if ind.higher_is_better else value > ind.target
    return False


def _period_label(period: datetime, granularity: str) -> str:
    if granularity == "month":
        return f"{period:%Y年%m月}"
    if granularity == "hour":
        return f"{period:%m月%d日%H时}"
    return f"{period:%Y年%m月%d日}"


def check_period(
    ind: Indicator, series: pd.Series, i: int, forecast: dict[datetime, tuple[float, float]]
) -> list[dict[str, Any]]:
    """The rules that fire at position ``i`` of ``series`` (city-wide, sorted)."""
    value = float(series.iloc[i])
    period = series.index[i].to_pydatetime()
    when = _period_label(period, ind.granularity)
    unit = ind.unit
    fired: list[dict[str, Any]] = []
    if ind.upper is not None and value > ind.upper:
        fired.append(
            {
                "rule": "upper",
                "level": _excess_level(value, ind.upper),
                "threshold": ind.upper,
                "message": f"{ind.name}{when}为{_fmt(value, unit)}，超过上限{_fmt(ind.upper, unit)}",
            }
        )
    if ind.lower is not None and value < ind.lower:
        fired.append(
            {
                "rule": "lower",
                "level": _excess_level(value, ind.lower),
                "threshold": ind.lower,
                "message": f"{ind.name}{when}为{_fmt(value, unit)}，低于下限{_fmt(ind.lower, unit)}",
            }
        )
    if ind.rate_pct and i > 0:
        prev = float(series.iloc[i - 1])
        if prev:
            change = (value - prev) / abs(prev) * 100
            if abs(change) >= ind.rate_pct:
                word = "上升" if change > 0 else "下降"
                fired.append(
                    {
                        "rule": "rate",
                        "level": "orange" if abs(change) >= 2 * ind.rate_pct else "yellow",
                        "threshold": ind.rate_pct,
                        "message": f"{ind.name}{when}较上期{word}{abs(change):.1f}%"
                        f"（{_fmt(prev, unit)}→{_fmt(value, unit)}），超过变化率阈值{ind.rate_pct:g}%",
                    }
                )
    if ind.consecutive and ind.consecutive > 1:
        run = 0
        for j in range(i, -1, -1):
            if not _outside(ind, float(series.iloc[j])):
                break
            run += 1
        if run >= ind.consecutive:
            fired.append(
                {
                    "rule": "consecutive",
                    "level": "red" if run >= 2 * ind.consecutive else "orange",
                    "threshold": float(ind.consecutive),
                    "message": f"{ind.name}已连续{run}期越限（阈值{ind.consecutive}期），"
                    f"最新{_fmt(value, unit)}",
                }
            )
    band = forecast.get(period)
    if band is not None and not band[0] <= value <= band[1]:
        word = "高于" if value > band[1] else "低于"
        fired.append(
            {
                "rule": "forecast",
                "level": "blue",
                "threshold": band[1] if value > band[1] else band[0],
                "message": f"{ind.name}{when}为{_fmt(value, unit)}，{word}预测区间"
                f"[{_fmt(band[0], unit)}, {_fmt(band[1], unit)}]",
            }
        )
    return fired


def _chart(ind: Indicator, series: pd.Series, upto: int) -> dict[str, Any]:
    part = series.iloc[max(0, upto - CHART_POINTS + 1) : upto + 1]
    return {
        "periods": [
            p.strftime("%Y-%m-%d" if ind.granularity != "hour" else "%m-%d %H:00")
            for p in part.index
        ],
        "values": [round(float(v), 4) for v in part.to_numpy()],
        "upper": ind.upper,
        "lower": ind.lower,
        "unit": ind.unit,
    }


def raise_alert(
    session: Session,
    ind: Indicator,
    *,
    rule: str,
    level: str,
    message: str,
    period: datetime,
    value: float | None,
    threshold: float | None,
    detail: dict[str, Any],
) -> tuple[Alert, str | None]:
    """Open an alert or update the open one with the same fingerprint.

    Returns the alert and the notification event (``opened``, ``escalated-<level>``) or
    None when nothing new needs telling.
    """
    fingerprint = f"{ind.id}:{rule}"
    alert = session.scalar(
        select(Alert)
        .where(Alert.fingerprint == fingerprint, Alert.status.in_(OPEN_STATUSES))
        .order_by(Alert.id.desc())
        .limit(1)
    )
    if alert is None:
        alert = Alert(
            indicator_id=ind.id,
            owner_org_id=ind.owner_org_id,
            fingerprint=fingerprint,
            rule=rule,
            level=level,
            status="open",
            message=message,
            first_period=period,
            last_period=period,
            occurrences=1,
            value=value,
            threshold=threshold,
            detail=detail,
        )
        session.add(alert)
        session.flush()
        return alert, "opened"
    if period <= alert.last_period:
        return alert, None  # this period was already counted
    alert.occurrences += 1
    alert.last_period = period
    alert.value = value
    alert.threshold = threshold
    alert.message = message
    alert.detail = detail
    if rank(level) > rank(alert.level):
        alert.level = level
        return alert, f"escalated-{level}"
    return alert, None


def evaluate(
    session: Session, ind: Indicator, *, window: int | None = None
) -> list[tuple[Alert, str]]:
    """Run the rules on every period after ``ind.evaluated_through``.

    The first evaluation looks at the last ``window`` periods only (default 1), so a new
    indicator does not open alerts for its whole history.
    """
    from gongshu.cockpit.compute import total_series

    series = total_series(session, ind.id)
    if series.empty:
        return []
    if ind.evaluated_through is None:
        start = max(0, len(series) - (window or 1))
    else:
        start = int((series.index <= pd.Timestamp(ind.evaluated_through)).sum())
    forecast = {
        fp.period: (fp.lower, fp.upper)
        for fp in session.scalars(select(ForecastPoint).where(ForecastPoint.indicator_id == ind.id))
    }
    events: list[tuple[Alert, str]] = []
    for i in range(start, len(series)):
        for hit in check_period(ind, series, i, forecast):
            alert, event = raise_alert(
                session,
                ind,
                rule=hit["rule"],
                level=hit["level"],
                message=hit["message"],
                period=series.index[i].to_pydatetime(),
                value=float(series.iloc[i]),
                threshold=hit["threshold"],
                detail=_chart(ind, series, i),
            )
            if event:
                events.append((alert, event))
    ind.evaluated_through = series.index[-1].to_pydatetime()
    return events


def predicted_breach(
    session: Session, ind: Indicator, points: list[ForecastPoint]
) -> list[tuple[Alert, str]]:
    """A blue warning when the forecast crosses a bound within its horizon."""
    for fp in points:
        for bound, crossed, word in (
            (ind.upper, ind.upper is not None and fp.forecast > (ind.upper or 0), "超过上限"),
            (ind.lower, ind.lower is not None and fp.forecast < (ind.lower or 0), "低于下限"),
        ):
            if not crossed:
                continue
            when = _period_label(fp.period, ind.granularity)
            message = (
                f"预测{ind.name}将于{when}{word}{_fmt(bound, ind.unit)}"
                f"（预测值{_fmt(fp.forecast, ind.unit)}）"
            )
            alert, event = raise_alert(
                session,
                ind,
                rule="predicted",
                level="blue",
                message=message,
                period=fp.period,
                value=fp.forecast,
                threshold=bound,
                detail={
                    "periods": [p.period.strftime("%Y-%m-%d") for p in points],
                    "values": [round(p.forecast, 4) for p in points],
                    "upper": ind.upper,
                    "lower": ind.lower,
                    "unit": ind.unit,
                    "forecast": True,
                },
            )
            return [(alert, event)] if event else []
    return []


# ---- notifications ------------------------------------------------------------------


def _text(alert: Alert, ind: Indicator, event: str) -> str:
    head = "预警升级" if event.startswith("escalated") else "新预警"
    return (
        f"【{LEVEL_LABELS[alert.level]}预警·{head}】{alert.message}\n"
        f"指标：{ind.name}（{ind.topic}）  规则：{RULE_LABELS.get(alert.rule, alert.rule)}  "
        f"累计：{alert.occurrences}次\n详情：/cockpit/alerts/{alert.id}"
    )


def payload_for(fmt: str, alert: Alert, ind: Indicator, event: str, key: str) -> dict[str, Any]:
    """The JSON body in the form the receiving bot accepts."""
    text = _text(alert, ind, event)
    title = f"{LEVEL_LABELS[alert.level]}预警：{ind.name}"
    if fmt == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    if fmt == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": text}}
    if fmt == "feishu":
        return {"msg_type": "text", "content": {"text": text}}
    return {
        "msgtype": "text",
        "text": {"content": text},
        "idempotency_key": key,
        "event": event,
        "alert": {
            "id": alert.id,
            "indicator": ind.code,
            "indicator_name": ind.name,
            "rule": alert.rule,
            "level": alert.level,
            "message": alert.message,
            "value": alert.value,
            "threshold": alert.threshold,
            "period": alert.last_period.isoformat(),
            "occurrences": alert.occurrences,
        },
    }


def queue_notifications(session: Session, alert: Alert, ind: Indicator, event: str) -> int:
    queued = 0
    hooks = session.scalars(select(Webhook).where(Webhook.enabled.is_(True)).order_by(Webhook.id))
    for hook in hooks:
        if rank(alert.level) < rank(hook.min_level):
            continue
        key = f"alert-{alert.id}-{event}-wh{hook.id}"
        if session.scalar(select(Delivery.id).where(Delivery.key == key)) is not None:
            continue
        session.add(
            Delivery(
                webhook_id=hook.id,
                alert_id=alert.id,
                key=key,
                payload=payload_for(hook.format, alert, ind, event, key),
            )
        )
        queued += 1
    session.flush()
    return queued


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S))


def _claim(session: Session, delivery_id: int, now: datetime) -> bool:
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.status == "pending",
            or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
        )
        .values(claimed_until=now + timedelta(seconds=CLAIM_S))
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def deliver_due(
    session: Session,
    *,
    now: datetime | None = None,
    client: httpx.Client | None = None,
    timeout_s: float = 5.0,
    limit: int = 100,
) -> dict[str, int]:
    """Send every due delivery once; failures are rescheduled with backoff."""
    now = now or utcnow()
    due = session.scalars(
        select(Delivery)
        .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
        .order_by(Delivery.id)
        .limit(limit)
    ).all()
    stats = {"sent": 0, "retry": 0, "failed": 0}
    own = client is None
    http = client or httpx.Client(timeout=timeout_s)
    try:
        for delivery in due:
            if not _claim(session, delivery.id, now):
                continue
            session.refresh(delivery)
            hook = session.get(Webhook, delivery.webhook_id)
            error = None
            if hook is None or not hook.enabled:
                error = "通知地址已停用"
            else:
                try:
                    resp = http.post(
                        hook.url,
                        json=delivery.payload,
                        headers={"Idempotency-Key": delivery.key},
                        timeout=timeout_s,
                    )
                    if resp.status_code >= 300:
                        error = f"HTTP {resp.status_code}"
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"[:500]
            delivery.attempts += 1
            delivery.claimed_until = None
            if error is None:
                delivery.status = "sent"
                delivery.sent_at = utcnow()
                delivery.last_error = None
                stats["sent"] += 1
            elif delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = "failed"
                delivery.last_error = error
                stats["failed"] += 1
            else:
                delivery.last_error = error
                delivery.next_attempt_at = now + backoff(delivery.attempts)
                stats["retry"] += 1
            session.commit()
    finally:
        if own:
            http.close()
    return stats
