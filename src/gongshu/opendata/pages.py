"""Pages: the public open-data portal (``/open/...``, no login needed to browse) and the
officers' management page (``/open/manage``)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongshu.auth.principal import Principal, Role
from gongshu.catalog import service as catalog
from gongshu.errors import AppError, NotFound
from gongshu.masking import maskers
from gongshu.opendata import rules, search, service
from gongshu.opendata.ckan import group_name
from gongshu.opendata.data import WarehouseDep
from gongshu.opendata.models import OpenApplication, OpenComment, OpenDataset, OpenRequest
from gongshu.opendata.query import Cond
from gongshu.opendata.schemas import (
    AnswerIn,
    ApplicationIn,
    CommentIn,
    DatasetIn,
    RegisterIn,
    RequestIn,
    ReuseIn,
)
from gongshu.orgs.models import Org
from gongshu.web.deps import DbSession, PagePrincipal, session_user_principal
from gongshu.web.forms import FormData, parse_form
from gongshu.web.templating import flash, page_links, render

router = APIRouter(include_in_schema=False)
Text = Annotated[str | None, Query(max_length=100)]


def viewer(request: Request, session: Session) -> Principal:
    """The signed-in user, or the anonymous public: portal pages never require login."""
    return session_user_principal(request, session) or Principal.anonymous()


def _names(session: Session) -> dict[int, str]:
    return catalog.org_names(session)


def _ctx(session: Session, **extra: Any) -> dict[str, Any]:
    return {
        "org_names": _names(session),
        "quality": service.quality,
        "group_name": group_name,
        "status_labels": service.STATUS_LABELS,
    } | extra


@router.get("/open", response_class=HTMLResponse)
def home(request: Request, session: DbSession) -> Any:
    principal = viewer(request, session)
    res = search.search(session, limit=6, sort="newest", facet_fields=["domain"])
    popular = search.search(session, limit=6, sort="popular", facet_fields=[]).datasets
    st = service.stats(session, days=30)
    orgs = service.org_list(session)
    kl = service.key_list(session)
    return render(
        request,
        "opendata/home.html",
        _ctx(
            session,
            newest=res.datasets,
            popular=popular,
            domains=res.facets.get("domain", []),
            stats=st,
            org_count=len(orgs),
            reuses=service.reuses(session, limit=4),
            key_list={k: sum(1 for r in kl if r["status"] == k) for k in service.KEY_LIST_LABELS},
            key_total=len(kl),
        ),
        principal=principal,
    )


@router.get("/open/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    session: DbSession,
    q: Text = None,
    domain: Annotated[list[str] | None, Query()] = None,
    org: Annotated[list[str] | None, Query()] = None,
    format: Annotated[list[str] | None, Query()] = None,
    open_type: Annotated[list[str] | None, Query()] = None,
    update_cycle: Annotated[list[str] | None, Query()] = None,
    sort: Annotated[str, Query(max_length=16)] = "relevance",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Any:
    principal = viewer(request, session)
    filters = {
        k: v
        for k, v in {
            "domain": domain,
            "org": org,
            "format": format,
            "open_type": open_type,
            "update_cycle": update_cycle,
        }.items()
        if v
    }
    res = search.search(
        session, q=q, filters=filters, sort=sort, offset=(page - 1) * size, limit=size
    )
    names = _names(session)
    facets = []
    current = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    for key in ("domain", "org", "format", "open_type", "update_cycle"):
        values = res.facets.get(key, [])
        for f in values:
            f.label = names.get(int(f.value), f.value) if key == "org" else f.value
            pair = (key, f.value)
            toggled = [p for p in current if p != pair] if f.selected else [*current, pair]
            f.url = "?" + urlencode(toggled)
        facets.append((key, search.FACET_LABELS[key], values))
    return render(
        request,
        "opendata/search.html",
        _ctx(
            session,
            res=res,
            q=q or "",
            facets=facets,
            filters=filters,
            sort=sort,
            sorts=search.SORTS,
            pager=page_links(request, page, size, res.total),
        ),
        principal=principal,
        breadcrumbs=[("开放数据", "/open"), ("数据目录", None)],
    )


def _dataset_page(
    request: Request, session: Session, ds: OpenDataset, principal: Principal, **extra: Any
) -> Any:
    org = session.get(Org, ds.org_id)
    score = service.quality(ds)
    numeric = [
        i
        for i in ds.items
        if i["data_type"] in ("整数", "小数") and (i.get("masking") or "none") == "none"
    ]
    labels = [
        i
        for i in ds.items
        if i["data_type"] in ("字符串", "日期") and (i.get("masking") or "none") == "none"
    ]
    base = str(request.base_url).rstrip("/")
    restricted = ds.open_type == rules.OpenType.restricted.value
    my_apps = []
    if principal.kind == "user" and principal.role == Role.public:
        my_apps = list(
            session.scalars(
                select(OpenApplication).where(
                    OpenApplication.dataset_id == ds.id, OpenApplication.user_id == principal.id
                )
            )
        )
    return render(
        request,
        "opendata/dataset.html",
        _ctx(
            session,
            ds=ds,
            org=org,
            score=score,
            score_labels=rules.SCORE_LABELS,
            score_weights=rules.SCORE_WEIGHTS,
            numeric=numeric,
            labels=labels,
            base=base,
            restricted=restricted,
            licences=rules.LICENCES,
            reuses=service.reuses(session, dataset_id=ds.id),
            comments=service.comments(session, ds.id),
            my_apps=my_apps,
            rating=(ds.rating_sum / ds.rating_count) if ds.rating_count else None,
            ops={"eq": "等于", "contains": "包含", "gt": "大于", "lt": "小于"},
        )
        | extra,
        principal=principal,
        breadcrumbs=[("开放数据", "/open"), ("数据目录", "/open/search"), (ds.title, None)],
    )


@router.get("/open/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset_page(dataset_id: int, request: Request, session: DbSession) -> Any:
    principal = viewer(request, session)
    ds = service.published_dataset(session, dataset_id)
    return _dataset_page(request, session, ds, principal)


@router.get("/open/datasets/{dataset_id}/preview", response_class=HTMLResponse)
def preview(
    dataset_id: int,
    request: Request,
    session: DbSession,
    wh: WarehouseDep,
    col: Annotated[str | None, Query(max_length=64)] = None,
    op: Annotated[str, Query(pattern="^(eq|contains|gt|lt)$")] = "contains",
    value: Annotated[str | None, Query(max_length=100)] = None,
    sort: Annotated[str | None, Query(max_length=64)] = None,
    desc: Annotated[bool, Query()] = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=5, le=100)] = 20,
) -> Any:
    """The preview table fragment (htmx): filter, sort, page."""
    ds = service.published_dataset(session, dataset_id)
    error = None
    data: Any = None
    if ds.open_type == rules.OpenType.restricted.value:
        error = "受限开放数据集不提供公开预览，请申请获批后通过接口访问。"
    else:
        sv = service.servable(session, ds)
        conds = [Cond(col, op, value)] if col and value not in (None, "") else []
        try:
            data = service.read_rows(
                wh,
                sv,
                conds=conds,
                sort=f"{sort} {'desc' if desc else 'asc'}" if sort else None,
                limit=size,
                offset=(page - 1) * size,
            )
        except AppError as exc:
            error = exc.message
        except NotFound as exc:
            error = exc.message
    pages = max(1, -(-(data.total or 0) // size)) if data else 1
    return render(
        request,
        "opendata/_preview.html",
        {
            "ds": ds,
            "data": data,
            "error": error,
            "col": col or "",
            "op": op,
            "value": value or "",
            "sort": sort or "",
            "desc": desc,
            "page": page,
            "pages": pages,
            "size": size,
            "chart_json": orjson.dumps(data.records if data else []).decode().replace("</", "<\\/"),
        },
        principal=None,
    )


@router.get("/open/orgs/{org_id}", response_class=HTMLResponse)
def org_page(org_id: int, request: Request, session: DbSession) -> Any:
    principal = viewer(request, session)
    org = session.get(Org, org_id)
    if org is None:
        raise NotFound("部门不存在")
    res = search.search(
        session, filters={"org": [str(org.id)]}, sort="newest", limit=200, facet_fields=[]
    )
    if not res.total:
        raise NotFound("该部门暂无开放数据集")
    return render(
        request,
        "opendata/org.html",
        _ctx(session, org=org, res=res),
        principal=principal,
        breadcrumbs=[("开放数据", "/open"), ("提供部门", "/open/orgs"), (org.name, None)],
    )


@router.get("/open/orgs", response_class=HTMLResponse)
def orgs_page(request: Request, session: DbSession) -> Any:
    return render(
        request,
        "opendata/orgs.html",
        {"orgs": service.org_list(session)},
        principal=viewer(request, session),
        breadcrumbs=[("开放数据", "/open"), ("提供部门", None)],
    )


@router.get("/open/reuses", response_class=HTMLResponse)
def reuses_page(request: Request, session: DbSession) -> Any:
    rows = service.reuses(session, limit=200)
    return render(
        request,
        "opendata/reuses.html",
        {"reuses": rows, "links": service.reuse_datasets(session, [r.id for r in rows])},
        principal=viewer(request, session),
        breadcrumbs=[("开放数据", "/open"), ("应用成果", None)],
    )


@router.post("/open/reuses", response_class=HTMLResponse)
def reuse_submit(request: Request, session: DbSession, form: FormData) -> Any:
    principal = viewer(request, session)
    values = dict(form)
    values["dataset_ids"] = [
        int(x) for x in form.get("dataset_ids", "").split(",") if x.strip().isdigit()
    ]  # type: ignore[assignment]
    try:
        service.submit_reuse(session, principal, ReuseIn.model_validate(values))
        flash(request, "已提交，审核通过后展示")
    except AppError as exc:
        flash(request, exc.message, "error")
    except ValueError:
        flash(request, "请完整填写应用成果信息", "error")
    return RedirectResponse("/open/reuses", status_code=303)


@router.get("/open/requests", response_class=HTMLResponse)
def requests_page(request: Request, session: DbSession) -> Any:
    return render(
        request,
        "opendata/requests.html",
        {"rows": service.requests(session), "orgs": service.org_list(session)},
        principal=viewer(request, session),
        breadcrumbs=[("开放数据", "/open"), ("开放需求", None)],
    )


@router.post("/open/requests", response_class=HTMLResponse)
def request_submit(request: Request, session: DbSession, form: FormData) -> Any:
    try:
        r = service.submit_request(session, viewer(request, session), parse_form(RequestIn, form))
        flash(request, f"需求已提交（编号 {r.id}），答复后将在本页公开")
    except AppError as exc:
        flash(request, exc.message, "error")
    return RedirectResponse("/open/requests", status_code=303)


@router.get("/open/key-list", response_class=HTMLResponse)
def key_list_page(
    request: Request,
    session: DbSession,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Any:
    rows = service.key_list(session, year)
    return render(
        request,
        "opendata/key_list.html",
        {
            "rows": rows,
            "labels": service.KEY_LIST_LABELS,
            "year": year or service.local_today().year,
        },
        principal=viewer(request, session),
        breadcrumbs=[("开放数据", "/open"), ("开放重点清单", None)],
    )


@router.get("/open/register", response_class=HTMLResponse)
def register_form(request: Request, session: DbSession) -> Any:
    return render(
        request,
        "opendata/register.html",
        {"values": {}},
        principal=viewer(request, session),
        breadcrumbs=[("开放数据", "/open"), ("注册", None)],
    )


@router.post("/open/register", response_class=HTMLResponse)
def register(request: Request, session: DbSession, form: FormData) -> Any:
    try:
        user = service.register_developer(session, parse_form(RegisterIn, form))
    except AppError as exc:
        session.rollback()
        return render(
            request,
            "opendata/register.html",
            {"values": form, "error": exc.message},
            principal=None,
            status_code=exc.status_code,
            breadcrumbs=[("开放数据", "/open"), ("注册", None)],
        )
    request.session.clear()
    request.session.update({"uid": user.id, "nonce": user.session_nonce})
    flash(request, "注册成功，欢迎使用公共数据开放平台")
    return RedirectResponse("/open/developer", status_code=303)


@router.get("/open/developer", response_class=HTMLResponse)
def developer(request: Request, session: DbSession, principal: PagePrincipal) -> Any:
    keys = service.list_app_keys(session, principal)
    apps = service.list_applications(session, principal) if principal.role == Role.public else []
    new_key = request.session.pop("new_open_key", None)
    ds_names = dict(session.execute(select(OpenDataset.id, OpenDataset.title)).all())
    return render(
        request,
        "opendata/developer.html",
        {
            "keys": keys,
            "apps": apps,
            "new_key": new_key,
            "ds_names": ds_names,
            "app_labels": service.APP_STATUS_LABELS,
            "base": str(request.base_url).rstrip("/"),
        },
        principal=principal,
        breadcrumbs=[("开放数据", "/open"), ("开发者中心", None)],
    )


@router.post("/open/developer/keys", response_class=HTMLResponse)
def developer_key(
    request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    try:
        _key, plaintext = service.create_app_key(
            session, principal, form.get("name", "").strip() or "我的应用"
        )
        request.session["new_open_key"] = plaintext
    except AppError as exc:
        flash(request, exc.message, "error")
    return RedirectResponse("/open/developer", status_code=303)


@router.post("/open/developer/applications/{application_id}/key", response_class=HTMLResponse)
def developer_collect(
    application_id: int,
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    form: FormData,
) -> Any:
    _key, plaintext = service.collect_key(session, principal, application_id)
    request.session["new_open_key"] = plaintext
    return RedirectResponse("/open/developer", status_code=303)


@router.post("/open/developer/applications/{application_id}/reports", response_class=HTMLResponse)
def developer_report(
    application_id: int,
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    form: FormData,
) -> Any:
    service.get_application(session, principal, application_id)
    try:
        service.submit_report(session, principal, application_id, form.get("content", "").strip())
        flash(request, "使用情况报告已提交")
    except AppError as exc:
        flash(request, exc.message, "error")
    return RedirectResponse("/open/developer", status_code=303)


@router.post("/open/datasets/{dataset_id}/comments", response_class=HTMLResponse)
def comment(
    dataset_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    service.published_dataset(session, dataset_id)
    try:
        service.add_comment(session, principal, dataset_id, parse_form(CommentIn, form))
        flash(request, "留言已发布")
    except AppError as exc:
        flash(request, exc.message, "error")
    return RedirectResponse(f"/open/datasets/{dataset_id}#community", status_code=303)


@router.post("/open/datasets/{dataset_id}/rating", response_class=HTMLResponse)
def rating(
    dataset_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    service.published_dataset(session, dataset_id)
    try:
        service.rate(session, principal, dataset_id, int(form.get("stars", "0") or 0))
        flash(request, "感谢评分")
    except (AppError, ValueError) as exc:
        flash(request, getattr(exc, "message", "评分须为 1–5"), "error")
    return RedirectResponse(f"/open/datasets/{dataset_id}#community", status_code=303)


@router.post("/open/datasets/{dataset_id}/apply", response_class=HTMLResponse)
def apply_page(
    dataset_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    service.published_dataset(session, dataset_id)
    values: dict[str, Any] = {k: v for k, v in form.items() if not k.startswith("item_") and v}
    values["dataset_id"] = dataset_id
    values["items"] = [k[5:] for k in form if k.startswith("item_")]
    try:
        service.apply(session, principal, ApplicationIn.model_validate(values))
        flash(request, "申请已提交，请在开发者中心查看进度")
        return RedirectResponse("/open/developer", status_code=303)
    except AppError as exc:
        flash(request, exc.message, "error")
    except ValueError:
        flash(request, "请完整填写申请信息（用途、场景、安全承诺、数据项和期限）", "error")
    return RedirectResponse(f"/open/datasets/{dataset_id}#apply", status_code=303)


# ---- management (officers and the bureau) ----------------------------------------------------


@router.get("/open/manage", response_class=HTMLResponse)
def manage(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    resource_id: Annotated[int | None, Query()] = None,
) -> Any:
    principal.ensure_role(Role.admin, Role.officer, Role.leader)
    stmt = select(OpenDataset).order_by(OpenDataset.id.desc())
    if not principal.can_read_org(None):
        stmt = stmt.where(OpenDataset.org_id == principal.org_id)
    datasets = list(session.scalars(stmt.limit(500)))
    ids = [d.id for d in datasets]
    questions = (
        list(
            session.scalars(
                select(OpenComment)
                .where(OpenComment.dataset_id.in_(ids), OpenComment.reply.is_(None))
                .order_by(OpenComment.id.desc())
                .limit(100)
            )
        )
        if ids
        else []
    )
    req_stmt = select(OpenRequest).where(OpenRequest.status == "submitted")
    if not principal.is_admin:
        req_stmt = req_stmt.where(OpenRequest.org_id == principal.org_id)
    openable = [
        s
        for s in catalog.published_specs(
            session, org_id=None if principal.is_admin else principal.org_id
        )
        if s.open_type in rules.OPENABLE and s.grade != "L4"
    ]
    chosen = next((s for s in openable if s.id == resource_id), None)
    return render(
        request,
        "opendata/manage.html",
        _ctx(
            session,
            datasets=datasets,
            apps=service.list_applications(session, principal),
            app_labels=service.APP_STATUS_LABELS,
            questions=questions,
            requests=list(session.scalars(req_stmt.limit(100))),
            openable=openable,
            chosen=chosen,
            maskings=maskers.names(),
            licences=rules.LICENCES,
            pending_reuses=service.reuses(session, status="pending") if principal.is_admin else [],
            ds_titles={d.id: d.title for d in datasets},
            counts=dict(
                session.execute(
                    select(OpenDataset.status, func.count()).group_by(OpenDataset.status)
                ).all()
            ),
        ),
        principal=principal,
        breadcrumbs=[("数据开放", None), ("开放管理", None)],
    )


@router.post("/open/manage/datasets", response_class=HTMLResponse)
def manage_propose(
    request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    items = [
        {"column": k[5:], "masking": form.get(f"mask_{k[5:]}", "none")}
        for k in form
        if k.startswith("item_")
    ]
    values: dict[str, Any] = {
        "resource_id": int(form.get("resource_id", "0") or 0),
        "title": form.get("title", ""),
        "description": form.get("description", ""),
        "tags": [t for t in form.get("tags", "").replace("，", ",").split(",") if t.strip()],
        "items": items,
        "licence": form.get("licence", "CC-BY-4.0"),
        "contact": form.get("contact", ""),
    }
    try:
        ds = service.propose_dataset(session, principal, DatasetIn.model_validate(values))
        flash(request, f"已提交开放申请“{ds.title}”，等待数据局审核")
    except AppError as exc:
        flash(request, exc.message, "error")
    except ValueError:
        flash(request, "请填写标题并至少选择一个数据项", "error")
    return RedirectResponse("/open/manage", status_code=303)


@router.post("/open/manage/datasets/{dataset_id}/review", response_class=HTMLResponse)
def manage_review(
    dataset_id: int,
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    wh: WarehouseDep,
    form: FormData,
) -> Any:
    approve = form.get("approve") == "1"
    service.review_dataset(
        session, principal, dataset_id, approve=approve, comment=form.get("comment") or None, wh=wh
    )
    flash(request, "已发布" if approve else "已退回")
    return RedirectResponse("/open/manage", status_code=303)


@router.post("/open/manage/applications/{application_id}/review", response_class=HTMLResponse)
def manage_app_review(
    application_id: int,
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    form: FormData,
) -> Any:
    from gongshu.opendata.schemas import BureauReviewIn

    approve = form.get("approve") == "1"
    comment = form.get("comment") or None
    app = service.get_application(session, principal, application_id)
    if app.status == "submitted":
        service.org_review(session, principal, application_id, approve, comment)
    else:
        service.bureau_review(
            session, principal, application_id, BureauReviewIn(approve=approve, comment=comment)
        )
    flash(request, "审核意见已记录")
    return RedirectResponse("/open/manage", status_code=303)


@router.post("/open/manage/comments/{comment_id}/reply", response_class=HTMLResponse)
def manage_reply(
    comment_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    service.reply_comment(session, principal, comment_id, form.get("reply", "").strip() or "已收到")
    flash(request, "已答复")
    return RedirectResponse("/open/manage", status_code=303)


@router.post("/open/manage/requests/{request_id}/answer", response_class=HTMLResponse)
def manage_answer(
    request_id: int, request: Request, session: DbSession, principal: PagePrincipal, form: FormData
) -> Any:
    service.request_for_answer(session, principal, request_id)
    service.answer_request(session, principal, request_id, parse_form(AnswerIn, form))
    flash(request, "已答复")
    return RedirectResponse("/open/manage", status_code=303)
