"""The DuckDB-native row path (``opendata.native``) gives exactly what the Ibis path gives.

``service.read_rows`` runs parameterised SQL over the open view on DuckDB, with cached
totals and page indexes; ``native_sql=False`` forces the Ibis expressions it replaced
(and that Spark still runs). Both run here on the same tricky data — composite string +
integer keys, NULLs in every column, ties, a masked column, a row filter, text with
LIKE wildcards and quotes — and must return the same records, totals, fields, cursors
and errors. Caches must never outlive a load, and the page index must fall back to
plain OFFSET when keys are not unique.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gongshu.config import Settings
from gongshu.errors import AppError
from gongshu.opendata import native, service
from gongshu.opendata.config import open_settings
from gongshu.opendata.query import Cond
from gongshu.warehouse import shared as warehouse
from tests.factories import make_org
from tests.opendata.helpers import ADMIN, bus_resource, bus_rows, load, officer, proposal, publish

ITEMS: list[dict[str, Any]] = [
    {"name": "区域", "column": "region", "data_type": "字符串", "length": 4, "is_key": True},
    {"name": "序号", "column": "seq", "data_type": "整数", "is_key": True},
    {"name": "姓名", "column": "person", "data_type": "字符串", "length": 20},
    {"name": "数量", "column": "n", "data_type": "整数"},
    {"name": "金额", "column": "price", "data_type": "小数", "length": 10},
    {"name": "比例", "column": "ratio", "data_type": "小数", "length": 10},
    {"name": "日期", "column": "day", "data_type": "日期"},
    {"name": "时间", "column": "ts", "data_type": "日期时间"},
    {"name": "标志", "column": "flag", "data_type": "布尔"},
    {"name": "备注", "column": "note", "data_type": "长文本"},
]
ITEMS[2] |= {"is_sensitive": True, "masking": "name"}
NOTES = ["100%_done", 'it\'s "quoted"', "公交 线路", "", None, "a_b", "x%y", "公交"]


def tricky_rows() -> pa.Table:
    rng = np.random.default_rng(11)
    regions, seqs = np.meshgrid(np.array(["B", "A", "C"]), np.arange(1, 151))
    n = regions.size
    nulls = rng.random(n) < 0.15

    def nullable(values: list[Any]) -> list[Any]:
        return [None if nulls[i] and i % 3 else v for i, v in enumerate(values)]

    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return pa.table(
        {
            "region": pa.array(regions.ravel().tolist(), pa.string()),
            "seq": pa.array(seqs.ravel().tolist(), pa.int64()),
            "person": pa.array(nullable([f"张{i % 7}三" for i in range(n)]), pa.string()),
            "n": pa.array(nullable([int(x) for x in rng.integers(0, 6, n)]), pa.int64()),
            "price": pa.array(
                nullable([decimal.Decimal(int(x)) / 4 for x in rng.integers(0, 40, n)]),
                pa.decimal128(10, 2),
            ),
            "ratio": pa.array(nullable([round(float(x), 1) for x in rng.random(n)]), pa.float64()),
            "day": pa.array(
                nullable([dt.date(2020, 1, 1) + dt.timedelta(days=int(x) % 9) for x in range(n)]),
                pa.date32(),
            ),
            "ts": pa.array(
                nullable([base + dt.timedelta(hours=int(x)) for x in rng.integers(0, 30, n)]),
                pa.timestamp("us", tz="UTC"),
            ),
            "flag": pa.array(nullable([bool(x) for x in rng.integers(0, 2, n)]), pa.bool_()),
            "note": pa.array(nullable([NOTES[i % len(NOTES)] for i in range(n)]), pa.string()),
        }
    )


@pytest.fixture
def wh(settings: Settings) -> Any:
    native.clear_caches()
    return warehouse(settings.warehouse_url)


@pytest.fixture
def tricky(session: Session, wh: Any) -> service.Servable:
    org = make_org(session, "ZXJ", name="测试局")
    from tests.catalog.helpers import make_resource

    res = make_resource(
        session,
        org,
        publish=True,
        name="测试数据",
        domain="交通运输",
        share_type="无条件共享",
        open_type="无条件开放",
        grade="L1",
        items=ITEMS,
        update_cycle="每日",
    )
    load(wh, res.code, tricky_rows())
    ds = service.propose_dataset(
        session,
        officer(org),
        proposal(
            res,
            items=[{"column": i["column"], "masking": i.get("masking", "none")} for i in ITEMS],
            row_filter=[{"column": "seq", "op": "le", "value": 140}],
        ),
    )
    ds = service.review_dataset(session, ADMIN, ds.id, approve=True, wh=wh)
    return service.servable(session, ds)


CASES: list[dict[str, Any]] = [
    {},
    {"offset": 7, "limit": 13},
    {"offset": 95, "limit": 50},
    {"offset": 415, "limit": 10},  # the last page: fewer rows than asked
    {"offset": 999, "limit": 10},  # beyond the end
    {"sort": "n desc", "offset": 33, "limit": 20},
    {"sort": "n, price desc", "offset": 120, "limit": 40},
    {"sort": "-ts", "offset": 1, "limit": 5},
    {"sort": "note", "limit": 30},
    {"sort": "person desc, day", "offset": 200, "limit": 17},
    {"sort": "flag, region desc", "offset": 60, "limit": 25},
    {"conds": [Cond("n", "eq", 3)], "offset": 10, "limit": 10},
    {"conds": [Cond("n", "eq", None)], "limit": 50},
    {"conds": [Cond("n", "ne", None)], "offset": 5, "limit": 5},
    {"conds": [Cond("n", "ne", 2), Cond("region", "ne", "B")], "offset": 9, "limit": 30},
    {"conds": [Cond("seq", "lt", "17"), Cond("n", "le", 3)], "sort": "n", "offset": 4},
    {"conds": [Cond("n", "in", [1, "2", None])], "sort": "seq desc", "offset": 40},
    {"conds": [Cond("n", "in", "1,4")], "limit": 20},
    {"conds": [Cond("price", "ge", "4.5"), Cond("price", "lt", 8)], "offset": 3},
    {"conds": [Cond("ratio", "gt", 0.5)], "sort": "ratio", "offset": 12, "limit": 9},
    {"conds": [Cond("day", "le", "2020-01-04")], "sort": "day desc", "offset": 30},
    {"conds": [Cond("ts", "ge", "2024-01-01T12:00:00")], "sort": "ts", "offset": 8},
    {"conds": [Cond("ts", "lt", "2024-01-01T20:00:00+08:00")], "limit": 40},
    {"conds": [Cond("flag", "eq", "是")], "offset": 50, "limit": 25},
    {"conds": [Cond("flag", "eq", "false")], "limit": 25},
    {"conds": [Cond("note", "contains", "%_")], "limit": 50},
    {"conds": [Cond("note", "contains", "'s \"q")], "limit": 50},
    {"conds": [Cond("note", "eq", "")], "offset": 2, "limit": 50},
    {"conds": [Cond("note", "notnull")], "sort": "note desc", "offset": 44},
    {"conds": [Cond("person", "eq", "张**")], "limit": 50},  # the masked value
    {"conds": [Cond("person", "eq", "张3三")], "limit": 50},  # the raw value never matches
    {"conds": [Cond("person", "contains", "张")], "offset": 100, "limit": 5},
    {"conds": [Cond("seq", "contains", "1")], "sort": "seq", "offset": 20},
    {"conds": [Cond("region", "gt", "A"), Cond("seq", "le", 20)], "offset": 3},
    {"q": "公交", "offset": 10, "limit": 10},
    {"q": "公交 线路", "limit": 50},
    {"q": "%", "limit": 50},
    {"q": "zzz-no-match", "limit": 50},
    {"fields": ["seq", "note"], "sort": "n desc", "offset": 17, "limit": 11},
    {"fields": ["ts", "day", "price"], "offset": 400, "limit": 30},
    {"only": ["region", "seq", "n", "note"], "sort": "n", "offset": 30},
    {"with_total": False, "offset": 12},
]


def _both(wh: Any, sv: service.Servable, **kw: Any) -> tuple[Any, Any]:
    fast = service.read_rows(wh, sv, **kw)
    slow = service.read_rows(wh, sv, native_sql=False, **kw)
    return fast, slow


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_native_rows_equal_ibis_rows(
    wh: Any, tricky: service.Servable, case: dict[str, Any]
) -> None:
    for _ in range(2):  # the second round is served from the caches
        fast, slow = _both(wh, tricky, **case)
        assert fast.records == slow.records
        assert (fast.total, fast.fields, fast.next_cursor) == (
            slow.total,
            slow.fields,
            slow.next_cursor,
        )
    assert fast.total is None or fast.total <= 420


@pytest.mark.parametrize(
    "sort,conds",
    [(None, []), ("n desc, ts", []), ("price", [Cond("note", "notnull")])],
)
def test_cursor_walk_and_offset_pages_agree(
    wh: Any, tricky: service.Servable, sort: str | None, conds: list[Cond]
) -> None:
    """Keyset pages, offset pages and both engines list the same rows, once each."""
    walked: dict[bool, list[tuple[str, int]]] = {}
    for native_sql in (True, False):
        cursor, rows = None, []
        while True:
            page = service.read_rows(
                wh, tricky, sort=sort, conds=conds, limit=37, cursor=cursor, native_sql=native_sql
            )
            rows += [(r["region"], r["seq"]) for r in page.records]
            cursor = page.next_cursor
            if cursor is None:
                break
        walked[native_sql] = rows
    assert walked[True] == walked[False]
    assert len(set(walked[True])) == len(walked[True])
    by_offset: list[tuple[str, int]] = []
    for offset in range(0, 420, 37):
        page = service.read_rows(wh, tricky, sort=sort, conds=conds, limit=37, offset=offset)
        by_offset += [(r["region"], r["seq"]) for r in page.records]
    assert by_offset == walked[True]


@pytest.mark.parametrize(
    "kw",
    [
        {"conds": [Cond("nope", "eq", 1)]},
        {"conds": [Cond("n", "eq", "x")]},
        {"conds": [Cond("day", "ge", "not a date")]},
        {"conds": [Cond("n", "between", 1)]},
        {"conds": [Cond("n", "in", list(range(201)))]},
        {"conds": [Cond("n", "in", [])]},
        {"sort": "nope desc"},
        {"fields": ["seq", "nope"]},
        {"cursor": "!!"},
        {"cursor": "WzFd"},  # [1]: wrong length for the order
        {"only": ["seq"], "conds": [Cond("n", "eq", 1)]},
    ],
)
def test_errors_are_the_same(wh: Any, tricky: service.Servable, kw: dict[str, Any]) -> None:
    errors = []
    for native_sql in (True, False):
        with pytest.raises(AppError) as exc:
            service.read_rows(wh, tricky, native_sql=native_sql, **kw)
        errors.append((type(exc.value), exc.value.code, exc.value.message))
    assert errors[0] == errors[1]


def test_caches_never_outlive_a_load(session: Session, wh: Any) -> None:
    """Totals and page indexes are keyed on the table's data version: the request after a
    publish sees the new rows, with no hook and no other signal."""
    org = make_org(session, "JTJ", name="交通局")
    res = bus_resource(session, org)
    load(wh, res.code, bus_rows(300))
    ds = publish(session, wh, org, res)
    sv = service.servable(session, ds)
    fare2 = [Cond("fare", "eq", 2.0)]
    before = service.read_rows(wh, sv, conds=fare2, sort="stops desc", offset=20, limit=10)
    assert before.total and before.total < 300
    # Replace the rows (fares all 2.0 now, 500 of them) and read again at once.
    rows = bus_rows(500, seed=3)
    rows = rows.set_column(3, "fare", pa.array([2.0] * 500))
    load(wh, res.code, rows, load_id=2)
    after = service.read_rows(wh, sv, conds=fare2, sort="stops desc", offset=20, limit=10)
    assert after.total == 500
    slow = service.read_rows(
        wh, sv, conds=fare2, sort="stops desc", offset=20, limit=10, native_sql=False
    )
    assert after.records == slow.records


SINGLE_KEY_CASES: list[dict[str, Any]] = [
    {"offset": 1, "limit": 10},
    {"offset": 137, "limit": 50},
    {"offset": 290, "limit": 50},
    {"sort": "line_id", "offset": 40},
    {"sort": "line_id desc", "offset": 40},
    {"conds": [Cond("fare", "eq", 2.0)], "offset": 31, "limit": 17},
    {"conds": [Cond("stops", "ge", 30)], "sort": "stops desc", "offset": 9, "limit": 30},
    {"q": "1", "offset": 20, "limit": 20},
]


@pytest.mark.parametrize(
    "case", SINGLE_KEY_CASES, ids=[str(i) for i in range(len(SINGLE_KEY_CASES))]
)
def test_single_key_pages(session: Session, wh: Any, case: dict[str, Any]) -> None:
    """One integer key: key-ordered pages are read as a key range, others by key join."""
    org = make_org(session, "JTJ", name="交通局")
    res = bus_resource(session, org)
    rows = bus_rows(300)
    # Stored out of key order, as an incremental load may leave them.
    load(wh, res.code, pa.concat_tables([rows.slice(150), rows.slice(0, 150)]))
    sv = service.servable(session, publish(session, wh, org, res))
    for _ in range(2):
        fast, slow = _both(wh, sv, **case)
        assert fast.records == slow.records
        assert (fast.total, fast.next_cursor) == (slow.total, slow.next_cursor)


@pytest.mark.parametrize("sort", [None, "line_id", "line_id desc", "stops"])
def test_duplicate_or_null_keys_fall_back_to_offset(
    session: Session, wh: Any, sort: str | None
) -> None:
    """Keys are meant to be unique and present, but a load may break that: pages stay
    correct (the page index is dropped for that shape)."""
    org = make_org(session, "JTJ", name="交通局")
    res = bus_resource(session, org)
    rows = bus_rows(120)
    dup = rows.slice(0, 30)  # line_id 1..30 twice, identical rows
    nulls = rows.slice(100, 5).set_column(0, "line_id", pa.nulls(5, pa.int64()))
    nulls = nulls.set_column(2, "stops", pa.array(range(1000, 1005), pa.int64()))  # no ties
    load(wh, res.code, pa.concat_tables([rows, dup, nulls]))
    sv = service.servable(session, publish(session, wh, org, res))
    for offset in (0, 10, 25, 100, 140, 150):
        fast, slow = _both(wh, sv, offset=offset, limit=20, sort=sort)
        assert fast.records == slow.records and fast.total == slow.total == 155


def test_without_page_index_budget(
    monkeypatch: pytest.MonkeyPatch, wh: Any, tricky: service.Servable
) -> None:
    monkeypatch.setenv("GONGSHU_OPEN_PAGE_INDEX_MB", "0")
    open_settings.cache_clear()
    native.clear_caches()
    try:
        for case in CASES[:12]:
            fast, slow = _both(wh, tricky, **case)
            assert fast.records == slow.records and fast.total == slow.total
    finally:
        monkeypatch.undo()
        open_settings.cache_clear()
        native.clear_caches()


def test_governance_is_checked_on_the_request_after_a_change(
    client: TestClient, session: Session, wh: Any
) -> None:
    """Warm every cache, then withdraw / re-grade: the very next read refuses."""
    from gongshu.catalog import service as catalog

    org = make_org(session, "JTJ", name="交通局")
    res = bus_resource(session, org)
    load(wh, res.code, bus_rows(200))
    ds = publish(session, wh, org, res)
    url = "/api/3/action/datastore_search"
    params = {"resource_id": f"{ds.name}-csv", "offset": 50, "limit": 5, "sort": "stops desc"}
    for _ in range(2):
        assert client.get(url, params=params).status_code == 200
    # 1. The dataset's items change (back to review, then approved without "driver").
    service.update_dataset(
        session,
        officer(org),
        ds.id,
        proposal(res, items=[{"column": "line_id"}, {"column": "stops"}]),
    )
    assert client.get(url, params=params).status_code == 404
    service.review_dataset(session, ADMIN, ds.id, approve=True, wh=wh)
    body = client.get(url, params=params).json()["result"]
    assert [f["id"] for f in body["fields"]] == ["_id", "line_id", "stops"]
    # 2. Withdrawn: the next read is refused.
    service.withdraw_dataset(session, officer(org), ds.id, "数据有误")
    assert client.get(url, params=params).status_code == 404
    # 3. Re-published, cached again, then the catalog re-grades the resource L4.
    ds = publish(session, wh, org, res, title="公交线路（重新开放）")
    params["resource_id"] = f"{ds.name}-csv"
    assert client.get(url, params=params).status_code == 200
    data = catalog.to_input(session, catalog.get_resource(session, ADMIN, res.id))
    data = type(data).model_validate(
        data.model_dump() | {"grade": "L4", "open_type": "不予开放", "open_reason": "涉密"}
    )
    catalog.update_resource(session, officer(org), res.id, data)
    catalog.submit_resource(session, officer(org), res.id)
    catalog.approve_resource(session, ADMIN, res.id, publish=True)
    assert client.get(url, params=params).status_code == 404
    session.expire_all()
    assert service.get_managed(session, ADMIN, ds.id).status == "suspended"
