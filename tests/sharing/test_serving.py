"""Serving replicas give exactly the warehouse's answers and never outlive a publish.

Compared with the DuckDB path on tricky data (duplicate and NULL keys, prefix keys,
missing keys, NULL values, dates, timestamps, decimals, floats, booleans, binary),
directly and through the gateway (masking, row filter, ``fields``); then staleness (a
publish is seen by the next call), rebuild and file cleanup, and the settings switch.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gongshu.config import Settings
from gongshu.sharing import service, serving, synth, warehouse_access
from gongshu.sharing.gateway import Runtime
from gongshu.sharing.models import Grant
from gongshu.sharing.schemas import RowFilter, Terms
from gongshu.warehouse import shared as shared_warehouse
from gongshu.warehouse import table_name_for
from tests.sharing.helpers import build_world, consumer_key, grant_person, publish_interface

ID_A, ID_B, ID_C, MISSING = synth.persons(4, seed=3).column("gmsfhm").to_pylist()


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def tricky_persons() -> pa.Table:
    """Person-shaped rows with duplicate, NULL and prefix keys, NULL values, and columns
    of every canonical type under the ungranted/unmasked names."""
    keys = [ID_A, ID_B, ID_A, None, ID_A[:-1], ID_C, ID_A, "", "é" * 9, ID_B]
    n = len(keys)
    return pa.table(
        {
            "gmsfhm": pa.array(keys, pa.string()),
            "xm": pa.array(["张三", "李四", None, "王五", "赵六", "钱七", "孙八", "周九", "吴十", ""]),
            "xb": pa.array([True, False, None, True, False, True, None, False, True, True]),
            "csrq": pa.array(
                [date(1949, 12, 31), None, date(2000, 2, 29), *[date(1990, 1, i) for i in range(1, n - 2)]],
                pa.date32(),
            ),
            "xzqh": pa.array(["330102", "330103", "330102", None, "330102", "330104", "330102", "330102", "330103", "330102"]),
            "sjhm": pa.array(["13800000000", None, "13900000000", *["15000000000"] * (n - 3)]),
            "zz": pa.array([f"地址{i}" if i % 3 else None for i in range(n)]),
            "ts": pa.array(
                [datetime(2026, 1, 1, 8, 30, i, 123456, tzinfo=UTC) if i % 4 else None for i in range(n)],
                pa.timestamp("us", tz="UTC"),
            ),
            "amount": pa.array(
                [Decimal(f"{i}.{i:02d}") if i % 5 else None for i in range(n)], pa.decimal128(12, 2)
            ),
            "score": pa.array([i / 3 if i % 2 else None for i in range(n)], pa.float64()),
            "cnt": pa.array([i * 1_000_000_007 if i % 3 else None for i in range(n)], pa.int64()),
            "small": pa.array([i if i % 2 else None for i in range(n)], pa.int16()),
            "blob": pa.array([bytes([i, 0, 255]) if i % 2 else None for i in range(n)], pa.binary()),
        }
    )  # fmt: skip


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=repr)


@pytest.mark.parametrize("batch_rows", [65536, 2])
def test_replica_lookups_equal_the_duckdb_path(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path, batch_rows: int
) -> None:
    """Also with tiny record batches: a key's rows then span chunks of the mapped file."""
    monkeypatch.setattr(serving, "BATCH_ROWS", batch_rows)
    wh = shared_warehouse(settings.warehouse_url)
    table = "serving_tricky"
    data = tricky_persons()
    wh.put_table(table, data)
    version = wh.data_version(table)
    rep = serving.build(wh, table, "gmsfhm", version, tmp_path / "r.arrow")
    assert rep is not None and rep.data.num_rows == data.num_rows - 1  # the NULL key
    assert rep.data.column(0).num_chunks == (1 if batch_rows > 10 else 5)
    all_columns = tuple(data.column_names)
    probes = [
        [ID_A],
        [ID_B],
        [ID_C],
        [MISSING],
        [ID_A[:-1]],
        [ID_A[:-2]],
        [""],
        ["é" * 9],
        ["é" * 10],
        ["0"],
        ["\uffff"],
        [ID_A, MISSING, ID_B, ID_A],
    ]
    for columns in (all_columns, ("gmsfhm", "xm", "csrq", "xzqh"), ("xzqh", "gmsfhm", "ts")):
        for keys in probes:
            fast = rep.lookup(keys, columns)
            slow = warehouse_access.lookup_rows(wh, table, columns, "gmsfhm", keys)
            assert fast is not None
            assert fast.columns == slow.columns == columns
            assert fast.types == slow.types, (columns, keys)
            assert _sorted(fast.rows) == _sorted(slow.rows), keys
            assert orjson.dumps(_sorted(fast.rows), default=str) == orjson.dumps(
                _sorted(slow.rows), default=str
            )
            if fast.rows:
                a, b = fast.to_arrow(), slow.to_arrow()
                assert a.schema == b.schema
    assert rep.lookup(["a\x00"], all_columns) is None  # NUL: the warehouse answers
    assert rep.lookup([ID_A], ("gmsfhm", "nope")) is None  # a column it does not have


