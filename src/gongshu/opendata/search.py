"""Chinese full-text search over published open datasets, with facets.

The index reuses the catalog's jieba tokenisation (``gongshu.catalog.text``) and the same
dialect split: an FTS5 table on SQLite (``rowid`` = dataset id, bm25 ranking) and a table
with a generated ``tsvector`` + GIN index on PostgreSQL (``ts_rank``). It is created by
migration 0006 and kept outside ``Base.metadata``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    without its own filter, so a user can widen it).

    The full-text match runs once; the matching datasets' facet columns (a few small
    values each) are then filtered, counted, ranked and paged in one pass, so the cost
    is one index query plus one narrow scan of the matches, whatever the facets asked.
    """
    filters = {k: [v for v in vs if v] for k, vs in (filters or {}).items()}
    unknown = [k for k in filters if k not in FACETS and k not in ("format", "tags")]
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
    cols = [
        OpenDataset.id,
        cast(OpenDataset.org_id, String),
        OpenDataset.domain,
        OpenDataset.open_type,
        OpenDataset.update_cycle,
        OpenDataset.licence,
        OpenDataset.tags,
        OpenDataset.published_at,
        OpenDataset.downloads + OpenDataset.api_calls,
        OpenDataset.title,
        OpenDataset.name,
    ]
    if matched is not None:
        sub = matched.subquery("m")
        stmt = select(*cols, sub.c.score).join(sub, sub.c.dataset_id == OpenDataset.id)
    else:
        stmt = select(*cols, literal(0.0))
    rows = session.execute(stmt.where(OpenDataset.status == PUBLISHED, *extra)).all()
    keys = ("org", "domain", "open_type", "update_cycle", "licence")
    chosen = {k: set(v) for k, v in filters.items() if v}
    fmt_ok = all(f in DATA_FORMATS for f in chosen.get("format", ()))

    def passes(r: Any, skip: str | None) -> bool:
        for i, k in enumerate(keys, 1):
            if k != skip and k in chosen and r[i] not in chosen[k]:
                return False
        if skip != "tags" and "tags" in chosen and not chosen["tags"] & set(r[6] or ()):
            return False
        return skip == "format" or fmt_ok

    wanted = list(FACETS) if facet_fields is None else [f for f in facet_fields if f in FACETS]
    counts: dict[str, dict[str, int]] = {k: {} for k in wanted}
    tag_counts: dict[str, int] = {}
    hits = []
    for r in rows:
        if passes(r, None):
            hits.append(r)
        for k in wanted:
            if passes(r, k):
                v = r[keys.index(k) + 1]
                counts[k][v] = counts[k].get(v, 0) + 1
        if facet_fields is not None and "tags" in facet_fields and passes(r, "tags"):
            for t in r[6] or ():
                tag_counts[t] = tag_counts.get(t, 0) + 1
    total = len(hits)
    facets: dict[str, list[FacetValue]] = {}
    for k, values in counts.items():
        facets[k] = sorted(
            (FacetValue(str(v), n, str(v) in chosen.get(k, ())) for v, n in values.items()),
            key=lambda f: (-f.count, f.value),
        )
    if tag_counts:
        facets["tags"] = sorted(
            (FacetValue(t, n, t in chosen.get("tags", ())) for t, n in tag_counts.items()),
            key=lambda f: (-f.count, f.value),
        )
    if facet_fields is None or "format" in facet_fields:
        facets["format"] = [
            FacetValue(f, total if fmt_ok else 0, f in chosen.get("format", ()))
            for f in DATA_FORMATS
        ]
    epoch = datetime.min.replace(tzinfo=UTC)
    if sort == "newest" or (sort == "relevance" and matched is None):
        hits.sort(key=lambda r: (r[7] or epoch, r[0]), reverse=True)
    elif sort == "popular":
        hits.sort(key=lambda r: (r[8], r[0]), reverse=True)
    elif sort == "title":
        hits.sort(key=lambda r: (r[9], -r[0]))
    elif sort == "name":
        hits.sort(key=lambda r: (r[10], -r[0]))
    else:
        hits.sort(key=lambda r: (r[11], -r[0]))
    page_ids = [r[0] for r in hits[offset : offset + limit]]
    by_id = (
        {d.id: d for d in session.scalars(select(OpenDataset).where(OpenDataset.id.in_(page_ids)))}
        if page_ids
        else {}
    )
    return Result(total=total, datasets=[by_id[i] for i in page_ids], facets=facets)


def like_any(cols: Sequence[Any], text: str) -> ColumnElement[bool]:
    pattern = f"%{text}%"
    return or_(*[c.like(pattern) for c in cols])
