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
    false,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
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


def _tags(session: Session) -> Any:
    """The dataset's tags as a table (one row per tag, column ``value``)."""
    if _sqlite(session):
        return func.json_each(OpenDataset.tags).table_valued("value")
    return func.json_array_elements_text(OpenDataset.tags).table_valued("value").render_derived()


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


FACET_KEYS = ("org", "domain", "open_type", "update_cycle", "licence")


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

    One statement: the full-text match runs once (a materialised CTE) and one UNION ALL
    returns the total with every unfiltered facet (a single GROUP BY over the five facet
    columns), one small GROUP BY per facet that has an active filter, the tag counts,
    and the ids of the requested page in order. Only that page's rows are loaded.
    """
    filters = {k: [v for v in vs if v] for k, vs in (filters or {}).items()}
    unknown = [k for k in filters if k not in FACETS and k not in ("format", "tags")]
    if unknown:
        from gongshu.errors import ValidationFailed

        raise ValidationFailed(f"不支持的筛选字段：{'、'.join(unknown)}", code="bad_facet")
    q = (q or "").strip()[:100]
    found = _match(session, q) if q else None
    if q and found is None:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        found = select(OpenDataset.id.label("dataset_id"), literal(0.0).label("score")).where(
            OpenDataset.title.like(like, escape="\\")
        )
    m = found.cte("m").prefix_with("MATERIALIZED") if found is not None else None
    chosen = {k: list(v) for k, v in filters.items() if v}
    fmt_ok = all(f in DATA_FORMATS for f in chosen.get("format", ()))
    where: list[ColumnElement[bool]] = [OpenDataset.status == PUBLISHED, *extra]
    if m is not None:
        where.append(OpenDataset.id.in_(select(m.c.dataset_id)))

    def conds(skip: str | None = None) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        for k in FACET_KEYS:
            if k != skip and k in chosen:
                col = FACETS[k]
                out.append(cast(col, String).in_(chosen[k]) if k == "org" else col.in_(chosen[k]))
        if skip != "tags" and "tags" in chosen:
            tags = _tags(session)
            out.append(
                select(literal(1))
                .select_from(tags)
                .where(tags.c.value.in_(chosen["tags"]))
                .exists()
            )
        if skip != "format" and not fmt_ok:
            out.append(false())  # a format no dataset has
        return out

    wanted = list(FACETS) if facet_fields is None else [f for f in facet_fields if f in FACETS]
    want_tags = facet_fields is not None and "tags" in facet_fields
    cells = [cast(OpenDataset.org_id, String).label("f_org")] + [
        FACETS[k].label(f"f_{k}") for k in FACET_KEYS[1:]
    ]

    def nulls(first: Any) -> list[Any]:
        return [first.label("f_org")] + [
            literal(None, String).label(f"f_{k}") for k in FACET_KEYS[1:]
        ]

    parts: list[Any] = [
        select(literal("_combo").label("facet"), *cells, func.count().label("n"))
        .where(*where, *conds())
        .group_by(*(FACETS[k] for k in FACET_KEYS))
    ]
    for k in wanted:
        if k in chosen:
            col = cast(FACETS[k], String)
            parts.append(
                select(literal(k).label("facet"), *nulls(col), func.count().label("n"))
                .where(*where, *conds(k))
                .group_by(FACETS[k])
            )
    if want_tags:
        tags = _tags(session)
        parts.append(
            select(literal("tags").label("facet"), *nulls(tags.c.value), func.count().label("n"))
            .select_from(OpenDataset)
            .join(tags, true())
            .where(*where, *conds("tags"))
            .group_by(tags.c.value)
        )
    score: Any = literal(0.0)
    page_q = select(OpenDataset.id.label("id"))
    if m is not None:
        page_q = page_q.join(m, m.c.dataset_id == OpenDataset.id)
        score = m.c.score
    title, name = OpenDataset.title, OpenDataset.name
    if not _sqlite(session):
        # Code-point order on every database (SQLite's default already is).
        title, name = title.collate("C"), name.collate("C")
    if sort == "newest" or (sort == "relevance" and m is None):
        order = [OpenDataset.published_at.desc().nulls_last(), OpenDataset.id.desc()]
    elif sort == "popular":
        order = [(OpenDataset.downloads + OpenDataset.api_calls).desc(), OpenDataset.id.desc()]
    elif sort == "title":
        order = [title.asc(), OpenDataset.id.desc()]
    elif sort == "name":
        order = [name.asc(), OpenDataset.id.desc()]
    else:
        order = [score.asc(), OpenDataset.id.desc()]
    page = (
        page_q.add_columns(func.row_number().over(order_by=order).label("pos"))
        .where(*where, *conds())
        .order_by(*order)
        .offset(max(0, offset))
        .limit(max(0, limit))
        .subquery("page")
    )
    parts.append(
        select(literal("_page").label("facet"), *nulls(cast(page.c.id, String)), page.c.pos)
    )
    total = 0
    counts: dict[str, dict[str, int]] = {k: {} for k in wanted}
    tag_counts: dict[str, int] = {}
    positions: dict[int, int] = {}
    for row in session.execute(union_all(*parts)):
        facet, values, n = row[0], row[1:-1], int(row[-1])
        if facet == "_combo":
            total += n
            for k, v in zip(FACET_KEYS, values, strict=True):
                if k in counts and k not in chosen:
                    counts[k][str(v)] = counts[k].get(str(v), 0) + n
        elif facet == "_page":
            positions[int(values[0])] = n
        elif facet == "tags":
            tag_counts[str(values[0])] = n
        else:
            counts[facet][str(values[0])] = n
    facets: dict[str, list[FacetValue]] = {}
    for k, values in counts.items():
        facets[k] = sorted(
            (FacetValue(v, n, v in chosen.get(k, ())) for v, n in values.items()),
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
    page_ids = sorted(positions, key=positions.__getitem__)
    by_id = (
        {d.id: d for d in session.scalars(select(OpenDataset).where(OpenDataset.id.in_(page_ids)))}
        if page_ids
        else {}
    )
    return Result(total=total, datasets=[by_id[i] for i in page_ids], facets=facets)


def like_any(cols: Sequence[Any], text: str) -> ColumnElement[bool]:
    pattern = f"%{text}%"
    return or_(*[c.like(pattern) for c in cols])
