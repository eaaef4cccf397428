"""The search statement against a plain Python oracle on a generated catalog.

The fast path (one statement: materialised matches, a GROUP BY per facet, a top-N page;
on PostgreSQL GIN-only matching and a stored name vector) must give exactly what the
obvious computation gives: match each resource's index tokens in Python, apply
visibility and filters, count every facet without its own filter, rank name hits first
and page. Common words (most of the catalog), compound words, several words, queries
with nothing to tokenise, every kind of actor, single and combined filters, later pages.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongshu.auth.principal import Principal
from gongshu.catalog import search
from gongshu.catalog.demo import generate_large
from gongshu.catalog.models import Item, Resource
from gongshu.catalog.text import index_tokens, query_terms
from gongshu.config import Settings
from gongshu.demo import DemoContext
from gongshu.orgs import demo as orgs_demo

QUERIES = [
    "信息",  # in every name
    "统一社会信用代码",  # compound: all of its sub-words
    "经度",  # an item word in about half the catalog
    "登记",  # in ~7% of names and in the items of ~half the catalog: name hits first
    "企业 登记",
    "行政区划代码",
    "停车场 收费",
    "jc",  # resource codes
    "火星基地",  # nothing
    "、、",  # nothing to tokenise: substring match on name and code
    "JC-",
    None,  # browsing: newest first
]
FILTERS: list[dict[str, list[str]]] = [
    {},
    {"share_type": ["有条件共享"]},
    {"grade": ["L1", "L2"], "open_type": ["无条件开放"]},
    {"status": ["published"]},
    {"update_cycle": ["每日", "实时"], "domain": ["信用服务", "城乡建设", "不存在的领域"]},
]


@dataclass
class Doc:
    res: Resource
    name_tokens: frozenset[str]
    tokens: frozenset[str]


@pytest.fixture
def catalog(session: Session, settings: Settings) -> dict[str, Any]:
    ctx = DemoContext(session=session, settings=settings, console=Console(file=sys.stderr))
    orgs_demo.build(ctx)
    session.commit()
    generate_large(
        session, Principal.system("test"), ctx.shared["orgs"], target=160, rng=random.Random(3)
    )
    # Every status, and update times with ties (browsing breaks them by id).
    base = datetime(2026, 1, 1, tzinfo=UTC)
    statuses = ["draft", "submitted", "reviewed", "retired"]
    for res in session.scalars(select(Resource)):
        if res.id % 4 == 0:
            res.status = statuses[res.id % 5 % 4]
        res.updated_at = base + timedelta(minutes=res.id * 37 % 41)
    session.commit()
    items: dict[int, list[Item]] = {}
    for it in session.scalars(select(Item).order_by(Item.resource_id, Item.position)):
        items.setdefault(it.resource_id, []).append(it)
    docs = []
    for res in session.scalars(select(Resource)):
        d = search.doc_of(res, items.get(res.id, []))
        fields = search.doc_fields(d)
        name = frozenset(index_tokens(fields[0]).split())
        rest = frozenset(t for f in fields[1:] for t in index_tokens(f).split())
        docs.append(Doc(res, name, name | rest))
    orgs = sorted({d.res.owner_org_id for d in docs})
    return {"docs": docs, "items": items, "orgs": orgs}


def oracle(
    docs: list[Doc],
    items: dict[int, list[Item]],
    actor: Principal,
    q: str | None,
    filters: dict[str, list[str]],
    offset: int,
    limit: int,
) -> dict[str, Any]:
    def visible(r: Resource) -> bool:
        if actor.role in ("admin", "leader"):
            return True
        if actor.role == "officer":
            return r.owner_org_id == actor.org_id or r.status == "published"
        return r.status == "published"

    def value(r: Resource, key: str) -> str:
        return str(getattr(r, search.FACETS[key].key))

    rank: dict[int, int] = {}
    for d in docs:
        r = d.res
        if not visible(r):
            continue
        if q is None:
            rank[r.id] = 1
            continue
        terms = query_terms(q)
        if terms:
            if search._matches(terms, d.tokens):
                rank[r.id] = 0 if search._matches(terms, d.name_tokens) else 1
        elif q in r.name or q in r.code:
            rank[r.id] = 0
    by_id = {d.res.id: d.res for d in docs}

    def passes(r: Resource, skip: str | None = None) -> bool:
        return all(value(r, k) in vs for k, vs in filters.items() if k != skip and vs)

    hits = [by_id[i] for i in rank if passes(by_id[i])]
    if q is None:
        hits.sort(key=lambda r: (r.updated_at, r.id), reverse=True)
    else:
        hits.sort(key=lambda r: (rank[r.id], r.code))
    facets = {
        key: dict(Counter(value(by_id[i], key) for i in rank if passes(by_id[i], skip=key)))
        for key in search.FACETS
    }
    page = hits[offset : offset + limit]
    item_hits = {}
    terms = query_terms(q or "")
    for r in page if q else []:
        matched = []
        for it in items.get(r.id, []):
            text = f"{it.name} {it.column} {it.data_element or ''}"
            tokens = frozenset(index_tokens(text).split())
            if search._matches(terms, tokens) if terms else q.lower() in text.lower():
                matched.append(it)
        matched.sort(key=lambda i: (i.name != q, i.position))
        if matched:
            item_hits[r.id] = [i.id for i in matched[:5]]
    return {
        "total": len(hits),
        "page": [r.id for r in page],
        "facets": facets,
        "item_hits": item_hits,
    }


@pytest.mark.slow
def test_search_matches_the_oracle(session: Session, catalog: dict[str, Any]) -> None:
    docs, items, orgs = catalog["docs"], catalog["items"], catalog["orgs"]
    actors = [
        Principal(kind="user", id=None, name="a", role="admin"),
        Principal(kind="user", id=None, name="o", role="officer", org_id=orgs[1]),
        Principal(kind="user", id=None, name="c", role="consumer"),
    ]
    filter_sets = [*FILTERS, {"org": [str(orgs[1]), str(orgs[2])]}]
    checked = Counter[str]()
    for q in QUERIES:
        for actor in actors:
            for filters in filter_sets:
                for offset in (0, 7):
                    got = search.search(
                        session, actor, q=q, filters=filters, offset=offset, limit=7
                    )
                    want = oracle(docs, items, actor, q, filters, offset, 7)
                    where = (q, actor.role, filters, offset)
                    assert got.total == want["total"], where
                    assert [r.id for r in got.resources] == want["page"], where
                    assert {
                        k: {f.value: f.count for f in vs} for k, vs in got.facets.items()
                    } == want["facets"], where
                    assert {rid: [i.id for i in its] for rid, its in got.item_hits.items()} == want[
                        "item_hits"
                    ], where
                    for key, values in filters.items():
                        picked = {f.value for f in got.facets[key] if f.selected}
                        assert picked == set(values) & {f.value for f in got.facets[key]}
                    checked[
                        "many" if want["total"] > 40 else "some" if want["total"] else "none"
                    ] += 1
    # The catalog exercises big and small match sets as well as empty ones.
    assert checked["many"] > 20 and checked["some"] > 20 and checked["none"] > 5, checked
    # Without facets: the same page and total.
    fast = search.search(session, actors[0], q="信息", with_facets=False, limit=7)
    assert (
        fast.facets == {}
        and [r.id for r in fast.resources]
        == oracle(docs, items, actors[0], "信息", {}, 0, 7)["page"]
    )


ITEM_QUERIES = ["统一社会信用代码", "经度", "哪些资源有字段叫行政区划代码", "登记", "%", "火星基地"]


@pytest.mark.slow
def test_item_search_matches_the_oracle(session: Session, catalog: dict[str, Any]) -> None:
    docs, items, orgs = catalog["docs"], catalog["items"], catalog["orgs"]
    by_id = {d.res.id: d.res for d in docs}
    actors = [
        Principal(kind="user", id=None, name="a", role="admin"),
        Principal(kind="user", id=None, name="o", role="officer", org_id=orgs[1]),
    ]
    exact_names = sorted({it.name for its in items.values() for it in its})[:3]
    cases = [(q, False) for q in ITEM_QUERIES] + [(q, True) for q in [*exact_names, "zzz"]]
    sizes = Counter[bool]()
    for q, exact in cases:
        for actor in actors:
            terms = query_terms(q)
            want = []
            for rid, its in items.items():
                r = by_id[rid]
                if not (
                    actor.role == "admin"
                    or r.owner_org_id == actor.org_id
                    or r.status == "published"
                ):
                    continue
                for it in its:
                    text = f"{it.name} {it.column} {it.data_element or ''}"
                    if exact:
                        hit = q in (it.name, it.data_element, it.column) or it.column == q.lower()
                    elif terms:
                        hit = search._matches(terms, frozenset(index_tokens(text).split()))
                    else:
                        hit = q in it.name
                    if hit:
                        want.append((it.name != q, r.code, it.position, it.id))
            want.sort()
            sizes[bool(want)] += 1
            for offset in (0, 5, len(want) + 3):
                got = search.search_items(session, actor, q, exact=exact, offset=offset, limit=7)
                where = (q, exact, actor.role, offset)
                assert got.total == len(want), where
                assert [i.id for i, _ in got.rows] == [w[-1] for w in want[offset : offset + 7]]
                assert all(i.resource_id == r.id for i, r in got.rows), where
    assert sizes[True] >= 6 and sizes[False] >= 2, sizes
