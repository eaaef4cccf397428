"""Open data: every rule lives here.

Public interface for other domains (see docs/opendata.md):

- ``kpis(session) -> dict`` — open-data KPIs for the cockpit;
- ``stats(session, days=30) -> dict`` — counts and per-day downloads / API calls;
- ``refresh_datasets(session, resource_id, warehouse, load_id=None)`` — called through the
  ``gongshu.load_listeners`` hook after ingest publishes a load;
- ``datasets_of_resource(session, resource_id)`` — for the catalog's "谁在用".
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis.expr.types as ir
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from gongshu.audit import service as audit
from gongshu.auth import service as auth
from gongshu.auth.models import User
from gongshu.auth.principal import Principal, Role
from gongshu.auth.schemas import UserCreate
from gongshu.catalog import service as catalog
from gongshu.catalog.consumers import Consumer
from gongshu.catalog.schemas import ResourceSpec
from gongshu.db import utcnow
from gongshu.errors import (
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from gongshu.opendata import export, native, query, rules, search
from gongshu.opendata.models import (
    OpenAppKey,
    OpenApplication,
    OpenCall,
    OpenComment,
    OpenDataset,
    OpenKeyListEntry,
    OpenRating,
    OpenRequest,
    OpenReuse,
    OpenReuseDataset,
    OpenUsageReport,
)
from gongshu.opendata.schemas import (
    AnswerIn,
    ApplicationIn,
    BureauReviewIn,
    CommentIn,
    DatasetIn,
    KeyListEntryIn,
    RegisterIn,
    RequestIn,
    ReuseIn,
)
from gongshu.orgs.models import Org
from gongshu.warehouse import TableNotFoundError, Warehouse, table_name_for

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
STATUS_LABELS = {
    "proposed": "待审核",
    "published": "已开放",
    "rejected": "已退回",
    "withdrawn": "已撤回",
    "suspended": "已暂停",
}
APP_STATUS_LABELS = {
    "submitted": "待部门审核",
    "org_approved": "待数据局审核",
    "approved": "已批准",
    "rejected": "未通过",
    "revoked": "已吊销",
}
KEY_PREFIX = "od"
ANON_RATE_PER_MIN = 600
# Rows per streamed chunk: small enough that a JSON batch and its temporaries stay small.
DOWNLOAD_BATCH = 16_384


def local_today() -> date:
    return datetime.now(LOCAL_TZ).date()


def _audit(session: Session, actor: Principal, action: str, obj: str, oid: Any, **kw: Any) -> None:
    audit.record(session, actor, f"opendata.{action}", obj, oid, **kw)


# ---- publication -------------------------------------------------------------------


def _spec_for(session: Session, actor: Principal, resource_id: int) -> ResourceSpec:
    try:
        return catalog.get_spec(session, actor, resource_id)
    except NotFound:
        raise NotFound("数据资源不存在或无权访问") from None


def _items_from(spec: ResourceSpec, data: DatasetIn) -> list[dict[str, Any]]:
    out = []
    for it in data.items:
        src = spec.item(it.column)
        out.append(
            {
                "column": it.column,
                "name": src.name if src else it.column,
                "data_type": src.data_type if src else "字符串",
                "masking": it.masking or "none",
                "description": it.description or (src.description if src else None),
            }
        )
    return out


def _check(spec: ResourceSpec, items: Sequence[dict[str, Any]], row_filter: Any) -> None:
    problems = rules.publication_problems(spec, items, row_filter)
    if problems:
        raise ValidationFailed("；".join(problems), code="not_openable", problems=problems)


def _slug(spec: ResourceSpec) -> str:
    return re.sub(r"[^a-z0-9_-]", "-", spec.code.lower())


def propose_dataset(session: Session, actor: Principal, data: DatasetIn) -> OpenDataset:
    """An officer proposes an open dataset from a catalog resource of their org."""
    actor.ensure_role(Role.admin, Role.officer)
    spec = _spec_for(session, actor, data.resource_id)
    actor.ensure_write(spec.owner_org_id, "数据资源")
    items = _items_from(spec, data)
    row_filter = [f.model_dump() for f in data.row_filter]
    _check(spec, items, row_filter)
    if data.licence not in rules.LICENCES:
        raise ValidationFailed(f"开放许可 {data.licence} 不在许可列表中", code="bad_licence")
    name = _slug(spec)
    n = 1
    while session.scalar(select(OpenDataset.id).where(OpenDataset.name == name)):
        n += 1
        name = f"{_slug(spec)}-{n}"
    ds = OpenDataset(
        name=name,
        resource_id=spec.id,
        org_id=spec.owner_org_id,
        title=data.title,
        description=data.description,
        domain=data.domain or spec.domain,
        tags=list(dict.fromkeys(data.tags)),
        items=items,
        row_filter=row_filter,
        licence=data.licence,
        update_cycle=data.update_cycle or spec.update_cycle,
        contact=data.contact,
        open_type=spec.open_type,
        status="proposed",
        proposed_by=actor.name,
        proposed_at=utcnow(),
    )
    session.add(ds)
    session.flush()
    _audit(
        session,
        actor,
        "propose",
        "open_dataset",
        ds.id,
        org_id=ds.org_id,
        detail={"resource": spec.code, "items": [i["column"] for i in items]},
    )
    session.commit()
    return ds


def get_managed(session: Session, actor: Principal, dataset_id: int) -> OpenDataset:
    """A dataset as its owner org or the bureau sees it (any status)."""
    ds = session.get(OpenDataset, dataset_id)
    if ds is None or not actor.can_read_org(ds.org_id) or actor.role == Role.public:
        raise NotFound("开放数据集不存在或无权访问")
    return ds


def update_dataset(
    session: Session, actor: Principal, dataset_id: int, data: DatasetIn
) -> OpenDataset:
    """Change a proposal (or a published dataset: it goes back to review)."""
    ds = get_managed(session, actor, dataset_id)
    actor.ensure_write(ds.org_id, "开放数据集")
    if data.resource_id != ds.resource_id:
        raise ValidationFailed("不能更换数据集的来源资源", code="resource_fixed")
    spec = _spec_for(session, actor, ds.resource_id)
    items = _items_from(spec, data)
    row_filter = [f.model_dump() for f in data.row_filter]
    _check(spec, items, row_filter)
    was_published = ds.status == "published"
    ds.title, ds.description = data.title, data.description
    ds.domain = data.domain or spec.domain
    ds.tags = list(dict.fromkeys(data.tags))
    ds.items, ds.row_filter = items, row_filter
    ds.licence, ds.contact = data.licence, data.contact
    ds.update_cycle = data.update_cycle or spec.update_cycle
    ds.status, ds.proposed_at, ds.proposed_by = "proposed", utcnow(), actor.name
    if was_published:
        search.unindex(session, [ds.id])
    _audit(session, actor, "update", "open_dataset", ds.id, org_id=ds.org_id)
    session.commit()
    return ds


def _refresh_data(ds: OpenDataset, spec: ResourceSpec, wh: Warehouse | None) -> None:
    if wh is None:
        return
    name = table_name_for(spec.code)
    if not wh.exists(name):
        ds.row_count = 0
        return
    t = query.published(wh.table(name), columns_of(ds), ds.row_filter)
    ds.row_count = int(wh.execute(t.count()))


def review_dataset(
    session: Session,
    actor: Principal,
    dataset_id: int,
    *,
    approve: bool,
    comment: str | None = None,
    wh: Warehouse | None = None,
) -> OpenDataset:
    """The bureau approves (publishes) or returns a proposal."""
    actor.ensure_role(Role.admin)
    ds = get_managed(session, actor, dataset_id)
    if ds.status != "proposed":
        raise Conflict("只有待审核的数据集可以审核", code="bad_status")
    if approve:
        spec = catalog.resource_spec(session, ds.resource_id)
        problems = rules.publication_problems(spec, ds.items, ds.row_filter, open_type=ds.open_type)
        if problems:
            raise ValidationFailed("；".join(problems), code="not_openable", problems=problems)
        ds.status = "published"
        ds.approved_by = actor.name
        ds.published_at = ds.published_at or utcnow()
        _refresh_data(ds, spec, wh)
        if ds.data_updated_at is None and ds.row_count:
            ds.data_updated_at = utcnow()
        session.flush()
        search.index(session, [ds], catalog.org_names(session))
        _link_key_list(session, ds)
    else:
        if not comment:
            raise ValidationFailed("退回时必须填写意见", code="comment_required")
        ds.status = "rejected"
    ds.review_comment = comment
    _audit(
        session,
        actor,
        "approve" if approve else "reject",
        "open_dataset",
        ds.id,
        org_id=ds.org_id,
        detail={"comment": comment},
    )
    session.commit()
    return ds


def withdraw_dataset(
    session: Session, actor: Principal, dataset_id: int, reason: str
) -> OpenDataset:
    ds = get_managed(session, actor, dataset_id)
    actor.ensure_write(ds.org_id, "开放数据集")
    if ds.status not in ("published", "proposed", "suspended"):
        raise Conflict("该数据集当前不能撤回", code="bad_status")
    ds.status = "withdrawn"
    ds.review_comment = reason
    search.unindex(session, [ds.id])
    _audit(
        session,
        actor,
        "withdraw",
        "open_dataset",
        ds.id,
        org_id=ds.org_id,
        detail={"reason": reason},
    )
    session.commit()
    return ds


def _suspend(session: Session, ds: OpenDataset, problems: list[str]) -> None:
    ds.status = "suspended"
    ds.review_comment = "；".join(problems)
    search.unindex(session, [ds.id])
    _audit(
        session,
        Principal.system("opendata"),
        "suspend",
        "open_dataset",
        ds.id,
        org_id=ds.org_id,
        detail={"problems": problems},
    )
    session.commit()


def refresh_datasets(
    session: Session, resource_id: int, wh: Warehouse, *, load_id: int | None = None
) -> list[OpenDataset]:
    """After a load: re-check the rules, refresh counts and the data timestamp."""
    datasets = list(
        session.scalars(
            select(OpenDataset).where(
                OpenDataset.resource_id == resource_id,
                OpenDataset.status.in_(["published", "suspended"]),
            )
        )
    )
    if not datasets:
        return []
    spec = catalog.resource_spec(session, resource_id)
    now = utcnow()
    for ds in datasets:
        problems = rules.publication_problems(spec, ds.items, ds.row_filter, open_type=ds.open_type)
        if problems:
            if ds.status == "published":
                _suspend(session, ds, problems)
            continue
        _refresh_data(ds, spec, wh)
        ds.data_updated_at = now
        ds.last_load_id = load_id
    session.commit()
    return datasets


def columns_of(ds: OpenDataset, only: Sequence[str] | None = None) -> list[query.Column]:
    cols = [
        query.Column(
            i["column"], i["name"], i["data_type"], i.get("masking") or "none", i.get("description")
        )
        for i in ds.items
    ]
    if only is not None:
        wanted = set(only)
        cols = [c for c in cols if c.column in wanted]
    return cols


def datasets_of_resource(session: Session, resource_id: int) -> list[Consumer]:
    """Catalog hook: open datasets built on a resource (shown under "谁在用")."""
    rows = session.scalars(
        select(OpenDataset).where(
            OpenDataset.resource_id == resource_id, OpenDataset.status == "published"
        )
    )
    return [
        Consumer(
            org_id=None,
            name=f"开放数据集：{d.title}",
            kind="开放数据集",
            since=d.published_at,
            url=f"/open/datasets/{d.id}",
        )
        for d in rows
    ]


# ---- public reads ------------------------------------------------------------------


@dataclass
class Servable:
    dataset: OpenDataset
    spec: ResourceSpec
    table: str


def published_dataset(session: Session, ref: int | str) -> OpenDataset:
    """A published dataset by id or CKAN name (anyone may read its metadata)."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        ds = session.get(OpenDataset, int(ref))
    else:
        ds = session.scalar(select(OpenDataset).where(OpenDataset.name == ref))
    if ds is None or ds.status != "published":
        raise NotFound("开放数据集不存在或未开放")
    return ds


