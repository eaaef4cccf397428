"""Pages: the big screens, the indicator library, alerts, the daily log, webhooks."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gongshu.cockpit import alerts as rules
from gongshu.cockpit import report, screen, service
from gongshu.cockpit.registry import TOPICS
from gongshu.cockpit.schemas import WebhookIn
from gongshu.errors import AppError, ValidationFailed
from gongshu.web.deps import DbSession, PageParams, PagePrincipal
from gongshu.web.forms import FormData, parse_form
from gongshu.web.templating import flash, page_links, render

router = APIRouter(include_in_schema=False)
LIBRARY = ("指标库", "/cockpit/indicators")
ALERTS = ("预警中心", "/cockpit/alerts")
REPORTS = ("城市运行日志", "/cockpit/reports")


def _json(data: Any) -> str:
    # Embedded in a <script type="application/json">: keep "</" from closing the tag.
    return json.dumps(data, ensure_ascii=False, default=str).replace("</", "<\\/")


@router.get("/cockpit", response_class=HTMLResponse)
def cockpit_root() -> Any:
    return RedirectResponse("/cockpit/screen", status_code=303)


@router.get("/cockpit/screen", response_class=HTMLResponse)
def big_screen(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    topic: Annotated[str, Query(max_length=16)] = "home",
) -> Any:
    data = screen.screen_data(session, principal, topic)
    return render(
        request,
        "cockpit/screen.html",
        {
            "data": data,
            "data_json": _json(data),
            "can_handle": principal.role in service.HANDLERS,
        },
        principal=principal,
    )


@router.get("/cockpit/indicators", response_class=HTMLResponse)
def library(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    topic: Annotated[str | None, Query(max_length=16)] = None,
) -> Any:
    rows = service.list_indicators(session, principal, topic=topic or None)
    return render(
        request,
        "cockpit/indicators.html",
        {
            "indicators": rows,
            "topic": topic or "",
            "topics": [v for k, v in TOPICS.items() if k != "home"],
            "org_names": service.org_names(session),
            "lineage": _lineage(session, {s for i in rows for s in i.sources}),
        },
        principal=principal,
        breadcrumbs=[(LIBRARY[0], None)],
    )


def _lineage(session: Any, tables: set[str]) -> dict[str, dict[str, Any]]:
    """Warehouse table -> the catalog resource it holds, when one is catalogued."""
    from gongshu.catalog import service as catalog
    from gongshu.warehouse import table_name_for

    out: dict[str, dict[str, Any]] = {}
    if not tables:
        return out
    for spec in catalog.published_specs(session):
        try:
            name = table_name_for(spec.code)
        except ValueError:
            continue
        if name in tables:
            out[name] = {"code": spec.code, "name": spec.name, "id": spec.id}
    return out


@router.get("/cockpit/indicators/{indicator_code}", response_class=HTMLResponse)
def indicator_page(
    indicator_code: str, request: Request, session: DbSession, principal: PagePrincipal
) -> Any:
    ind = service.get_indicator(session, principal, indicator_code)
    hist = service.history(session, ind, periods=400)
    fc = service.forecast_points(session, ind)
    anomalies = service.anomalies(session, ind)
    districts = service.breakdown(session, ind, "district")
    names = screen.district_names(session, [c for c, _ in districts])
    orgs = service.breakdown(session, ind, "org")
    chart = {
        "periods": [p.strftime("%Y-%m-%d") for p in hist.index]
        + [f.period.strftime("%Y-%m-%d") for f in fc],
        "values": [round(float(v), 4) for v in hist.to_numpy()] + [None] * len(fc),
        "forecast": [None] * max(len(hist) - 1, 0)
        + ([round(float(hist.iloc[-1]), 4)] if len(hist) else [])
        + [round(f.forecast, 4) for f in fc],
        "lower": [None] * len(hist) + [round(f.lower, 4) for f in fc],
        "upper": [None] * len(hist) + [round(f.upper, 4) for f in fc],
        "anomalies": [
            [a.period.strftime("%Y-%m-%d"), round(a.actual, 4)]
            for a in anomalies
            if a.period >= (hist.index[0] if len(hist) else a.period)
        ],
        "upper_bound": ind.upper,
        "lower_bound": ind.lower,
        "districts": [{"name": names.get(c, c), "value": round(v, 4)} for c, v in districts],
        "orgs": [{"name": screen._org_label(session, c), "value": round(v, 4)} for c, v in orgs],
    }
    recent_alerts, _ = service.list_alerts(session, principal, limit=500)
    return render(
        request,
        "cockpit/indicator.html",
        {
            "ind": ind,
            "chart_json": _json(chart),
            "history": list(reversed(list(hist.items())))[:30],
            "forecast": fc,
            "anomalies": list(reversed(anomalies))[:20],
            "org_name": service.org_names(session).get(ind.owner_org_id or 0, "—"),
            "lineage": _lineage(session, set(ind.sources)),
            "alerts": [a for a in recent_alerts if a.indicator_id == ind.id][:10],
            "level_labels": rules.LEVEL_LABELS,
            "rule_labels": rules.RULE_LABELS,
            "status_labels": rules.STATUS_LABELS,
            "can_edit": principal.can_write_org(ind.owner_org_id),
        },
        principal=principal,
        breadcrumbs=[LIBRARY, (ind.name, None)],
    )


@router.get("/cockpit/alerts", response_class=HTMLResponse)
def alert_list(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    paging: PageParams,
    status: Annotated[str | None, Query(max_length=16)] = "active",
    level: Annotated[str | None, Query(max_length=8)] = None,
) -> Any:
    rows, total = service.list_alerts(
        session,
        principal,
        status=status or None,
        level=level or None,
        offset=paging.offset,
        limit=paging.size,
    )
    names = {i.id: i for i in service.list_indicators(session, principal)}
    return render(
        request,
        "cockpit/alerts.html",
        {
            "alerts": rows,
            "indicators": names,
            "status": status or "",
            "level": level or "",
            "pager": page_links(request, paging.page, paging.size, total),
            "level_labels": rules.LEVEL_LABELS,
            "rule_labels": rules.RULE_LABELS,
            "status_labels": rules.STATUS_LABELS,
        },
        principal=principal,
        breadcrumbs=[(ALERTS[0], None)],
    )


@router.get("/cockpit/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    alert_id: int, request: Request, session: DbSession, principal: PagePrincipal
) -> Any:
    alert = service.get_alert(session, principal, alert_id)
    ind = service.get_indicator(session, principal, _code_of(session, alert.indicator_id))
    return _alert_render(request, session, principal, alert, ind)


def _code_of(session: Any, indicator_id: int) -> str:
    from gongshu.cockpit.models import Indicator

    ind = session.get(Indicator, indicator_id)
    return ind.code if ind else ""


def _alert_render(
    request: Request, session: Any, principal: Any, alert: Any, ind: Any, error: str | None = None
) -> Any:
    can_handle = alert.status != "closed" and (
        principal.role in ("admin", "leader")
        or (principal.role == "officer" and principal.org_id == alert.owner_org_id)
    )
    users = service.assignable_users(session, alert) if can_handle else []
    assignee = next((u for u in users if u.id == alert.assignee_id), None)
    return render(
        request,
        "cockpit/alert.html",
        {
            "alert": alert,
            "ind": ind,
            "chart_json": _json(alert.detail or {}),
            "can_handle": can_handle,
            "users": users,
            "assignee": assignee,
            "error": error,
            "level_labels": rules.LEVEL_LABELS,
            "rule_labels": rules.RULE_LABELS,
            "status_labels": rules.STATUS_LABELS,
        },
        principal=principal,
        breadcrumbs=[ALERTS, (f"预警 #{alert.id}", None)],
        status_code=422 if error else 200,
    )


@router.post("/cockpit/alerts/{alert_id}/ack", response_class=HTMLResponse)
def alert_ack(
    alert_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    return _alert_action(alert_id, "ack", request, session, principal, form)


@router.post("/cockpit/alerts/{alert_id}/assign", response_class=HTMLResponse)
def alert_assign(
    alert_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    return _alert_action(alert_id, "assign", request, session, principal, form)


@router.post("/cockpit/alerts/{alert_id}/close", response_class=HTMLResponse)
def alert_close(
    alert_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    return _alert_action(alert_id, "close", request, session, principal, form)


def _alert_action(
    alert_id: int, action: str, request: Request, session: Any, principal: Any, form: dict[str, str]
) -> Any:
    alert = service.get_alert(session, principal, alert_id)
    try:
        if action == "ack":
            service.acknowledge(session, principal, alert_id, form.get("note") or None)
            flash(request, "预警已确认")
        elif action == "assign":
            raw = form.get("assignee_id", "")
            service.assign(session, principal, alert_id, int(raw) if raw.isdigit() else None)
            flash(request, "预警已指派")
        elif action == "close":
            service.close(session, principal, alert_id, form.get("note"))
            flash(request, "预警已关闭")
        else:
            raise ValidationFailed("不支持的操作")
    except AppError as exc:
        session.rollback()
        if exc.status_code in (403, 404):
            raise
        alert = service.get_alert(session, principal, alert_id)
        ind = service.get_indicator(session, principal, _code_of(session, alert.indicator_id))
        return _alert_render(request, session, principal, alert, ind, error=exc.message)
    return RedirectResponse(f"/cockpit/alerts/{alert.id}", status_code=303)


@router.get("/cockpit/reports", response_class=HTMLResponse)
def report_list(request: Request, session: DbSession, principal: PagePrincipal) -> Any:
    rows = report.list_reports(session, principal)
    return render(
        request,
        "cockpit/reports.html",
        {"reports": rows},
        principal=principal,
        breadcrumbs=[(REPORTS[0], None)],
    )


@router.get("/cockpit/reports/{report_day}", response_class=HTMLResponse)
def report_page(
    report_day: str, request: Request, session: DbSession, principal: PagePrincipal
) -> Any:
    report.ensure_report_reader(principal)
    try:
        day = dt.date.fromisoformat(report_day)
    except ValueError:
        raise ValidationFailed("日期格式应为 YYYY-MM-DD") from None
    r = report.get_report(session, principal, day)
    days = [x.day for x in report.list_reports(session, principal)]
    older = next((d for d in days if d < day), None)
    newer = next((d for d in reversed(days) if d > day), None)
    return render(
        request,
        "cockpit/report.html",
        {"report": r, "c": r.content, "older": older, "newer": newer},
        principal=principal,
        breadcrumbs=[REPORTS, (r.content.get("title", str(day)), None)],
    )


@router.get("/cockpit/webhooks", response_class=HTMLResponse)
def webhook_list(request: Request, session: DbSession, principal: PagePrincipal) -> Any:
    return _webhooks(request, session, principal)


def _webhooks(
    request: Request, session: Any, principal: Any, values: Any = None, error: str | None = None
) -> Any:
    hooks = service.list_webhooks(session, principal)
    return render(
        request,
        "cockpit/webhooks.html",
        {
            "hooks": hooks,
            "stats": service.delivery_stats(session),
            "values": values or {},
            "error": error,
            "level_labels": rules.LEVEL_LABELS,
        },
        principal=principal,
        breadcrumbs=[("预警通知", None)],
        status_code=422 if error else 200,
    )


@router.post("/cockpit/webhooks", response_class=HTMLResponse)
def webhook_create(
    request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    principal.ensure_role("admin")
    try:
        service.create_webhook(
            session, principal, parse_form(WebhookIn, form, checkboxes=("enabled",))
        )
    except AppError as exc:
        session.rollback()
        return _webhooks(request, session, principal, values=form, error=exc.message)
    flash(request, "已添加通知地址")
    return RedirectResponse("/cockpit/webhooks", status_code=303)


@router.post("/cockpit/webhooks/{webhook_id}/delete", response_class=HTMLResponse)
def webhook_delete(
    webhook_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    service.delete_webhook(session, principal, webhook_id)
    flash(request, "已删除通知地址")
    return RedirectResponse("/cockpit/webhooks", status_code=303)


__all__ = ["page_links", "router"]
