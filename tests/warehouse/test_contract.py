"""The warehouse contract, run on DuckDB and on local-mode Spark."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from gongshu.warehouse import (
    LOAD_ID_COLUMN,
    LoadStateError,
    SchemaError,
    TableNotFoundError,
    Warehouse,
)

from .conftest import sample_rows, sample_schema

T = "r_jc_330600_sjj_000123"


def published(wh: Warehouse, name: str = T) -> pa.Table:
    table = wh.to_pyarrow(wh.table(name))
    return table.sort_by([(c, "ascending") for c in table.column_names if c != "name"])


def with_load(table: pa.Table, load_id: int) -> pa.Table:
    return table.append_column(LOAD_ID_COLUMN, pa.array([load_id] * table.num_rows, pa.int64()))


def load(wh: Warehouse, data: pa.Table, load_id: int, mode: str = "full", keys=None) -> None:
    with wh.begin_load(T, load_id, data.schema) as stage:
        stage.append(data)
        stage.publish(mode, key_columns=keys)


def sort(table: pa.Table) -> pa.Table:
    return table.sort_by([(c, "ascending") for c in table.column_names if c != "name"])


def test_full_load_roundtrip_keeps_types_and_strings(wh: Warehouse) -> None:
    data = sample_rows(["0001", "0002", "0003", "0100"])
    load(wh, data, 7)
    assert wh.list_tables() == [T]
    assert wh.exists(T)
    assert wh.count(T) == 4
    expected_schema = sample_schema().append(pa.field(LOAD_ID_COLUMN, pa.int64()))
    assert wh.schema(T) == expected_schema
    got = published(wh)
    assert got.schema == expected_schema
    assert got.equals(sort(with_load(data, 7)))
    # Leading zeros survive as strings, not as numbers.
    assert got["code"].to_pylist() == ["0001", "0002", "0003", "0100"]
    assert set(got["region"].to_pylist()) == {"010", "330602"}


def test_full_load_replaces_and_may_change_schema(wh: Warehouse) -> None:
    load(wh, sample_rows(["a1", "a2", "a3"]), 1)
    other = pa.table({"code": ["x9"], "extra": [1.5]})
    load(wh, other, 2)
    assert published(wh).equals(with_load(other, 2))


def test_incremental_upserts_by_key(wh: Warehouse) -> None:
    load(wh, sample_rows(["k1", "k2", "k3"]), 1)
    update = sample_rows(["k2", "k4"], n_offset=100)
    load(wh, update, 2, "incremental", ["code"])
    got = published(wh)
    assert got["code"].to_pylist() == ["k1", "k2", "k3", "k4"]
    by_code = dict(zip(got["code"].to_pylist(), got[LOAD_ID_COLUMN].to_pylist(), strict=True))
    assert by_code == {"k1": 1, "k2": 2, "k3": 1, "k4": 2}
    expected = pa.concat_tables(
        [
            with_load(sample_rows(["k1", "k2", "k3"]).filter(pc.field("code") != "k2"), 1),
            with_load(update, 2),
        ]
    )
    assert got.equals(sort(expected))


def test_incremental_composite_key(wh: Warehouse) -> None:
    base = pa.table(
        {"org": ["A", "A", "B", "B"], "year": [2023, 2024, 2023, 2024], "v": [1, 2, 3, 4]}
    )
    load(wh, base, 1)
    update = pa.table({"org": ["A", "B"], "year": [2024, 2025], "v": [20, 50]})
    load(wh, update, 2, "incremental", ["org", "year"])
    got = wh.to_pyarrow(wh.table(T).order_by(["org", "year"]))
    assert got.select(["org", "year", "v", LOAD_ID_COLUMN]).to_pylist() == [
        {"org": "A", "year": 2023, "v": 1, "_load_id": 1},
        {"org": "A", "year": 2024, "v": 20, "_load_id": 2},
        {"org": "B", "year": 2023, "v": 3, "_load_id": 1},
        {"org": "B", "year": 2024, "v": 4, "_load_id": 1},
        {"org": "B", "year": 2025, "v": 50, "_load_id": 2},
    ]


def test_incremental_null_keys_match_null_safely(wh: Warehouse) -> None:
    load(wh, pa.table({"k": ["a", None], "v": [1, 2]}), 1)
    load(wh, pa.table({"k": pa.array([None], pa.string()), "v": [3]}), 2, "incremental", ["k"])
    got = wh.to_pyarrow(wh.table(T).order_by("v"))
    assert got.select(["k", "v"]).to_pylist() == [{"k": "a", "v": 1}, {"k": None, "v": 3}]


def test_empty_incremental_changes_nothing(wh: Warehouse) -> None:
    load(wh, pa.table({"k": ["a"], "v": [1]}), 1)
    before = published(wh)
    with wh.begin_load(T, 2, before.schema.remove(2)) as stage:
        assert stage.publish("incremental", ["k"]).rows == 0
    assert published(wh).equals(before)


def test_incremental_into_missing_table_creates_it(wh: Warehouse) -> None:
    load(wh, pa.table({"k": ["a"]}), 1, "incremental", ["k"])
    assert wh.count(T) == 1


def test_incremental_schema_mismatch_leaves_table(wh: Warehouse) -> None:
    load(wh, pa.table({"k": ["a"], "v": [1]}), 1)
    before = published(wh)
    with pytest.raises(SchemaError):
        load(wh, pa.table({"k": ["a"], "v": ["one"]}), 2, "incremental", ["k"])
    assert published(wh).equals(before)
    assert wh.list_tables() == [T]


def test_staging_invisible_until_publish(wh: Warehouse) -> None:
    load(wh, sample_rows(["p1", "p2"]), 1)
    before = published(wh)
    with wh.begin_load(T, 2, sample_schema()) as stage:
        stage.append(sample_rows(["s1", "s2", "s3"]))
        assert wh.list_tables() == [T]
        assert published(wh).equals(before)
        assert stage.count() == 3
        assert wh.count(T) == 2
        stage.publish()
    assert wh.count(T) == 3
    assert wh.list_tables() == [T]


def test_snapshot_expression_survives_publish(wh: Warehouse) -> None:
    load(wh, pa.table({"k": ["a"]}), 1)
    old_expr = wh.table(T)
    load(wh, pa.table({"k": ["b", "c"]}), 2)
    # Either snapshot semantics (Spark pins versions) or latest (DuckDB by name) is
    # allowed, but never a mix and never an error.
    assert wh.execute(old_expr.count()) in (1, 2)
    assert wh.count(T) == 2


def test_blocking_quality_rule_on_staged_rows(wh: Warehouse) -> None:
    load(wh, pa.table({"code": ["000001"], "region": ["330602"]}), 1)
    before = published(wh)
    with wh.begin_load(T, 2, pa.schema([("code", pa.string()), ("region", pa.string())])) as st:
        st.append(pa.table({"code": ["000002", "000003"], "region": ["330602", "99"]}))
        staged = st.staged_table()
        valid = ibis.memtable({"code": ["330602"]})
        bad = staged.filter(~staged.region.isin(valid.code))
        assert wh.execute(bad.count()) == 1
        assert set(staged.columns) == {"code", "region", LOAD_ID_COLUMN}
        # The rule blocks: leave without publishing.
    assert published(wh).equals(before)


def test_abort_and_exception_leave_table_unchanged(wh: Warehouse) -> None:
    load(wh, sample_rows(["a", "b"]), 1)
    before = published(wh)
    stage = wh.begin_load(T, 2, sample_schema())
    stage.append(sample_rows(["x"]))
    stage.abort()
    stage.abort()  # idempotent
    with pytest.raises(LoadStateError):
        stage.append(sample_rows(["y"]))
    with pytest.raises(RuntimeError), wh.begin_load(T, 3, sample_schema()) as stage:
        stage.append(sample_rows(["z"]))
        raise RuntimeError("ingest failed")
    assert published(wh).equals(before)
    assert wh.list_tables() == [T]
    assert wh.cleanup_stale_staging() == []


def test_failed_append_is_all_or_nothing(wh: Warehouse) -> None:
    schema = pa.schema([("k", pa.string()), ("v", pa.int32())])
    with wh.begin_load(T, 1, schema) as stage:
        stage.append(pa.table({"k": ["a"], "v": [1]}))
        good = pa.record_batch({"k": ["b"], "v": pa.array([2], pa.int64())})
        bad = pa.record_batch({"k": ["c"], "v": pa.array([2**40], pa.int64())})  # overflows
        reader = pa.RecordBatchReader.from_batches(good.schema, [good, bad])
        with pytest.raises(SchemaError):
            stage.append(reader)
        assert stage.count() == 1
        with pytest.raises(SchemaError):
            stage.append(pa.table({"k": ["d"]}))  # missing column
        stage.publish()
    assert wh.count(T) == 1


def test_append_inputs_batches_readers_and_expressions(wh: Warehouse) -> None:
    wh.put_table("src", pa.table({"k": ["e1", "e2"], "v": [10, 20]}))
    schema = pa.schema([("k", pa.string()), ("v", pa.int64())])
    with wh.begin_load(T, 5, schema) as stage:
        assert stage.append(pa.record_batch({"k": ["b1"], "v": [1]})) == 1
        batches = [pa.record_batch({"v": [i], "k": [f"r{i}"]}) for i in range(3)]  # any order
        reader = pa.RecordBatchReader.from_batches(batches[0].schema, batches)
        assert stage.append(reader) == 3
        assert stage.append(pa.table({"k": ["t1"], "v": pa.array([7], pa.int8())})) == 1
        src = wh.table("src")
        assert stage.append(src.mutate(v=src.v * 2)) == 2
        assert stage.count() == 7
        stage.publish()
    got = wh.to_pyarrow(wh.table(T).order_by("k"))
    assert got["k"].to_pylist() == ["b1", "e1", "e2", "r0", "r1", "r2", "t1"]
    assert got["v"].to_pylist() == [1, 20, 40, 0, 1, 2, 7]
    assert set(got[LOAD_ID_COLUMN].to_pylist()) == {5}


def test_put_table_replaces_atomically(wh: Warehouse) -> None:
    wh.put_table("code_region", pa.table({"code": ["330602", "330603"]}))
    wh.put_table("code_region", pa.table({"code": ["330604"], "name": ["上虞区"]}))
    got = wh.to_pyarrow(wh.table("code_region"))
    assert got.to_pylist() == [{"code": "330604", "name": "上虞区"}]
    assert LOAD_ID_COLUMN not in got.column_names


def test_drop_and_missing_tables(wh: Warehouse) -> None:
    load(wh, pa.table({"k": ["a"]}), 1)
    wh.drop(T)
    assert not wh.exists(T)
    assert wh.list_tables() == []
    with pytest.raises(TableNotFoundError):
        wh.table(T)
    with pytest.raises(TableNotFoundError):
        wh.drop(T, missing_ok=False)
    wh.drop(T)  # missing_ok by default
    with pytest.raises(TableNotFoundError):
        wh.schema("nope")
    load(wh, pa.table({"k": ["b"]}), 2)  # a dropped name can be reused
    assert wh.count(T) == 1


def test_unsafe_names_and_types_rejected(wh: Warehouse) -> None:
    for name in ["R_X", "_stg_x", "x;drop table y", "x-y", "", "表"]:
        with pytest.raises(ValueError):
            wh.table(name)
        with pytest.raises(ValueError):
            wh.begin_load(name, 1, pa.schema([("k", pa.string())]))
    with pytest.raises(SchemaError):
        wh.begin_load(T, 1, pa.schema([("K", pa.string())]))
    with pytest.raises(SchemaError):
        wh.begin_load(T, 1, pa.schema([(LOAD_ID_COLUMN, pa.int64())]))
    with pytest.raises(SchemaError):
        wh.begin_load(T, 1, pa.schema([("t", pa.timestamp("us"))]))  # naive
    with pytest.raises(ValueError):
        wh.begin_load(T, -1, pa.schema([("k", pa.string())]))
    assert wh.list_tables() == []


def test_to_batches_streams_bounded_batches(wh: Warehouse) -> None:
    n = 10_000
    data = pa.table(
        {"i": pa.array(range(n), pa.int64()), "s": pc.cast(pa.array(range(n)), pa.string())}
    )
    load(wh, data, 1)
    reader = wh.to_batches(wh.table(T).order_by("i"), batch_size=1_000)
    assert reader.schema.names == ["i", "s", LOAD_ID_COLUMN]
    sizes, first = [], []
    for batch in reader:
        sizes.append(batch.num_rows)
        first.append(batch["i"][0].as_py())
    assert sum(sizes) == n
    assert max(sizes) <= 1_000
    assert first == sorted(first)  # order of an ordered query is preserved
    column = wh.to_batches(wh.table(T).i, batch_size=4_096)
    assert column.schema.names == ["i"]
    assert sum(b.num_rows for b in column) == n


def test_execute_shapes(wh: Warehouse) -> None:
    load(wh, sample_rows(["a", "b", "c"]), 1)
    t = wh.table(T)
    assert wh.execute(t.count()) == 3
    assert list(wh.execute(t.order_by("code").code)) == ["a", "b", "c"]
    frame = wh.execute(t.order_by("code"))
    assert list(frame.columns) == [*sample_schema().names, LOAD_ID_COLUMN]
    assert frame["updated"].iloc[0] == dt.datetime(2024, 1, 1, 8, 0, 0, 123456, tzinfo=dt.UTC)
    assert wh.to_pyarrow(t.n.max()).as_py() == 2


def test_native_cursor_is_per_thread_duckdb_or_none(wh: Warehouse) -> None:
    load(wh, sample_rows(["a", "b"]), 1)
    cur = wh.native_cursor()
    if wh.engine != "duckdb":
        assert cur is None
        return
    assert cur is wh.native_cursor()  # the same cursor on the same thread
    assert cur.execute(f"SELECT count(*) FROM {T}").fetchone() == (2,)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(wh.native_cursor).result()
    assert other is not cur


def test_reopen_sees_published_data(open_wh: Callable[..., Warehouse]) -> None:
    wh = open_wh()
    load(wh, sample_rows(["a", "b"]), 1)
    before = published(wh)
    wh.close()
    again = open_wh()
    assert again.list_tables() == [T]
    assert published(again).equals(before)


def test_cleanup_spares_live_stage_of_another_handle(open_wh: Callable[..., Warehouse]) -> None:
    first = open_wh()
    stage = first.begin_load(T, 1, pa.schema([("k", pa.string())]))
    stage.append(pa.table({"k": ["a"]}))
    second = open_wh()  # runs cleanup_stale_staging on connect
    assert second.cleanup_stale_staging() == []
    stage.publish()
    assert first.count(T) == 1


def test_same_load_twice_in_progress_rejected(wh: Warehouse) -> None:
    schema = pa.schema([("k", pa.string())])
    with wh.begin_load(T, 1, schema):
        if wh.engine == "duckdb":
            with pytest.raises(LoadStateError):
                wh.begin_load(T, 1, schema)


def test_abandoned_stage_becomes_stale(wh: Warehouse) -> None:
    stage = wh.begin_load(T, 1, pa.schema([("k", pa.string())]))
    stage.append(pa.table({"k": ["a"]}))
    assert wh.cleanup_stale_staging() == []  # alive: kept
    del stage
    gc.collect()
    assert len(wh.cleanup_stale_staging()) == 1
    assert wh.list_tables() == []