# Catalog entries behind open datasets: (database, resource id) -> (stamp, spec).
_specs = native.LRU(4096)
_SYSTEM = Principal.system("opendata")


def current_spec(session: Session, resource_id: int) -> ResourceSpec:
    """The catalog entry of a resource as it is *now*, for the read-time rule check.

    The resource row is read on every call; its items and relations are re-read only
    when the row moved. A published resource changes only through a catalog revision,
    which bumps ``revision`` and ``updated_at``; status, grade and open type (what
    withdraws a resource from opening) are compared as values. So one small query per
    read instead of three, and a catalog change is seen by the very next read in every
    process.
    """
    res = catalog.get_resource(session, _SYSTEM, resource_id)
    stamp = (res.code, res.status, res.grade, res.open_type, res.revision, res.updated_at)
    key = (str(session.get_bind().url), resource_id)
    hit = _specs.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]  # type: ignore[no-any-return]
    spec = catalog.resource_spec(session, resource_id)
    _specs.put(key, (stamp, spec))
    return spec


def servable(session: Session, ref: int | str | OpenDataset) -> Servable:
    """A published dataset whose rows may be served now: the rules are re-checked
    against the current catalog entry on every read; a failure suspends the dataset."""
    ds = ref if isinstance(ref, OpenDataset) else published_dataset(session, ref)
    if ds.status != "published":
        raise NotFound("开放数据集不存在或未开放")
    spec = current_spec(session, ds.resource_id)
    problems = rules.publication_problems(spec, ds.items, ds.row_filter, open_type=ds.open_type)
    if problems:
        _suspend(session, ds, problems)
        raise NotFound("该数据集已暂停开放")
    return Servable(ds, spec, table_name_for(spec.code))


