"""JSON API of aggregation: sources, uploads, loads, rejects, ledger, devices, IoT."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status
from fastapi.responses import StreamingResponse

from gongshu.ingest import service
from gongshu.ingest.runtime import runtime
from gongshu.ingest.schemas import (
    DeviceCreate,
    DeviceOut,
    LoadOut,
    RunRequest,
    SourceCreate,
    SourceOut,
    SourceUpdate,
)
from gongshu.web.deps import ApiPrincipal, DbSession, PageParams

router = APIRouter(prefix="/api/v1/ingest", tags=["数据归集"])


def _source_out(source: Any) -> SourceOut:
    out = SourceOut.model_validate(source)
    if "url" in out.config and source.kind == "sql":
        from sqlalchemy.engine import make_url

        out.config = out.config | {
            "url": make_url(out.config["url"]).render_as_string(hide_password=True)
        }
    return out


@router.get("/sources", summary="归集来源列表")
def list_sources(
    session: DbSession, principal: ApiPrincipal, paging: PageParams, resource_id: int | None = None
) -> dict[str, object]:
    rows, total = service.list_sources(
        session, principal, resource_id=resource_id, offset=paging.offset, limit=paging.size
    )
    return {"total": total, "items": [_source_out(r) for r in rows]}


@router.post("/sources", status_code=status.HTTP_201_CREATED, summary="新建归集来源")
def create_source(
    body: SourceCreate, request: Request, session: DbSession, principal: ApiPrincipal
) -> SourceOut:
    return _source_out(service.create_source(session, principal, body, request.app.state.settings))


@router.get("/sources/{source_id}", summary="归集来源详情")
def get_source(source_id: int, session: DbSession, principal: ApiPrincipal) -> SourceOut:
    return _source_out(service.get_source(session, principal, source_id))


@router.patch("/sources/{source_id}", summary="修改归集来源（含列映射）")
def update_source(
    source_id: int,
    body: SourceUpdate,
    request: Request,
    session: DbSession,
    principal: ApiPrincipal,
) -> SourceOut:
    return _source_out(
        service.update_source(session, principal, source_id, body, request.app.state.settings)
    )


@router.get("/sources/{source_id}/describe", summary="来源列、预览与建议映射")
def describe_source(
    source_id: int, request: Request, session: DbSession, principal: ApiPrincipal
) -> dict[str, Any]:
    info = service.describe_source(session, principal, source_id, request.app.state.settings)
    info.pop("resource")
    return info


@router.post("/sources/{source_id}/run", summary="立即归集")
def run_source(
    source_id: int,
    request: Request,
    session: DbSession,
    principal: ApiPrincipal,
    body: RunRequest | None = None,
) -> LoadOut:
    rt = runtime(request)
    load = service.start_source_load(session, principal, source_id)
    future = rt.submit(principal, load.id)
    if body is None or body.wait:
        future.result()
        session.expire_all()
        load = service.get_load(session, principal, load.id)
    return LoadOut.model_validate(load)


@router.post("/uploads", status_code=status.HTTP_201_CREATED, summary="上传文件并生成来源")
def upload(
    request: Request,
    session: DbSession,
    principal: ApiPrincipal,
    resource_id: Annotated[int, Form()],
    file: Annotated[UploadFile, File(description="CSV/TSV/XLSX/JSON Lines/Parquet")],
    mode: Annotated[str, Form()] = "full",
    encoding: Annotated[str | None, Form()] = None,
) -> SourceOut:
    service.ensure_can_upload(principal)
    source = service.save_upload(
        session,
        principal,
        resource_id,
        file.filename or "upload.csv",
        file.file,
        request.app.state.settings,
        mode=mode,
        encoding=encoding or None,
    )
    return _source_out(source)


@router.get("/loads", summary="归集批次列表")
def list_loads(
    session: DbSession,
    principal: ApiPrincipal,
    paging: PageParams,
    resource_id: int | None = None,
    source_id: int | None = None,
    status_: Annotated[str | None, Query(alias="status", max_length=12)] = None,
) -> dict[str, object]:
    rows, total = service.list_loads(
        session,
        principal,
        resource_id=resource_id,
        source_id=source_id,
        status=status_,
        offset=paging.offset,
        limit=paging.size,
    )
    return {"total": total, "items": [LoadOut.model_validate(r) for r in rows]}


@router.get("/loads/{load_id}", summary="归集批次详情")
def get_load(load_id: int, session: DbSession, principal: ApiPrincipal) -> LoadOut:
    return LoadOut.model_validate(service.get_load(session, principal, load_id))


@router.get("/loads/{load_id}/rejects", summary="问题数据预览")
def rejects(
    load_id: int,
    request: Request,
    session: DbSession,
    principal: ApiPrincipal,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    return service.rejects_preview(session, principal, load_id, runtime(request).wh, limit)


@router.get("/loads/{load_id}/rejects.csv", summary="下载问题数据（CSV，UTF-8 BOM）")
def rejects_csv(
    load_id: int, request: Request, session: DbSession, principal: ApiPrincipal
) -> StreamingResponse:
    name, body = service.rejects_csv(session, principal, load_id, runtime(request).wh)
    return StreamingResponse(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/ledger", summary="归集量台账")
def ledger(
    session: DbSession,
    principal: ApiPrincipal,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> dict[str, Any]:
    return service.ledger(session, principal, days=days)


@router.get("/missing", summary="应归未归资源")
def missing(session: DbSession, principal: ApiPrincipal) -> list[dict[str, Any]]:
    return service.missing(session, principal)


@router.get("/devices", summary="物联设备列表")
def list_devices(session: DbSession, principal: ApiPrincipal) -> list[DeviceOut]:
    return [DeviceOut.model_validate(d) for d in service.list_devices(session, principal)]


@router.post(
    "/devices", status_code=status.HTTP_201_CREATED, summary="登记物联设备（密钥只显示一次）"
)
def create_device(
    body: DeviceCreate, session: DbSession, principal: ApiPrincipal
) -> dict[str, Any]:
    device, key = service.create_device(session, principal, body)
    return DeviceOut.model_validate(device).model_dump(mode="json") | {"key": key}


@router.post("/devices/{device_id}/revoke", summary="吊销设备密钥")
def revoke_device(device_id: int, session: DbSession, principal: ApiPrincipal) -> DeviceOut:
    return DeviceOut.model_validate(service.revoke_device(session, principal, device_id))


@router.post("/iot/readings", status_code=status.HTTP_202_ACCEPTED, summary="物联设备上报读数")
async def iot_readings(request: Request) -> dict[str, Any]:
    """Header ``X-Device-Key``; body ``[{...}, ...]`` or ``{"readings": [...]}``. 202 means
    the readings are on disk and will reach the warehouse (at least once)."""
    import asyncio

    import orjson

    from gongshu.errors import ValidationFailed

    rt = runtime(request)
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValidationFailed("请求体不是有效的 JSON", code="bad_json") from None
    key = request.headers.get("x-device-key")

    def accept() -> int:
        session = rt.sessions()
        try:
            device = service.authenticate_device(session, key)
            return rt.iot.accept(session, device, body, rt.options.iot_max_batch)
        finally:
            session.close()

    n = await asyncio.to_thread(accept)
    if rt.iot.pending_rows >= rt.options.iot_flush_rows:
        rt.pool.submit(rt.iot.flush)
    return {"accepted": n}
