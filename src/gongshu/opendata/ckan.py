"""CKAN Action API compatibility (``/api/3/action/<action>`` and ``/api/action/<action>``).

Existing open-data clients (``ckanapi``, harvesters, portals' widgets) work unchanged:
GET with query parameters or POST with a JSON body, CKAN's envelope
``{"help", "success", "result"}`` and CKAN's error types (``Not Found Error`` 404,
``Validation Error`` 409, ``Authorization Error`` 403, ``Search Query Error`` 400).
Each action is its own route (no path parameter), so unknown actions answer 404.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from gongshu.errors import AppError, Forbidden, NotFound, RateLimited, Unauthorized
from gongshu.opendata import rules, search, service
from gongshu.opendata.models import OpenDataset
from gongshu.orgs.models import Org
from gongshu.warehouse import shared as warehouse
from gongshu.web.deps import client_ip

router = APIRouter(tags=["CKAN 兼容接口"])
PREFIXES = ("/api/3/action", "/api/action")
RESOURCE_FORMATS = ("csv", "xlsx", "json", "parquet")

# Stable, URL-safe CKAN group names for the usual open-data domains (领域).
GROUP_NAMES = {
    "交通运输": "transport",
    "交通出行": "transport",
    "资源环境": "environment",
    "生态环境": "environment",
    "教育文化": "education-culture",
    "教育科技": "education",
    "医疗卫生": "health",
    "文化休闲": "culture-tourism",
    "文旅": "culture-tourism",
    "市场监管": "market-regulation",
    "信用服务": "credit",
    "经济建设": "economy",
    "财税金融": "finance",
    "社会保障": "social-security",
    "科技创新": "science-technology",
    "城建住房": "urban-housing",
    "公共安全": "public-safety",
    "社会救助": "social-assistance",
    "法律服务": "legal",
    "机构团体": "organisations",
    "农业农村": "agriculture",
    "气象服务": "weather",
}


class CkanError(Exception):
    def __init__(self, status: int, etype: str, message: str, **fields: Any) -> None:
        self.status, self.etype, self.message, self.fields = status, etype, message, fields


def group_name(domain: str) -> str:
    return GROUP_NAMES.get(domain) or "g-" + hashlib.sha1(domain.encode()).hexdigest()[:8]


def _envelope(request: Request, action: str, body: dict[str, Any], status: int) -> Response:
    base = str(request.base_url).rstrip("/")
    # orjson: the same compact UTF-8 JSON as Response, several times faster on 100 rows.
    content = orjson.dumps({"help": f"{base}/api/3/action/help_show?name={action}"} | body)
    return Response(content, status_code=status, media_type="application/json")


def _from_app_error(exc: AppError) -> CkanError:
    if isinstance(exc, NotFound):
        return CkanError(404, "Not Found Error", exc.message)
    if isinstance(exc, Forbidden | Unauthorized):
        return CkanError(403, "Authorization Error", exc.message)
    if isinstance(exc, RateLimited):
        return CkanError(429, "Rate Limit Error", exc.message)
    return CkanError(409, "Validation Error", exc.message, code=[exc.code])


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for k in request.query_params:
        values = request.query_params.getlist(k)
        params[k] = values if len(values) > 1 else values[0]
    if request.method == "POST":
        raw = await request.body()
        if raw.strip():
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                form = await request.form()
                body = {k: v for k, v in form.items() if isinstance(v, str)}
            if not isinstance(body, dict):
                raise CkanError(400, "Validation Error", "请求体须为 JSON 对象")
            params.update(body)
    return params


def _int(params: dict[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    value = params.get(name, default)
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise CkanError(
            409, "Validation Error", f"{name} 须为整数", **{name: ["须为整数"]}
        ) from None
    if n < lo or n > hi:
        raise CkanError(
            409,
            "Validation Error",
            f"{name} 须在 {lo}–{hi} 之间",
            **{name: [f"须在 {lo}–{hi} 之间"]},
        )
    return n


def _list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise CkanError(409, "Validation Error", "列表参数格式不正确") from None
        return [str(v) for v in parsed]
    return [v.strip() for v in text.split(",") if v.strip()]


def _ts(value: Any) -> str | None:
    return value.replace(tzinfo=None).isoformat() if value else None


def org_dict(org: Org, count: int | None = None) -> dict[str, Any]:
    out = {
        "id": str(org.id),
        "name": org.code.lower(),
        "title": org.name,
        "display_name": org.name,
        "description": "",
        "type": "organization",
        "is_organization": True,
        "state": "active",
        "approval_status": "approved",
        "image_url": "",
        "created": _ts(org.created_at),
    }
    if count is not None:
        out["package_count"] = count
    return out


def resource_dicts(ds: OpenDataset, base: str) -> list[dict[str, Any]]:
    out = []
    for n, fmt in enumerate(RESOURCE_FORMATS):
        out.append(
            {
                "id": f"{ds.name}-{fmt}",
                "package_id": ds.name,
                "name": f"{ds.title}（{fmt.upper()}）",
                "description": "全量数据，流式下载"
                if fmt != "xlsx"
                else "Excel（超过单表上限时截断）",
                "format": "Parquet" if fmt == "parquet" else fmt.upper(),
                "mimetype": None,
                "url": f"{base}/api/v1/open/datasets/{ds.id}/download?format={fmt}",
                "datastore_active": True,
                "position": n,
                "state": "active",
                "created": _ts(ds.published_at),
                "last_modified": _ts(ds.data_updated_at),
                "url_type": None,
            }
        )
    return out


def package_dict(ds: OpenDataset, org: Org | None, base: str) -> dict[str, Any]:
    score = service.quality(ds)
    resources = resource_dicts(ds, base)
    tags = [
        {"name": t, "display_name": t, "state": "active", "vocabulary_id": None}
        for t in ds.tags or []
    ]
    return {
        "id": ds.name,
        "name": ds.name,
        "title": ds.title,
        "notes": ds.description,
        "type": "dataset",
        "state": "active",
        "private": False,
        "author": org.name if org else None,
        "maintainer": ds.contact or None,
        "license_id": ds.licence,
        "license_title": rules.LICENCES.get(ds.licence, ds.licence),
        "url": f"{base}/open/datasets/{ds.id}",
        "version": None,
        "metadata_created": _ts(ds.published_at),
        "metadata_modified": _ts(ds.updated_at),
        "owner_org": str(ds.org_id),
        "organization": org_dict(org) if org else None,
        "groups": [{"name": group_name(ds.domain), "title": ds.domain, "display_name": ds.domain}],
        "tags": tags,
        "num_tags": len(tags),
        "resources": resources,
        "num_resources": len(resources),
        "extras": [
            {"key": "open_type", "value": ds.open_type},
            {"key": "update_cycle", "value": ds.update_cycle},
            {"key": "domain", "value": ds.domain},
            {"key": "row_count", "value": str(ds.row_count)},
            {"key": "quality_score", "value": str(score.total)},
        ],
    }


def _orgs(session: Session, ids: set[int]) -> dict[int, Org]:
    if not ids:
        return {}
    return {o.id: o for o in session.scalars(select(Org).where(Org.id.in_(ids)))}


# ---- actions -------------------------------------------------------------------------------

FQ_TERM = re.compile(r'([+-]?)([\w.]+):("([^"]*)"|\(([^)]*)\)|\S+)')
SORTS = {
    "score desc, metadata_modified desc": "relevance",
    "score desc": "relevance",
    "metadata_modified desc": "newest",
    "metadata_created desc": "newest",
    "title_string asc": "title",
    "title asc": "title",
    "name asc": "name",
    "views_recent desc": "popular",
}
FACET_MAP = {
    "organization": "org",
    "groups": "domain",
    "res_format": "format",
    "license_id": "licence",
    "open_type": "open_type",
    "update_cycle": "update_cycle",
    "tags": "tags",
}


def _parse_fq(session: Session, text: str, filters: dict[str, list[str]], extra: list[Any]) -> None:
    pos = 0
    for m in FQ_TERM.finditer(text):
        between = text[pos : m.start()].strip()
        if between and between.upper() not in ("AND", "+"):
            raise CkanError(400, "Search Query Error", f"无法解析的查询条件：{between}")
        pos = m.end()
        field, value = m.group(2), m.group(4) or m.group(5) or m.group(3)
        values = [v.strip('"') for v in value.split(" OR ")] if m.group(5) else [value.strip('"')]
        if m.group(1) == "-":
            raise CkanError(400, "Search Query Error", "暂不支持否定条件")
        if field in ("dataset_type", "capacity", "state"):
            continue
        if field == "organization":
            ids = session.scalars(
                select(Org.id).where(or_(*[Org.code == v.upper() for v in values]))
            ).all()
            filters.setdefault("org", []).extend(str(i) for i in ids or [0])
        elif field == "owner_org":
            filters.setdefault("org", []).extend(values)
        elif field == "groups":
            filters.setdefault("domain", []).extend(_group_domains(session, values))
        elif field == "tags":
            filters.setdefault("tags", []).extend(values)
        elif field == "res_format":
            filters.setdefault("format", []).extend(
                "Parquet" if v.lower() == "parquet" else v.upper() for v in values
            )
        elif field == "license_id":
            filters.setdefault("licence", []).extend(values)
        elif field in ("open_type", "update_cycle", "domain"):
            filters.setdefault(field, []).extend(values)
        elif field in ("name", "id"):
            extra.append(OpenDataset.name.in_(values))
        else:
            raise CkanError(400, "Search Query Error", f"不支持的查询字段：{field}")
    rest = text[pos:].strip()
    if rest and rest.upper() not in ("AND",):
        raise CkanError(400, "Search Query Error", f"无法解析的查询条件：{rest}")


def _group_domains(session: Session, names: list[str]) -> list[str]:
    """Every domain a CKAN group name stands for (several domains may share one name);
    only names outside ``GROUP_NAMES`` need the published domains from the database."""
    out: list[str] = []
    published: list[str] | None = None
    for name in names:
        domains = [d for d, g in GROUP_NAMES.items() if g == name]
        if not domains:
            published = _domains(session) if published is None else published
            # A hashed group name, or a domain given by its own name.
            domains = [d for d in published if group_name(d) == name] or [name]
        out += domains
    return out


def _domains(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(OpenDataset.domain).where(OpenDataset.status == "published").distinct()
        )
    )


def package_search(request: Request, session: Session, p: dict[str, Any]) -> Any:
    rows = _int(p, "rows", 10, 0, 1000)
    start = _int(p, "start", 0, 0, 1_000_000)
    q = str(p.get("q") or "").strip()
    filters: dict[str, list[str]] = {}
    extra: list[Any] = []
    if q in ("*:*", "*"):
        q = ""
    elif FQ_TERM.search(q) and not q.startswith("text:"):
        _parse_fq(session, q, filters, extra)
        q = ""
    elif q.startswith("text:"):
        q = q[5:]
    if p.get("fq"):
        _parse_fq(session, str(p["fq"]), filters, extra)
    sort_raw = str(p.get("sort") or "score desc, metadata_modified desc").strip()
    sort = SORTS.get(re.sub(r"\s+", " ", sort_raw.lower()))
    if sort is None:
        raise CkanError(400, "Search Query Error", f"不支持的排序：{sort_raw}")
    facet_fields = _list(p.get("facet.field"))
    unknown = [f for f in facet_fields if f not in FACET_MAP]
    if unknown:
        raise CkanError(400, "Search Query Error", f"不支持的分面字段：{'、'.join(unknown)}")
    mine = [FACET_MAP[f] for f in facet_fields]
    res = search.search(
        session,
        q=q,
        filters=filters,
        extra=extra,
        sort=sort,
        offset=start,
        limit=rows,
        facet_fields=mine,
    )
    base = str(request.base_url).rstrip("/")
    org_ids = {d.org_id for d in res.datasets}
    if "organization" in facet_fields:
        org_ids |= {int(f.value) for f in res.facets.get("org", [])}
    orgs = all_orgs = _orgs(session, org_ids)  # one query for the page and the facet
    facets: dict[str, dict[str, int]] = {}
    search_facets: dict[str, Any] = {}
    for ck in facet_fields:
        items: list[dict[str, Any]] = []
        if ck == "tags":
            items = [
                {"name": f.value, "display_name": f.value, "count": f.count}
                for f in res.facets.get("tags", [])
            ]
        else:
            for f in res.facets.get(FACET_MAP[ck], []):
                if ck == "organization":
                    org = all_orgs.get(int(f.value))
                    if org is None:
                        continue
                    items.append(
                        {"name": org.code.lower(), "display_name": org.name, "count": f.count}
                    )
                elif ck == "groups":
                    items.append(
                        {"name": group_name(f.value), "display_name": f.value, "count": f.count}
                    )
                else:
                    items.append({"name": f.value, "display_name": f.value, "count": f.count})
        items.sort(key=lambda i: (-i["count"], i["name"]))
        limit = _int(p, "facet.limit", 50, -1, 1000)
        if limit >= 0:
            items = items[:limit]
        facets[ck] = {i["name"]: i["count"] for i in items}
        search_facets[ck] = {"title": ck, "items": items}
    return {
        "count": res.total,
        "sort": sort_raw,
        "results": [package_dict(d, orgs.get(d.org_id), base) for d in res.datasets],
        "facets": facets,
        "search_facets": search_facets,
    }


def package_list(request: Request, session: Session, p: dict[str, Any]) -> Any:
    limit = _int(p, "limit", 100_000, 1, 100_000)
    offset = _int(p, "offset", 0, 0, 10_000_000)
    return list(
        session.scalars(
            select(OpenDataset.name)
            .where(OpenDataset.status == "published")
            .order_by(OpenDataset.name)
            .offset(offset)
            .limit(limit)
        )
    )


def _require(p: dict[str, Any], name: str) -> str:
    value = p.get(name)
    if value is None or str(value).strip() == "":
        raise CkanError(409, "Validation Error", f"缺少参数 {name}", **{name: ["Missing value"]})
    return str(value).strip()


def package_show(request: Request, session: Session, p: dict[str, Any]) -> Any:
    ref = _require(p, "id")
    ds = service.published_dataset(session, ref)
    org = session.get(Org, ds.org_id)
    return package_dict(ds, org, str(request.base_url).rstrip("/"))


def organization_list(request: Request, session: Session, p: dict[str, Any]) -> Any:
    rows = service.org_list(session)
    if str(p.get("all_fields", "")).lower() in ("true", "1"):
        return [org_dict(r["org"], r["count"]) for r in rows]
    return [r["org"].code.lower() for r in rows]


def _org_by_ref(session: Session, ref: str) -> Org:
    org = session.scalar(select(Org).where(Org.code == ref.upper()))
    if org is None and ref.isdigit():
        org = session.get(Org, int(ref))
    if org is None:
        raise CkanError(404, "Not Found Error", "组织不存在")
    return org


def organization_show(request: Request, session: Session, p: dict[str, Any]) -> Any:
    org = _org_by_ref(session, _require(p, "id"))
    datasets = list(
        session.scalars(
            select(OpenDataset)
            .where(OpenDataset.org_id == org.id, OpenDataset.status == "published")
            .order_by(OpenDataset.name)
        )
    )
    out = org_dict(org, len(datasets))
    if str(p.get("include_datasets", "")).lower() in ("true", "1"):
        base = str(request.base_url).rstrip("/")
        out["packages"] = [package_dict(d, org, base) for d in datasets[:1000]]
    return out


def group_list(request: Request, session: Session, p: dict[str, Any]) -> Any:
    domains = sorted(_domains(session))
    if str(p.get("all_fields", "")).lower() in ("true", "1"):
        counts = {
            f.value: f.count
            for f in search.search(session, limit=0, facet_fields=["domain"]).facets.get(
                "domain", []
            )
        }
        return [
            {
                "id": group_name(d),
                "name": group_name(d),
                "title": d,
                "display_name": d,
                "type": "group",
                "is_organization": False,
                "state": "active",
                "package_count": counts.get(d, 0),
            }
            for d in domains
        ]
    return [group_name(d) for d in domains]


def _dataset_for_resource(session: Session, ref: str) -> OpenDataset:
    name = ref
    for fmt in RESOURCE_FORMATS:
        if ref.endswith(f"-{fmt}"):
            name = ref[: -len(fmt) - 1]
            break
    try:
        return service.published_dataset(session, name)
    except NotFound:
        raise CkanError(404, "Not Found Error", "资源不存在") from None


def resource_show(request: Request, session: Session, p: dict[str, Any]) -> Any:
    ref = _require(p, "id")
    ds = _dataset_for_resource(session, ref)
    base = str(request.base_url).rstrip("/")
    for r in resource_dicts(ds, base):
        if r["id"] == ref:
            return r
    raise CkanError(404, "Not Found Error", "资源不存在")


def datastore_search(request: Request, session: Session, p: dict[str, Any]) -> Any:
    from gongshu.opendata.router import caller_key

    started = time.perf_counter()
    ref = _require(p, "resource_id")
    ds = _dataset_for_resource(session, ref)
    key = caller_key(request, session)
    acc = service.access_for(session, ds, key)
    service.rate_check(key, client_ip(request))
    sv = service.servable(session, ds)
    limit = _int(p, "limit", 100, 0, 32000)
    offset = _int(p, "offset", 0, 0, 100_000_000)
    allowed = acc.items if acc.items is not None else [i["column"] for i in ds.items]
    filters = p.get("filters")
    if isinstance(filters, str) and filters.strip():
        try:
            filters = orjson.loads(filters)
        except orjson.JSONDecodeError:
            raise CkanError(
                409, "Validation Error", "filters 须为 JSON 对象", filters=["Cannot parse JSON"]
            ) from None
    if filters not in (None, "", {}) and not isinstance(filters, dict):
        raise CkanError(409, "Validation Error", "filters 须为 JSON 对象", filters=["须为对象"])
    conds = []
    for col, v in (filters or {}).items():
        if col not in allowed:
            raise CkanError(
                409,
                "Validation Error",
                f"字段 {col} 不存在",
                filters=[f'field "{col}" not in resource'],
            )
        conds.append(service.query.Cond(col, "in" if isinstance(v, list) else "eq", v))
    q = p.get("q")
    if isinstance(q, dict):
        for col, v in q.items():
            if col not in allowed:
                raise CkanError(409, "Validation Error", f"字段 {col} 不存在", q=[col])
            conds.append(service.query.Cond(col, "contains", v))
        q = None
    fields = [f for f in _list(p.get("fields")) if f != "_id"] or None
    sort = p.get("sort")
    wh = warehouse(request.app.state.settings.warehouse_url)
    page = service.read_rows(
        wh,
        sv,
        only=acc.items,
        fields=fields,
        conds=conds,
        q=str(q) if q else None,
        sort=str(sort) if sort else None,
        limit=max(limit, 1),
        offset=offset,
        with_total=str(p.get("include_total", "true")).lower() not in ("false", "0"),
    )
    records = page.records[:limit]
    for n, r in enumerate(records, offset + 1):
        r["_id"] = n
    service.log_call(
        session,
        kind="ckan",
        dataset_id=ds.id,
        key=key,
        rows=len(records),
        ms=int((time.perf_counter() - started) * 1000),
        ip=client_ip(request),
    )
    start_link = f"/api/3/action/datastore_search?resource_id={ref}"
    return {
        "resource_id": ref,
        "fields": [{"id": "_id", "type": "int"}, *page.fields],
        "records": records,
        "total": page.total,
        "total_was_estimated": False,
        "limit": limit,
        "offset": offset,
        "include_total": page.total is not None,
        "records_format": "objects",
        "_links": {"start": start_link, "next": f"{start_link}&offset={offset + limit}"},
    }


def status_show(request: Request, session: Session, p: dict[str, Any]) -> Any:
    return {
        "site_title": "公数 · 公共数据开放门户",
        "site_url": str(request.base_url).rstrip("/"),
        "ckan_version": "2.10.4",
        "site_description": "示例市公共数据开放（CKAN 兼容接口）",
        "extensions": ["datastore", "dcat"],
        "locale_default": "zh_Hans_CN",
    }


ACTIONS: dict[str, Callable[[Request, Session, dict[str, Any]], Any]] = {
    "package_list": package_list,
    "package_search": package_search,
    "package_show": package_show,
    "organization_list": organization_list,
    "organization_show": organization_show,
    "group_list": group_list,
    "resource_show": resource_show,
    "datastore_search": datastore_search,
    "status_show": status_show,
}


def _make(action: str, fn: Callable[[Request, Session, dict[str, Any]], Any]) -> Any:
    async def endpoint(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        try:
            params = await _params(request)
        except CkanError as exc:
            return _error(request, action, exc)

        def run() -> Response:
            session: Session = request.app.state.sessionmaker()
            try:
                result = fn(request, session, params)
                return _envelope(request, action, {"success": True, "result": result}, 200)
            except CkanError as exc:
                session.rollback()
                return _error(request, action, exc)
            except AppError as exc:
                session.rollback()
                return _error(request, action, _from_app_error(exc))
            finally:
                session.close()

        return await run_in_threadpool(run)

    endpoint.__name__ = f"ckan_{action}"
    return endpoint


def _error(request: Request, action: str, exc: CkanError) -> Response:
    error = {"__type": exc.etype, "message": f"{exc.etype}: {exc.message}"} | exc.fields
    return _envelope(request, action, {"success": False, "error": error}, exc.status)


# path -> (endpoint, the GET route: its path labels metrics)
_ENDPOINTS: dict[str, tuple[Callable[[Request], Any], APIRoute]] = {}

for _prefix in PREFIXES:
    for _action, _fn in ACTIONS.items():
        _path = f"{_prefix}/{_action}"
        _endpoint = _make(_action, _fn)
        _documented = _prefix == PREFIXES[0]
        # One route per method, each with its own operation id (OpenAPI needs unique ids).
        for _method in ("GET", "POST"):
            router.add_api_route(
                _path,
                _endpoint,
                methods=[_method],
                summary=f"CKAN {_action}",
                operation_id=f"ckan_{_action}_{_method.lower()}" if _documented else None,
                include_in_schema=_documented,
            )
        _ENDPOINTS[_path] = (_endpoint, router.routes[-2])  # type: ignore[assignment]


class ActionRoute(BaseRoute):
    """Every CKAN action path, matched by one dict lookup ahead of all other routes.

    The actions stay registered as ordinary routes above (OpenAPI, and apps run without
    their lifespan); this only spares each call the matching of every page and API route
    of every domain registered before open data, which costs more than a whole
    ``datastore_search``. Other methods fall through to those routes (405 as before).
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["method"] in ("GET", "POST"):
            hit = _ENDPOINTS.get(scope["path"])
            if hit is not None:
                return Match.FULL, {"endpoint": hit[0], "route": hit[1]}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await scope["endpoint"](Request(scope, receive, send))
        await response(scope, receive, send)

    @property
    def path(self) -> str:
        return "/api/3/action/*"


async def startup(app: Any) -> None:
    """Put ``ActionRoute`` first in the app's routes (idempotent)."""
    routes = app.router.routes
    if not any(isinstance(r, ActionRoute) for r in routes):
        routes.insert(0, ActionRoute())
