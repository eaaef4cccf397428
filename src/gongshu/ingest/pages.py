"""Pages of aggregation: ledger, sources, upload → mapping → run, loads, devices."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import UploadFile

from gongshu.errors import AppError
from gongshu.ingest import catalog_port, connectors, service
from gongshu.ingest.models import KIND_LABELS, MODE_LABELS, STATUS_LABELS
from gongshu.ingest.readers import FORMATS
from gongshu.ingest.runtime import runtime
from gongshu.ingest.schemas import DeviceCreate, SourceUpdate
from gongshu.ingest.transform import NORMALIZERS
from gongshu.web.deps import DbSession, PageParams, PagePrincipal, check_csrf
from gongshu.web.forms import FormData, parse_form
from gongshu.web.templating import flash, page_links, render

router = APIRouter(include_in_schema=False)
LABELS = {"status": STATUS_LABELS, "mode": MODE_LABELS, "kind": KIND_LABELS}


def _ctx(**extra: Any) -> dict[str, Any]:
    return {"labels": LABELS} | extra


@router.get("/ingest", response_class=HTMLResponse)
def ledger_page(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Any:
    data = service.ledger(session, principal, days=days)
    return render(
        request,
        "ingest/ledger.html",
        _ctx(ledger=data, missing=service.missing(session, principal), days=days),
        principal=principal,
        breadcrumbs=[("归集台账", None)],
    )


@router.get("/ingest/sources", response_class=HTMLResponse)
def sources_page(
    request: Request, session: DbSession, principal: PagePrincipal, paging: PageParams
) -> Any:
    rows, total = service.list_sources(session, principal, offset=paging.offset, limit=paging.size)
    last = {
        s.last_load_id: service.get_load(session, principal, s.last_load_id)
        for s in rows
        if s.last_load_id
    }
    return render(
        request,
        "ingest/sources.html",
        _ctx(sources=rows, last=last, pager=page_links(request, paging.page, paging.size, total)),
        principal=principal,
        breadcrumbs=[("归集来源", None)],
    )


def _writable_resources(session: Any, principal: Any) -> list[Any]:
    org = None if principal.is_admin else principal.org_id
    return [
        r for r in catalog_port.published(session, org) if principal.can_write_org(r.owner_org_id)
    ]


@router.get("/ingest/upload", response_class=HTMLResponse)
def upload_page(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    resource_id: int | None = None,
    error: str | None = None,
) -> Any:
    service.ensure_can_upload(principal)
    return render(
        request,
        "ingest/upload.html",
        _ctx(
            resources=_writable_resources(session, principal),
            resource_id=resource_id,
            formats=FORMATS,
            error=error,
            limit_gb=request.app.state.settings.max_upload_bytes / (1 << 30),
        ),
        principal=principal,
        breadcrumbs=[("归集来源", "/ingest/sources"), ("上传文件", None)],
        status_code=422 if error else 200,
    )


@router.post("/ingest/upload", response_class=HTMLResponse)
async def upload_submit(request: Request, session: DbSession, principal: PagePrincipal) -> Any:
    form = await request.form()
    token = form.get("csrf_token")
    check_csrf(request, token if isinstance(token, str) else None)
    upload = form.get("file")
    try:
        service.ensure_can_upload(principal)
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise AppError("请选择要上传的文件", code="file_required", status=422)
        try:
            resource_id = int(str(form.get("resource_id") or ""))
        except ValueError:
            raise AppError("请选择数据资源", code="resource_required", status=422) from None
        mode = str(form.get("mode") or "full")
        source = await run_in_threadpool(
            service.save_upload,
            session,
            principal,
            resource_id,
            upload.filename,
            upload.file,
            request.app.state.settings,
            mode=mode,
            encoding=str(form.get("encoding") or "") or None,
        )
    except AppError as exc:
        session.rollback()
        return upload_page(request, session, principal, error=exc.message)
    flash(request, "文件已上传，请核对列映射后开始归集")
    return RedirectResponse(f"/ingest/sources/{source.id}", status_code=303)


@router.get("/ingest/sources/{source_id}", response_class=HTMLResponse)
def source_page(
    source_id: int,
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    error: str | None = None,
) -> Any:
    source = service.get_source(session, principal, source_id)
    try:
        info = service.describe_source(session, principal, source_id, request.app.state.settings)
        problem = None
    except AppError as exc:
        spec = catalog_port.resource(session, source.resource_id)
        info = {
            "columns": [],
            "preview": [],
            "mapping": source.mapping,
            "resource": spec,
            "encoding": None,
            "suggested": False,
        }
        problem = exc.message
    loads, _ = service.list_loads(session, principal, source_id=source.id, limit=20)
    mapping = {m["target"]: m for m in info["mapping"]}
    return render(
        request,
        "ingest/source.html",
        _ctx(
            source=source,
            info=info,
            spec=info["resource"],
            mapping=mapping,
            normalizers=NORMALIZERS,
            loads=loads,
            problem=problem,
            error=error,
            kind_title=connectors.titles().get(source.kind, source.kind),
            can_edit=principal.can_write_org(source.org_id),
        ),
        principal=principal,
        breadcrumbs=[("归集来源", "/ingest/sources"), (source.name, None)],
        status_code=422 if error else 200,
    )


@router.post("/ingest/sources/{source_id}/mapping", response_class=HTMLResponse)
async def mapping_submit(
    source_id: int, request: Request, session: DbSession, principal: PagePrincipal
) -> Any:
    form = await request.form()
    token = form.get("csrf_token")
    check_csrf(request, token if isinstance(token, str) else None)
    source = service.get_source(session, principal, source_id)
    principal.ensure_write(source.org_id, "归集来源")
    spec = catalog_port.resource(session, source.resource_id)
    mapping = [
        {
            "target": item.column,
            "source": str(form.get(f"src__{item.column}") or "") or None,
            "normalize": [n for n in form.getlist(f"norm__{item.column}") if n in NORMALIZERS],
        }
        for item in spec.items
    ]
    mode = str(form.get("mode") or source.mode)
    schedule = str(form.get("schedule") or "")
    try:
        data = SourceUpdate.model_validate(
            {"mapping": mapping, "mode": mode, "schedule": schedule or None}
        )
        service.update_source(session, principal, source.id, data, request.app.state.settings)
    except (AppError, ValueError) as exc:
        session.rollback()
        message = exc.message if isinstance(exc, AppError) else "提交的内容不正确"
        return source_page(source_id, request, session, principal, error=message)
    if form.get("then") == "run":
        return run_submit_inner(source_id, request, session, principal)
    flash(request, "列映射已保存")
    return RedirectResponse(f"/ingest/sources/{source_id}", status_code=303)


def run_submit_inner(source_id: int, request: Request, session: Any, principal: Any) -> Any:
    try:
        load = service.start_source_load(session, principal, source_id)
    except AppError as exc:
        session.rollback()
        return source_page(source_id, request, session, principal, error=exc.message)
    runtime(request).submit(principal, load.id)
    return RedirectResponse(f"/ingest/loads/{load.id}", status_code=303)


@router.post("/ingest/sources/{source_id}/run", response_class=HTMLResponse)
def run_submit(
    source_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    service.get_source(session, principal, source_id)
    return run_submit_inner(source_id, request, session, principal)


@router.get("/ingest/loads/{load_id}", response_class=HTMLResponse)
def load_page(load_id: int, request: Request, session: DbSession, principal: PagePrincipal) -> Any:
    load = service.get_load(session, principal, load_id)
    rejects = (
        service.rejects_preview(session, principal, load_id, runtime(request).wh, 50)
        if load.status != "running"
        else []
    )
    return render(
        request,
        "ingest/load.html",
        _ctx(load=load, rejects=rejects),
        principal=principal,
        breadcrumbs=[("归集来源", "/ingest/sources"), (f"批次 {load.id}", None)],
    )


@router.get("/ingest/devices", response_class=HTMLResponse)
def devices_page(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    error: str | None = None,
    new_key: str | None = None,
) -> Any:
    return render(
        request,
        "ingest/devices.html",
        _ctx(
            devices=service.list_devices(session, principal),
            resources=_writable_resources(session, principal)
            if principal.role in ("admin", "officer")
            else [],
            error=error,
            new_key=new_key,
        ),
        principal=principal,
        breadcrumbs=[("物联设备", None)],
        status_code=422 if error else 200,
    )


@router.post("/ingest/devices", response_class=HTMLResponse)
def device_create(
    request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    try:
        _device, key = service.create_device(session, principal, parse_form(DeviceCreate, form))
    except AppError as exc:
        session.rollback()
        return devices_page(request, session, principal, error=exc.message)
    return devices_page(request, session, principal, new_key=key)


@router.post("/ingest/devices/{device_id}/revoke", response_class=HTMLResponse)
def device_revoke(
    device_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    device = service.revoke_device(session, principal, device_id)
    flash(request, f"已吊销设备 {device.code} 的密钥")
    return RedirectResponse("/ingest/devices", status_code=303)