def test_keys_with_nul_bytes_or_non_text_keys_are_not_replicated(
    settings: Settings, tmp_path: Path
) -> None:
    tmp_path = tmp_path / "replicas"
    wh = shared_warehouse(settings.warehouse_url)
    wh.put_table("serving_nul", pa.table({"k": ["a", "a\x00b"], "v": [1, 2]}))
    assert (
        serving.build(wh, "serving_nul", "k", wh.data_version("serving_nul"), tmp_path / "a")
        is None
    )
    wh.put_table("serving_int", pa.table({"k": [1, 2], "v": [1, 2]}))
    assert serving.build(wh, "serving_int", "k", None, tmp_path / "b") is None
    assert serving.build(wh, "serving_none", "k", None, tmp_path / "c") is None
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []  # nothing left behind


@pytest.fixture
def world(client: TestClient, session: Session, settings: Settings) -> dict[str, Any]:
    w = build_world(session, settings, rows=50)
    grant = grant_person(
        session,
        w,
        Terms(rate_limit=100_000, daily_quota=1_000_000),
        items=["gmsfhm", "xm", "xb", "csrq", "xzqh", "sjhm", "zz"],
    )
    publish_interface(session, w, "query")
    publish_interface(session, w, "batch", code="person-batch")
    _, plain = consumer_key(session, w)
    rt: Runtime = client.app.state.gateway  # type: ignore[attr-defined]
    return {
        "w": w,
        "grant": grant,
        "plain": plain,
        "rt": rt,
        "table": table_name_for(w.person.code),
    }


def _ready(client: TestClient, rt: Runtime, table: str, plain: str, key: str) -> None:
    """One call notices the version and starts the build; wait for it."""
    client.get("/gw/person-query", params={"gmsfhm": key}, headers=_h(plain))
    rt.serving.wait(60)
    assert rt.serving.ready(table, "gmsfhm")


def _answers(client: TestClient, plain: str) -> list[Any]:
    out = []
    for q in (
        {"gmsfhm": ID_A},
        {"gmsfhm": ID_B, "fields": "xm,csrq,gmsfhm"},
        {"gmsfhm": ID_C, "fields": "xzqh"},
        {"gmsfhm": MISSING},
        {"gmsfhm": f" {ID_A.lower()} "},
    ):
        r = client.get("/gw/person-query", params=q, headers=_h(plain))
        body = r.json()
        if "data" in body:
            body["data"] = sorted(body["data"], key=orjson.dumps)
        out.append((r.status_code, body))
    r = client.post("/gw/person-batch", json={"keys": [ID_A, MISSING, ID_B]}, headers=_h(plain))
    body = r.json()
    assert r.status_code == 200, body
    body["data"] = {k: sorted(v, key=orjson.dumps) for k, v in sorted(body["data"].items())}
    out.append((r.status_code, body))
    return out