def open_table(wh: Warehouse, sv: Servable, only: Sequence[str] | None = None) -> ir.Table:
    try:
        raw = wh.table(sv.table)
    except TableNotFoundError:
        raise NotFound("该数据集暂无数据") from None
    return query.published(raw, columns_of(sv.dataset, only), sv.dataset.row_filter)


def quality(ds: OpenDataset, now: datetime | None = None) -> rules.Score:
    return rules.quality_score(
        licence=ds.licence,
        update_cycle=ds.update_cycle,
        description=ds.description,
        items=ds.items,
        data_updated_at=ds.data_updated_at,
        has_data=ds.row_count > 0,
        contact=ds.contact,
        tags=ds.tags or [],
        now=now,
    )


def parse_filters(raw: Any, columns: Sequence[str]) -> list[query.Cond]:
    """CKAN-style ``{"col": value | [values] | {"op": value}}`` → conditions."""
    if raw in (None, "", {}):
        return []
    if isinstance(raw, str):
        import orjson

        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ValidationFailed("filters 须为 JSON 对象", code="bad_filter") from None
    if not isinstance(raw, dict):
        raise ValidationFailed("filters 须为 JSON 对象", code="bad_filter")
    out: list[query.Cond] = []
    for col, v in raw.items():
        if col not in columns:
            raise ValidationFailed(f"字段 {col} 不存在或未开放", code="bad_filter")
        if isinstance(v, list):
            out.append(query.Cond(col, "in", v))
        elif isinstance(v, dict):
            for op, val in v.items():
                if op not in query.OPS:
                    raise ValidationFailed(f"不支持的运算符 {op}", code="bad_filter")
                out.append(query.Cond(col, op, val))
        else:
            out.append(query.Cond(col, "eq", v))
    return out[:20]


@dataclass
class Page:
    fields: list[dict[str, Any]]
    records: list[dict[str, Any]]
    total: int | None
    next_cursor: str | None = None


def read_rows(
    wh: Warehouse,
    sv: Servable,
    *,
    only: Sequence[str] | None = None,
    fields: Sequence[str] | None = None,
    conds: Sequence[query.Cond] = (),
    q: str | None = None,
    sort: str | None = None,
    limit: int = 100,
    offset: int = 0,
    cursor: str | None = None,
    with_total: bool = True,
    native_sql: bool = True,
) -> Page:
    """Rows of the open view, filtered, sorted and paged (offset or keyset).

    Rows are ordered by ``sort`` and then by the resource's key columns, so offset pages
    and cursors never skip or repeat a row. On DuckDB this runs as parameterised SQL over
    the open view compiled once (``native``); elsewhere, or with ``native_sql=False``, as
    Ibis expressions. Both give the same rows (tests/opendata/test_native.py).
    """
    cols = columns_of(sv.dataset, only)
    try:
        nv = native.view(wh, sv.table, cols, sv.dataset.row_filter) if native_sql else None
    except TableNotFoundError:
        raise NotFound("该数据集暂无数据") from None
    t: ir.Table | None = None
    if nv is not None:
        columns, types = list(nv.columns), nv.types
    else:
        t = open_table(wh, sv, only)
        columns, types = list(t.columns), dict(t.schema().items())
    if fields:
        missing = [f for f in fields if f not in columns]
        if missing:
            raise ValidationFailed(f"字段 {'、'.join(missing)} 不存在或未开放", code="bad_fields")
    if nv is not None:
        where = [native.condition(nv, c) for c in conds]
        if q:
            where += native.full_text(nv, q)
    else:
        assert t is not None
        for c in conds:
            t = t.filter(query.condition(t, c).fill_null(False))
        if q:
            t = query.full_text(t, q)
    order = query.parse_sort(sort, columns)
    keys = [k for k in sv.spec.key_columns if k in columns]
    order = order + [(k, False) for k in keys if k not in {c for c, _ in order}]
    limit = max(1, min(limit, query.MAX_LIMIT))
    offset = max(0, offset)
    after: list[Any] | None = None
    if cursor is not None:
        if not keys:
            raise ValidationFailed("该数据集没有主键，不支持游标分页", code="bad_cursor")
        after = query.decode_cursor(cursor)
    # Unfiltered: the open row count kept by the post-load refresh saves a query.
    known_total = (
        sv.dataset.row_count
        if not conds and not q and sv.dataset.data_updated_at is not None
        else None
    )
    out_cols = list(fields) if fields else columns
    sort_cols = [c for c, _ in order]
    select = list(dict.fromkeys(out_cols + sort_cols))
    want_total = with_total and known_total is None
    if nv is not None:
        table, total = native.read(
            wh,
            nv,
            where=where,
            order=order,
            keys=keys,
            select=select,
            limit=limit,
            offset=offset,
            cursor=after,
            want_total=want_total,
        )
    else:
        assert t is not None
        total = int(wh.execute(t.count())) if want_total else None
        if after is not None:
            page = query.order(query.after(t, order, after), order).limit(limit)
        else:
            page = query.order(t, order).limit(limit, offset=offset)
        table = wh.to_pyarrow(page.select(*select))
    if not with_total:
        total = None
    elif known_total is not None:
        total = known_total
    records = query.jsonable(table)
    next_cursor = None
    if keys and table.num_rows == limit:
        last = table.slice(table.num_rows - 1).to_pylist()[0]
        next_cursor = query.encode_cursor([last[c] for c in sort_cols])
    extra = [c for c in sort_cols if c not in out_cols]
    if extra:
        for r in records:
            for c in extra:
                r.pop(c, None)
    labels = {c.column: c.name for c in cols}
    field_list = [
        {"id": c, "type": query.field_type(types[c]), "info": {"label": labels.get(c, c)}}
        for c in out_cols
    ]
    return Page(field_list, records, total, next_cursor)


