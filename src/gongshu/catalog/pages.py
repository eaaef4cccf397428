"""Pages: catalog search, resource detail and edit, review queue, releases, import/export."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from gongshu.catalog import releases, search, service, transfer
from gongshu.catalog.rules import FIELD_LABELS, ITEM_LABELS
from gongshu.catalog.schemas import ReleaseCreate, ResourceIn
from gongshu.catalog.vocab import (
    DATA_ELEMENTS,
    FORMATS,
    GRADE_LABELS,
    MASKING_RULES,
    SHARE_METHODS,
    STATUS_LABELS,
    Classification,
    DataType,
    Grade,
    OpenType,
    ShareType,
    Status,
    UpdateCycle,
    catalog_settings,
)
from gongshu.errors import AppError, ValidationFailed
from gongshu.orgs.models import System
from gongshu.web.deps import DbSession, PageParams, PagePrincipal, check_csrf
from gongshu.web.forms import FormData
from gongshu.web.i18n import message_for
from gongshu.web.templating import flash, page_links, render, templates

router = APIRouter(include_in_schema=False)
Multi = Annotated[list[str] | None, Query(max_length=50)]
ITEM_FIELD = re.compile(r"^items-(\d+)-(\w+)$")
CRUMB = ("资源目录", "/catalog/resources")


def vocab() -> dict[str, Any]:
    return {
        "domains": catalog_settings().domain_list,
        "classifications": [c.value for c in Classification],
        "cycles": [c.value for c in UpdateCycle],
        "share_types": [c.value for c in ShareType],
        "share_methods": SHARE_METHODS,
        "open_types": [c.value for c in OpenType],
        "grades": [g.value for g in Grade],
        "grade_labels": GRADE_LABELS,
        "formats": FORMATS,
        "data_types": [t.value for t in DataType],
        "maskings": MASKING_RULES,
        "data_elements": DATA_ELEMENTS,
        "status_labels": STATUS_LABELS,
    }


templates.env.globals["catalog_status"] = lambda s: STATUS_LABELS.get(s, s)


# ---- list and search ---------------------------------------------------------------


@router.get("/catalog", include_in_schema=False)
def catalog_root() -> RedirectResponse:
    return RedirectResponse("/catalog/resources", status_code=303)


@router.get("/catalog/resources", response_class=HTMLResponse)
def resource_list(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    paging: PageParams,
    q: Annotated[str | None, Query(max_length=100)] = None,
    mode: Annotated[str, Query(pattern="^(resources|items)$")] = "resources",
    org: Multi = None,
    domain: Multi = None,
    share_type: Multi = None,
    open_type: Multi = None,
    grade: Multi = None,
    update_cycle: Multi = None,
    status: Multi = None,
) -> Any:
    service.ensure_catalog_reader(principal)
    filters = {
        "org": org or [],
        "domain": domain or [],
        "share_type": share_type or [],
        "open_type": open_type or [],
        "grade": grade or [],
        "update_cycle": update_cycle or [],
        "status": status or [],
    }
    names = service.org_names(session)
    ctx: dict[str, Any] = {"q": q or "", "mode": mode, "org_names": names, "filters": filters}
    if mode == "items" and q:
        found = search.search_items(session, principal, q, offset=paging.offset, limit=paging.size)
        ctx |= {
            "item_rows": found.rows,
            "took_ms": found.took_ms,
            "pager": page_links(request, paging.page, paging.size, found.total),
        }
    else:
        result = search.search(
            session, principal, q=q, filters=filters, offset=paging.offset, limit=paging.size
        )
        ctx |= {
            "result": result,
            "took_ms": result.took_ms,
            "pager": page_links(request, paging.page, paging.size, result.total),
            "facet_labels": search.FACET_LABELS,
            "facet_links": _facet_links(request, result.facets),
        }
    ctx["stats"] = service.counts(session, principal)
    ctx["can_create"] = principal.role in ("admin", "officer")
    return render(
        request, "catalog/list.html", ctx, principal=principal, breadcrumbs=[(CRUMB[0], None)]
    )


def _facet_links(
    request: Request, facets: dict[str, list[search.FacetValue]]
) -> dict[str, list[dict[str, Any]]]:
    """Toggle links: each facet value adds or removes itself from the query string."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    out: dict[str, list[dict[str, Any]]] = {}
    for key, values in facets.items():
        rows = []
        for f in values:
            if f.selected:
                new = [(k, v) for k, v in params if not (k == key and v == f.value)]
            else:
                new = [*params, (key, f.value)]
            rows.append(
                {
                    "value": f.value,
                    "count": f.count,
                    "selected": f.selected,
                    "url": "?" + urlencode(new),
                }
            )
        out[key] = rows
    return out


