"""Full-text search over resources and items, with facets.

Two index tables hold jieba tokens (see ``text.py``); they are created by the migrations
per dialect and are deliberately outside ``Base.metadata``:

- SQLite: FTS5 virtual tables ``catalog_search(name, summary, items)`` keyed by
  ``rowid`` = resource id, and ``catalog_item_search(resource_id UNINDEXED, text)`` keyed
  by ``rowid`` = item id.
- PostgreSQL: plain tables with generated ``tsvector`` columns (``tsv`` for the whole
  document, ``name_tsv`` for the name) and GIN indexes. The vectors have no planner
  statistics (migration 0008), so matching always reads the GIN index.

Name hits rank first, then by code (no ``ts_rank``/bm25 over thousands of matches).
Facets are grouped counts over the matching, visible set, each computed without its own
filter (so a user can widen a facet). Facets, the total and the page's ids come back from
one statement: the matches and the visible matching resources are materialised once,
then every part is a small query over them.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    case,
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

from gongshu.auth.principal import CITYWIDE_READERS, Principal, Role
from gongshu.catalog.models import Item, Resource
from gongshu.catalog.text import fts5_query, index_tokens, query_terms, ts_query
from gongshu.catalog.vocab import Status

FACETS: dict[str, Any] = {
    "org": Resource.owner_org_id,
    "domain": Resource.domain,
    "share_type": Resource.share_type,
    "open_type": Resource.open_type,
    "grade": Resource.grade,
    "update_cycle": Resource.update_cycle,
    "status": Resource.status,
}
# Facets with a handful of values each (their combinations are few).
COMBINED = ("share_type", "open_type", "grade", "update_cycle", "status")
FACET_LABELS = {
    "org": "提供部门",
    "domain": "所属领域",
    "share_type": "共享类型",
    "open_type": "开放类型",
    "grade": "分级",
    "update_cycle": "更新周期",
    "status": "状态",
}

# Index tables: outside Base.metadata so Alembic's comparison never sees them.
_index_md = MetaData()
resource_index = Table(
    "catalog_search",
    _index_md,
    Column("rowid", Integer),  # SQLite; PostgreSQL uses resource_id
    Column("resource_id", Integer),
    Column("name", String),
    Column("summary", String),
    Column("items", String),
)
item_index = Table(
    "catalog_item_search",
    _index_md,
    Column("rowid", Integer),
    Column("item_id", Integer),
    Column("resource_id", Integer),
    Column("text", String),
)


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


# ---- index maintenance -------------------------------------------------------------


@dataclass
class Doc:
    """What the index needs of a resource: plain values, so bulk loads skip the ORM."""

    id: int
    code: str
    name: str
    summary: str
    keywords: str | None
    items: list[tuple[int, str, str, str | None]]  # (item id, name, column, data element)


def doc_of(res: Resource, items: Sequence[Item]) -> Doc:
    return Doc(
        res.id,
        res.code,
        res.name,
        res.summary,
        res.keywords,
        [(i.id, i.name, i.column, i.data_element) for i in items],
    )


def doc_fields(d: Doc) -> tuple[str, str, str]:
    """The indexed text of a resource: name; summary, keywords and code; its items."""
    items = " ".join(f"{name} {col} {de or ''}" for _, name, col, de in d.items)
    return d.name, f"{d.summary} {d.keywords or ''} {d.code}", items


def unindex(session: Session, resource_ids: Iterable[int], item_ids: Iterable[int]) -> None:
    rids, iids = list(resource_ids), list(item_ids)
    sqlite = _is_sqlite(session)
    rkey = resource_index.c.rowid if sqlite else resource_index.c.resource_id
    ikey = item_index.c.rowid if sqlite else item_index.c.item_id
    for chunk in _chunks(rids):
        session.execute(delete(resource_index).where(rkey.in_(chunk)))
    for chunk in _chunks(iids):
        session.execute(delete(item_index).where(ikey.in_(chunk)))


def index(session: Session, docs: Iterable[Doc]) -> None:
    """Insert index rows for resources (and their items) that are not indexed yet."""
    sqlite = _is_sqlite(session)
    rkey, ikey = ("rowid", "rowid") if sqlite else ("resource_id", "item_id")
    rows: list[dict[str, Any]] = []
    item_rows: list[dict[str, Any]] = []
    for d in docs:
        name, summary, item_text = doc_fields(d)
        rows.append(
            {
                rkey: d.id,
                "name": index_tokens(name),
                "summary": index_tokens(summary),
                "items": index_tokens(item_text),
            }
        )
        for iid, name, col, de in d.items:
            text = index_tokens(f"{name} {col} {de or ''}")
            item_rows.append({ikey: iid, "resource_id": d.id, "text": text})
    for chunk in _chunks(rows, 2000):
        session.execute(insert(resource_index), chunk)
    for chunk in _chunks(item_rows, 5000):
        session.execute(insert(item_index), chunk)


def _chunks(seq: Sequence[Any], n: int = 900) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def rebuild(session: Session) -> int:
    """Re-create the whole index from the catalog tables (``gongshu catalog reindex``)."""
    session.execute(delete(resource_index))
    session.execute(delete(item_index))
    count = 0
    last = 0
    while True:
        batch = list(
            session.scalars(
                select(Resource).where(Resource.id > last).order_by(Resource.id).limit(500)
            )
        )
        if not batch:
            break
        ids = [r.id for r in batch]
        items: dict[int, list[Item]] = {i: [] for i in ids}
        for it in session.scalars(
            select(Item).where(Item.resource_id.in_(ids)).order_by(Item.resource_id, Item.position)
        ):
            items[it.resource_id].append(it)
        index(session, [doc_of(r, items[r.id]) for r in batch])
        count += len(batch)
        last = ids[-1]
        session.expunge_all()
    return count


# ---- querying ----------------------------------------------------------------------


def visibility(actor: Principal) -> ColumnElement[bool]:
    """Admins and leaders see everything; officers their org plus the published catalog
    (目录公开); other signed-in roles the published catalog; the public nothing here."""
    if actor.role in CITYWIDE_READERS:
        return true()
    published = Resource.status == Status.published
    if actor.role == Role.officer and actor.org_id is not None:
        return or_(Resource.owner_org_id == actor.org_id, published)
    if actor.role == Role.public or not actor.is_authenticated:
        return false()
    return published


def _materialized(session: Session) -> bool:
    # ``AS MATERIALIZED`` needs SQLite 3.35; older ones materialise a CTE used twice anyway.
    return not _is_sqlite(session) or sqlite3.sqlite_version_info >= (3, 35)


def _match(session: Session, q: str) -> Select[Any] | None:
    """``(rid, in_name)`` of the resources matching ``q``; ``in_name``: in their name.

    Results rank name hits first, then by code: bm25/ts_rank over the thousands of
    matches of a common word cost more than all the rest of a search, and in a catalog
    a match in the resource name is what people mean first.
    """
    terms = query_terms(q)
    if not terms:
        return None
    if _is_sqlite(session):
        expr = fts5_query(terms)
        table = literal_column("catalog_search")
        in_name = select(resource_index.c.rowid).where(table.op("MATCH")("{name} : (" + expr + ")"))
        return select(
            resource_index.c.rowid.label("rid"),
            resource_index.c.rowid.in_(in_name).label("in_name"),
        ).where(table.op("MATCH")(expr))
    # Both vectors have no planner statistics (migration 0008), so PostgreSQL always reads
    # their GIN indexes: a sequential scan would de-TOAST every document's vector.
    tsq = func.to_tsquery(literal_column("'simple'"), ts_query(terms))
    in_name = select(resource_index.c.resource_id).where(
        literal_column("catalog_search.name_tsv").op("@@")(tsq)
    )
    return select(
        resource_index.c.resource_id.label("rid"),
        resource_index.c.resource_id.in_(in_name).label("in_name"),
    ).where(literal_column("catalog_search.tsv").op("@@")(tsq))


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass
class FacetValue:
    value: str
    count: int
    selected: bool


@dataclass
class SearchResult:
    total: int
    resources: list[Resource]
    facets: dict[str, list[FacetValue]]
    item_hits: dict[int, list[Item]] = field(default_factory=dict)
    took_ms: float = 0.0


def search(
    session: Session,
    actor: Principal,
    *,
    q: str | None = None,
    filters: dict[str, list[str]] | None = None,
    offset: int = 0,
    limit: int = 20,
    with_facets: bool = True,
) -> SearchResult:
    """One statement: the visible matching resources are materialised once (narrow rows
    from the covering facet index), then each facet is a small GROUP BY over them without
    its own filter, the total a count with every filter, and the page a top-N sort."""
    started = time.perf_counter()
    filters = {k: [v for v in vs if v] for k, vs in (filters or {}).items() if k in FACETS}
    filters = {k: vs for k, vs in filters.items() if vs}
    q = (q or "").strip()[:100]
    matched = _match(session, q) if q else None
    if q and matched is None:
        # Nothing to tokenise (punctuation, a single stop word): plain substring match.
        pattern = _like(q)
        matched = select(Resource.id.label("rid"), true().label("in_name")).where(
            or_(
                Resource.name.like(pattern, escape="\\"),
                Resource.code.like(pattern, escape="\\"),
            )
        )
    keys = list(FACETS)
    facet_cols = [FACETS[k].label(f"f_{k}") for k in keys]
    if matched is not None:
        m = matched.cte("m")
        if _materialized(session):
            m = m.prefix_with("MATERIALIZED")
        rank = case((m.c.in_name, 0), else_=1).label("rank")
        # From the (few thousand) matches into the resources by primary key.
        base = select(Resource.id.label("id"), Resource.code.label("code"), rank, *facet_cols)
        base = base.join(m, m.c.rid == Resource.id)
    else:
        # Browsing counts every visible resource: read the narrow covering index of the
        # facet columns, not the wide rows (the page comes from the updated_at index).
        base = select(*facet_cols).with_hint(
            Resource, "INDEXED BY ix_catalog_resource_facets", "sqlite"
        )
    r = base.where(visibility(actor)).cte("r")
    if _materialized(session):
        r = r.prefix_with("MATERIALIZED")

    def conds(skip: str | None = None, src: Any = None) -> list[ColumnElement[bool]]:
        out = []
        for key, values in filters.items():
            if key != skip:
                col = r.c[f"f_{key}"] if src is None else FACETS[key]
                out.append(cast(col, String).in_(values) if key == "org" else col.in_(values))
        return out

    # Facets of few values without an active filter share one GROUP BY of their
    # combinations (dozens of rows, summed here; the total is their sum): each GROUP BY
    # sorts every matching row, and SQLite has no GROUPING SETS. The rest (org, domain,
    # facets with an active filter, counted without it) get one GROUP BY each.
    combo = [k for k in COMBINED if k not in filters] if with_facets else []
    if len(combo) < 2:
        combo = []
    width = len(COMBINED)

    def row(facet: str, values: list[Any], n: Any) -> Select[Any]:
        cells = [cast(v, String) for v in values]
        cells += [literal(None, String)] * (width - len(cells))
        return select(literal(facet), *cells, n)

    parts: list[Select[Any]] = []
    if combo:
        ccols = [r.c[f"f_{k}"] for k in combo]
        parts.append(row("_combo", ccols, func.count()).where(*conds()).group_by(*ccols))
    else:
        parts.append(row("_total", [], func.count()).select_from(r).where(*conds()))
    if with_facets:
        for key in keys:
            if key not in combo:
                col = r.c[f"f_{key}"]
                parts.append(row(key, [col], func.count()).where(*conds(key)).group_by(col))
    if matched is not None:
        page_q = select(r.c.id, r.c.rank).where(*conds()).order_by(r.c.rank, r.c.code)
    else:
        page_q = (
            select(Resource.id.label("id"), literal(1).label("rank"))
            .where(visibility(actor), *conds(src=Resource))
            .order_by(Resource.updated_at.desc(), Resource.id.desc())
        )
    page = page_q.offset(offset).limit(limit).subquery("page")
    parts.append(row("_page", [page.c.id], page.c.rank))
    total = 0
    ranks: dict[int, int] = {}
    counters: dict[str, dict[str, int]] = {k: {} for k in keys}
    for facet, *values, n in session.execute(union_all(*parts)):
        if facet == "_combo":
            total += n
            for k, v in zip(combo, values, strict=False):
                counters[k][v] = counters[k].get(v, 0) + n
        elif facet == "_total":
            total = int(n)
        elif facet == "_page":
            ranks[int(values[0])] = int(n)
        else:
            counters[facet][str(values[0])] = int(n)
    facets: dict[str, list[FacetValue]] = {}
    if with_facets:
        for k in keys:
            picked = filters.get(k, [])
            facets[k] = sorted(
                (FacetValue(v, n, v in picked) for v, n in counters[k].items()),
                key=lambda f: (-f.count, f.value),
            )
    loaded = (
        list(session.scalars(select(Resource).where(Resource.id.in_(list(ranks))))) if ranks else []
    )
    if matched is not None:
        resources = sorted(loaded, key=lambda r: (ranks[r.id], r.code))
    else:
        resources = sorted(loaded, key=lambda r: (r.updated_at, r.id), reverse=True)
    hits = item_hits(session, q, [r.id for r in resources]) if q and resources else {}
    return SearchResult(
        total=total,
        resources=resources,
        facets=facets,
        item_hits=hits,
        took_ms=(time.perf_counter() - started) * 1000,
    )


def _item_match(session: Session, q: str) -> Select[Any] | None:
    terms = query_terms(q)
    if not terms:
        return None
    if _is_sqlite(session):
        return select(item_index.c.rowid.label("item_id")).where(
            literal_column("catalog_item_search").op("MATCH")(fts5_query(terms))
        )
    tsq = func.to_tsquery(literal_column("'simple'"), ts_query(terms))
    return select(item_index.c.item_id.label("item_id")).where(
        literal_column("catalog_item_search.tsv").op("@@")(tsq)
    )


def _matches(
    terms: tuple[tuple[str, tuple[str, ...]], ...], tokens: frozenset[str] | set[str]
) -> bool:
    for op, toks in terms:
        if op == "=" and toks[0] not in tokens:
            return False
        if op == "&" and not all(t in tokens for t in toks):
            return False
        if op == "|" and toks[0] not in tokens and not all(t in tokens for t in toks[1:]):
            return False
    return True


@lru_cache(maxsize=200_000)
def _token_set(text: str) -> frozenset[str]:
    return frozenset(index_tokens(text).split())


def item_hits(
    session: Session, q: str, resource_ids: list[int], per: int = 5
) -> dict[int, list[Item]]:
    """The items of these (page) resources whose name/column/data element matches ``q``.

    A page holds a few hundred items: matching their cached tokens here is cheaper than
    another full-text query over every item in the city. Only the hits become ORM
    objects (building hundreds of them cost more than the whole search statement).
    """
    terms = query_terms(q)
    if not resource_ids:
        return {}
    needle = q.strip().lower()
    found: dict[int, list[tuple[bool, int, int]]] = {}
    stmt = select(
        Item.id, Item.resource_id, Item.position, Item.name, Item.column, Item.data_element
    ).where(Item.resource_id.in_(resource_ids))
    for iid, rid, pos, name, column, element in session.execute(stmt):
        text = f"{name} {column} {element or ''}"
        if _matches(terms, _token_set(text)) if terms else needle in text.lower():
            found.setdefault(rid, []).append((name != q.strip(), pos, iid))
    keep = {rid: [iid for *_, iid in sorted(hits)[:per]] for rid, hits in found.items()}
    wanted = [iid for ids in keep.values() for iid in ids]
    if not wanted:
        return {}
    items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(wanted)))}
    return {rid: [items[i] for i in ids] for rid, ids in keep.items()}


@dataclass
class ItemSearchResult:
    total: int
    rows: list[tuple[Item, Resource]]
    took_ms: float


def search_items(
    session: Session,
    actor: Principal,
    q: str,
    *,
    exact: bool = False,
    offset: int = 0,
    limit: int = 50,
) -> ItemSearchResult:
    """Item-level hits: "which resources have a field called 统一社会信用代码?".

    One statement pages narrow id rows and counts them all (a window count); only the
    page's items and resources are loaded as objects.
    """
    started = time.perf_counter()
    q = q.strip()[:100]
    base = select(Item.id, Item.resource_id, func.count().over().label("total")).join(
        Resource, Resource.id == Item.resource_id
    )
    where: list[ColumnElement[bool]] = [visibility(actor)]
    if exact:
        where.append(or_(Item.name == q, Item.data_element == q, Item.column == q.lower()))
    else:
        matched = _item_match(session, q)
        if matched is None:
            where.append(Item.name.like(_like(q), escape="\\"))
        else:
            sub = matched.subquery("im")
            base = base.join(sub, sub.c.item_id == Item.id)
    stmt = base.where(*where)
    page = session.execute(
        stmt.order_by((Item.name == q).desc(), Resource.code, Item.position)
        .offset(offset)
        .limit(limit)
    ).all()
    if page:
        total = int(page[0].total)
    elif offset:  # past the end: no row brought the window count
        total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    else:
        total = 0
    rows: list[tuple[Item, Resource]] = []
    if page:
        iids, rids = [p[0] for p in page], {p[1] for p in page}
        items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(iids)))}
        res = {r.id: r for r in session.scalars(select(Resource).where(Resource.id.in_(rids)))}
        rows = [(items[iid], res[rid]) for iid, rid, _ in page]
    return ItemSearchResult(total=total, rows=rows, took_ms=(time.perf_counter() - started) * 1000)