def download(
    wh: Warehouse, sv: Servable, fmt: str, *, only: Sequence[str] | None = None
) -> tuple[Iterator[bytes], str, str]:
    """A streamed download: (chunks, media type, file name)."""
    if fmt not in export.FORMATS:
        raise ValidationFailed(f"不支持的下载格式 {fmt}", code="bad_format")
    # No ORDER BY: a sort would materialise the whole table; DuckDB keeps insertion order.
    reader = wh.to_batches(open_table(wh, sv, only), batch_size=DOWNLOAD_BATCH)
    cols = columns_of(sv.dataset, only)
    labels = [c.name for c in cols]
    if fmt == "csv":
        chunks = export.csv_stream(reader, labels)
    elif fmt == "json":
        chunks = export.json_stream(reader)
    elif fmt == "jsonl":
        chunks = export.json_stream(reader, lines=True)
    elif fmt == "parquet":
        chunks = export.parquet_stream(reader)
    else:
        chunks = export.xlsx_stream(reader, labels, sv.dataset.title)
    return chunks, export.MEDIA_TYPES[fmt], f"{sv.dataset.name}.{fmt}"


# ---- developers and keys -----------------------------------------------------------


def register_developer(session: Session, data: RegisterIn) -> User:
    """Self-service registration: a ``public`` account (社会公众 / 开发者)."""
    user = auth.create_user(
        session,
        Principal.system("opendata-register"),
        UserCreate(
            username=data.username,
            display_name=data.display_name,
            password=data.password,
            role=Role.public,
            phone=data.phone,
        ),
    )
    return user


def _ensure_signed_in(actor: Principal) -> None:
    if not actor.is_authenticated or actor.kind != "user" or actor.id is None:
        raise Unauthorized("请先登录", code="unauthenticated")


def _new_key(
    session: Session, user_id: int, name: str, kind: str, **fields: Any
) -> tuple[OpenAppKey, str]:
    prefix = secrets.token_hex(4)
    plaintext = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = OpenAppKey(
        prefix=prefix,
        key_hash=auth._digest(plaintext),
        user_id=user_id,
        name=name,
        kind=kind,
        **fields,
    )
    session.add(key)
    session.flush()
    return key, plaintext


def create_app_key(session: Session, actor: Principal, name: str) -> tuple[OpenAppKey, str]:
    """A developer key for unconditionally open datasets (shown once)."""
    _ensure_signed_in(actor)
    assert actor.id is not None
    active = session.scalar(
        select(func.count()).where(
            OpenAppKey.user_id == actor.id,
            OpenAppKey.kind == "developer",
            OpenAppKey.revoked_at.is_(None),
        )
    )
    if (active or 0) >= 10:
        raise Conflict("每个账号最多 10 个有效应用密钥", code="too_many_keys")
    key, plaintext = _new_key(
        session, actor.id, name, "developer", rate_per_min=settings().developer_rate_per_min
    )
    _audit(session, actor, "key.create", "open_app_key", key.id)
    session.commit()
    return key, plaintext


def list_app_keys(session: Session, actor: Principal) -> list[OpenAppKey]:
    _ensure_signed_in(actor)
    return list(
        session.scalars(
            select(OpenAppKey).where(OpenAppKey.user_id == actor.id).order_by(OpenAppKey.id.desc())
        )
    )


def revoke_app_key(session: Session, actor: Principal, app_key_id: int) -> OpenAppKey:
    key = session.get(OpenAppKey, app_key_id)
    if key is None or (key.user_id != actor.id and not actor.is_admin):
        raise NotFound("应用密钥不存在或无权访问")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        _audit(session, actor, "key.revoke", "open_app_key", key.id)
        session.commit()
    return key


def resolve_app_key(session: Session, presented: str) -> OpenAppKey:
    parts = presented.strip().split("_")
    invalid = Unauthorized("应用密钥无效", code="invalid_key")
    if len(parts) < 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 8:
        raise invalid
    key = session.scalar(select(OpenAppKey).where(OpenAppKey.prefix == parts[1]))
    import hmac

    if key is None or not hmac.compare_digest(key.key_hash, auth._digest(presented.strip())):
        raise invalid
    now = utcnow()
    if key.revoked_at is not None:
        raise Unauthorized("应用密钥已吊销", code="revoked_key")
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthorized("应用密钥已过期", code="expired_key")
    if key.valid_from is not None and key.valid_from > now:
        raise Forbidden("应用密钥尚未生效", code="key_not_yet_valid")
    if key.last_used_at is None or now - key.last_used_at > timedelta(seconds=60):
        key.last_used_at = now
        session.commit()
    return key


@dataclass(frozen=True)
class Access:
    """What a caller may read of one dataset."""

    items: list[str] | None  # None: every published item
    key: OpenAppKey | None


