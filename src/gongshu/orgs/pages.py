"""Pages: orgs and information systems."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gongshu.errors import AppError
from gongshu.orgs import service
from gongshu.orgs.models import OrgLevel, SystemStatus
from gongshu.orgs.regions import region_name
from gongshu.orgs.schemas import OrgCreate, OrgUpdate, SystemCreate, SystemUpdate
from gongshu.web.deps import DbSession, PageParams, PagePrincipal
from gongshu.web.forms import FormData, parse_form
from gongshu.web.templating import flash, page_links, render

router = APIRouter(include_in_schema=False)
SearchText = Annotated[str | None, Query(max_length=100)]


@router.get("/orgs", response_class=HTMLResponse)
def org_list(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    paging: PageParams,
    q: SearchText = None,
    level: Annotated[str | None, Query(max_length=8)] = None,
) -> Any:
    rows, total = service.list_orgs(
        session, principal, q=q, level=level, offset=paging.offset, limit=paging.size
    )
    return render(
        request,
        "orgs/list.html",
        {
            "orgs": rows,
            "q": q or "",
            "level": level or "",
            "levels": [lv.value for lv in OrgLevel],
            "pager": page_links(request, paging.page, paging.size, total),
            "region_names": {o.region_code: region_name(session, o.region_code) for o in rows},
        },
        principal=principal,
        breadcrumbs=[("部门/单位", None)],
    )


def _org_form(
    request: Request,
    principal: Any,
    *,
    org: Any = None,
    values: dict[str, str] | None = None,
    error: str | None = None,
    orgs: list[Any] | None = None,
) -> Any:
    title = f"编辑 {org.name}" if org else "新建部门/单位"
    return render(
        request,
        "orgs/form.html",
        {
            "org": org,
            "values": values or {},
            "error": error,
            "levels": [lv.value for lv in OrgLevel],
            "parents": orgs or [],
            "title": title,
        },
        principal=principal,
        breadcrumbs=[("部门/单位", "/orgs"), (title, None)],
        status_code=422 if error else 200,
    )


@router.get("/orgs/new", response_class=HTMLResponse)
def org_new(request: Request, session: DbSession, principal: PagePrincipal) -> Any:
    principal.ensure_role("admin")
    return _org_form(request, principal, orgs=service.list_orgs(session, principal, limit=1000)[0])


@router.post("/orgs/new", response_class=HTMLResponse)
def org_create(
    request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    try:
        org = service.create_org(session, principal, parse_form(OrgCreate, form))
    except AppError as exc:
        session.rollback()
        parents = service.list_orgs(session, principal, limit=1000)[0]
        return _org_form(request, principal, values=form, error=exc.message, orgs=parents)
    flash(request, f"已创建 {org.name}")
    return RedirectResponse(f"/orgs/{org.id}", status_code=303)


@router.get("/orgs/{org_id}", response_class=HTMLResponse)
def org_detail(org_id: int, request: Request, session: DbSession, principal: PagePrincipal) -> Any:
    org = service.get_org(session, principal, org_id)
    systems = service.list_systems(session, principal, org_id=org.id, limit=500)[0]
    parent = session.get(type(org), org.parent_id) if org.parent_id else None
    return render(
        request,
        "orgs/detail.html",
        {
            "org": org,
            "systems": systems,
            "parent": parent,
            "region": region_name(session, org.region_code),
            "can_edit": principal.can_write_org(org.id),
        },
        principal=principal,
        breadcrumbs=[("部门/单位", "/orgs"), (org.name, None)],
    )


@router.get("/orgs/{org_id}/edit", response_class=HTMLResponse)
def org_edit(org_id: int, request: Request, session: DbSession, principal: PagePrincipal) -> Any:
    org = service.get_org(session, principal, org_id)
    principal.ensure_write(org.id, "部门/单位")
    values = {k: getattr(org, k) or "" for k in OrgCreate.model_fields}
    values["parent_id"] = str(org.parent_id or "")
    parents = service.list_orgs(session, principal, limit=1000)[0]
    return _org_form(request, principal, org=org, values=values, orgs=parents)


@router.post("/orgs/{org_id}/edit", response_class=HTMLResponse)
def org_update(
    org_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    org = service.get_org(session, principal, org_id)
    principal.ensure_write(org.id, "部门/单位")
    allowed = set(OrgUpdate.model_fields) if principal.is_admin else service.OFFICER_ORG_FIELDS
    submitted = {k: v for k, v in form.items() if k in allowed}
    try:
        data = parse_form(OrgUpdate, submitted, blank_clears=True)
        service.update_org(session, principal, org.id, data)
    except AppError as exc:
        session.rollback()
        parents = service.list_orgs(session, principal, limit=1000)[0]
        return _org_form(request, principal, org=org, values=form, error=exc.message, orgs=parents)
    flash(request, "已保存")
    return RedirectResponse(f"/orgs/{org.id}", status_code=303)


# ---- systems -----------------------------------------------------------------------


@router.get("/systems", response_class=HTMLResponse)
def system_list(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    paging: PageParams,
    q: SearchText = None,
    org_id: int | None = None,
) -> Any:
    rows, total = service.list_systems(
        session, principal, org_id=org_id, q=q, offset=paging.offset, limit=paging.size
    )
    org_rows = service.list_orgs(session, principal, limit=10_000)[0]
    return render(
        request,
        "orgs/systems.html",
        {
            "systems": rows,
            "orgs": org_rows,
            "org_names": {o.id: o.name for o in org_rows},
            "q": q or "",
            "org_id": org_id,
            "pager": page_links(request, paging.page, paging.size, total),
        },
        principal=principal,
        breadcrumbs=[("信息系统", None)],
    )


def _system_form(
    request: Request,
    session: Any,
    principal: Any,
    *,
    system: Any = None,
    values: dict[str, Any] | None = None,
    error: str | None = None,
) -> Any:
    title = f"编辑 {system.name}" if system else "登记信息系统"
    orgs = [
        o
        for o in service.list_orgs(session, principal, limit=10_000)[0]
        if principal.can_write_org(o.id)
    ]
    return render(
        request,
        "orgs/system_form.html",
        {
            "system": system,
            "values": values or {},
            "error": error,
            "orgs": orgs,
            "statuses": [s.value for s in SystemStatus],
            "title": title,
        },
        principal=principal,
        breadcrumbs=[("信息系统", "/systems"), (title, None)],
        status_code=422 if error else 200,
    )


@router.get("/systems/new", response_class=HTMLResponse)
def system_new(request: Request, session: DbSession, principal: PagePrincipal) -> Any:
    principal.ensure_role("admin", "officer")
    return _system_form(request, session, principal, values={"org_id": principal.org_id or ""})


@router.post("/systems/new", response_class=HTMLResponse)
def system_create(
    request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    try:
        data = parse_form(SystemCreate, form, checkboxes=("on_gov_cloud",))
        system = service.create_system(session, principal, data)
    except AppError as exc:
        session.rollback()
        return _system_form(request, session, principal, values=form, error=exc.message)
    flash(request, f"已登记信息系统 {system.name}")
    return RedirectResponse(f"/orgs/{system.org_id}", status_code=303)


@router.get("/systems/{system_id}/edit", response_class=HTMLResponse)
def system_edit(
    system_id: int, request: Request, session: DbSession, principal: PagePrincipal
) -> Any:
    system = service.get_system(session, principal, system_id)
    principal.ensure_write(system.org_id, "信息系统")
    values = {k: getattr(system, k) for k in SystemCreate.model_fields}
    return _system_form(request, session, principal, system=system, values=values)


@router.post("/systems/{system_id}/edit", response_class=HTMLResponse)
def system_update(
    system_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    system = service.get_system(session, principal, system_id)
    principal.ensure_write(system.org_id, "信息系统")
    submitted = {k: v for k, v in form.items() if k in SystemUpdate.model_fields}
    try:
        data = parse_form(SystemUpdate, submitted, checkboxes=("on_gov_cloud",), blank_clears=True)
        service.update_system(session, principal, system.id, data)
    except AppError as exc:
        session.rollback()
        return _system_form(
            request, session, principal, system=system, values=form, error=exc.message
        )
    flash(request, "已保存")
    return RedirectResponse(f"/orgs/{system.org_id}", status_code=303)
