"""The data behind the big screens (home and one per topic), as one JSON document.

The page embeds it on first render and fetches it again from
``/api/v1/cockpit/screen?topic=...`` to refresh charts in place.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongshu.auth.principal import Principal
from gongshu.cockpit import service
from gongshu.cockpit.alerts import LEVEL_LABELS, LEVELS, OPEN_STATUSES, RULE_LABELS, _fmt
from gongshu.cockpit.demo_data import DISTRICT_NAMES
from gongshu.cockpit.models import Alert, ForecastPoint, Indicator, IndicatorValue
from gongshu.cockpit.registry import TOPIC_SLUGS, TOPICS

TREND_DAYS = 60
MAX_CARDS = 8


def district_names(session: Session, codes: list[str] | None = None) -> dict[str, str]:
    """Region code -> name: the demo's districts, then the region table."""
    from gongshu.orgs.regions import region_name

    names = dict(DISTRICT_NAMES)
    for code in codes or []:
        if code not in names:
            names[code] = region_name(session, code) or code
    return names


def _series(
    session: Session, inds: list[Indicator], since: datetime
) -> dict[int, list[tuple[datetime, float]]]:
    out: dict[int, list[tuple[datetime, float]]] = defaultdict(list)
    if not inds:
        return out
    rows = session.execute(
        select(IndicatorValue.indicator_id, IndicatorValue.period, IndicatorValue.value)
        .where(
            IndicatorValue.indicator_id.in_([i.id for i in inds]),
            IndicatorValue.district == "",
            IndicatorValue.org == "",
            IndicatorValue.period >= since,
        )
        .order_by(IndicatorValue.indicator_id, IndicatorValue.period)
    ).all()
    for ind_id, period, value in rows:
        if value is not None:
            out[ind_id].append((period, float(value)))
    return out


def _label(p: datetime, granularity: str) -> str:
    return p.strftime("%Y-%m" if granularity == "month" else "%m-%d")


def _card(
    ind: Indicator, points: list[tuple[datetime, float]], alert_level: str | None
) -> dict[str, Any]:
    value = points[-1][1] if points else None
    prev = points[-2][1] if len(points) > 1 else None
    change = None if value is None or not prev else (value - prev) / abs(prev) * 100
    arrow = "flat" if change is None or abs(change) < 0.05 else ("up" if change > 0 else "down")
    good = None if arrow == "flat" else (arrow == "up") == ind.higher_is_better
    return {
        "code": ind.code,
        "name": ind.name,
        "unit": ind.unit,
        "topic": ind.topic,
        "value": value,
        "text": _fmt(value, "") if value is not None else "-",
        "period": _label(points[-1][0], ind.granularity) if points else "",
        "change": None if change is None else round(change, 1),
        "arrow": arrow,
        "good": good,
        "alert": alert_level,
        "href": f"/cockpit/indicators/{ind.code}",
    }


def _pick_cards(inds: list[Indicator], topic: str) -> list[Indicator]:
    featured = [i for i in inds if i.featured and i.granularity == "day"]
    if topic != "home":
        return featured[:MAX_CARDS]
    first, rest = [], []
    seen: set[str] = set()
    for ind in featured:
        (rest if ind.topic in seen else first).append(ind)
        seen.add(ind.topic)
    return (first + rest)[:MAX_CARDS]


def _line(
    ind: Indicator, points: list[tuple[datetime, float]], fc: list[ForecastPoint]
) -> dict[str, Any]:
    return {
        "code": ind.code,
        "title": f"{ind.name}{'（' + ind.unit + '）' if ind.unit else ''}",
        "periods": [_label(p, ind.granularity) for p, _ in points]
        + [_label(f.period, ind.granularity) for f in fc],
        "values": [round(v, 2) for _, v in points] + [None] * len(fc),
        "forecast": [None] * (len(points) - 1)
        + ([round(points[-1][1], 2)] if points else [])
        + [round(f.forecast, 2) for f in fc],
        "lower": [None] * len(points) + [round(f.lower, 2) for f in fc],
        "upper": [None] * len(points) + [round(f.upper, 2) for f in fc],
        "href": f"/cockpit/indicators/{ind.code}",
    }