def access_for(
    session: Session, ds: OpenDataset, key: OpenAppKey | None, *, require_key: bool = False
) -> Access:
    """Unconditional datasets: anyone (the row API wants a developer key). Restricted:
    only a restricted key issued for this dataset, limited to its approved items."""
    if key is not None and key.kind == "restricted":
        if key.dataset_id != ds.id:
            raise Forbidden("该密钥仅限其获批的数据集使用", code="key_scope")
        app = session.get(OpenApplication, key.application_id) if key.application_id else None
        if app is None or app.status != "approved":
            raise Forbidden("受限开放申请未批准或已吊销", code="application_inactive")
        if app.next_report_due is not None and app.next_report_due < local_today():
            raise Forbidden("请先提交数据使用情况报告", code="report_overdue")
        published_cols = {i["column"] for i in ds.items}
        return Access([c for c in (key.items or []) if c in published_cols], key)
    if ds.open_type == rules.OpenType.restricted.value:
        raise Forbidden("受限开放数据集须申请获批后凭专用密钥访问", code="restricted")
    if require_key and key is None:
        raise Unauthorized("请提供应用密钥（注册开发者后在“我的密钥”中创建）", code="key_required")
    return Access(None, key)


class RateLimiter:
    """Sliding one-minute window per key (or per IP for anonymous callers), in memory."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, who: str, per_min: int) -> None:
        now = time.monotonic()
        with self._lock:
            q = self._hits.setdefault(who, deque())
            while q and now - q[0] > 60:
                q.popleft()
            if len(q) >= per_min:
                retry = int(60 - (now - q[0])) + 1
                raise RateLimited(
                    f"调用过于频繁，请 {retry} 秒后再试", code="rate_limited", retry_after=retry
                )
            q.append(now)
            if len(self._hits) > 50_000:
                self._hits = {k: v for k, v in self._hits.items() if v and now - v[-1] <= 60}


limiter = RateLimiter()


def rate_check(key: OpenAppKey | None, ip: str | None) -> None:
    if key is not None:
        limiter.check(f"k{key.prefix}", key.rate_per_min)  # prefixes are random
    else:
        limiter.check(f"ip{ip}", settings().anon_rate_per_min)


def log_call(
    session: Session,
    *,
    kind: str,
    dataset_id: int | None,
    status: int = 200,
    fmt: str | None = None,
    key: OpenAppKey | None = None,
    user_id: int | None = None,
    rows: int = 0,
    ms: int = 0,
    ip: str | None = None,
) -> None:
    """Count and log one download or API call (its own small transaction)."""
    # Prebuilt Core statements on the session's connection: on the row API's hot path the
    # ORM unit of work and statement construction cost more than the two writes.
    conn = session.connection()
    conn.execute(
        _LOG_CALL,
        {
            "day": local_today(),
            "dataset_id": dataset_id,
            "kind": kind,
            "fmt": fmt,
            "key_id": key.id if key else None,
            "user_id": user_id if user_id is not None else (key.user_id if key else None),
            "status": status,
            "rows": rows,
            "ms": ms,
            "ip": ip,
            "ok": status < 400,
        },
    )
    if dataset_id is not None and status < 400:
        conn.execute(_COUNT_DOWNLOAD if kind == "download" else _COUNT_API, {"ds": dataset_id})
    session.commit()


_LOG_CALL = insert(OpenCall)
_COUNT_DOWNLOAD = (
    update(OpenDataset)
    .where(OpenDataset.id == bindparam("ds"))
    .values(downloads=OpenDataset.downloads + 1)
)
_COUNT_API = (
    update(OpenDataset)
    .where(OpenDataset.id == bindparam("ds"))
    .values(api_calls=OpenDataset.api_calls + 1)
)


# ---- restricted open (受限开放) -----------------------------------------------------


def apply(session: Session, actor: Principal, data: ApplicationIn) -> OpenApplication:
    _ensure_signed_in(actor)
    assert actor.id is not None
    ds = published_dataset(session, data.dataset_id)
    if ds.open_type != rules.OpenType.restricted.value:
        raise ValidationFailed("该数据集无条件开放，无需申请", code="not_restricted")
    published_cols = {i["column"] for i in ds.items}
    unknown = [c for c in data.items if c not in published_cols]
    if unknown:
        raise ValidationFailed(
            f"申请的数据项 {'、'.join(unknown)} 不在该数据集中", code="bad_items"
        )
    if data.period_end <= data.period_start or data.period_end < local_today():
        raise ValidationFailed("使用期限不正确", code="bad_period")
    if data.period_end - data.period_start > timedelta(days=366 * 3):
        raise ValidationFailed("使用期限最长 3 年", code="bad_period")
    if data.applicant_type == "企业":
        from stdnum.cn import uscc

        if not data.credit_code or not uscc.is_valid(data.credit_code):
            raise ValidationFailed("请填写有效的统一社会信用代码", code="bad_credit_code")
    app = OpenApplication(
        dataset_id=ds.id,
        org_id=ds.org_id,
        user_id=actor.id,
        applicant=data.applicant,
        applicant_type=data.applicant_type,
        credit_code=data.credit_code,
        purpose=data.purpose,
        scenario=data.scenario,
        security_commitment=data.security_commitment,
        items=list(dict.fromkeys(data.items)),
        period_start=data.period_start,
        period_end=data.period_end,
        status="submitted",
    )
    session.add(app)
    session.flush()
    _audit(session, actor, "apply", "open_application", app.id, org_id=ds.org_id)
    session.commit()
    return app


def get_application(session: Session, actor: Principal, application_id: int) -> OpenApplication:
    app = session.get(OpenApplication, application_id)
    if app is None:
        raise NotFound("申请不存在或无权访问")
    if actor.role == Role.public:
        if app.user_id != actor.id:
            raise NotFound("申请不存在或无权访问")
    elif not actor.can_read_org(app.org_id):
        raise NotFound("申请不存在或无权访问")
    return app


def list_applications(session: Session, actor: Principal) -> list[OpenApplication]:
    if actor.kind != "system":
        _ensure_signed_in(actor) if actor.role == Role.public else None
    stmt = select(OpenApplication).order_by(OpenApplication.id.desc())
    if actor.role == Role.public:
        stmt = stmt.where(OpenApplication.user_id == actor.id)
    elif not actor.can_read_org(None):
        stmt = stmt.where(OpenApplication.org_id == actor.org_id)
    return list(session.scalars(stmt.limit(500)))


def org_review(
    session: Session, actor: Principal, application_id: int, approve: bool, comment: str | None
) -> OpenApplication:
    app = get_application(session, actor, application_id)
    actor.ensure_write(app.org_id, "申请")
    if app.status != "submitted":
        raise Conflict("该申请不在部门审核环节", code="bad_status")
    if not approve and not comment:
        raise ValidationFailed("不同意时必须填写意见", code="comment_required")
    app.status = "org_approved" if approve else "rejected"
    app.org_comment = comment
    app.org_reviewed_by = actor.name
    _audit(
        session,
        actor,
        "application.org_review",
        "open_application",
        app.id,
        org_id=app.org_id,
        detail={"approve": approve},
    )
    session.commit()
    return app


def bureau_review(
    session: Session, actor: Principal, application_id: int, data: BureauReviewIn
) -> OpenApplication:
    actor.ensure_role(Role.admin)
    app = get_application(session, actor, application_id)
    if app.status != "org_approved":
        raise Conflict("该申请须先经数据提供部门同意", code="bad_status")
    if not data.approve and not data.comment:
        raise ValidationFailed("不同意时必须填写意见", code="comment_required")
    app.bureau_comment = data.comment
    app.bureau_reviewed_by = actor.name
    if data.approve:
        app.status = "approved"
        app.report_every_days = data.report_every_days
        app.next_report_due = max(app.period_start, local_today()) + timedelta(
            days=data.report_every_days
        )
        _issue_restricted_key(session, app, data.rate_per_min)
    else:
        app.status = "rejected"
    _audit(
        session,
        actor,
        "application.bureau_review",
        "open_application",
        app.id,
        org_id=app.org_id,
        detail={"approve": data.approve},
    )
    session.commit()
    return app


def _period_bounds(app: OpenApplication) -> tuple[datetime, datetime]:
    start = datetime.combine(app.period_start, datetime.min.time(), LOCAL_TZ)
    end = datetime.combine(app.period_end + timedelta(days=1), datetime.min.time(), LOCAL_TZ)
    return start, end


def _issue_restricted_key(session: Session, app: OpenApplication, rate: int) -> None:
    start, end = _period_bounds(app)
    key, _plain = _new_key(
        session,
        app.user_id,
        f"受限开放申请 #{app.id}",
        "restricted",
        application_id=app.id,
        dataset_id=app.dataset_id,
        items=list(app.items),
        valid_from=start,
        expires_at=end,
        rate_per_min=rate,
        # The secret is never shown here: the applicant collects a fresh one.
        revoked_at=None,
    )
    app.key_id = key.id


def collect_key(session: Session, actor: Principal, application_id: int) -> tuple[OpenAppKey, str]:
    """The applicant receives the key of an approved application (re-issue rotates it)."""
    app = get_application(session, actor, application_id)
    if app.user_id != actor.id:
        raise Forbidden("只有申请人本人可以领取密钥", code="not_applicant")
    if app.status != "approved" or app.key_id is None:
        raise Conflict("申请尚未批准或已吊销", code="bad_status")
    old = session.get(OpenAppKey, app.key_id)
    if old is not None and old.revoked_at is None:
        old.revoked_at = utcnow()
    start, end = _period_bounds(app)
    key, plaintext = _new_key(
        session,
        app.user_id,
        f"受限开放申请 #{app.id}",
        "restricted",
        application_id=app.id,
        dataset_id=app.dataset_id,
        items=list(app.items),
        valid_from=start,
        expires_at=end,
        rate_per_min=old.rate_per_min if old else 120,
    )
    app.key_id = key.id
    _audit(session, actor, "application.key", "open_app_key", key.id, org_id=app.org_id)
    session.commit()
    return key, plaintext


def submit_report(
    session: Session, actor: Principal, application_id: int, content: str
) -> OpenUsageReport:
    app = get_application(session, actor, application_id)
    if app.user_id != actor.id:
        raise Forbidden("只有申请人本人可以提交使用报告", code="not_applicant")
    if app.status != "approved":
        raise Conflict("只有已批准的申请需要提交使用报告", code="bad_status")
    report = OpenUsageReport(application_id=app.id, content=content)
    session.add(report)
    app.next_report_due = local_today() + timedelta(days=app.report_every_days)
    _audit(session, actor, "application.report", "open_application", app.id, org_id=app.org_id)
    session.commit()
    return report


def revoke_application(
    session: Session, actor: Principal, application_id: int, reason: str
) -> OpenApplication:
    """Abuse → the owner org or the bureau revokes the application and its key."""
    app = get_application(session, actor, application_id)
    actor.ensure_write(app.org_id, "申请")
    if app.status != "approved":
        raise Conflict("只有已批准的申请可以吊销", code="bad_status")
    app.status = "revoked"
    app.revoked_reason = reason
    session.execute(
        update(OpenAppKey)
        .where(OpenAppKey.application_id == app.id, OpenAppKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    _audit(
        session,
        actor,
        "application.revoke",
        "open_application",
        app.id,
        org_id=app.org_id,
        detail={"reason": reason},
    )
    session.commit()
    return app


# ---- community: reuses, comments, ratings, requests ---------------------------------


def submit_reuse(session: Session, actor: Principal, data: ReuseIn) -> OpenReuse:
    _ensure_signed_in(actor)
    ids = list(dict.fromkeys(data.dataset_ids))
    found = set(
        session.scalars(
            select(OpenDataset.id).where(OpenDataset.id.in_(ids), OpenDataset.status == "published")
        )
    )
    if set(ids) - found:
        raise ValidationFailed("关联的数据集不存在或未开放", code="bad_datasets")
    reuse = OpenReuse(
        title=data.title,
        kind=data.kind,
        description=data.description,
        url=data.url or None,
        author=data.author,
        user_id=actor.id,
        status="approved" if actor.is_admin else "pending",
    )
    session.add(reuse)
    session.flush()
    for i in ids:
        session.add(OpenReuseDataset(reuse_id=reuse.id, dataset_id=i))
    _audit(session, actor, "reuse.submit", "open_reuse", reuse.id)
    session.commit()
    return reuse


def review_reuse(session: Session, actor: Principal, reuse_id: int, approve: bool) -> OpenReuse:
    actor.ensure_role(Role.admin)
    reuse = session.get(OpenReuse, reuse_id)
    if reuse is None:
        raise NotFound("应用成果不存在")
    reuse.status = "approved" if approve else "rejected"
    _audit(session, actor, "reuse.review", "open_reuse", reuse.id, detail={"approve": approve})
    session.commit()
    return reuse


def reuses(
    session: Session, *, dataset_id: int | None = None, status: str = "approved", limit: int = 50
) -> list[OpenReuse]:
    stmt = select(OpenReuse).where(OpenReuse.status == status)
    if dataset_id is not None:
        stmt = stmt.join(OpenReuseDataset, OpenReuseDataset.reuse_id == OpenReuse.id).where(
            OpenReuseDataset.dataset_id == dataset_id
        )
    return list(session.scalars(stmt.order_by(OpenReuse.id.desc()).limit(limit)))


def reuse_datasets(session: Session, reuse_ids: Sequence[int]) -> dict[int, list[OpenDataset]]:
    out: dict[int, list[OpenDataset]] = {i: [] for i in reuse_ids}
    for rid, ds in session.execute(
        select(OpenReuseDataset.reuse_id, OpenDataset)
        .join(OpenDataset, OpenDataset.id == OpenReuseDataset.dataset_id)
        .where(OpenReuseDataset.reuse_id.in_(list(reuse_ids)), OpenDataset.status == "published")
    ):
        out[rid].append(ds)
    return out


def add_comment(
    session: Session, actor: Principal, dataset_id: int, data: CommentIn
) -> OpenComment:
    _ensure_signed_in(actor)
    ds = published_dataset(session, dataset_id)
    c = OpenComment(
        dataset_id=ds.id, user_id=actor.id, author=actor.name, kind=data.kind, body=data.body
    )
    session.add(c)
    session.flush()
    _audit(session, actor, "comment.add", "open_comment", c.id, org_id=ds.org_id)
    session.commit()
    return c


def reply_comment(session: Session, actor: Principal, comment_id: int, reply: str) -> OpenComment:
    c = get_comment(session, actor, comment_id)
    ds = session.get(OpenDataset, c.dataset_id)
    assert ds is not None
    actor.ensure_write(ds.org_id, "留言")
    c.reply, c.replied_by, c.replied_at = reply, actor.name, utcnow()
    _audit(session, actor, "comment.reply", "open_comment", c.id, org_id=ds.org_id)
    session.commit()
    return c


def comments(session: Session, dataset_id: int) -> list[OpenComment]:
    return list(
        session.scalars(
            select(OpenComment)
            .where(OpenComment.dataset_id == dataset_id)
            .order_by(OpenComment.id.desc())
            .limit(100)
        )
    )


def rate(session: Session, actor: Principal, dataset_id: int, stars: int) -> OpenDataset:
    _ensure_signed_in(actor)
    ds = published_dataset(session, dataset_id)
    old = session.scalar(
        select(OpenRating).where(OpenRating.dataset_id == ds.id, OpenRating.user_id == actor.id)
    )
    if old is None:
        session.add(OpenRating(dataset_id=ds.id, user_id=actor.id, stars=stars))
    else:
        old.stars = stars
    session.flush()
    n, total = session.execute(
        select(func.count(), func.coalesce(func.sum(OpenRating.stars), 0)).where(
            OpenRating.dataset_id == ds.id
        )
    ).one()
    ds.rating_count, ds.rating_sum = int(n), int(total)
    session.commit()
    return ds


def submit_request(session: Session, actor: Principal, data: RequestIn) -> OpenRequest:
    if data.org_id is not None and session.get(Org, data.org_id) is None:
        raise ValidationFailed("部门不存在", code="bad_org")
    req = OpenRequest(
        title=data.title,
        description=data.description,
        requester=data.requester,
        contact=data.contact,
        org_id=data.org_id,
        user_id=actor.id if actor.kind == "user" else None,
        status="submitted",
    )
    session.add(req)
    session.flush()
    _audit(session, actor, "request.submit", "open_request", req.id, org_id=data.org_id)
    session.commit()
    return req


def request_for_answer(session: Session, actor: Principal, request_id: int) -> OpenRequest:
    """A data request the caller may answer: the bureau any, an officer their org's."""
    req = session.get(OpenRequest, request_id)
    if (
        req is None
        or actor.role == Role.public
        or not (actor.is_admin or (req.org_id is not None and actor.can_read_org(req.org_id)))
    ):
        raise NotFound("开放需求不存在或无权访问")
    actor.ensure_role(Role.admin, Role.officer)
    return req


