"""The same loads and the same ibis expressions give identical results on both engines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyspark.sql import SparkSession

from gongshu.warehouse import Warehouse, connect

from .conftest import engine_url

pytestmark = pytest.mark.spark
T = "r_jc_330600_sjj_000999"


def generated(n: int, seed: int, offset: int = 0) -> pa.Table:
    """Vectorised synthetic rows: zero-padded codes, regions, decimals, timestamps, nulls."""
    rng = np.random.default_rng(seed)
    ids = np.arange(offset, offset + n)
    code = pc.utf8_lpad(pc.cast(pa.array(ids), pa.string()), 8, "0")
    region = pc.choose(
        pa.array(rng.integers(0, 3, n), pa.int8()),
        *(pa.scalar(r) for r in ("330602", "010", "330603")),
    )
    year = pa.array(rng.integers(2020, 2025, n), pa.int32())
    amount = pc.cast(pa.array(rng.integers(0, 10**8, n) / 100), pa.decimal128(18, 2))
    ts = pa.array(1_700_000_000_000_000 + ids * 1_000_003, pa.timestamp("us", tz="UTC"))
    value = pa.array(rng.normal(size=n), mask=rng.random(n) < 0.1)
    return pa.table(
        {
            "code": code,
            "year": year,
            "region": region,
            "amount": amount,
            "updated": ts,
            "value": value,
        }
    )


def run_loads(wh: Warehouse) -> None:
    base = generated(20_000, seed=1)
    with wh.begin_load(T, 1, base.schema) as stage:
        stage.append(pa.RecordBatchReader.from_batches(base.schema, base.to_batches(3_000)))
        stage.publish("full")
    update = generated(5_000, seed=2, offset=17_500)  # half overlap, half new keys
    with wh.begin_load(T, 2, update.schema) as stage:
        stage.append(update)
        stage.publish("incremental", key_columns=["code", "year"])
    wh.put_table(
        "code_region", pa.table({"code": ["330602", "330603"], "name": ["越城区", "柯桥区"]})
    )


def summary(wh: Warehouse) -> pd.DataFrame:
    t = wh.table(T)
    regions = wh.table("code_region")
    joined = t.join(regions, t.region == regions.code, how="left")
    expr = (
        joined.group_by([joined.region, joined.name])
        .aggregate(
            rows=joined.count(),
            total=joined.amount.sum(),
            newest=joined.updated.max(),
            loads=joined._load_id.nunique(),
            mean_value=joined.value.mean().round(6),
        )
        .order_by("region")
    )
    return wh.execute(expr)


def test_same_loads_identical_on_both_engines(
    tmp_path: Path, spark_session: SparkSession, request: pytest.FixtureRequest
) -> None:
    duck = connect(engine_url("duckdb", tmp_path / "d"))
    spark = connect(engine_url("spark", tmp_path / "s"), spark_session=spark_session)
    request.addfinalizer(duck.close)
    request.addfinalizer(spark.close)
    for wh in (duck, spark):
        run_loads(wh)

    def contents(wh: Warehouse) -> pa.Table:
        return wh.to_pyarrow(wh.table(T)).sort_by([("code", "ascending"), ("year", "ascending")])

    d, s = contents(duck), contents(spark)
    assert d.schema == s.schema
    assert d.num_rows == s.num_rows > 20_000
    assert d.equals(s)
    assert duck.schema(T) == spark.schema(T)
    assert duck.list_tables() == spark.list_tables() == ["code_region", T]
    pd.testing.assert_frame_equal(summary(duck), summary(spark))

    streamed: dict[str, pa.Table] = {}
    for name, wh in (("duckdb", duck), ("spark", spark)):
        reader = wh.to_batches(wh.table(T).order_by(["code", "year"]), batch_size=4_000)
        streamed[name] = pa.Table.from_batches(list(reader))
    assert streamed["duckdb"].equals(streamed["spark"])
    assert streamed["duckdb"].equals(d)
