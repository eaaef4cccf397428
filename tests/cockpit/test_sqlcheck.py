"""Restricted SQL definitions: only one read-only SELECT over declared tables, time-limited."""

from __future__ import annotations

import pyarrow as pa
import pytest

from gongshu.cockpit.sqlcheck import run_sql, validate_sql
from gongshu.errors import ValidationFailed
from gongshu.warehouse import connect

TABLES = ["city_air_quality_daily"]
GOOD = "SELECT day AS period, district, aqi AS value FROM city_air_quality_daily"


def test_a_plain_select_over_a_declared_table_is_accepted() -> None:
    sql = validate_sql(GOOD, TABLES)
    assert "city_air_quality_daily" in sql
    cte = (
        "WITH d AS (SELECT day, avg(aqi) AS a FROM city_air_quality_daily GROUP BY day) "
        "SELECT day AS period, a AS value FROM d"
    )
    validate_sql(cte, TABLES)
    ratio = "SELECT day AS period, count(*) FILTER (WHERE aqi <= 100) AS num, count(*) AS den FROM city_air_quality_daily GROUP BY 1"
    validate_sql(ratio, TABLES)


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("DELETE FROM city_air_quality_daily", "DELETE"),
        ("INSERT INTO city_air_quality_daily VALUES (1)", "INSERT"),
        ("UPDATE city_air_quality_daily SET aqi = 0", "UPDATE"),
        ("DROP TABLE city_air_quality_daily", "DROP"),
        ("CREATE TABLE x AS " + GOOD, "CREATE"),
        (GOOD + "; DROP TABLE city_air_quality_daily", "一条"),
        ("PRAGMA database_list", "PRAGMA"),
        ("ATTACH 'other.duckdb' AS o", "ATTACH"),
        ("COPY city_air_quality_daily TO '/tmp/x.csv'", "COPY"),
        ("SELECT day AS period, 1 AS value FROM read_csv('/etc/passwd')", "表函数"),
        ("SELECT day AS period, 1 AS value FROM '/etc/passwd'", "未声明"),
        (
            "SELECT read_text('/etc/passwd') AS period, 1 AS value FROM city_air_quality_daily",
            "read_text",
        ),
        ("SELECT getenv('HOME') AS period, 1 AS value FROM city_air_quality_daily", "getenv"),
        ("SELECT day AS period, 1 AS value FROM city_hotline_ticket", "未声明"),
        ("SELECT day AS period, 1 AS value FROM other.main.city_air_quality_daily", "跨库"),
        ("SELECT day AS period, aqi AS value INTO t2 FROM city_air_quality_daily", ""),
        ("SELECT day, aqi FROM city_air_quality_daily", "period"),
        ("SELEC day FROM", "语法"),
    ],
)
def test_writes_files_and_unlisted_tables_are_rejected(sql: str, why: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_sql(sql, TABLES)
    assert why in exc.value.message


def test_queries_are_interrupted_at_the_time_limit() -> None:
    wh = connect("duckdb://:memory:")
    try:
        wh.put_table("big", pa.table({"x": list(range(3000))}))
        sql = validate_sql(
            "SELECT a.x AS period, count(*) AS value FROM big a, big b, big c GROUP BY 1", ["big"]
        )
        with pytest.raises(ValidationFailed) as exc:
            run_sql(wh, sql, timeout_s=0.3)
        assert exc.value.code == "timeout"
        # The connection stays usable after the interrupt.
        assert len(run_sql(wh, "SELECT x AS period, x AS value FROM big", timeout_s=10)) == 3000
    finally:
        wh.close()