def get_comment(session: Session, actor: Principal, comment_id: int) -> OpenComment:
    c = session.get(OpenComment, comment_id)
    ds = session.get(OpenDataset, c.dataset_id) if c else None
    if c is None or ds is None or not actor.can_read_org(ds.org_id) or actor.role == Role.public:
        raise NotFound("留言不存在或无权访问")
    return c


def answer_request(
    session: Session, actor: Principal, request_id: int, data: AnswerIn
) -> OpenRequest:
    req = request_for_answer(session, actor, request_id)
    if data.dataset_id is not None:
        published_dataset(session, data.dataset_id)
    req.answer, req.outcome, req.dataset_id = data.answer, data.outcome, data.dataset_id
    req.status, req.answered_by, req.answered_at = "answered", actor.name, utcnow()
    _audit(session, actor, "request.answer", "open_request", req.id, org_id=req.org_id)
    session.commit()
    return req


def requests(session: Session, *, limit: int = 100) -> list[OpenRequest]:
    return list(session.scalars(select(OpenRequest).order_by(OpenRequest.id.desc()).limit(limit)))


# ---- the open key list (开放重点清单) ------------------------------------------------


def add_key_list_entry(
    session: Session, actor: Principal, data: KeyListEntryIn
) -> OpenKeyListEntry:
    actor.ensure_role(Role.admin)
    if session.get(Org, data.org_id) is None:
        raise ValidationFailed("部门不存在", code="bad_org")
    entry = OpenKeyListEntry(**data.model_dump())
    session.add(entry)
    session.flush()
    _audit(session, actor, "keylist.add", "open_key_list", entry.id, org_id=data.org_id)
    session.commit()
    return entry


