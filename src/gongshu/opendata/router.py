"""JSON API for open data.

- ``/api/v1/open/...`` public reads (no login), the developer row API (app key), the
  restricted-open workflow and the officers' management routes;
- ``/api/3/action/...`` CKAN Action API compatibility (``ckan.py``);
- ``/api/v1/open/dcat/...`` DCAT-AP 3 (``dcat.py``).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from gongshu.errors import AppError
from gongshu.opendata import ckan, dcat, service
from gongshu.opendata.data import WarehouseDep
from gongshu.opendata.models import OpenAppKey, OpenApplication, OpenDataset
from gongshu.opendata.schemas import (
    AnswerIn,
    AppKeyIn,
    ApplicationIn,
    BureauReviewIn,
    CommentIn,
    DatasetIn,
    KeyListEntryIn,
    RatingIn,
    ReasonIn,
    RegisterIn,
    ReplyIn,
    ReportIn,
    RequestIn,
    ReuseIn,
    ReviewIn,
)
from gongshu.web.deps import ApiPrincipal, DbSession, client_ip, get_principal

router = APIRouter()


# Scope checks as dependencies: they run before the body is validated, so another org's
# id answers 404/403 (never a 422 that would reveal the route accepted the id).
def _managed(dataset_id: int, session: DbSession, principal: ApiPrincipal) -> OpenDataset:
    return service.get_managed(session, principal, dataset_id)


def _public(dataset_id: int, session: DbSession) -> OpenDataset:
    return service.published_dataset(session, dataset_id)


def _application(
    application_id: int, session: DbSession, principal: ApiPrincipal
) -> OpenApplication:
    return service.get_application(session, principal, application_id)


def _comment(comment_id: int, session: DbSession, principal: ApiPrincipal) -> Any:
    return service.get_comment(session, principal, comment_id)


def _request(request_id: int, session: DbSession, principal: ApiPrincipal) -> Any:
    return service.request_for_answer(session, principal, request_id)


def _reuse(principal: ApiPrincipal) -> None:
    principal.ensure_role("admin")


Managed = Depends(_managed)
Public = Depends(_public)
ScopedApplication = Depends(_application)
api = APIRouter(prefix="/api/v1/open", tags=["数据开放"])


def presented_app_key(request: Request) -> str | None:
    """Open-data keys: ``Authorization: Bearer od_...``, CKAN's bare ``Authorization``,
    ``X-CKAN-API-Key`` or ``X-API-Key``."""
    header = request.headers.get("authorization", "").strip()
    if header.lower().startswith("bearer "):
        header = header[7:].strip()
    for value in (header, request.headers.get("x-ckan-api-key"), request.headers.get("x-api-key")):
        if value and value.startswith(service.KEY_PREFIX + "_"):
            return value.strip()
    return None


def caller_key(request: Request, session: Session) -> OpenAppKey | None:
    presented = presented_app_key(request)
    return service.resolve_app_key(session, presented) if presented else None


def dataset_out(ds: OpenDataset, *, full: bool = False) -> dict[str, Any]:
    score = service.quality(ds)
    out: dict[str, Any] = {
        "id": ds.id,
        "name": ds.name,
        "title": ds.title,
        "description": ds.description,
        "domain": ds.domain,
        "tags": ds.tags,
        "org_id": ds.org_id,
        "open_type": ds.open_type,
        "licence": ds.licence,
        "update_cycle": ds.update_cycle,
        "contact": ds.contact,
        "status": ds.status,
        "row_count": ds.row_count,
        "downloads": ds.downloads,
        "api_calls": ds.api_calls,
        "published_at": ds.published_at.isoformat() if ds.published_at else None,
        "data_updated_at": ds.data_updated_at.isoformat() if ds.data_updated_at else None,
        "quality": {"score": score.total, "grade": score.grade, "parts": score.parts},
    }
    if full:
        out["items"] = ds.items
        out["row_filter"] = ds.row_filter
        out["review_comment"] = ds.review_comment
        out["resource_id"] = ds.resource_id
    return out


def application_out(app: OpenApplication) -> dict[str, Any]:
    return {
        "id": app.id,
        "dataset_id": app.dataset_id,
        "applicant": app.applicant,
        "applicant_type": app.applicant_type,
        "purpose": app.purpose,
        "scenario": app.scenario,
        "items": app.items,
        "period_start": app.period_start.isoformat(),
        "period_end": app.period_end.isoformat(),
        "status": app.status,
        "status_label": service.APP_STATUS_LABELS.get(app.status, app.status),
        "org_comment": app.org_comment,
        "bureau_comment": app.bureau_comment,
        "next_report_due": app.next_report_due.isoformat() if app.next_report_due else None,
    }


def key_out(key: OpenAppKey, plaintext: str | None = None) -> dict[str, Any]:
    out = {
        "id": key.id,
        "name": key.name,
        "kind": key.kind,
        "prefix": key.prefix,
        "dataset_id": key.dataset_id,
        "items": key.items,
        "rate_per_min": key.rate_per_min,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "revoked": key.revoked_at is not None,
    }
    if plaintext:
        out["key"] = plaintext
    return out


# ---- public reads (no login) -----------------------------------------------------------


@api.get("/datasets", summary="搜索开放数据集（公开）")
def search_datasets(
    session: DbSession,
    q: Annotated[str | None, Query(max_length=100)] = None,
    domain: Annotated[list[str] | None, Query()] = None,
    org: Annotated[list[str] | None, Query()] = None,
    open_type: Annotated[list[str] | None, Query()] = None,
    update_cycle: Annotated[list[str] | None, Query()] = None,
    format: Annotated[list[str] | None, Query()] = None,
    sort: Annotated[str, Query(max_length=16)] = "relevance",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    filters = {
        k: v
        for k, v in {
            "domain": domain,
            "org": org,
            "open_type": open_type,
            "update_cycle": update_cycle,
            "format": format,
        }.items()
        if v
    }
    res = service.search.search(
        session, q=q, filters=filters, sort=sort, offset=(page - 1) * size, limit=size
    )
    return {
        "total": res.total,
        "items": [dataset_out(d) for d in res.datasets],
        "facets": {
            k: [{"value": f.value, "count": f.count} for f in v] for k, v in res.facets.items()
        },
    }


@api.get("/datasets/{dataset_id}", summary="开放数据集详情（公开）")
def dataset_detail(dataset_id: int, session: DbSession) -> dict[str, Any]:
    ds = service.published_dataset(session, dataset_id)
    return dataset_out(ds, full=True) | {"row_filter": None, "review_comment": None}


@api.get("/datasets/{dataset_id}/rows", summary="行数据接口（应用密钥）")
def dataset_rows(
    dataset_id: int,
    request: Request,
    session: DbSession,
    wh: WarehouseDep,
    filters: Annotated[str | None, Query(max_length=4000, description="JSON 对象")] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    fields: Annotated[str | None, Query(max_length=2000, description="逗号分隔")] = None,
    sort: Annotated[str | None, Query(max_length=300, description="如 col desc,col2")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    cursor: Annotated[
        str | None, Query(max_length=2000, description="上一页的 next_cursor")
    ] = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    ds = service.published_dataset(session, dataset_id)
    key: OpenAppKey | None = None
    try:
        key = caller_key(request, session)
        acc = service.access_for(
            session, ds, key, require_key=service.settings().require_key_for_rows
        )
        service.rate_check(key, client_ip(request))
        sv = service.servable(session, ds)
        field_list = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
        allowed = acc.items if acc.items is not None else [i["column"] for i in ds.items]
        page = service.read_rows(
            wh,
            sv,
            only=acc.items,
            fields=field_list,
            conds=service.parse_filters(filters, allowed),
            q=q,
            sort=sort,
            limit=limit,
            offset=offset,
            cursor=cursor,
        )
    except AppError as exc:
        # Refused calls are logged too (who probed what), then answered as usual.
        session.rollback()
        service.log_call(
            session,
            kind="api",
            dataset_id=ds.id,
            key=key,
            status=exc.status_code,
            ip=client_ip(request),
        )
        raise
    service.log_call(
        session,
        kind="api",
        dataset_id=ds.id,
        key=key,
        rows=len(page.records),
        ms=int((time.perf_counter() - started) * 1000),
        ip=client_ip(request),
    )
    return {
        "dataset": ds.name,
        "fields": page.fields,
        "records": page.records,
        "total": page.total,
        "limit": limit,
        "next_cursor": page.next_cursor,
    }


@api.get("/datasets/{dataset_id}/download", summary="下载（CSV/XLSX/JSON/Parquet，流式）")
def dataset_download(
    dataset_id: int,
    request: Request,
    session: DbSession,
    wh: WarehouseDep,
    format: Annotated[str, Query(pattern="^(csv|json|jsonl|xlsx|parquet)$")] = "csv",
) -> StreamingResponse:
    return stream_download(request, session, wh, dataset_id, format)


def stream_download(
    request: Request, session: Session, wh: Any, dataset_id: int, fmt: str
) -> StreamingResponse:
    key = caller_key(request, session)
    ds = service.published_dataset(session, dataset_id)
    acc = service.access_for(session, ds, key)
    service.rate_check(key, client_ip(request))
    sv = service.servable(session, ds)
    chunks, media, filename = service.download(wh, sv, fmt, only=acc.items)
    principal = get_principal(request, session) if key is None else None
    service.log_call(
        session,
        kind="download",
        dataset_id=ds.id,
        fmt=fmt,
        key=key,
        user_id=principal.id if principal and principal.kind == "user" else None,
        rows=ds.row_count,
        ip=client_ip(request),
    )
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return StreamingResponse(chunks, media_type=media, headers=headers)


@api.get("/datasets/{dataset_id}/reuses", summary="数据集的应用成果（公开）")
def dataset_reuses(dataset_id: int, session: DbSession) -> list[dict[str, Any]]:
    ds = service.published_dataset(session, dataset_id)
    return [
        {"id": r.id, "title": r.title, "kind": r.kind, "author": r.author, "url": r.url}
        for r in service.reuses(session, dataset_id=ds.id)
    ]


@api.get("/stats", summary="开放统计（公开）")
def open_stats(session: DbSession, days: Annotated[int, Query(ge=1, le=366)] = 30) -> Any:
    return service.stats(session, days)


@api.get("/kpis", summary="开放指标（驾驶舱）")
def open_kpis(session: DbSession) -> Any:
    return service.kpis(session)


@api.get("/key-list", summary="开放重点清单及进度（公开）")
def key_list(
    session: DbSession, year: Annotated[int | None, Query(ge=2000, le=2100)] = None
) -> list[dict[str, Any]]:
    return [
        {
            "id": r["entry"].id,
            "year": r["entry"].year,
            "title": r["entry"].title,
            "org": r["org"],
            "domain": r["entry"].domain,
            "due_date": r["entry"].due_date.isoformat(),
            "status": r["status"],
            "dataset_id": r["dataset"].id if r["dataset"] else None,
        }
        for r in service.key_list(session, year)
    ]


# ---- citizens and developers -----------------------------------------------------------


@api.post("/register", status_code=201, summary="注册开发者账号")
def register(session: DbSession, body: RegisterIn) -> dict[str, Any]:
    user = service.register_developer(session, body)
    return {"id": user.id, "username": user.username, "role": user.role}


@api.get("/keys", summary="我的应用密钥")
def my_keys(session: DbSession, principal: ApiPrincipal) -> list[dict[str, Any]]:
    return [key_out(k) for k in service.list_app_keys(session, principal)]


@api.post("/keys", status_code=201, summary="创建应用密钥（仅显示一次）")
def create_key(session: DbSession, principal: ApiPrincipal, body: AppKeyIn) -> dict[str, Any]:
    key, plaintext = service.create_app_key(session, principal, body.name)
    return key_out(key, plaintext)


@api.post("/keys/{app_key_id}/revoke", summary="吊销应用密钥")
def revoke_key(app_key_id: int, session: DbSession, principal: ApiPrincipal) -> dict[str, Any]:
    return key_out(service.revoke_app_key(session, principal, app_key_id))


@api.post(
    "/datasets/{dataset_id}/comments", status_code=201, summary="留言/提问", dependencies=[Public]
)
def comment(
    dataset_id: int, session: DbSession, principal: ApiPrincipal, body: CommentIn
) -> dict[str, Any]:
    c = service.add_comment(session, principal, dataset_id, body)
    return {"id": c.id, "kind": c.kind, "body": c.body}


@api.post("/datasets/{dataset_id}/rating", summary="评分（1–5）", dependencies=[Public])
def rating(
    dataset_id: int, session: DbSession, principal: ApiPrincipal, body: RatingIn
) -> dict[str, Any]:
    ds = service.rate(session, principal, dataset_id, body.stars)
    return {"rating_count": ds.rating_count, "rating_avg": ds.rating_sum / ds.rating_count}


@api.post("/reuses", status_code=201, summary="提交应用成果")
def submit_reuse(session: DbSession, principal: ApiPrincipal, body: ReuseIn) -> dict[str, Any]:
    r = service.submit_reuse(session, principal, body)
    return {"id": r.id, "status": r.status}


@api.post("/requests", status_code=201, summary="提交开放需求（无需登录）")
def submit_request(request: Request, session: DbSession, body: RequestIn) -> dict[str, Any]:
    principal = get_principal(request, session)
    r = service.submit_request(session, principal, body)
    return {"id": r.id, "status": r.status}


@api.post("/applications", status_code=201, summary="受限开放申请")
def apply(session: DbSession, principal: ApiPrincipal, body: ApplicationIn) -> dict[str, Any]:
    return application_out(service.apply(session, principal, body))


@api.get("/applications", summary="受限开放申请列表（本人/本部门/全部）")
def applications(session: DbSession, principal: ApiPrincipal) -> list[dict[str, Any]]:
    return [application_out(a) for a in service.list_applications(session, principal)]


@api.get("/applications/{application_id}", summary="受限开放申请详情")
def application(application_id: int, session: DbSession, principal: ApiPrincipal) -> dict[str, Any]:
    return application_out(service.get_application(session, principal, application_id))


@api.post(
    "/applications/{application_id}/org-review",
    summary="数据提供部门审核",
    dependencies=[ScopedApplication],
)
def org_review(
    application_id: int, session: DbSession, principal: ApiPrincipal, body: ReviewIn
) -> dict[str, Any]:
    app = service.org_review(session, principal, application_id, body.approve, body.comment)
    return application_out(app)


@api.post(
    "/applications/{application_id}/bureau-review",
    summary="数据局审核（批准即发密钥）",
    dependencies=[ScopedApplication],
)
def bureau_review(
    application_id: int, session: DbSession, principal: ApiPrincipal, body: BureauReviewIn
) -> dict[str, Any]:
    return application_out(service.bureau_review(session, principal, application_id, body))


@api.post("/applications/{application_id}/key", summary="申请人领取受限开放密钥（仅显示一次）")
def collect_key(application_id: int, session: DbSession, principal: ApiPrincipal) -> dict[str, Any]:
    key, plaintext = service.collect_key(session, principal, application_id)
    return key_out(key, plaintext)


@api.post(
    "/applications/{application_id}/reports",
    status_code=201,
    summary="提交使用情况报告",
    dependencies=[ScopedApplication],
)
def report(
    application_id: int, session: DbSession, principal: ApiPrincipal, body: ReportIn
) -> dict[str, Any]:
    r = service.submit_report(session, principal, application_id, body.content)
    return {"id": r.id}


@api.post(
    "/applications/{application_id}/revoke",
    summary="吊销申请与密钥",
    dependencies=[ScopedApplication],
)
def revoke_application(
    application_id: int, session: DbSession, principal: ApiPrincipal, body: ReasonIn
) -> dict[str, Any]:
    return application_out(
        service.revoke_application(session, principal, application_id, body.reason)
    )


# ---- officers and the bureau -------------------------------------------------------------


@api.post("/manage/datasets", status_code=201, summary="拟开放：从目录资源提出开放数据集")
def propose(session: DbSession, principal: ApiPrincipal, body: DatasetIn) -> dict[str, Any]:
    return dataset_out(service.propose_dataset(session, principal, body), full=True)


@api.get("/manage/datasets/{dataset_id}", summary="开放数据集（管理视图）")
def managed(dataset_id: int, session: DbSession, principal: ApiPrincipal) -> dict[str, Any]:
    return dataset_out(service.get_managed(session, principal, dataset_id), full=True)


@api.put(
    "/manage/datasets/{dataset_id}", summary="修改开放数据集（重新审核）", dependencies=[Managed]
)
def update(
    dataset_id: int, session: DbSession, principal: ApiPrincipal, body: DatasetIn
) -> dict[str, Any]:
    return dataset_out(service.update_dataset(session, principal, dataset_id, body), full=True)


@api.post(
    "/manage/datasets/{dataset_id}/review", summary="数据局审核开放数据集", dependencies=[Managed]
)
def review(
    dataset_id: int,
    session: DbSession,
    principal: ApiPrincipal,
    body: ReviewIn,
    wh: WarehouseDep,
) -> dict[str, Any]:
    ds = service.review_dataset(
        session, principal, dataset_id, approve=body.approve, comment=body.comment, wh=wh
    )
    return dataset_out(ds, full=True)


@api.post(
    "/manage/datasets/{dataset_id}/withdraw", summary="撤回开放数据集", dependencies=[Managed]
)
def withdraw(
    dataset_id: int, session: DbSession, principal: ApiPrincipal, body: ReasonIn
) -> dict[str, Any]:
    return dataset_out(service.withdraw_dataset(session, principal, dataset_id, body.reason))


@api.post(
    "/manage/comments/{comment_id}/reply",
    summary="数据提供部门答复留言",
    dependencies=[Depends(_comment)],
)
def reply(
    comment_id: int, session: DbSession, principal: ApiPrincipal, body: ReplyIn
) -> dict[str, Any]:
    c = service.reply_comment(session, principal, comment_id, body.reply)
    return {"id": c.id, "reply": c.reply}


@api.post(
    "/manage/requests/{request_id}/answer", summary="答复开放需求", dependencies=[Depends(_request)]
)
def answer(
    request_id: int, session: DbSession, principal: ApiPrincipal, body: AnswerIn
) -> dict[str, Any]:
    r = service.answer_request(session, principal, request_id, body)
    return {"id": r.id, "status": r.status, "outcome": r.outcome}


@api.post(
    "/manage/reuses/{reuse_id}/review", summary="审核应用成果", dependencies=[Depends(_reuse)]
)
def review_reuse(
    reuse_id: int, session: DbSession, principal: ApiPrincipal, body: ReviewIn
) -> dict[str, Any]:
    r = service.review_reuse(session, principal, reuse_id, body.approve)
    return {"id": r.id, "status": r.status}


@api.post("/manage/key-list", status_code=201, summary="登记开放重点清单条目")
def add_key_list(
    session: DbSession, principal: ApiPrincipal, body: KeyListEntryIn
) -> dict[str, Any]:
    e = service.add_key_list_entry(session, principal, body)
    return {"id": e.id}


router.include_router(api)
router.include_router(ckan.router)
router.include_router(dcat.router)
