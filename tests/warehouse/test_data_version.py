"""``Warehouse.data_version``: a token that moves on every publish or drop of a table
(caches of derived results are keyed on it), and only then."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from gongshu.warehouse import Warehouse, connect


def _load(wh: Warehouse, name: str, ids: list[int], load_id: int, mode: str = "full") -> None:
    data = pa.table({"k": pa.array(ids, pa.int64())})
    with wh.begin_load(name, load_id, data.schema) as stage:
        stage.append(data)
        stage.publish(mode, key_columns=["k"] if mode == "incremental" else None)  # type: ignore[arg-type]


def test_version_moves_on_publish_and_drop_only(tmp_path: Path) -> None:
    wh = connect(f"duckdb:///{tmp_path}/w.duckdb")
    try:
        _load(wh, "t1", [1, 2], 1)
        v1 = wh.data_version("t1")
        assert v1 is not None and wh.data_version("t1") == v1  # reads do not move it
        wh.execute(wh.table("t1").count())
        assert wh.data_version("t1") == v1
        _load(wh, "t1", [2, 3], 2, mode="incremental")
        v2 = wh.data_version("t1")
        assert v2 != v1
        other = wh.data_version("t2")
        _load(wh, "t2", [9], 3)
        assert wh.data_version("t2") != other and wh.data_version("t1") == v2
        with wh.begin_load("t1", 4, pa.schema([("k", pa.int64())])) as stage:
            stage.append(pa.table({"k": pa.array([7], pa.int64())}))
            # left unpublished: aborts, the table is unchanged
        assert wh.data_version("t1") == v2
        wh.put_table("t1", pa.table({"k": pa.array([5], pa.int64())}))
        v3 = wh.data_version("t1")
        assert v3 not in (v1, v2)
        wh.drop("t1")
        assert wh.data_version("t1") not in (v1, v2, v3)
    finally:
        wh.close()


def test_second_warehouse_on_the_same_file_sees_the_first_ones_publishes(
    tmp_path: Path,
) -> None:
    """Domains open their own Warehouse objects on the server's one DuckDB file."""
    a = connect(f"duckdb:///{tmp_path}/w.duckdb")
    b = connect(f"duckdb:///{tmp_path}/w.duckdb")
    try:
        _load(a, "t", [1], 1)
        before = b.data_version("t")
        _load(a, "t", [1, 2], 2)
        assert b.data_version("t") != before
        assert b.data_version("t") == a.data_version("t")
    finally:
        a.close()
        b.close()