def _link_key_list(session: Session, ds: OpenDataset) -> None:
    """Nothing stored: key-list status is computed from published datasets."""


def key_list(session: Session, year: int | None = None) -> list[dict[str, Any]]:
    """Each promise with its status: 已开放 (published) / 逾期 (overdue) / 待开放 (promised)."""
    year = year or local_today().year
    entries = list(
        session.scalars(
            select(OpenKeyListEntry)
            .where(OpenKeyListEntry.year == year)
            .order_by(OpenKeyListEntry.due_date, OpenKeyListEntry.id)
        )
    )
    res_ids = [e.resource_id for e in entries if e.resource_id]
    published: dict[int, OpenDataset] = {}
    if res_ids:
        for ds in session.scalars(
            select(OpenDataset)
            .where(OpenDataset.resource_id.in_(res_ids), OpenDataset.status == "published")
            .order_by(OpenDataset.published_at)
        ):
            published.setdefault(ds.resource_id, ds)
    names = catalog.org_names(session)
    today = local_today()
    out = []
    for e in entries:
        ds = published.get(e.resource_id) if e.resource_id else None
        if ds is not None:
            status = "published"
        elif e.due_date < today:
            status = "overdue"
        else:
            status = "promised"
        out.append({"entry": e, "status": status, "dataset": ds, "org": names.get(e.org_id, "")})
    return out


