"""JSON API for the resource catalog (thin: every rule is in the service modules)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Form, Query, Request, UploadFile, status
from fastapi.responses import Response
from pydantic import ValidationError

from gongshu.catalog import releases, search, service, transfer
from gongshu.catalog.schemas import ReleaseCreate, ResourceIn, ReviewAction, summary_out
from gongshu.catalog.vocab import (
    DATA_ELEMENTS,
    FORMATS,
    MASKING_RULES,
    SHARE_METHODS,
    STATUS_LABELS,
    Classification,
    DataType,
    Grade,
    OpenType,
    ShareType,
    UpdateCycle,
    catalog_settings,
)
from gongshu.errors import TooLarge, ValidationFailed
from gongshu.web.deps import ApiPrincipal, DbSession, PageParams
from gongshu.web.i18n import validation_message

router = APIRouter(prefix="/api/v1/catalog", tags=["资源目录"])
Multi = Annotated[list[str] | None, Query(max_length=50)]


def detail_out(session: Any, res: Any) -> dict[str, Any]:
    spec = service._spec(res, res.items, service.related_codes(session, res.id))
    out = spec.model_dump(mode="json")
    rev = service.pending_revision(session, res.id)
    out |= {
        "status_label": STATUS_LABELS.get(res.status, res.status),
        "review_comment": res.review_comment,
        "pending_revision": None
        if rev is None
        else {"status": rev.status, "data": rev.data, "review_comment": rev.review_comment},
    }
    return out


def facets_out(facets: dict[str, list[search.FacetValue]]) -> dict[str, list[dict[str, Any]]]:
    return {
        k: [{"value": f.value, "count": f.count, "selected": f.selected} for f in v]
        for k, v in facets.items()
    }


@router.get("/resources", summary="检索数据资源（全文检索 + 分面）")
def list_resources(
    session: DbSession,
    principal: ApiPrincipal,
    paging: PageParams,
    q: Annotated[str | None, Query(max_length=100, description="中文全文检索")] = None,
    org: Multi = None,
    domain: Multi = None,
    share_type: Multi = None,
    open_type: Multi = None,
    grade: Multi = None,
    update_cycle: Multi = None,
    status_: Annotated[list[str] | None, Query(alias="status", max_length=10)] = None,
) -> dict[str, Any]:
    service.ensure_catalog_reader(principal)
    filters = {
        "org": org or [],
        "domain": domain or [],
        "share_type": share_type or [],
        "open_type": open_type or [],
        "grade": grade or [],
        "update_cycle": update_cycle or [],
        "status": status_ or [],
    }
    result = search.search(
        session, principal, q=q, filters=filters, offset=paging.offset, limit=paging.size
    )
    return {
        "total": result.total,
        "items": [
            summary_out(r)
            | {
                "item_hits": [
                    {"id": i.id, "name": i.name, "column": i.column}
                    for i in result.item_hits.get(r.id, [])
                ]
            }
            for r in result.resources
        ],
        "facets": facets_out(result.facets),
        "took_ms": round(result.took_ms, 2),
    }


@router.post("/resources", status_code=status.HTTP_201_CREATED, summary="新建数据资源（草稿）")
def create_resource(body: ResourceIn, session: DbSession, principal: ApiPrincipal) -> Any:
    return detail_out(session, service.create_resource(session, principal, body))


@router.post("/validate", summary="校验资源（不保存，用于表单即时校验）")
def validate_resource(body: ResourceIn, session: DbSession, principal: ApiPrincipal) -> Any:
    principal.ensure_role("admin", "officer")
    owner = body.owner_org_id or principal.org_id
    if owner is None:
        return {"ok": False, "problems": [{"field": "owner_org_id", "message": "请选择提供部门"}]}
    principal.ensure_write(owner, "部门")
    problems = service.validate(session, principal, body, owner_org_id=owner)
    return {
        "ok": not problems,
        "problems": [{"field": p.field, "item": p.item, "message": p.text()} for p in problems],
    }


@router.get("/resources/{resource_id}", summary="数据资源详情（含数据项）")
def get_resource(resource_id: int, session: DbSession, principal: ApiPrincipal) -> Any:
    return detail_out(session, service.get_resource(session, principal, resource_id))


@router.put(
    "/resources/{resource_id}",
    summary="修改草稿；已发布资源则保存为修订稿（请求体同新建）",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ResourceIn"}}
            },
        }
    },
)
def update_resource(
    resource_id: int,
    session: DbSession,
    principal: ApiPrincipal,
    body: Annotated[dict[str, Any], Body()],
) -> Any:
    # Access is checked before the body is validated: a caller learns nothing about
    # another org's resource from validation errors.
    res = service.get_resource(session, principal, resource_id)
    service.ensure_can_write(principal, res)
    try:
        data = ResourceIn.model_validate(body)
    except ValidationError as exc:
        errors = [dict(e) | {"loc": ("body", *e["loc"])} for e in exc.errors()]
        raise ValidationFailed(validation_message(errors)) from None
    return detail_out(session, service.update_resource(session, principal, resource_id, data))


@router.delete(
    "/resources/{resource_id}", status_code=status.HTTP_204_NO_CONTENT, summary="删除未发布的草稿"
)
def delete_resource(resource_id: int, session: DbSession, principal: ApiPrincipal) -> Response:
    service.delete_resource(session, principal, resource_id)
    return Response(status_code=204)


@router.post("/resources/{resource_id}/submit", summary="提交审核（草稿或修订稿）")
def submit(
    resource_id: int, body: ReviewAction, session: DbSession, principal: ApiPrincipal
) -> Any:
    res = service.submit_resource(session, principal, resource_id, body.comment)
    return detail_out(session, res)


@router.post("/resources/{resource_id}/approve", summary="审核通过（可同时发布）")
def approve(
    resource_id: int, body: ReviewAction, session: DbSession, principal: ApiPrincipal
) -> Any:
    res = service.approve_resource(
        session, principal, resource_id, body.comment, publish=body.publish
    )
    return detail_out(session, res)


@router.post("/resources/{resource_id}/return", summary="退回修改（须填写意见）")
def return_(
    resource_id: int, body: ReviewAction, session: DbSession, principal: ApiPrincipal
) -> Any:
    return detail_out(
        session, service.return_resource(session, principal, resource_id, body.comment)
    )


@router.post("/resources/{resource_id}/publish", summary="发布已审核的资源")
def publish(resource_id: int, session: DbSession, principal: ApiPrincipal) -> Any:
    return detail_out(session, service.publish_resource(session, principal, resource_id))


@router.post("/resources/{resource_id}/retire", summary="下线已发布的资源（须填写原因）")
def retire(
    resource_id: int, body: ReviewAction, session: DbSession, principal: ApiPrincipal
) -> Any:
    return detail_out(
        session, service.retire_resource(session, principal, resource_id, body.comment)
    )


@router.post("/resources/{resource_id}/discard-revision", summary="撤销未提交的修订稿")
def discard(resource_id: int, session: DbSession, principal: ApiPrincipal) -> Any:
    return detail_out(session, service.discard_revision(session, principal, resource_id))


@router.get("/resources/{resource_id}/history", summary="修订记录（字段级差异）")
def history(resource_id: int, session: DbSession, principal: ApiPrincipal) -> Any:
    return [
        {
            "revision": h.revision,
            "action": h.action,
            "action_label": service.ACTION_LABELS.get(h.action, h.action),
            "actor": h.actor_name,
            "at": h.at.isoformat(),
            "comment": h.comment,
            "diff": h.diff,
        }
        for h in service.history(session, principal, resource_id)
    ]


@router.get("/items", summary="数据项检索：哪些资源有某个字段")
def search_items(
    session: DbSession,
    principal: ApiPrincipal,
    paging: PageParams,
    q: Annotated[str, Query(min_length=1, max_length=100)],
    exact: bool = False,
) -> Any:
    service.ensure_catalog_reader(principal)
    result = search.search_items(
        session, principal, q, exact=exact, offset=paging.offset, limit=paging.size
    )
    return {
        "total": result.total,
        "took_ms": round(result.took_ms, 2),
        "items": [
            {
                "item_id": i.id,
                "name": i.name,
                "column": i.column,
                "data_type": i.data_type,
                "data_element": i.data_element,
                "resource": {
                    "id": r.id,
                    "code": r.code,
                    "name": r.name,
                    "owner_org_id": r.owner_org_id,
                },
            }
            for i, r in result.rows
        ],
    }


@router.get("/vocab", summary="目录代码表（领域、共享类型、开放类型……）")
def vocab(principal: ApiPrincipal) -> dict[str, Any]:
    return {
        "domains": catalog_settings().domain_list,
        "classifications": [c.value for c in Classification],
        "update_cycles": [c.value for c in UpdateCycle],
        "share_types": [c.value for c in ShareType],
        "share_methods": list(SHARE_METHODS),
        "open_types": [c.value for c in OpenType],
        "grades": [g.value for g in Grade],
        "formats": list(FORMATS),
        "data_types": [t.value for t in DataType],
        "masking_rules": MASKING_RULES,
        "data_elements": list(DATA_ELEMENTS),
        "statuses": STATUS_LABELS,
    }


# ---- releases ----------------------------------------------------------------------


def release_out(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "note": r.note,
        "resource_count": r.resource_count,
        "item_count": r.item_count,
        "stats": r.stats,
        "created_by": r.created_by,
        "created_at": r.created_at.isoformat(),
    }


@router.get("/releases", summary="目录版本列表")
def list_releases(session: DbSession, principal: ApiPrincipal) -> Any:
    return [release_out(r) for r in releases.list_releases(session, principal)]


@router.post("/releases", status_code=status.HTTP_201_CREATED, summary="冻结当前已发布目录为新版本")
def create_release(body: ReleaseCreate, session: DbSession, principal: ApiPrincipal) -> Any:
    return release_out(releases.create_release(session, principal, body))


@router.get("/releases/compare", summary="比较两个目录版本")
def compare_releases(
    session: DbSession, principal: ApiPrincipal, old: int, new: int
) -> dict[str, Any]:
    c = releases.compare_releases(session, principal, old, new)
    return {
        "old": release_out(c.old),
        "new": release_out(c.new),
        "added": c.added,
        "removed": c.removed,
        "changed": c.changed,
        "unchanged": c.unchanged,
    }


@router.get("/releases/{release_id}", summary="目录版本详情与统计")
def get_release(release_id: int, session: DbSession, principal: ApiPrincipal) -> Any:
    r = releases.get_release(session, principal, release_id)
    entries = releases.release_entries(session, principal, release_id)
    return release_out(r) | {
        "entries": [
            {"code": e.code, "name": e.name, "owner_org_id": e.owner_org_id, "revision": e.revision}
            for e in entries
        ]
    }


# ---- import / export ---------------------------------------------------------------


def read_upload(file: UploadFile) -> bytes:
    limit = catalog_settings().import_max_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"导入文件超过 {limit // 1048576} MB 上限")
    return data


@router.post("/import", summary="导入目录模板（.xlsx 或 .csv），全部通过才写入")
def import_file(
    session: DbSession,
    principal: ApiPrincipal,
    file: Annotated[UploadFile, File(description="目录导入模板")],
    dry_run: Annotated[bool, Form()] = False,
    publish: Annotated[bool, Form(description="仅管理员：导入即发布（存量目录迁移）")] = False,
) -> Any:
    data = read_upload(file)
    report = transfer.import_catalog(
        session, principal, data, file.filename or "", publish=publish, dry_run=dry_run
    )
    return {
        "created": report.created,
        "updated": report.updated,
        "items": report.items,
        "dry_run": dry_run,
    }


EXPORT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "jsonld": "application/ld+json",
}


def export_response(
    request: Request,
    session: Any,
    principal: Any,
    fmt: str,
    org_id: int | None,
    release_id: int | None,
    status_: str | None = None,
) -> Response:
    records = transfer.export_records(
        session, principal, org_id=org_id, release_id=release_id, status=status_
    )
    name = (
        "catalog"
        + (f"-release{release_id}" if release_id else "")
        + (f"-org{org_id}" if org_id else "")
    )
    if fmt == "xlsx":
        body = transfer.to_xlsx(records)
    elif fmt == "csv":
        body = transfer.to_csv(records)
    else:
        base = str(request.base_url).rstrip("/")
        import orjson

        doc = transfer.to_dcat(records, base, "公共数据资源目录")
        body = orjson.dumps(doc)
        return Response(body, media_type=EXPORT_TYPES["jsonld"])
    return Response(
        body,
        media_type=EXPORT_TYPES[fmt],
        headers={"content-disposition": f'attachment; filename="{name}.{fmt}"'},
    )


@router.get("/export", summary="导出目录：xlsx 模板 / CSV（UTF-8 BOM）/ DCAT-AP 3 JSON-LD")
def export(
    request: Request,
    session: DbSession,
    principal: ApiPrincipal,
    format: Annotated[str, Query(pattern="^(xlsx|csv|jsonld)$")] = "xlsx",
    org_id: int | None = None,
    release_id: int | None = None,
    status_: Annotated[str | None, Query(alias="status", max_length=12)] = None,
) -> Response:
    return export_response(request, session, principal, format, org_id, release_id, status_)


@router.get("/template.xlsx", summary="下载空白导入模板")
def template(principal: ApiPrincipal) -> Response:
    return Response(
        transfer.to_xlsx([]),
        media_type=EXPORT_TYPES["xlsx"],
        headers={"content-disposition": 'attachment; filename="catalog-template.xlsx"'},
    )
