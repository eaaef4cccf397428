"""Pages: demands and approvals per role, grants ("who uses my data"), the interface
catalogue with OpenAPI and a test console, call statistics, backflow, the calendar."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gongshu.auth.principal import Principal
from gongshu.catalog import service as catalog
from gongshu.errors import AppError, NotFound, ValidationFailed
from gongshu.orgs import service as orgs
from gongshu.sharing import maskers, service, stats
from gongshu.sharing.kinds import interface_kinds, openapi_document
from gongshu.sharing.models import BACKFLOW_LABELS, DEMAND_LABELS
from gongshu.sharing.schemas import (
    BackflowIn,
    DemandIn,
    HolidayIn,
    InterfaceIn,
    RowFilter,
    Terms,
)
from gongshu.web.deps import DbSession, PageParams, PagePrincipal
from gongshu.web.forms import FormData, parse_form
from gongshu.web.templating import flash, page_links, render

router = APIRouter(include_in_schema=False)
ACTION_LABELS = {
    "submit": "提交",
    "unmet": "登记需求清单",
    "owner_approve": "提供部门同意",
    "owner_refuse": "提供部门不同意",
    "bureau_confirm": "数据局确认授权",
    "bureau_refuse": "数据局不同意",
    "withdraw": "撤回",
    "escalate": "申请协调",
    "coordinate_grant": "协调同意",
    "coordinate_uphold": "协调维持不同意",
    "assign": "交办",
    "link": "关联资源",
}


def _names(session: Any) -> dict[int, str]:
    return catalog.org_names(session)


def _specs(session: Any, ids: Any) -> dict[int, Any]:
    out = {}
    for rid in {i for i in ids if i}:
        try:
            out[rid] = catalog.resource_spec(session, rid)
        except NotFound:
            continue
    return out


def _back(request: Request, url: str, message: str, kind: str = "success") -> Any:
    flash(request, message, kind)
    return RedirectResponse(url, status_code=303)


def _bounce(request: Request, url: str, exc: AppError, session: Any) -> Any:
    session.rollback()
    return _back(request, url, exc.message, "error")


# ---- demands -----------------------------------------------------------------------


@router.get("/sharing/demands", response_class=HTMLResponse)
def demand_list(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    paging: PageParams,
    tab: Annotated[str | None, Query(pattern="^(mine|todo|all)$")] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> Any:
    tab = tab or ("todo" if principal.role in ("admin", "officer") else "mine")
    rows, total = service.list_demands(
        session,
        principal,
        role=None if tab == "all" else tab,
        status=status or None,
        offset=paging.offset,
        limit=paging.size,
    )
    return render(
        request,
        "sharing/demands.html",
        {
            "rows": rows,
            "tab": tab,
            "status": status or "",
            "labels": DEMAND_LABELS,
            "names": _names(session),
            "specs": _specs(session, [d.resource_id for d in rows]),
            "warnings": service.deadline_warnings(session, principal),
            "overdue": {d.id for d in rows if service.is_overdue(d)},
            "sat": service.satisfaction(session, principal)["overall"],
            "pager": page_links(request, paging.page, paging.size, total),
        },
        principal=principal,
        breadcrumbs=[("共享申请", None)],
    )


@router.get("/sharing/demands/new", response_class=HTMLResponse)
def demand_new(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    resource_id: int | None = None,
) -> Any:
    return _demand_form(request, session, principal, resource_id)


def _demand_form(
    request: Request,
    session: Any,
    principal: Principal,
    resource_id: int | None,
    values: dict[str, str] | None = None,
    error: str | None = None,
) -> Any:
    specs = [s for s in catalog.published_specs(session) if s.owner_org_id != principal.org_id]
    chosen = next((s for s in specs if s.id == resource_id), None)
    systems = (
        orgs.list_systems(session, principal, org_id=principal.org_id, limit=200)[0]
        if principal.org_id
        else []
    )
    return render(
        request,
        "sharing/demand_form.html",
        {
            "specs": specs,
            "chosen": chosen,
            "systems": systems,
            "values": values or {},
            "error": error,
            "names": _names(session),
        },
        principal=principal,
        breadcrumbs=[("共享申请", "/sharing/demands"), ("新建申请", None)],
        status_code=422 if error else 200,
    )


@router.post("/sharing/demands/new", response_class=HTMLResponse)
def demand_create(
    request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    items = [k[5:] for k in form if k.startswith("item_")]
    data = {k: v for k, v in form.items() if not k.startswith("item_")}
    rid = data.get("resource_id")
    try:
        body = parse_form(DemandIn, data)
        body = body.model_copy(update={"items": items})
        demand = service.create_demand(session, principal, body)
    except AppError as exc:
        session.rollback()
        resource_id = int(rid) if rid and rid.isdigit() else None
        return _demand_form(request, session, principal, resource_id, form, exc.message)
    message = {
        "granted": "申请已提交：无条件共享，已自动授权",
        "refused": "该资源不予共享，申请未通过（可申请协调）",
        "unmet": "资源尚不存在，已登记到需求清单",
    }.get(demand.status, f"申请已提交，请数据提供部门于 {demand.due_date} 前答复")
    return _back(request, f"/sharing/demands/{demand.id}", message)


@router.get("/sharing/demands/{demand_id}", response_class=HTMLResponse)
def demand_detail(
    demand_id: int, request: Request, session: DbSession, principal: PagePrincipal
) -> Any:
    d = service.get_demand(session, principal, demand_id)
    spec = catalog.resource_spec(session, d.resource_id) if d.resource_id else None
    grants = service.list_grants(session, principal, resource_id=d.resource_id or -1)[0]
    is_owner = principal.can_write_org(d.owner_org_id)
    is_requester = principal.is_admin or (
        principal.org_id == d.requester_org_id and principal.role in ("officer", "consumer")
    )
    return render(
        request,
        "sharing/demand_detail.html",
        {
            "d": d,
            "spec": spec,
            "labels": DEMAND_LABELS,
            "names": _names(session),
            "events": service.demand_events(session, principal, demand_id),
            "actions": ACTION_LABELS,
            "grant": next((g for g in grants if g.demand_id == d.id), None),
            "overdue": service.is_overdue(d),
            "is_owner": is_owner,
            "is_requester": is_requester,
            "maskers": maskers.names(),
            "defaults": service.default_masking(spec, d.items) if spec else {},
            "orgs": orgs.list_orgs(session, principal, limit=500)[0] if principal.is_admin else [],
        },
        principal=principal,
        breadcrumbs=[("共享申请", "/sharing/demands"), (f"申请 #{d.id}", None)],
    )


def _terms(form: dict[str, str], d: Any) -> Terms:
    items = [c for c in d.items if f"grant_{c}" in form]
    masking = {c: form.get(f"mask_{c}", "none") for c in items}
    col = (form.get("filter_column") or "").strip()
    values = [v.strip() for v in (form.get("filter_values") or "").split(",") if v.strip()]
    data: dict[str, Any] = {"items": items, "masking": masking}
    if col and values:
        data["row_filter"] = RowFilter(column=col, values=values)
    for name in ("daily_quota", "rate_limit", "valid_until"):
        if (form.get(name) or "").strip():
            data[name] = form[name].strip()
    try:
        return Terms.model_validate(data)
    except Exception as exc:
        raise ValidationFailed(f"授权条件不合法：{exc}") from None


def _demand_action(
    action: str,
    demand_id: int,
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    form: FormData,
) -> Any:
    d = service.get_demand(session, principal, demand_id)  # 404 before anything else
    url = f"/sharing/demands/{d.id}"
    approve = form.get("approve") == "1"
    reason = (form.get("reason") or "").strip() or None
    try:
        if action == "decide":
            terms = _terms(form, d) if approve else None
            service.owner_decide(
                session, principal, d.id, approve=approve, reason=reason, terms=terms
            )
        elif action == "confirm":
            service.bureau_confirm(session, principal, d.id, approve=approve, reason=reason)
        elif action == "withdraw":
            service.withdraw(session, principal, d.id)
        elif action == "escalate":
            service.escalate(session, principal, d.id, reason or "")
        elif action == "coordinate":
            terms = _terms(form, d) if approve else None
            service.coordinate(
                session, principal, d.id, approve=approve, reason=reason, terms=terms
            )
        elif action == "assign":
            org_id = form.get("org_id") or ""
            if not org_id.isdigit():
                raise ValidationFailed("请选择交办部门")
            service.assign_unmet(session, principal, d.id, int(org_id), reason)
        else:
            raise NotFound("操作不存在")
    except NotFound:
        raise
    except AppError as exc:
        return _bounce(request, url, exc, session)
    return _back(request, url, "已处理")


def _action_route(action: str) -> Any:
    def handler(
        demand_id: int,
        request: Request,
        session: DbSession,
        principal: PagePrincipal,
        form: FormData,
    ) -> Any:
        return _demand_action(action, demand_id, request, session, principal, form)

    handler.__name__ = f"demand_{action}"
    return handler


for _action in ("decide", "confirm", "withdraw", "escalate", "coordinate", "assign"):
    router.add_api_route(
        f"/sharing/demands/{{demand_id}}/{_action}",
        _action_route(_action),
        methods=["POST"],
        response_class=HTMLResponse,
    )


# ---- grants ------------------------------------------------------------------------


@router.get("/sharing/grants", response_class=HTMLResponse)
def grant_list(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    paging: PageParams,
    view: Annotated[str | None, Query(pattern="^(mine|provided|all)$")] = None,
    resource_id: int | None = None,
) -> Any:
    view = view or ("provided" if principal.role == "officer" else "all")
    kwargs: dict[str, Any] = {"resource_id": resource_id}
    if view == "mine" and principal.org_id:
        kwargs["consumer_org_id"] = principal.org_id
    elif view == "provided" and principal.org_id:
        kwargs["owner_org_id"] = principal.org_id
    rows, total = service.list_grants(
        session, principal, offset=paging.offset, limit=paging.size, **kwargs
    )
    return render(
        request,
        "sharing/grants.html",
        {
            "rows": rows,
            "view": view,
            "names": _names(session),
            "specs": _specs(session, [g.resource_id for g in rows]),
            "pager": page_links(request, paging.page, paging.size, total),
        },
        principal=principal,
        breadcrumbs=[("共享授权", None)],
    )


@router.get("/sharing/grants/{grant_id}", response_class=HTMLResponse)
def grant_detail(
    grant_id: int, request: Request, session: DbSession, principal: PagePrincipal
) -> Any:
    g = service.get_grant(session, principal, grant_id)
    since = date.today().replace(day=1)
    usage = stats.call_stats(session, principal, consumer_org_id=g.consumer_org_id)
    return render(
        request,
        "sharing/grant_detail.html",
        {
            "g": g,
            "spec": catalog.resource_spec(session, g.resource_id),
            "names": _names(session),
            "can_revoke": principal.can_write_org(g.owner_org_id) and g.status == "active",
            "usage": usage["total"],
            "since": since,
        },
        principal=principal,
        breadcrumbs=[("共享授权", "/sharing/grants"), (f"授权 #{g.id}", None)],
    )


@router.post("/sharing/grants/{grant_id}/revoke", response_class=HTMLResponse)
def grant_revoke(
    grant_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    g = service.get_grant(session, principal, grant_id)
    try:
        service.revoke_grant(session, principal, g.id, (form.get("reason") or "").strip() or "撤销")
    except NotFound:
        raise
    except AppError as exc:
        return _bounce(request, f"/sharing/grants/{g.id}", exc, session)
    return _back(request, f"/sharing/grants/{g.id}", "授权已撤销，下一次调用即被拒绝")


# ---- interfaces --------------------------------------------------------------------


@router.get("/sharing/interfaces", response_class=HTMLResponse)
def interface_list(
    request: Request, session: DbSession, principal: PagePrincipal, paging: PageParams
) -> Any:
    rows, total = service.list_interfaces(
        session, principal, offset=paging.offset, limit=paging.size
    )
    own = (
        [s for s in catalog.published_specs(session, org_id=principal.org_id)]
        if principal.org_id and principal.role in ("officer", "admin")
        else []
    )
    return render(
        request,
        "sharing/interfaces.html",
        {
            "rows": rows,
            "names": _names(session),
            "specs": _specs(session, [i.resource_id for i in rows]),
            "own": [s for s in own if s.share_type != "不予共享"],
            "kinds": {n: k.title for n, k in interface_kinds.items()},
            "pager": page_links(request, paging.page, paging.size, total),
        },
        principal=principal,
        breadcrumbs=[("接口目录", None)],
    )


@router.post("/sharing/interfaces/new", response_class=HTMLResponse)
def interface_create(
    request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    data: dict[str, Any] = dict(form)
    if data.get("key_columns"):
        data["key_columns"] = [c.strip() for c in data["key_columns"].split(",") if c.strip()]
    try:
        iface = service.create_interface(session, principal, parse_form(InterfaceIn, data))
    except AppError as exc:
        return _bounce(request, "/sharing/interfaces", exc, session)
    return _back(request, f"/sharing/interfaces/{iface.id}", "接口已发布")


@router.get("/sharing/interfaces/{interface_id}", response_class=HTMLResponse)
def interface_detail(
    interface_id: int, request: Request, session: DbSession, principal: PagePrincipal
) -> Any:
    import json

    iface = service.get_interface(session, principal, interface_id)
    spec = catalog.resource_spec(session, iface.resource_id)
    doc = openapi_document(iface, spec, str(request.base_url).rstrip("/"))
    usage = stats.call_stats(session, principal, interface_id=iface.id)
    kind = interface_kinds.get(iface.kind)
    return render(
        request,
        "sharing/interface_detail.html",
        {
            "i": iface,
            "spec": spec,
            "kind": kind,
            "openapi": json.dumps(doc, ensure_ascii=False, indent=2),
            "names": _names(session),
            "usage": usage,
            "grants": service.list_grants(session, principal, resource_id=iface.resource_id)[0],
        },
        principal=principal,
        breadcrumbs=[("接口目录", "/sharing/interfaces"), (iface.name, None)],
    )


# ---- statistics --------------------------------------------------------------------


@router.get("/sharing/stats", response_class=HTMLResponse)
def stats_page(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    since: date | None = None,
    until: date | None = None,
    interface_id: int | None = None,
    consumer_org_id: int | None = None,
) -> Any:
    data = stats.call_stats(
        session,
        principal,
        since=since,
        until=until,
        interface_id=interface_id,
        consumer_org_id=consumer_org_id,
    )
    ifaces = service.list_interfaces(session, principal, limit=500)[0]
    return render(
        request,
        "sharing/stats.html",
        {
            "s": data,
            "names": _names(session),
            "ifaces": {i.id: i for i in ifaces},
            "interface_id": interface_id,
            "consumer_org_id": consumer_org_id,
            "sat": service.satisfaction(session, principal)["overall"],
            "chart": {
                "days": [str(r["key"]) for r in data["by_day"]],
                "calls": [r["calls"] for r in data["by_day"]],
                "rate": [
                    round(100 * r["success_rate"], 2) if r["success_rate"] is not None else None
                    for r in data["by_day"]
                ],
            },
        },
        principal=principal,
        breadcrumbs=[("调用统计", None)],
    )


# ---- backflow ----------------------------------------------------------------------


@router.get("/sharing/backflows", response_class=HTMLResponse)
def backflow_list(
    request: Request, session: DbSession, principal: PagePrincipal, paging: PageParams
) -> Any:
    rows, total = service.list_backflows(
        session, principal, offset=paging.offset, limit=paging.size
    )
    return render(
        request,
        "sharing/backflows.html",
        {
            "rows": rows,
            "labels": BACKFLOW_LABELS,
            "names": _names(session),
            "volumes": service.backflow_volumes(session, principal),
            "pager": page_links(request, paging.page, paging.size, total),
        },
        principal=principal,
        breadcrumbs=[("数据回流", None)],
    )


@router.post("/sharing/backflows/new", response_class=HTMLResponse)
def backflow_create(
    request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    try:
        bf = service.create_backflow(session, principal, parse_form(BackflowIn, form))
    except AppError as exc:
        return _bounce(request, "/sharing/backflows", exc, session)
    return _back(request, f"/sharing/backflows/{bf.id}", "回流申请已提交")


@router.get("/sharing/backflows/{backflow_id}", response_class=HTMLResponse)
def backflow_detail(
    backflow_id: int, request: Request, session: DbSession, principal: PagePrincipal
) -> Any:
    bf = service.get_backflow(session, principal, backflow_id)
    return render(
        request,
        "sharing/backflow_detail.html",
        {
            "b": bf,
            "labels": BACKFLOW_LABELS,
            "names": _names(session),
            "volume": service.backflow_volumes(session, principal)["by_backflow"].get(bf.id),
        },
        principal=principal,
        breadcrumbs=[("数据回流", "/sharing/backflows"), (bf.upstream_name, None)],
    )


@router.post("/sharing/backflows/{backflow_id}/decide", response_class=HTMLResponse)
def backflow_decide(
    backflow_id: int,
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    form: FormData,
) -> Any:
    bf = service.get_backflow(session, principal, backflow_id)
    try:
        service.decide_backflow(
            session,
            principal,
            bf.id,
            approve=form.get("approve") == "1",
            comment=(form.get("reason") or "").strip() or None,
        )
    except NotFound:
        raise
    except AppError as exc:
        return _bounce(request, f"/sharing/backflows/{bf.id}", exc, session)
    return _back(request, f"/sharing/backflows/{bf.id}", "已审批")


# ---- calendar ----------------------------------------------------------------------


@router.get("/sharing/calendar", response_class=HTMLResponse)
def calendar_page(request: Request, session: DbSession, principal: PagePrincipal) -> Any:
    return render(
        request,
        "sharing/calendar.html",
        {"rows": service.list_holidays(session, principal)},
        principal=principal,
        breadcrumbs=[("工作日历", None)],
    )


@router.post("/sharing/calendar", response_class=HTMLResponse)
def calendar_set(
    request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    try:
        service.set_holiday(
            session, principal, parse_form(HolidayIn, form, checkboxes=("is_workday",))
        )
    except AppError as exc:
        return _bounce(request, "/sharing/calendar", exc, session)
    return _back(request, "/sharing/calendar", "已保存")
