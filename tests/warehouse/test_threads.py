"""DuckDB from many threads: per-thread cursors, readers never see a half-published load."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa

from gongshu.warehouse import LOAD_ID_COLUMN, Warehouse, connect

from .conftest import engine_url

T = "r_threads"


def rows_for(load_id: int) -> pa.Table:
    n = 2_000 + load_id  # each load has a distinct size so a mix would show
    return pa.table({"k": pa.array(range(n), pa.int64()), "v": pa.array([load_id] * n, pa.int64())})


def publish(wh: Warehouse, load_id: int, mode: str = "full") -> None:
    data = rows_for(load_id)
    with wh.begin_load(T, load_id, data.schema) as stage:
        for batch in data.to_batches(500):
            stage.append(batch)
        stage.publish(mode, key_columns=["k"] if mode == "incremental" else None)


def test_concurrent_readers_see_whole_loads(tmp_path: Path) -> None:
    wh = connect(engine_url("duckdb", tmp_path))
    publish(wh, 1)
    stop = threading.Event()
    seen: set[int] = set()
    errors: list[BaseException] = []

    def reader() -> int:
        checks = 0
        try:
            while not stop.is_set():
                t = wh.table(T)
                stats = wh.to_pyarrow(
                    t.aggregate(n=t.count(), lo=t[LOAD_ID_COLUMN].min(), hi=t[LOAD_ID_COLUMN].max())
                ).to_pylist()[0]
                assert stats["lo"] == stats["hi"], stats  # never two loads at once
                assert stats["n"] == 2_000 + stats["lo"], stats
                seen.add(stats["lo"])
                # A streamed read is one snapshot too.
                streamed = pa.Table.from_batches(list(wh.to_batches(t.v, batch_size=700)))
                assert len(set(streamed["v"].to_pylist())) == 1
                checks += 1
        except BaseException as e:  # surfaced in the main thread below
            errors.append(e)
        return checks

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(reader) for _ in range(4)]
        for load_id in range(2, 30):
            publish(wh, load_id)
        stop.set()
        checks = [f.result() for f in futures]
    assert not errors, errors[0]
    assert all(c > 0 for c in checks)
    assert len(seen) > 1
    assert wh.count(T) == 2_000 + 29
    wh.close()


def test_stream_consumed_on_another_thread(tmp_path: Path) -> None:
    wh = connect(engine_url("duckdb", tmp_path))
    publish(wh, 1)
    reader = wh.to_batches(wh.table(T).order_by("k"), batch_size=256)
    first = next(iter(reader))
    # The creating thread keeps querying while a worker thread drains the stream.
    with ThreadPoolExecutor(max_workers=1) as pool:
        rest = pool.submit(lambda: sum(b.num_rows for b in reader))
        for _ in range(20):
            assert wh.count(T) == 2_001
        assert first.num_rows + rest.result() == 2_001
    wh.close()
