"""Portal search in SQL gives what the previous all-in-Python search gave.

``search.search`` now counts facets, totals and the page in one UNION ALL statement. The
reference below is the earlier implementation (load every published match, filter and
count in Python), kept as the oracle: on varied datasets (ties in titles, dates and
popularity, several tags, every facet, full text and the LIKE fallback) both must give
the same total, the same page in the same order and the same facet counts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import String, cast, literal, select
from sqlalchemy.orm import Session

from gongshu.catalog import service as catalog
from gongshu.opendata import search
from gongshu.opendata.models import OpenDataset
from tests.factories import make_org
from tests.opendata.helpers import BUS_ITEMS, bus_resource

pytestmark = pytest.mark.controlplane

WORDS = ["公交", "空气质量", "学校", "停车场", "图书馆"]
DOMAINS = ["交通运输", "资源环境", "教育文化"]
CYCLES = ["每日", "每月", "每年"]
LICENCES = ["CC-BY-4.0", "CC0-1.0"]


def reference(
    session: Session,
    *,
    q: str | None = None,
    filters: dict[str, list[str]] | None = None,
    sort: str = "relevance",
    offset: int = 0,
    limit: int = 20,
    facet_fields: list[str] | None = None,
) -> search.Result:
    """The previous implementation of ``search.search`` (Python filtering and counting)."""
    filters = {k: [v for v in vs if v] for k, vs in (filters or {}).items()}
    q = (q or "").strip()[:100]
    matched = search._match(session, q) if q else None
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
    rows = session.execute(stmt.where(OpenDataset.status == "published")).all()
    keys = ("org", "domain", "open_type", "update_cycle", "licence")
    chosen = {k: set(v) for k, v in filters.items() if v}
    fmt_ok = all(f in search.DATA_FORMATS for f in chosen.get("format", ()))

    def passes(r: Any, skip: str | None) -> bool:
        for i, k in enumerate(keys, 1):
            if k != skip and k in chosen and r[i] not in chosen[k]:
                return False
        if skip != "tags" and "tags" in chosen and not chosen["tags"] & set(r[6] or ()):
            return False
        return skip == "format" or fmt_ok

    wanted = (
        list(search.FACETS)
        if facet_fields is None
        else [f for f in facet_fields if f in search.FACETS]
    )
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
    facets: dict[str, list[search.FacetValue]] = {}
    for k, values in counts.items():
        facets[k] = sorted(
            (search.FacetValue(str(v), n, str(v) in chosen.get(k, ())) for v, n in values.items()),
            key=lambda f: (-f.count, f.value),
        )
    if tag_counts:
        facets["tags"] = sorted(
            (search.FacetValue(t, n, t in chosen.get("tags", ())) for t, n in tag_counts.items()),
            key=lambda f: (-f.count, f.value),
        )
    if facet_fields is None or "format" in facet_fields:
        facets["format"] = [
            search.FacetValue(f, total if fmt_ok else 0, f in chosen.get("format", ()))
            for f in search.DATA_FORMATS
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
    by_id = {
        d.id: d for d in session.scalars(select(OpenDataset).where(OpenDataset.id.in_(page_ids)))
    }
    return search.Result(total=total, datasets=[by_id[i] for i in page_ids], facets=facets)


@pytest.fixture
def many(session: Session) -> dict[str, Any]:
    orgs = [make_org(session, code, name=f"部门{code}") for code in ("JTJ", "HBJ", "JYJ")]
    res = bus_resource(session, orgs[0])
    now = datetime(2026, 1, 1, tzinfo=UTC)
    batch = []
    for i in range(60):
        w1, w2 = WORDS[i % 5], WORDS[(i * 3 + 1) % 5]
        batch.append(
            OpenDataset(
                name=f"ds-{i:03d}",
                resource_id=res.id,
                org_id=orgs[i % 3].id,
                title=f"{w1}{w2}数据" if i % 4 else f"{w1}数据",  # duplicate titles
                description=f"{w1}与{w2}相关的开放数据 100%_ok",
                domain=DOMAINS[i % 3],
                tags=[WORDS[i % 5], WORDS[i % 2]] if i % 5 else [],
                items=BUS_ITEMS[:2],
                row_filter=[],
                licence=LICENCES[i % 2],
                update_cycle=CYCLES[(i // 2) % 3],
                contact="x",
                open_type="无条件开放" if i % 7 else "受限开放",
                status="published" if i % 11 else "withdrawn",
                proposed_by="t",
                published_at=now - timedelta(days=i // 3) if i % 13 else None,
                row_count=i,
                downloads=i % 4,
                api_calls=(i * 7) % 5,
            )
        )
    session.add_all(batch)
    session.flush()
    search.index(session, [d for d in batch if d.status == "published"], catalog.org_names(session))
    session.commit()
    return {"orgs": [str(o.id) for o in orgs]}


def _cases(orgs: list[str]) -> list[dict[str, Any]]:
    all_facets = ["org", "domain", "format", "tags", "open_type", "update_cycle", "licence"]
    return [
        {},
        {"limit": 0, "facet_fields": ["domain"]},
        {"sort": "newest", "limit": 7, "offset": 3},
        {"sort": "popular", "limit": 50},
        {"sort": "title", "limit": 60},
        {"sort": "name", "offset": 10},
        {"sort": "something-else", "limit": 60},
        {"q": "公交", "facet_fields": all_facets},
        {"q": "公交 学校", "sort": "relevance", "limit": 60},
        {"q": "空气质量", "sort": "newest", "facet_fields": ["tags"], "offset": 2},
        {"q": "%_ok", "limit": 60},  # tokenises to nothing searchable: LIKE on titles
        {"q": "%", "limit": 60},
        {
            "q": "图书馆",
            "filters": {"domain": ["交通运输", "教育文化"]},
            "facet_fields": all_facets,
        },
        {"filters": {"org": [orgs[0]], "licence": ["CC0-1.0"]}, "facet_fields": all_facets},
        {"filters": {"org": [orgs[1], orgs[2]], "update_cycle": ["每月"]}, "sort": "title"},
        {"filters": {"tags": ["公交"]}, "facet_fields": ["tags", "org"], "limit": 60},
        {
            "filters": {"tags": ["学校", "停车场"], "open_type": ["受限开放"]},
            "facet_fields": all_facets,
        },
        {"filters": {"format": ["CSV"]}, "facet_fields": ["format", "domain"]},
        {"filters": {"format": ["DOCX"]}, "facet_fields": all_facets},
        {"filters": {"format": ["API", "Parquet"], "domain": ["资源环境"]}, "sort": "popular"},
        {"filters": {"domain": [""]}, "limit": 5},
        {"q": "停车场", "filters": {"tags": ["空气质量"]}, "facet_fields": None, "limit": 60},
    ]


def _flat(res: search.Result) -> tuple[Any, ...]:
    facets = {k: [(f.value, f.count, f.selected) for f in v] for k, v in sorted(res.facets.items())}
    return res.total, [d.id for d in res.datasets], facets


def test_sql_search_equals_the_python_reference(session: Session, many: dict[str, Any]) -> None:
    for case in _cases(many["orgs"]):
        got = search.search(session, **case)
        want = reference(session, **case)
        assert _flat(got) == _flat(want), case


def test_unknown_filter_is_refused(session: Session) -> None:
    from gongshu.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        search.search(session, filters={"colour": ["red"]})
