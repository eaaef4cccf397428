"""城市运行日志: the daily report, written from the stored data with templates.

For a day D the log has, per topic: headline figures (value of D against the previous
day, the same day last week and last year), the notable changes (largest moves), the
anomalies flagged on D, and the forecast for the seven days after D; then the alerts
opened on D and those still open. Every sentence comes from a template filled with the
data, so the report is complete without any model. When ``GONGSHU_COCKPIT_LLM_URL`` (an
OpenAI-compatible chat-completions endpoint) is set, each paragraph is offered to the
model for polishing; a rewrite that drops any of the paragraph's numbers is discarded.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongshu.auth.principal import Principal, Role
from gongshu.cockpit import compute
from gongshu.cockpit.alerts import LEVEL_LABELS, OPEN_STATUSES, _fmt
from gongshu.cockpit.models import Alert, Anomaly, ForecastPoint, Indicator, Report
from gongshu.cockpit.registry import TOPIC_SLUGS
from gongshu.db import utcnow
from gongshu.errors import Forbidden, NotFound

log = logging.getLogger("gongshu.cockpit")
NOTABLE_PCT = 10.0
MAX_HEADLINES = 5


def ensure_report_reader(actor: Principal) -> None:
    if actor.role not in (Role.admin, Role.leader):
        raise Forbidden("城市运行日志仅供领导和管理员查看")


def _pct(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or pd.isna(a) or pd.isna(b):
        return None
    return (a - b) / abs(b) * 100


def _move(pct: float | None, against: str) -> str:
    if pct is None:
        return ""
    if abs(pct) < 0.05:
        return f"与{against}持平"
    return f"较{against}{'上升' if pct > 0 else '下降'}{abs(pct):.1f}%"


def _day_label(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _figure(ind: Indicator, s: pd.Series, day: datetime) -> dict[str, Any] | None:
    if day not in s.index:
        return None

    def at(delta: timedelta) -> float | None:
        t = day - delta
        return float(s[t]) if t in s.index else None

    value = float(s[day])
    prev, week, year = at(timedelta(days=1)), at(timedelta(days=7)), at(timedelta(days=364))
    return {
        "code": ind.code,
        "name": ind.name,
        "unit": ind.unit,
        "value": value,
        "text": _fmt(value, ind.unit),
        "dod": _pct(value, prev),
        "wow": _pct(value, week),
        "yoy": _pct(value, year),
        "featured": ind.featured,
    }


def _forecast_sentence(ind: Indicator, s: pd.Series, points: list[ForecastPoint]) -> str | None:
    if not points:
        return None
    week = points[:7]
    mean = sum(p.forecast for p in week) / len(week)
    lo = min(p.lower for p in week)
    hi = max(p.upper for p in week)
    recent = s.iloc[-7:].mean() if len(s) else None
    change = _move(_pct(mean, recent), "近7日")
    return (
        f"预计未来7天{ind.name}日均约{_fmt(mean, ind.unit)}（区间{_fmt(lo, ind.unit)}～"
        f"{_fmt(hi, ind.unit)}）{'，' + change if change else ''}"
    )


def build(session: Session, day: date) -> dict[str, Any]:
    """The report content for ``day`` (a JSON-able dict)."""
    when = datetime(day.year, day.month, day.day)
    inds = list(
        session.scalars(
            select(Indicator)
            .where(Indicator.enabled.is_(True), Indicator.granularity == "day")
            .order_by(Indicator.code)
        )
    )
    anomalies = {
        a.indicator_id: a for a in session.scalars(select(Anomaly).where(Anomaly.period == when))
    }
    topics = []
    all_figures: list[dict[str, Any]] = []
    for topic in TOPIC_SLUGS:
        members = [i for i in inds if i.topic == topic]
        figures, paragraphs, notable_anoms = [], [], []
        forecasts = []
        for ind in members:
            s = compute.total_series(session, ind.id, start=when - timedelta(days=370), end=when)
            fig = _figure(ind, s, when)
            if fig is None:
                continue
            fig["topic"] = topic
            figures.append(fig)
            anomaly = anomalies.get(ind.id)
            if anomaly is not None:
                word = "高于" if anomaly.direction == "above" else "低于"
                notable_anoms.append(
                    f"{ind.name}出现异常：当日{_fmt(anomaly.actual, ind.unit)}，明显{word}模型预期"
                    f"{_fmt(anomaly.expected, ind.unit)}（正常区间{_fmt(anomaly.lower, ind.unit)}～"
                    f"{_fmt(anomaly.upper, ind.unit)}）"
                )
                fig["anomaly"] = anomaly.direction
            if ind.featured and ind.last_period == when:
                pts = list(
                    session.scalars(
                        select(ForecastPoint)
                        .where(ForecastPoint.indicator_id == ind.id)
                        .order_by(ForecastPoint.period)
                    )
                )
                sentence = _forecast_sentence(ind, s, pts)
                if sentence:
                    forecasts.append(sentence)
        if not figures:
            continue
        all_figures += figures
        heads = sorted(figures, key=lambda f: (not f["featured"], f["code"]))[:MAX_HEADLINES]
        parts = []
        for f in heads:
            moves = "，".join(
                m for m in (_move(f["dod"], "前一日"), _move(f["wow"], "上周同日")) if m
            )
            parts.append(f"{f['name']}{f['text']}{'，' + moves if moves else ''}")
        paragraphs.append(f"{_day_label(day)}，{topic}方面：" + "；".join(parts) + "。")
        movers = sorted(
            (f for f in figures if f["dod"] is not None and abs(f["dod"]) >= NOTABLE_PCT),
            key=lambda f: -abs(f["dod"]),
        )[:3]
        if movers:
            paragraphs.append(
                "变化较大的有："
                + "；".join(
                    f"{f['name']}{_move(f['dod'], '前一日')}"
                    + (f"、{_move(f['wow'], '上周同日')}" if f["wow"] is not None else "")
                    + (f"、{_move(f['yoy'], '去年同期')}" if f["yoy"] is not None else "")
                    for f in movers
                )
                + "。"
            )
        if notable_anoms:
            paragraphs.append("；".join(notable_anoms) + "，请相关部门关注。")
        if forecasts:
            paragraphs.append("；".join(forecasts) + "。")
        topics.append(
            {
                "topic": topic,
                "paragraphs": paragraphs,
                "figures": figures,
                "anomalies": notable_anoms,
            }
        )
    alerts = _alert_section(session, when, inds)
    n_anom = sum(len(t["anomalies"]) for t in topics)
    summary = (
        f"{_day_label(day)}，全市{len(all_figures)}项日度指标完成更新，"
        f"{'发现' + str(n_anom) + '项指标出现异常' if n_anom else '未发现指标异常'}，"
        f"当日新增预警{len(alerts['new'])}条，尚未关闭的预警{alerts['open_count']}条。"
    )
    return {
        "day": day.isoformat(),
        "title": f"示例市城市运行日志（{_day_label(day)}）",
        "summary": summary,
        "topics": topics,
        "alerts": alerts,
        "generated_by": "template",
    }


def _alert_section(session: Session, when: datetime, inds: list[Indicator]) -> dict[str, Any]:
    names = {i.id: i.name for i in inds}
    rows = list(session.scalars(select(Alert).order_by(Alert.id)))
    new = [
        a for a in rows if a.first_period == when or (a.last_period == when and a.occurrences == 1)
    ]
    still_open = [a for a in rows if a.status in OPEN_STATUSES and a.first_period <= when]

    def item(a: Alert) -> dict[str, Any]:
        return {
            "id": a.id,
            "level": a.level,
            "level_label": LEVEL_LABELS[a.level],
            "indicator": names.get(a.indicator_id, ""),
            "message": a.message,
            "status": a.status,
        }

    by_level: dict[str, int] = {}
    for a in new:
        by_level[LEVEL_LABELS[a.level]] = by_level.get(LEVEL_LABELS[a.level], 0) + 1
    if new:
        counts = "、".join(f"{k}{v}条" for k, v in by_level.items())
        paragraph = (
            f"当日新增预警{len(new)}条（{counts}）：" + "；".join(a.message for a in new[:8]) + "。"
        )
    else:
        paragraph = "当日无新增预警。"
    paragraph += f"目前尚未关闭的预警共{len(still_open)}条。"
    return {
        "new": [item(a) for a in new],
        "open": [item(a) for a in still_open[:20]],
        "open_count": len(still_open),
        "paragraph": paragraph,
    }


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def rewrite(content: dict[str, Any]) -> bool:
    """Let the configured model polish each paragraph; keep ours on any doubt."""
    url = os.environ.get("GONGSHU_COCKPIT_LLM_URL")
    if not url:
        return False
    model = os.environ.get("GONGSHU_COCKPIT_LLM_MODEL", "default")
    changed = False

    def polish(text: str) -> str:
        nonlocal changed
        try:
            resp = httpx.post(
                url,
                json={
                    "model": model,
                    "messages": [
                        {
                            "role": "system",
                            "content": "你是政府城市运行日志的编辑。润色下面的段落，使其通顺正式；"
                            "不得增删或改动任何数字和事实。只输出润色后的段落。",
                        },
                        {"role": "user", "content": text},
                    ],
                    "temperature": 0.2,
                },
                timeout=30,
            )
            resp.raise_for_status()
            out = str(resp.json()["choices"][0]["message"]["content"]).strip()
        except (httpx.HTTPError, KeyError, IndexError, ValueError, TypeError) as exc:
            log.warning("report rewrite skipped: %s", exc)
            return text
        if not out or set(_NUMBER.findall(text)) - set(_NUMBER.findall(out)):
            return text  # a number went missing: keep the template text
        changed = changed or out != text
        return out

    content["summary"] = polish(content["summary"])
    for topic in content["topics"]:
        topic["paragraphs"] = [polish(p) for p in topic["paragraphs"]]
    content["alerts"]["paragraph"] = polish(content["alerts"]["paragraph"])
    if changed:
        content["generated_by"] = "template+llm"
    return changed


def generate(session: Session, day: date, *, actor: Principal | None = None) -> Report:
    """Build (or rebuild) the log of ``day`` and store it."""
    from gongshu.audit import service as audit

    actor = actor or Principal.system("cockpit")
    content = build(session, day)
    rewritten = rewrite(content)
    report = session.scalar(select(Report).where(Report.day == day))
    if report is None:
        report = Report(day=day, content=content, rewritten=rewritten)
        session.add(report)
    else:
        report.content = content
        report.rewritten = rewritten
        report.generated_at = utcnow()
    session.flush()
    audit.record(session, actor, "cockpit.report.generate", "report", day.isoformat())
    session.commit()
    return report


def list_reports(session: Session, actor: Principal, limit: int = 366) -> list[Report]:
    ensure_report_reader(actor)
    return list(session.scalars(select(Report).order_by(Report.day.desc()).limit(limit)))


def get_report(session: Session, actor: Principal, day: date) -> Report:
    ensure_report_reader(actor)
    report = session.scalar(select(Report).where(Report.day == day))
    if report is None:
        raise NotFound(f"{_day_label(day)}的城市运行日志尚未生成")
    return report