KEY_LIST_LABELS = {"published": "已开放", "overdue": "逾期", "promised": "待开放"}


# ---- statistics and KPIs -----------------------------------------------------------


def stats(session: Session, days: int = 30) -> dict[str, Any]:
    pub = OpenDataset.status == "published"
    datasets, records = session.execute(
        select(func.count(), func.coalesce(func.sum(OpenDataset.row_count), 0)).where(pub)
    ).one()
    items = sum(len(i) for i in session.scalars(select(OpenDataset.items).where(pub)))
    since = local_today() - timedelta(days=days - 1)
    by_day: dict[str, dict[str, int]] = {}
    for day, kind, n in session.execute(
        select(OpenCall.day, OpenCall.kind, func.count())
        .where(OpenCall.day >= since, OpenCall.ok.is_(True))
        .group_by(OpenCall.day, OpenCall.kind)
    ):
        bucket = by_day.setdefault(day.isoformat(), {"download": 0, "api": 0})
        bucket["download" if kind == "download" else "api"] += int(n)
    by_dataset = [
        {"dataset_id": i, "title": t, "downloads": d, "api_calls": a}
        for i, t, d, a in session.execute(
            select(OpenDataset.id, OpenDataset.title, OpenDataset.downloads, OpenDataset.api_calls)
            .where(pub)
            .order_by((OpenDataset.downloads + OpenDataset.api_calls).desc())
            .limit(20)
        )
    ]
    totals = dict(
        session.execute(
            select(OpenCall.kind, func.count()).where(OpenCall.ok.is_(True)).group_by(OpenCall.kind)
        ).all()
    )
    return {
        "datasets": int(datasets),
        "items": int(items),
        "records": int(records),
        "downloads": int(totals.get("download", 0)),
        "api_calls": int(sum(v for k, v in totals.items() if k != "download")),
        "by_day": [{"day": d, **v} for d, v in sorted(by_day.items())],
        "by_dataset": by_dataset,
    }


def kpis(session: Session) -> dict[str, Any]:
    """Open-data KPIs the cockpit reads (keys are stable; see docs/opendata.md)."""
    s = stats(session, days=30)
    kl = key_list(session)
    promised = len(kl)
    done = sum(1 for r in kl if r["status"] == "published")
    overdue = sum(1 for r in kl if r["status"] == "overdue")
    scores = [
        quality(d).total
        for d in session.scalars(select(OpenDataset).where(OpenDataset.status == "published"))
    ]
    orgs = (
        session.scalar(
            select(func.count(func.distinct(OpenDataset.org_id))).where(
                OpenDataset.status == "published"
            )
        )
        or 0
    )
    answered = (
        session.scalar(
            select(func.count()).select_from(OpenRequest).where(OpenRequest.status == "answered")
        )
        or 0
    )
    req_total = session.scalar(select(func.count()).select_from(OpenRequest)) or 0
    return {
        "open_datasets": s["datasets"],
        "open_items": s["items"],
        "open_records": s["records"],
        "open_orgs": int(orgs),
        "downloads_total": s["downloads"],
        "api_calls_total": s["api_calls"],
        "downloads_30d": sum(d["download"] for d in s["by_day"]),
        "api_calls_30d": sum(d["api"] for d in s["by_day"]),
        "key_list_promised": promised,
        "key_list_published": done,
        "key_list_overdue": overdue,
        "key_list_rate": round(done / promised, 4) if promised else None,
        "metadata_score_avg": round(sum(scores) / len(scores), 1) if scores else None,
        "reuses": len(reuses(session, limit=100_000)),
        "requests_answer_rate": round(answered / req_total, 4) if req_total else None,
    }


# ---- settings ------------------------------------------------------------------------


def settings() -> Any:
    from gongshu.opendata.config import open_settings

    return open_settings()


def org_list(session: Session) -> list[dict[str, Any]]:
    """Orgs with published datasets (portal org pages, CKAN organization_list)."""
    rows = session.execute(
        select(Org, func.count(OpenDataset.id))
        .join(OpenDataset, OpenDataset.org_id == Org.id)
        .where(OpenDataset.status == "published")
        .group_by(Org.id)
        .order_by(Org.code)
    ).all()
    return [{"org": o, "count": int(n)} for o, n in rows]


def purge_calls_before(session: Session, day: date) -> int:
    res = session.execute(delete(OpenCall).where(OpenCall.day < day))
    session.commit()
    return int(res.rowcount or 0)  # type: ignore[attr-defined]
