"""Fixtures for the warehouse contract tests: one DuckDB file per test, one local
Spark session per test session (started only if a Spark test runs)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pytest

from gongshu.warehouse import Warehouse, connect

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ENGINES = ["duckdb", pytest.param("spark", marks=pytest.mark.spark)]


@pytest.fixture(scope="session")
def spark_session() -> Iterator[SparkSession]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("gongshu-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def engine_url(engine: str, root: Path) -> str:
    if engine == "duckdb":
        return f"duckdb:///{root}/warehouse.duckdb"  # root is absolute: four slashes
    return f"spark://local[2]?warehouse_dir={root}/warehouse"


@pytest.fixture
def open_wh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Warehouse]]:
    """Factory: open (or reopen) the warehouse of the parametrised engine."""
    engine: str = request.param
    session = request.getfixturevalue("spark_session") if engine == "spark" else None
    opened: list[Warehouse] = []

    def _open(**kwargs: object) -> Warehouse:
        wh = connect(engine_url(engine, tmp_path), spark_session=session, **kwargs)  # type: ignore[arg-type]
        opened.append(wh)
        return wh

    yield _open
    for wh in opened:
        wh.close()


@pytest.fixture
def wh(open_wh: Callable[..., Warehouse]) -> Warehouse:
    return open_wh()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Every test using the warehouse factory runs on both engines.
    if "open_wh" in metafunc.fixturenames:
        metafunc.parametrize("open_wh", ENGINES, indirect=True)


# --- shared data helpers ------------------------------------------------------------


def sample_schema() -> pa.Schema:
    return pa.schema(
        [
            ("code", pa.string()),
            ("region", pa.string()),
            ("name", pa.string()),
            ("n", pa.int64()),
            ("small", pa.int32()),
            ("ratio", pa.float64()),
            ("active", pa.bool_()),
            ("founded", pa.date32()),
            ("updated", pa.timestamp("us", tz="UTC")),
            ("amount", pa.decimal128(18, 2)),
        ]
    )


def sample_rows(codes: list[str], *, n_offset: int = 0) -> pa.Table:
    """A small table with every canonical type, nulls and leading-zero strings."""
    import datetime as dt
    from decimal import Decimal

    k = len(codes)
    return pa.table(
        {
            "code": codes,
            "region": [("010" if i % 2 else "330602") for i in range(k)],
            "name": [f"绍兴市{i}号单位" if i % 3 else None for i in range(k)],
            "n": [i + n_offset if i % 4 else None for i in range(k)],
            "small": [i for i in range(k)],
            "ratio": [i / 3 for i in range(k)],
            "active": [i % 2 == 0 for i in range(k)],
            "founded": [dt.date(2000 + i % 20, 1 + i % 12, 1) for i in range(k)],
            "updated": [
                dt.datetime(2024, 1, 1, 8, 0, i % 60, 123456, tzinfo=dt.UTC) for i in range(k)
            ],
            "amount": [Decimal(f"{i}.{i % 100:02d}") if i % 5 else None for i in range(k)],
        },
        schema=sample_schema(),
    )


def pytest_configure(config: pytest.Config) -> None:
    # ibis 12 still calls a DuckDB 2 method that is deprecated; not ours to fix.
    config.addinivalue_line(
        "filterwarnings", "ignore:fetch_arrow_table\\(\\) is deprecated:DeprecationWarning"
    )
