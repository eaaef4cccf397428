"""A serving replica built from Spark holds what the warehouse answers (the build is
engine-agnostic: Ibis ``order_by`` → ``to_batches``). Spark has no data-version token,
so the gateway never serves from it there; this proves the build itself."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gongshu.sharing import serving, warehouse_access
from gongshu.warehouse import connect
from tests.sharing.test_serving import ID_A, ID_B, ID_C, MISSING, tricky_persons

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.spark


def test_replica_built_on_spark_equals_the_spark_lookup(
    spark_session: SparkSession, tmp_path: Path
) -> None:
    wh = connect(f"spark://local[2]?warehouse_dir={tmp_path}/wh", spark_session=spark_session)
    try:
        data = tricky_persons().drop_columns(["blob"])
        wh.put_table("serving_spark", data)
        assert wh.data_version("serving_spark") is None  # never served on Spark
        rep = serving.build(wh, "serving_spark", "gmsfhm", "v", tmp_path / "r.arrow")
        assert rep is not None and rep.data.num_rows == data.num_rows - 1
        columns = ("gmsfhm", "xm", "csrq", "xzqh", "amount", "cnt")
        for keys in ([ID_A], [ID_B], [ID_C], [MISSING], [ID_A[:-1]], ["é" * 9], [ID_A, ID_C]):
            fast = rep.lookup(keys, columns)
            slow = warehouse_access.lookup_rows(wh, "serving_spark", columns, "gmsfhm", keys)
            assert fast is not None
            assert sorted(fast.rows, key=repr) == sorted(slow.rows, key=repr), keys
    finally:
        wh.close()
