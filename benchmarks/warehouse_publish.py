"""Warehouse load/publish/stream throughput; prints one JSON object.

    PYTHONPATH=src python benchmarks/warehouse_publish.py --rows 5000000
    PYTHONPATH=src python benchmarks/warehouse_publish.py --engine spark --rows 1000000

Rows are generated batch by batch (never the whole table in memory): a zero-padded
code key, a region, an amount and a timestamp. Measures a full load, an incremental
upsert of ``--update-fraction`` of the keys, and a streamed read of the result.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gongshu.warehouse import connect

SCHEMA = pa.schema(
    [
        ("code", pa.string()),
        ("region", pa.string()),
        ("amount", pa.decimal128(18, 2)),
        ("updated", pa.timestamp("us", tz="UTC")),
    ]
)


def batches(start: int, rows: int, batch_size: int, seed: int) -> Iterator[pa.RecordBatch]:
    rng = np.random.default_rng(seed)
    for offset in range(start, start + rows, batch_size):
        n = min(batch_size, start + rows - offset)
        ids = pa.array(np.arange(offset, offset + n))
        yield pa.record_batch(
            [
                pc.utf8_lpad(pc.cast(ids, pa.string()), 12, "0"),
                pc.cast(pa.array(330600 + rng.integers(0, 10, n)), pa.string()),
                pc.cast(pa.array(rng.integers(0, 10**9, n) / 100), pa.decimal128(18, 2)),
                pa.array(1_700_000_000_000_000 + ids.to_numpy(), pa.timestamp("us", tz="UTC")),
            ],
            schema=SCHEMA,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument("--update-fraction", type=float, default=0.1)
    args = parser.parse_args()

    root = tempfile.mkdtemp(prefix="gongshu-bench-")
    url = (
        f"duckdb:///{root}/bench.duckdb"
        if args.engine == "duckdb"
        else f"spark://local[2]?warehouse_dir={root}/wh&spark.ui.showConsoleProgress=false"
    )
    wh = connect(url)
    table = "r_bench"
    out: dict[str, object] = {"engine": args.engine, "rows": args.rows}

    def reader(start: int, rows: int, seed: int) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(
            SCHEMA, batches(start, rows, args.batch_size, seed)
        )

    t0 = time.perf_counter()
    with wh.begin_load(table, 1, SCHEMA) as stage:
        stage.append(reader(0, args.rows, 1))
        t1 = time.perf_counter()
        stage.publish("full")
    t2 = time.perf_counter()
    out["full_append_s"] = round(t1 - t0, 3)
    out["full_publish_s"] = round(t2 - t1, 3)
    out["append_rows_per_s"] = round(args.rows / (t1 - t0))

    n_update = int(args.rows * args.update_fraction)
    start = args.rows - n_update // 2  # half existing keys, half new
    with wh.begin_load(table, 2, SCHEMA) as stage:
        stage.append(reader(start, n_update, 2))
        t3 = time.perf_counter()
        stage.publish("incremental", key_columns=["code"])
    t4 = time.perf_counter()
    out["incremental_rows"] = n_update
    out["incremental_publish_s"] = round(t4 - t3, 3)

    t5 = time.perf_counter()
    streamed = 0
    for batch in wh.to_batches(wh.table(table), batch_size=args.batch_size):
        streamed += batch.num_rows
    t6 = time.perf_counter()
    out["streamed_rows"] = streamed
    out["stream_rows_per_s"] = round(streamed / (t6 - t5))
    out["final_count"] = wh.count(table)
    out["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    wh.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