@router.get("/catalog/code/{code}", include_in_schema=False)
def by_code(code: str, session: DbSession, principal: PagePrincipal) -> RedirectResponse:
    res = service.get_by_code(session, principal, code.upper())
    return RedirectResponse(f"/catalog/resources/{res.id}", status_code=303)


# ---- edit forms --------------------------------------------------------------------


def form_to_input(form: dict[str, str]) -> dict[str, Any]:
    """Flat form fields (``items-3-name``, ``share_method-下载``) → a ResourceIn dict."""
    data: dict[str, Any] = {}
    items: dict[int, dict[str, Any]] = {}
    for key, value in form.items():
        m = ITEM_FIELD.match(key)
        if m:
            items.setdefault(int(m.group(1)), {})[m.group(2)] = value
        elif key.startswith("share_method-"):
            data.setdefault("share_methods", []).append(key.removeprefix("share_method-"))
        elif key in ResourceIn.model_fields:
            data[key] = value
    for key in ("owner_org_id", "system_id", "release_date"):
        if not (data.get(key) or "").strip():
            data.pop(key, None)
    data["related_codes"] = [c.upper() for c in transfer._split(form.get("related_codes", ""))]
    rows = []
    for _, it in sorted(items.items()):
        if not any(v.strip() for k, v in it.items() if k not in ("data_type", "masking")):
            continue  # an untouched blank row
        row: dict[str, Any] = {k: v for k, v in it.items() if k not in ("is_sensitive", "is_key")}
        row["is_sensitive"] = "is_sensitive" in it
        row["is_key"] = "is_key" in it
        if not (row.get("length") or "").strip():
            row.pop("length", None)
        rows.append(row)
    data["items"] = rows
    return data


def parse_resource(form: dict[str, str]) -> ResourceIn:
    try:
        return ResourceIn.model_validate(form_to_input(form))
    except ValidationError as exc:
        msgs = []
        for err in exc.errors()[:8]:
            loc = err.get("loc", ())
            text = re.sub(r"^字段 \S+ ", "", message_for(dict(err)))
            if loc and loc[0] == "items" and len(loc) > 2:
                label = f"第 {int(loc[1]) + 1} 个数据项的{ITEM_LABELS.get(str(loc[2]), loc[2])}"
            else:
                label = FIELD_LABELS.get(str(loc[0]), str(loc[0])) if loc else "表单"
            msgs.append(f"{label}{text}")
        raise ValidationFailed("；".join(msgs)) from None


def _form(
    request: Request,
    session: Any,
    principal: Any,
    *,
    res: Any = None,
    values: dict[str, Any],
    error: str | None = None,
    problems: list[dict[str, Any]] | None = None,
) -> Any:
    orgs = {
        oid: name
        for oid, name in service.org_names(session).items()
        if principal.can_write_org(oid)
    }
    org_id = int(
        values.get("owner_org_id") or (res.owner_org_id if res else 0) or principal.org_id or 0
    )
    systems = list(
        session.scalars(select(System).where(System.org_id == org_id).order_by(System.id))
    )
    title = f"编辑 {res.name}" if res else "登记数据资源"
    if res is not None and res.status == Status.published:
        title = f"修订 {res.name}"
    items = values.get("items") or []
    return render(
        request,
        "catalog/form.html",
        {
            "res": res,
            "values": values,
            "items": items,
            "error": error,
            "problems": problems or [],
            "orgs": orgs,
            "systems": systems,
            "title": title,
            **vocab(),
        },
        principal=principal,
        breadcrumbs=[CRUMB, (title, None)],
        status_code=422 if error else 200,
    )


