"""Chinese full-text search over published open datasets, with facets.

The index reuses the catalog's jieba tokenisation (``gongshu.catalog.text``) and the same
dialect split: an FTS5 table on SQLite (``rowid`` = dataset id, bm25 ranking) and a table
with a generated ``tsvector`` + GIN index on PostgreSQL (``ts_rank``). It is created by
migration 0006 and kept outside ``Base.metadata``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from gongshu.catalog.text import fts5_query, index_tokens, query_terms, ts_query
from gongshu.opendata.models import OpenDataset

PUBLISHED = "published"
FACETS: dict[str, Any] = {
    "domain": OpenDataset.domain,
    "org": OpenDataset.org_id,
    "open_type": OpenDataset.open_type,
    "update_cycle": OpenDataset.update_cycle,
    "licence": OpenDataset.licence,
}
FACET_LABELS = {
    "domain": "领域",
    "org": "提供部门",
    "format": "格式",
    "open_type": "开放类型",
    "update_cycle": "更新周期",
    "licence": "开放许可",
}
# Every published dataset is downloadable in each of these formats and by API.
DATA_FORMATS = ("CSV", "XLSX", "JSON", "Parquet", "API")
SORTS = {
    "relevance": "相关度",
    "newest": "最新发布",
    "popular": "最多使用",
    "title": "名称",
}

_md = MetaData()
dataset_index = Table(
    "opendata_search",
    _md,
    Column("rowid", Integer),  # SQLite; PostgreSQL uses dataset_id
    Column("dataset_id", Integer),
    Column("title", String),
    Column("body", String),
    Column("items", String),
)


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def unindex(session: Session, ids: Iterable[int]) -> None:
    key = dataset_index.c.rowid if _sqlite(session) else dataset_index.c.dataset_id
    ids = list(ids)
    for i in range(0, len(ids), 900):
        session.execute(delete(dataset_index).where(key.in_(ids[i : i + 900])))


def index(session: Session, datasets: Sequence[OpenDataset], org_names: dict[int, str]) -> None:
    """(Re)index datasets; callers pass only published ones."""
    if not datasets:
        return
    unindex(session, [d.id for d in datasets])
    key = "rowid" if _sqlite(session) else "dataset_id"
    rows = []
    for d in datasets:
        items = " ".join(f"{i.get('name', '')} {i.get('column', '')}" for i in d.items)
        body = " ".join(
            [d.description, " ".join(d.tags or []), d.domain, org_names.get(d.org_id, "")]
        )
        rows.append(
            {
                key: d.id,
                "title": index_tokens(d.title),
                "body": index_tokens(body),
                "items": index_tokens(items),
            }
        )
    for i in range(0, len(rows), 2000):
        session.execute(insert(dataset_index), rows[i : i + 2000])


def _match(session: Session, q: str) -> Select[Any] | None:
    terms = query_terms(q)
    if not terms:
        return None
    if _sqlite(session):
        return select(
            dataset_index.c.rowid.label("dataset_id"),
            func.bm25(literal_column("opendata_search"), 10.0, 3.0, 1.0).label("score"),
        ).where(literal_column("opendata_search").op("MATCH")(fts5_query(terms)))
    tsq = func.to_tsquery(literal_column("'simple'"), ts_query(terms))
    return select(
        dataset_index.c.dataset_id.label("dataset_id"),
        (-func.ts_rank(literal_column("opendata_search.tsv"), tsq)).label("score"),
    ).where(literal_column("opendata_search.tsv").op("@@")(tsq))


@dataclass
class FacetValue:
    value: str
    count: int
    selected: bool
    label: str = ""
    url: str = ""


@dataclass
class Result:
    total: int
    datasets: list[OpenDataset]
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)


def search(
    session: Session,
    *,
    q: str | None = None,
    filters: dict[str, list[str]] | None = None,
    extra: Sequence[ColumnElement[bool]] = (),
    sort: str = "relevance",
    offset: int = 0,
    limit: int = 20,
    facet_fields: Sequence[str] | None = None,
) -> Result:
    """Published datasets matching ``q`` and the facet filters (each facet counted
    without its own filter, so a user can widen it)."""
    filters = {k: [v for v in vs if v] for k, vs in (filters or {}).items()}
    unknown = [k for k in filters if k not in FACETS and k != "format"]
    if unknown:
        from gongshu.errors import ValidationFailed

        raise ValidationFailed(f"不支持的筛选字段：{'、'.join(unknown)}", code="bad_facet")
    q = (q or "").strip()[:100]
    matched = _match(session, q) if q else None
    if q and matched is None:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matched = select(OpenDataset.id.label("dataset_id"), literal(0.0).label("score")).where(
            OpenDataset.title.like(like, escape="\\")
        )
    base = [OpenDataset.status == PUBLISHED, *extra]
    fmt_ok = all(f in DATA_FORMATS for f in filters.get("format", []))

    def conds(skip: str | None = None) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        for key, values in filters.items():
            if key == skip or not values or key == "format":
                continue
            col = FACETS[key]
            out.append(cast(col, String).in_(values) if key == "org" else col.in_(values))
        if not fmt_ok and skip != "format":
            out.append(literal(False))
        return out

    def from_() -> Any:
        stmt = select(OpenDataset.id).select_from(OpenDataset)
        if matched is None:
            return stmt
        m = matched.subquery("m")
        return stmt.join(m, m.c.dataset_id == OpenDataset.id)

    wanted = list(FACETS) if facet_fields is None else [f for f in facet_fields if f in FACETS]
    parts = []
    for key in wanted:
        col = FACETS[key]
        parts.append(
            from_()
            .with_only_columns(
                literal(key).label("facet"), cast(col, String).label("value"), func.count()
            )
            .where(*base, *conds(key))
            .group_by(col)
        )
    parts.append(
        from_()
        .with_only_columns(
            literal("_total").label("facet"), literal("").label("value"), func.count()
        )
        .where(*base, *conds())
    )
    facets: dict[str, list[FacetValue]] = {}
    total = 0
    for facet, value, n in session.execute(union_all(*parts)):
        if facet == "_total":
            total = int(n)
            continue
        chosen = filters.get(facet, [])
        facets.setdefault(facet, []).append(FacetValue(str(value), int(n), str(value) in chosen))
    for values in facets.values():
        values.sort(key=lambda f: (-f.count, f.value))
    if facet_fields is None or "format" in (facet_fields or ()):
        chosen = filters.get("format", [])
        facets["format"] = [FacetValue(f, total, f in chosen) for f in DATA_FORMATS]

    popular = (OpenDataset.downloads + OpenDataset.api_calls).desc()
    newest = OpenDataset.published_at.desc()
    if matched is not None:
        sub = matched.subquery("m2")
        stmt = select(OpenDataset).join(sub, sub.c.dataset_id == OpenDataset.id)
        rank = [sub.c.score]
    else:
        stmt = select(OpenDataset)
        rank = []
    order = {
        "newest": [newest],
        "popular": [popular],
        "title": [OpenDataset.title],
        "name": [OpenDataset.name],
    }.get(sort, rank or [newest])
    page = stmt.where(*base, *conds()).order_by(*order, OpenDataset.id.desc())
    datasets = list(session.scalars(page.offset(offset).limit(limit)))
    return Result(total=total, datasets=datasets, facets=facets)


def like_any(cols: Sequence[Any], text: str) -> ColumnElement[bool]:
    pattern = f"%{text}%"
    return or_(*[c.like(pattern) for c in cols])