def _breakdown(
    session: Session, ind: Indicator | None, dim: str, names: dict[str, str]
) -> dict[str, Any]:
    if ind is None:
        return {"title": "", "items": []}
    rows = service.breakdown(session, ind, dim)
    if dim == "district":
        names = district_names(session, [c for c, _ in rows])
    label = (lambda c: names.get(c, c)) if dim == "district" else (lambda c: _org_label(session, c))
    return {
        "code": ind.code,
        "title": f"{ind.name}·{'分区县' if dim == 'district' else '分部门'}"
        + (f"（{ind.unit}）" if ind.unit else ""),
        "period": ind.last_period.strftime("%Y-%m-%d") if ind.last_period else "",
        "items": [{"name": label(c), "value": round(v, 2)} for c, v in rows],
        "href": f"/cockpit/indicators/{ind.code}",
    }


def _org_label(session: Session, code: str) -> str:
    labels = session.info.get("cockpit_org_labels")
    if labels is None:
        from gongshu.orgs import service as orgs

        rows, _ = orgs.list_orgs(session, service.SYSTEM, limit=100_000)
        labels = session.info["cockpit_org_labels"] = {o.code: o.short_name or o.name for o in rows}
    return str(labels.get(code, code))


def active_alerts(session: Session, actor: Principal, limit: int = 12) -> dict[str, Any]:
    rows, total = service.list_alerts(session, actor, status="active", limit=limit)
    names = dict(session.execute(select(Indicator.id, Indicator.name)).tuples().all())
    counts = dict(
        session.execute(
            service._visible(
                select(Alert.level, func.count()).where(Alert.status.in_(OPEN_STATUSES)),
                actor,
                Alert.owner_org_id,
            ).group_by(Alert.level)
        )
        .tuples()
        .all()
    )
    return {
        "total": total,
        "by_level": [
            {"level": lv, "label": LEVEL_LABELS[lv], "count": counts.get(lv, 0)} for lv in LEVELS
        ],
        "items": [
            {
                "id": a.id,
                "level": a.level,
                "level_label": LEVEL_LABELS[a.level],
                "status": a.status,
                "rule": RULE_LABELS.get(a.rule, a.rule),
                "indicator": names.get(a.indicator_id, ""),
                "message": a.message,
                "period": a.last_period.strftime("%m-%d"),
                "occurrences": a.occurrences,
                "href": f"/cockpit/alerts/{a.id}",
            }
            for a in rows
        ],
    }


def screen_data(session: Session, actor: Principal, topic: str = "home") -> dict[str, Any]:
    if topic not in TOPICS:
        topic = "home"
    topic_name = TOPICS[topic]
    inds = service.list_indicators(session, actor, topic=None if topic == "home" else topic_name)
    inds = [i for i in inds if i.enabled]
    latest = max((i.last_period for i in inds if i.last_period), default=None)
    since = (latest or datetime(2000, 1, 1)) - timedelta(days=TREND_DAYS)
    series = _series(session, inds, since)
    # A card without data says nothing: show only indicators with recent values.
    cards_inds = _pick_cards([i for i in inds if series.get(i.id)], topic)
    open_levels: dict[int, str] = {}
    for ind_id, level in session.execute(
        select(Alert.indicator_id, Alert.level).where(Alert.status.in_(OPEN_STATUSES))
    ).tuples():
        if ind_id not in open_levels or LEVELS.index(level) > LEVELS.index(open_levels[ind_id]):
            open_levels[ind_id] = level
    cards = [_card(i, series.get(i.id, []), open_levels.get(i.id)) for i in cards_inds]
    lines = []
    for ind in [i for i in cards_inds if len(series[i.id]) > 1][:2]:
        fc = service.forecast_points(session, ind)[:14]
        lines.append(_line(ind, series[ind.id], fc))
    district_inds = [
        i for i in inds if "district" in (i.dimensions or []) and i.featured and series.get(i.id)
    ]
    sums = [i for i in district_inds if i.rollup == "sum"]
    names = district_names(session)
    map_ind = sums[0] if sums else (district_inds[0] if district_inds else None)
    bar_ind = next((i for i in district_inds if i is not map_ind), map_ind)
    org_inds = [i for i in inds if "org" in (i.dimensions or []) and series.get(i.id)]
    pie = (
        _breakdown(session, org_inds[0], "org", names)
        if org_inds
        else _breakdown(session, map_ind, "district", names)
    )
    return {
        "topic": topic,
        "topic_name": topic_name,
        "topics": [{"slug": k, "name": v} for k, v in TOPICS.items()],
        "updated": latest.strftime("%Y-%m-%d") if latest else "",
        "cards": cards,
        "lines": lines,
        "map": _breakdown(session, map_ind, "district", names),
        "bar": _breakdown(session, bar_ind, "district", names),
        "pie": pie,
        "alerts": active_alerts(session, actor),
        "topic_slugs": TOPIC_SLUGS,
    }