def _values_from_input(data: ResourceIn) -> dict[str, Any]:
    v = data.model_dump(mode="json")
    v["related_codes"] = "、".join(v.get("related_codes") or [])
    return v


def _values_from_form(form: dict[str, str]) -> dict[str, Any]:
    data = form_to_input(form)
    data["related_codes"] = form.get("related_codes", "")
    return data


@router.get("/catalog/resources/new", response_class=HTMLResponse)
def resource_new(request: Request, session: DbSession, principal: PagePrincipal) -> Any:
    principal.ensure_role("admin", "officer")
    values: dict[str, Any] = {
        "owner_org_id": principal.org_id,
        "classification": "部门",
        "format": "数据库",
        "share_methods": ["系统对接"],
        "items": [{}],
    }
    return _form(request, session, principal, values=values)


@router.post("/catalog/resources/new", response_class=HTMLResponse)
def resource_create(
    request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    principal.ensure_role("admin", "officer")
    try:
        res = service.create_resource(session, principal, parse_resource(form))
    except AppError as exc:
        session.rollback()
        if exc.status_code in (403, 404):
            raise
        return _form(
            request,
            session,
            principal,
            values=_values_from_form(form),
            error=exc.message,
            problems=exc.extra.get("problems"),
        )
    flash(request, f"已保存草稿 {res.code}")
    return RedirectResponse(f"/catalog/resources/{res.id}", status_code=303)


@router.get("/catalog/resources/{resource_id}/edit", response_class=HTMLResponse)
def resource_edit(
    resource_id: int, request: Request, session: DbSession, principal: PagePrincipal
) -> Any:
    res = service.get_resource(session, principal, resource_id)
    service.ensure_can_write(principal, res)
    rev = service.pending_revision(session, res.id)
    data = ResourceIn.model_validate(rev.data) if rev else service.to_input(session, res)
    return _form(request, session, principal, res=res, values=_values_from_input(data))


@router.post("/catalog/resources/{resource_id}/edit", response_class=HTMLResponse)
def resource_update(
    resource_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    res = service.get_resource(session, principal, resource_id)
    service.ensure_can_write(principal, res)
    try:
        service.update_resource(session, principal, res.id, parse_resource(form))
    except AppError as exc:
        session.rollback()
        if exc.status_code in (403, 404):
            raise
        return _form(
            request,
            session,
            principal,
            res=res,
            values=_values_from_form(form),
            error=exc.message,
            problems=exc.extra.get("problems"),
        )
    flash(
        request, "已保存" + ("修订稿，提交审核后生效" if res.status == Status.published else "草稿")
    )
    return RedirectResponse(f"/catalog/resources/{res.id}", status_code=303)


@router.post("/catalog/check", response_class=HTMLResponse)
def resource_check(
    request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    """Inline validation (htmx): the same rules as saving, shown while editing."""
    principal.ensure_role("admin", "officer")
    problems: list[str] = []
    try:
        data = parse_resource(form)
        owner = data.owner_org_id or principal.org_id
        if owner is None:
            problems = ["请选择提供部门"]
        else:
            principal.ensure_write(owner, "部门")
            rid = int(form["resource_id"]) if form.get("resource_id", "").isdigit() else None
            if rid is not None:
                service.get_resource(session, principal, rid)
            problems = [
                p.text()
                for p in service.validate(
                    session, principal, data, owner_org_id=owner, resource_id=rid
                )
            ]
    except ValidationFailed as exc:
        problems = [exc.message]
    return render(request, "catalog/_problems.html", {"problems": problems}, principal=principal)


# ---- detail ------------------------------------------------------------------------


@router.get("/catalog/resources/{resource_id}", response_class=HTMLResponse)
def resource_detail(
    resource_id: int, request: Request, session: DbSession, principal: PagePrincipal
) -> Any:
    res = service.get_resource(session, principal, resource_id)
    rev = service.pending_revision(session, res.id)
    hist = service.history(session, principal, res.id)
    system = session.get(System, res.system_id) if res.system_id else None
    can_write = principal.can_write_org(res.owner_org_id)
    return render(
        request,
        "catalog/detail.html",
        {
            "res": res,
            "rev": rev,
            "rev_diff": service.diff_rows(
                service.diff(service.content(service.to_input(session, res)), rev.data)
            )
            if rev
            else [],
            "history": [(h, service.diff_rows(h.diff)) for h in hist],
            "action_labels": service.ACTION_LABELS,
            "org_name": service.org_names(session).get(res.owner_org_id, ""),
            "system": system,
            "related": service.related_codes(session, res.id),
            "consumers": service.consumers_of(session, res.id),
            "can_write": can_write,
            "is_admin": principal.is_admin,
            "maskings": MASKING_RULES,
        },
        principal=principal,
        breadcrumbs=[CRUMB, (res.name, None)],
    )


ACTIONS = {
    "submit": lambda s, p, rid, c: service.submit_resource(s, p, rid, c),
    "approve": lambda s, p, rid, c: service.approve_resource(s, p, rid, c),
    "approve_publish": lambda s, p, rid, c: service.approve_resource(s, p, rid, c, publish=True),
    "return": lambda s, p, rid, c: service.return_resource(s, p, rid, c),
    "publish": lambda s, p, rid, c: service.publish_resource(s, p, rid),
    "retire": lambda s, p, rid, c: service.retire_resource(s, p, rid, c),
    "discard": lambda s, p, rid, c: service.discard_revision(s, p, rid),
}
ACTION_DONE = {
    "submit": "已提交审核",
    "approve": "已审核通过",
    "approve_publish": "已审核通过并发布",
    "return": "已退回修改",
    "publish": "已发布",
    "retire": "已下线",
    "discard": "已撤销修订稿",
    "delete": "已删除草稿",
}


@router.post("/catalog/resources/{resource_id}/action", response_class=HTMLResponse)
def resource_action(
    resource_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    service.get_resource(session, principal, resource_id)  # 404 before anything else
    action = form.get("action", "")
    comment = (form.get("comment") or "").strip() or None
    back = form.get("back") if (form.get("back") or "").startswith("/catalog/") else None
    if action == "delete":
        service.delete_resource(session, principal, resource_id)
        flash(request, ACTION_DONE[action])
        return RedirectResponse("/catalog/resources", status_code=303)
    if action not in ACTIONS:
        raise ValidationFailed("未知操作")
    try:
        ACTIONS[action](session, principal, resource_id, comment)
    except AppError as exc:
        session.rollback()
        if exc.status_code in (403, 404):
            raise
        flash(request, exc.message, "error")
    else:
        flash(request, ACTION_DONE[action])
    return RedirectResponse(back or f"/catalog/resources/{resource_id}", status_code=303)


# ---- review queue ------------------------------------------------------------------


@router.get("/catalog/review", response_class=HTMLResponse)
def review_queue(request: Request, session: DbSession, principal: PagePrincipal) -> Any:
    rows = service.review_queue(session, principal)
    return render(
        request,
        "catalog/review.html",
        {"rows": rows, "org_names": service.org_names(session)},
        principal=principal,
        breadcrumbs=[CRUMB, ("审核队列", None)],
    )


# ---- releases ----------------------------------------------------------------------


@router.get("/catalog/releases", response_class=HTMLResponse)
def release_list(request: Request, session: DbSession, principal: PagePrincipal) -> Any:
    rows = releases.list_releases(session, principal)
    return render(
        request,
        "catalog/releases.html",
        {"releases": rows},
        principal=principal,
        breadcrumbs=[CRUMB, ("目录版本", None)],
    )


@router.post("/catalog/releases", response_class=HTMLResponse)
def release_create(
    request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    principal.ensure_role("admin")
    try:
        r = releases.create_release(
            session,
            principal,
            ReleaseCreate(name=form.get("name", "").strip() or "-", note=form.get("note") or None),
        )
    except AppError as exc:
        session.rollback()
        flash(request, exc.message, "error")
        return RedirectResponse("/catalog/releases", status_code=303)
    flash(request, f"已生成目录版本 {r.name}")
    return RedirectResponse(f"/catalog/releases/{r.id}", status_code=303)


@router.get("/catalog/releases/compare", response_class=HTMLResponse)
def release_compare(
    request: Request, session: DbSession, principal: PagePrincipal, old: int, new: int
) -> Any:
    c = releases.compare_releases(session, principal, old, new)
    return render(
        request,
        "catalog/compare.html",
        {
            "c": c,
            "org_names": service.org_names(session),
            "changed_rows": [(ch, service.diff_rows(ch["diff"])) for ch in c.changed],
        },
        principal=principal,
        breadcrumbs=[
            CRUMB,
            ("目录版本", "/catalog/releases"),
            (f"{c.old.name} → {c.new.name}", None),
        ],
    )


@router.get("/catalog/releases/{release_id}", response_class=HTMLResponse)
def release_detail(
    release_id: int, request: Request, session: DbSession, principal: PagePrincipal
) -> Any:
    r = releases.get_release(session, principal, release_id)
    others = [x for x in releases.list_releases(session, principal) if x.id != r.id]
    entries = releases.release_entries(session, principal, r.id)
    return render(
        request,
        "catalog/release.html",
        {
            "r": r,
            "others": others,
            "entries": entries[:500],
            "org_names": service.org_names(session),
        },
        principal=principal,
        breadcrumbs=[CRUMB, ("目录版本", "/catalog/releases"), (r.name, None)],
    )


# ---- import / export ---------------------------------------------------------------


@router.get("/catalog/import", response_class=HTMLResponse)
def import_page(request: Request, session: DbSession, principal: PagePrincipal) -> Any:
    principal.ensure_role("admin", "officer")
    return render(
        request,
        "catalog/import.html",
        {
            "releases": releases.list_releases(session, principal),
            "orgs": service.org_names(session),
        },
        principal=principal,
        breadcrumbs=[CRUMB, ("导入导出", None)],
    )


@router.post("/catalog/import", response_class=HTMLResponse)
async def import_upload(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    file: Annotated[UploadFile, File()],
) -> Any:
    form = await request.form()
    token = form.get("csrf_token")
    check_csrf(request, token if isinstance(token, str) else None)
    principal.ensure_role("admin", "officer")
    ctx: dict[str, Any] = {
        "releases": releases.list_releases(session, principal),
        "orgs": service.org_names(session),
        "filename": file.filename,
    }
    try:
        from starlette.concurrency import run_in_threadpool

        data = await run_in_threadpool(file.file.read, catalog_settings().import_max_bytes + 1)
        if len(data) > catalog_settings().import_max_bytes:
            raise ValidationFailed("导入文件过大")
        report = await run_in_threadpool(
            transfer.import_catalog,
            session,
            principal,
            data,
            file.filename or "",
            publish=bool(form.get("publish")) and principal.is_admin,
            dry_run=bool(form.get("dry_run")),
        )
        ctx["report"] = report
        ctx["dry_run"] = bool(form.get("dry_run"))
    except transfer.ImportFailed as exc:
        session.rollback()
        ctx |= {"issues": exc.issues[:500], "issue_total": exc.total}
    except AppError as exc:
        session.rollback()
        ctx["error"] = exc.message
    status = 422 if ("issues" in ctx or "error" in ctx) else 200
    return render(
        request,
        "catalog/import.html",
        ctx,
        principal=principal,
        breadcrumbs=[CRUMB, ("导入导出", None)],
        status_code=status,
    )


@router.get("/catalog/template.xlsx", include_in_schema=False)
def template_download(principal: PagePrincipal) -> Response:
    return Response(
        transfer.to_xlsx([]),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"content-disposition": 'attachment; filename="catalog-template.xlsx"'},
    )
