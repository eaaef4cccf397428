"""Names and schema normalisation: pure functions, no engine."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from gongshu.warehouse import (
    LoadStateError,
    SchemaError,
    column_name_for,
    connect,
    normalize_schema,
    table_name_for,
    validate_table_name,
)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("JC-330600-SJJ-000123", "r_jc_330600_sjj_000123"),
        ("jc_330600.sjj/1", "r_jc_330600_sjj_1"),
        ("  A1 B2 ", "r_a1_b2"),
    ],
)
def test_table_name_for(code: str, name: str) -> None:
    assert table_name_for(code) == name


@pytest.mark.parametrize(
    "code", ["", "-", "JC--1", "JC-1;DROP", "资源-1", "a'b", "x" * 70, "JC-1-", None]
)
def test_table_name_for_rejects_unsafe(code: object) -> None:
    with pytest.raises(ValueError):
        table_name_for(code)  # type: ignore[arg-type]


def test_column_name_for() -> None:
    assert column_name_for("SFZH") == "sfzh"
    assert column_name_for("2023-GDP") == "c_2023_gdp"
    with pytest.raises(ValueError):
        column_name_for("姓名")


@pytest.mark.parametrize("name", ["ok_1", "a"])
def test_validate_table_name_accepts(name: str) -> None:
    assert validate_table_name(name) == name


@pytest.mark.parametrize("name", ["_x", "1x", "X", "a b", "a" * 64, 'a"'])
def test_validate_table_name_rejects(name: str) -> None:
    with pytest.raises(ValueError):
        validate_table_name(name)


def test_normalize_schema_maps_to_canonical_types() -> None:
    got = normalize_schema(
        pa.schema(
            [
                ("s", pa.large_string()),
                ("d", pa.dictionary(pa.int32(), pa.string())),
                ("u", pa.uint32()),
                ("ts", pa.timestamp("ns", tz="Asia/Shanghai")),
                ("dt", pa.date64()),
                ("b", pa.large_binary()),
            ]
        )
    )
    assert got == pa.schema(
        [
            ("s", pa.string()),
            ("d", pa.string()),
            ("u", pa.int64()),
            ("ts", pa.timestamp("us", tz="UTC")),
            ("dt", pa.date32()),
            ("b", pa.binary()),
        ]
    )


@pytest.mark.parametrize(
    "field",
    [
        pa.field("t", pa.timestamp("us")),
        pa.field("u", pa.uint64()),
        pa.field("l", pa.list_(pa.int64())),
        pa.field("n", pa.null()),
        pa.field("tm", pa.time64("us")),
        pa.field("Upper", pa.string()),
        pa.field("_load_id", pa.int64()),
    ],
)
def test_normalize_schema_rejects(field: pa.Field) -> None:
    with pytest.raises(SchemaError):
        normalize_schema(pa.schema([field]))


def test_normalize_schema_rejects_duplicates_and_empty() -> None:
    with pytest.raises(SchemaError):
        normalize_schema(pa.schema([("a", pa.string()), ("a", pa.int64())]))
    with pytest.raises(SchemaError):
        normalize_schema(pa.schema([]))


def test_connect_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for url in ("duckdb://", "duckdb://:memory:"):
        with connect(url) as wh:
            assert wh.engine == "duckdb"
            assert wh.list_tables() == []
    monkeypatch.chdir(tmp_path)
    with connect("duckdb:///var/rel.duckdb?threads=1") as wh:  # relative, SQLAlchemy style
        wh.put_table("x", pa.table({"a": [1]}))
    assert (tmp_path / "var" / "rel.duckdb").exists()
    with connect(f"duckdb:///{tmp_path}/abs.duckdb") as wh:  # four slashes: absolute
        assert wh.list_tables() == []
    assert (tmp_path / "abs.duckdb").exists()
    with (
        connect(f"duckdb:///{tmp_path}/abs.duckdb?read_only=true") as wh,
        pytest.raises(LoadStateError),
    ):
        wh.put_table("x", pa.table({"a": [1]}))
    # Spark sessions start lazily: parsing and metadata need no JVM.
    spark = connect(f"spark://local[2]?warehouse_dir={tmp_path}/wh&keep_versions=3")
    assert (spark.master, spark.keep_versions, spark.list_tables()) == ("local[2]", 3, [])
    assert connect(f"spark://host:7077?warehouse_dir={tmp_path}/wh").master == "spark://host:7077"


@pytest.mark.parametrize(
    "url",
    [
        "postgres://x",
        "duckdb:relative.duckdb",
        "duckdb://host/x.duckdb",
        "spark://local[2]",
        "spark://local[2]?warehouse_dir=/tmp/x&bogus=1",
    ],
)
def test_connect_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ValueError):
        connect(url)
