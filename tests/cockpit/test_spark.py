"""An Ibis-defined indicator gives the same series on Spark as on DuckDB."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest
from sqlalchemy.orm import Session

from gongshu.cockpit import compute, demo_data
from gongshu.cockpit.models import Indicator
from gongshu.cockpit.registry import IndicatorContext, IndicatorSpec
from gongshu.warehouse import connect

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.spark
END = date(2026, 3, 31)


def _satisfaction(ctx: IndicatorContext) -> Any:
    t = ctx.table(demo_data.HOTLINE)
    rated = t.filter(t.satisfied.notnull())
    return rated.group_by(period=rated.created_date, district=rated.district).agg(
        num=rated.satisfied.cast("int64").sum(), den=rated.count()
    )


SPEC = IndicatorSpec(
    code="test.satisfaction",
    name="满意率（Ibis）",
    topic="政务服务",
    compute=_satisfaction,
    dimensions=("district",),
    rollup="ratio",
    sources=(demo_data.HOTLINE,),
)


def test_ibis_indicator_runs_the_same_on_spark_and_duckdb(
    tmp_path: Path,
    spark_session: SparkSession,
    session: Session,
) -> None:
    table = demo_data.hotline_table(END - timedelta(days=20), END, END)
    ind = Indicator(
        code=SPEC.code,
        name=SPEC.name,
        topic=SPEC.topic,
        kind="plugin",
        definition=SPEC.code,
        sources=list(SPEC.sources),
        granularity="day",
        dimensions=["district"],
        rollup="ratio",
    )
    frames = []
    for url in (
        f"duckdb:///{tmp_path}/wh.duckdb",
        f"spark://local[2]?warehouse_dir={tmp_path}/spark",
    ):
        wh = connect(url, spark_session=spark_session if url.startswith("spark") else None)
        try:
            with wh.begin_load(demo_data.HOTLINE, 1, table.schema) as stage:
                stage.append(table)
                stage.publish("full")
            frame = compute.compute_frame(
                session,
                wh,
                ind,
                since=pd.Timestamp(END - timedelta(days=5)).to_pydatetime(),
                until=END,
                specs={SPEC.code: SPEC},
            )
        finally:
            wh.close()
        frames.append(frame.sort_values(["period", "district"]).reset_index(drop=True))
    duck, spark = frames
    assert len(duck) == 6 * 7 and duck["period"].min() == pd.Timestamp(END - timedelta(days=5))
    pd.testing.assert_frame_equal(duck, spark)