@pytest.mark.parametrize("exotic", [False, True])
def test_gateway_answers_equal_the_duckdb_path(
    client: TestClient, settings: Settings, session: Session, world: dict[str, Any], exotic: bool
) -> None:
    """Masking (id number, name, phone), ``fields``, duplicate and missing keys, NULLs;
    ``exotic`` stores timestamps, decimals, floats, booleans under granted names."""
    rt, plain, table = world["rt"], world["plain"], world["table"]
    data = tricky_persons()
    if exotic:
        data = data.drop_columns(["xb", "csrq", "zz"]).rename_columns(
            ["gmsfhm", "xm", "xzqh", "sjhm", "csrq", "zz", "cnt", "xb", "small", "blob"]
        )
    wh = shared_warehouse(settings.warehouse_url)
    wh.put_table(table, data)
    rt.serving.enabled = False
    slow = _answers(client, plain)
    rt.serving.enabled = True
    _ready(client, rt, table, plain, ID_A)
    hits = rt.serving.hits
    fast = _answers(client, plain)
    assert rt.serving.hits > hits  # served from the replica
    assert fast == slow
    assert slow[0][1]["count"] == 3 and slow[3][1] == {"data": [], "count": 0}

    # A row filter (only 330102) applies to replica rows exactly as to warehouse rows.
    g = session.get(Grant, world["grant"].id)
    assert g is not None
    g.row_filter = RowFilter(column="xzqh", values=["330102"]).model_dump()
    session.commit()
    filtered_fast = _answers(client, plain)
    rt.serving.enabled = False
    assert _answers(client, plain) == filtered_fast
    assert filtered_fast[0][1]["count"] == 3 and filtered_fast[1][1]["count"] == 1


def test_a_publish_is_seen_by_the_next_call_and_the_replica_rebuilt(
    client: TestClient, settings: Settings, world: dict[str, Any]
) -> None:
    rt, plain, table, w = world["rt"], world["plain"], world["table"], world["w"]
    ids = w.persons.column("gmsfhm").to_pylist()
    q = {"gmsfhm": ids[0], "fields": "xzqh"}
    _ready(client, rt, table, plain, ids[0])
    first = rt.serving.replicas[(table, "gmsfhm")]
    status = rt.serving.status()["replicas"][f"{table}.gmsfhm"]
    assert status["rows"] == 50 and status["bytes"] == first.path.stat().st_size
    assert first.path.exists() and first.path.parent.parent == settings.data_dir / "serving"
    hits = rt.serving.hits
    assert client.get("/gw/person-query", params=q, headers=_h(plain)).json()["data"] == [
        {"xzqh": w.persons.column("xzqh")[0].as_py()}
    ]
    assert rt.serving.hits == hits + 1

    wh = shared_warehouse(settings.warehouse_url)
    i = w.persons.column_names.index("xzqh")
    wh.put_table(table, w.persons.set_column(i, "xzqh", pa.array(["999999"] * w.persons.num_rows)))
    # The very next call: new data (from the warehouse; the replica is stale).
    r = client.get("/gw/person-query", params=q, headers=_h(plain))
    assert r.json()["data"] == [{"xzqh": "999999"}]
    assert rt.serving.hits == hits + 1
    rt.serving.wait(60)
    second = rt.serving.replicas[(table, "gmsfhm")]
    assert second is not first and not first.path.exists() and second.path.exists()
    assert client.get("/gw/person-query", params=q, headers=_h(plain)).json()["data"] == [
        {"xzqh": "999999"}
    ]
    assert rt.serving.hits == hits + 2

    # Dropped: no stale answers either.
    wh.drop(table)
    r = client.get("/gw/person-query", params=q, headers=_h(plain))
    assert r.status_code == 503
    rt.serving.wait(60)
    assert rt.serving.hits == hits + 2
    assert not rt.serving.ready(table, "gmsfhm") and not second.path.exists()

    # Shutdown removes this runtime's replica directory.
    folder = rt.serving.dir
    client.portal.call(rt.stop)
    assert not folder.exists()


def test_leftovers_of_dead_processes_are_removed(tmp_path: Path) -> None:
    base = tmp_path / "serving"
    dead, alive = base / "999999999-deadbeef", base / f"{os.getppid()}-cafebabe"
    for d in (dead, alive):
        d.mkdir(parents=True)
        (d / "t.k.x.arrow").write_bytes(b"x")
    s = serving.Serving(tmp_path)
    s.cleanup_stale()
    assert not dead.exists() and alive.exists()


def test_the_setting_disables_replicas(
    monkeypatch: pytest.MonkeyPatch, client: TestClient, settings: Settings, world: dict[str, Any]
) -> None:
    monkeypatch.setenv("GONGSHU_SHARING_SERVING", "false")
    service.sharing_settings.cache_clear()
    try:
        rt = Runtime(client.app)
        assert rt.serving.enabled is False
        assert (
            rt.serving.get(shared_warehouse(settings.warehouse_url), world["table"], "gmsfhm")
            is None
        )
        assert rt.serving.building == set() and not rt.serving.dir.exists()
        rt.executor.shutdown()
    finally:
        service.sharing_settings.cache_clear()


def test_a_failed_build_is_not_retried_until_the_next_publish(
    settings: Settings, tmp_path: Path
) -> None:
    wh = shared_warehouse(settings.warehouse_url)
    wh.put_table("serving_fail", pa.table({"k": ["a", "b"], "v": [1, 2]}))
    blocker = tmp_path / "serving"
    blocker.write_text("not a directory")  # the build cannot create its folder
    s = serving.Serving(tmp_path)
    assert s.get(wh, "serving_fail", "k") is None
    s.wait(60)
    assert not s.ready("serving_fail", "k") and s.builds == 0
    assert s.get(wh, "serving_fail", "k") is None and s.building == set()  # no new build
    blocker.unlink()
    wh.put_table("serving_fail", pa.table({"k": ["a", "c"], "v": [1, 3]}))
    assert s.get(wh, "serving_fail", "k") is None  # a new version: built again
    s.wait(60)
    rep = s.get(wh, "serving_fail", "k")
    assert rep is not None
    found = rep.lookup(["c", "b"], ("k", "v"))
    assert found is not None and found.rows == [("c", 3)]
    s.close()
    assert not s.dir.exists()


@pytest.mark.parametrize(
    "arr",
    [
        pa.array(["张三", None, "", "O'Brien 𠮷", "x" * 300], pa.string()),
        pa.array(["a", None, "bcd"], pa.large_string()),
        pa.array([date(1949, 10, 1), None, date(1969, 12, 31), date(2099, 1, 1)]),
        pa.array([1, None, -(2**63), 2**63 - 1], pa.int64()),
        pa.array([1, None, -(2**31)], pa.int32()),
        pa.array([7, None, -3], pa.int16()),
        pa.array([7, None, -128], pa.int8()),
        pa.array([1.5, None, float("inf"), -0.0], pa.float64()),
        pa.array([0.1, None, 3.25], pa.float32()),
        pa.array([True, None, False, True, False, True, True, False, True, None]),
        pa.array([Decimal("1.23"), None], pa.decimal128(9, 2)),  # falls back to as_py
        pa.array([datetime(2024, 1, 1, 8, tzinfo=UTC), None], pa.timestamp("us", tz="UTC")),
    ],
    ids=lambda a: str(a.type),
)
def test_value_reader_reads_buffers_like_as_py(arr: pa.Array) -> None:
    """The replica reads values straight from Arrow buffers (memoryviews); every type,
    NULLs, and sliced arrays (an offset into the buffers) give exactly ``as_py``."""
    for view in (arr, arr.slice(1), arr.slice(2, 1), arr.slice(len(arr))):
        read = serving.value_reader(view)
        assert [read(j) for j in range(len(view))] == view.to_pylist(), view.type
