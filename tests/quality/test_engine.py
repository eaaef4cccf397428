"""The engine on both engines: every rule kind with valid and invalid values, exact counts,
samples with reasons, the query plan (one scan + one pass per key set + samples)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pyarrow as pa
import pytest

from gongshu.quality import engine as E
from gongshu.quality import kinds as K
from tests.quality.conftest import FULLWIDTH, TODAY, ric, uscc

ENGINES = ["duckdb", pytest.param("spark", marks=pytest.mark.spark)]


def _with_x() -> tuple[str, int]:
    for seq in range(1000):
        value = ric("110105", "19800101", seq)
        if value.endswith("X"):
            return value[:17] + "x", seq
    raise AssertionError


def person_rows() -> dict[str, list[Any]]:
    lower_x, seq_x = _with_x()
    fullwidth = ric("110105", "19900101", 3)
    fullwidth = FULLWIDTH[fullwidth[0]] + fullwidth[1:]
    bad_check = ric("110105", "19700101", 7)
    bad_check = bad_check[:17] + "0123456789X"[("0123456789X".index(bad_check[17]) + 1) % 11]
    good_uscc = uscc("91330106MA2B3C4D5")
    bad_uscc_check = good_uscc[:17] + ("0" if good_uscc[17] != "0" else "1")
    sfz = [
        ric("110105", "19491231", 1),  # 0 valid, male
        ric("330106", "19850203", 2),  # 1 valid, female
        lower_x,  # 2 check X written x
        fullwidth,  # 3 full-width digit
        "110105491231001",  # 4 legacy 15 digits
        ric("110105", "19990230", 5),  # 5 impossible date, check char recomputed
        bad_check,  # 6 wrong check character
        None,  # 7 null
        ric("110105", "19491231", 1),  # 8 duplicate of row 0
        ric("330106", "20000101", 9),  # 9 valid, male; sex and birth items disagree
    ]
    return {
        "sfz": sfz,
        "xm": ["张三", "李四", "王五", "赵六", "钱七", "孙八", "Tom", "", "张叁", "周 九"],
        "xb": ["1", "2", str(2 - seq_x % 2), "1", "1", "1", "1", "3", "1", "2"],
        "csrq": [
            "1949-12-31",
            "1985-02-03",
            "1980-01-01",
            "1990-01-01",
            "1949-12-31",
            "1999-02-30",
            "1970-01-01",
            None,
            "1949-12-31",
            "2000-01-02",
        ],
        "qx": [
            "110105",
            "110105",
            "110105",
            "999999",
            "11010",
            "110105",
            "110105",
            None,
            "110105",
            "110105",
        ],
        "sjhm": [
            "13812345678",
            "12812345678",
            "1381234567",
            "13900001111",
            "13900001111",
            "13900001111",
            "13900001111",
            None,
            "13900001111",
            "13900001111",
        ],
        "gddh": ["0571-87654321"] * 5
        + ["87654321", "0571-87654321", None, "0571-87654321", "0571-87654321"],
        "email": ["user@example.cn"] * 6 + ["abc@", None, "user@example.cn", "user@example.cn"],
        "tyshxydm": [good_uscc, good_uscc, good_uscc[:10] + "I" + good_uscc[11:], bad_uscc_check]
        + [None] * 6,
        "sr": [5000.0, -1.0, 200000.0, 100.0, 100.0, 100.0, 100.0, None, 100.0, 100.0],
        "djrq": [dt.date(2020, 1, 1), dt.date(2030, 1, 1), dt.date(1999, 12, 31)]
        + [dt.date(2020, 1, 1)] * 7,
    }


RULES = [
    E.RuleDef(1, "ric", "sfz", {"region_check": "codes"}, "准确性", "blocking"),
    E.RuleDef(2, "not_null", "sfz", {}, "完整性"),
    E.RuleDef(3, "unique", "sfz", {}, "唯一性", "blocking"),
    E.RuleDef(4, "id_birth_match", "csrq", {"id_column": "sfz", "format": "YYYY-MM-DD"}, "一致性"),
    E.RuleDef(5, "id_sex_match", "xb", {"id_column": "sfz"}, "一致性"),
    E.RuleDef(6, "not_blank", "xm", {}, "完整性"),
    E.RuleDef(7, "chinese_name", "xm", {"min_length": 2, "max_length": 30}, "规范性"),
    E.RuleDef(8, "enum", "xb", {"code_table": "gb2261"}, "规范性"),
    E.RuleDef(9, "regex", "qx", {"pattern": "[0-9]{6}"}, "规范性"),
    E.RuleDef(10, "length", "qx", {"min_length": 6, "max_length": 6}, "规范性"),
    E.RuleDef(11, "enum", "qx", {"code_table": "gb2260"}, "规范性"),
    E.RuleDef(12, "referential", "qx", {"resource": "regions", "column": "code"}, "关联性"),
    E.RuleDef(13, "mobile", "sjhm", {}, "规范性"),
    E.RuleDef(14, "landline", "gddh", {}, "规范性"),
    E.RuleDef(15, "email", "email", {}, "规范性"),
    E.RuleDef(16, "uscc", "tyshxydm", {}, "准确性"),
    E.RuleDef(17, "range", "sr", {"min": 0, "max": 100000}, "准确性"),
    E.RuleDef(18, "date_range", "djrq", {"min": "2000-01-01", "not_future": True}, "时效性"),
    E.RuleDef(19, "date_format", "csrq", {"format": "YYYY-MM-DD"}, "规范性"),
    E.RuleDef(
        20,
        "cross_source",
        "sfz",
        {
            "resource": "social",
            "column": "gmsfhm",
            "value_column": "xm",
            "other_value_column": "xm",
        },
        "一致性",
    ),
    E.RuleDef(21, "freshness", None, {}, "时效性"),
    E.RuleDef(22, "row_count", None, {"max_change": 0.3}, "完整性"),
    E.RuleDef(23, "unique", "sfz", {"columns": ["xm"]}, "唯一性"),
]

# rule id -> (rows checked, rows failed)
EXPECTED = {
    1: (10, 5),
    2: (10, 1),
    3: (9, 2),
    4: (10, 1),
    5: (10, 1),
    6: (10, 1),
    7: (10, 3),
    8: (10, 1),
    9: (10, 1),
    10: (10, 1),
    11: (10, 2),
    12: (9, 2),
    13: (10, 2),
    14: (10, 1),
    15: (10, 1),
    16: (10, 2),
    17: (10, 2),
    18: (10, 2),
    19: (10, 1),
    20: (2, 1),
    21: (1, 1),
    22: (1, 1),
    23: (9, 0),
}


@pytest.fixture(params=ENGINES)
def con(request: pytest.FixtureRequest) -> Any:
    name = "duck" if request.param == "duckdb" else "spark"
    backend = request.getfixturevalue(name)
    data = person_rows()
    schema = pa.schema(
        [
            (c, pa.float64() if c == "sr" else pa.date32() if c == "djrq" else pa.string())
            for c in data
        ]
    )
    backend.create_view("person", ibis.memtable(pa.table(data, schema=schema)), overwrite=True)
    backend.create_view(
        "regions", ibis.memtable({"code": ["110105", "330106", "110101"]}), overwrite=True
    )
    backend.create_view(
        "social",
        ibis.memtable(
            {
                "gmsfhm": [data["sfz"][1], data["sfz"][9], "110101199001010000"],
                "xm": ["李四", "周九", "某人"],
            }
        ),
        overwrite=True,
    )
    return backend


def _ctx(con: Any) -> K.EvalContext:
    now = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)
    return K.EvalContext(
        today=TODAY,
        other_table=con.table,
        previous_rows=20,
        last_load_at=now - dt.timedelta(days=3),
        update_cycle="每日",
        now=now,
    )


def test_every_kind_counts_and_samples(con: Any) -> None:
    res = E.evaluate(
        con.table("person"), RULES, execute=con.execute, ctx=_ctx(con), key_columns=["sfz"]
    )
    got = {rid: (o.rows_checked, o.rows_failed) for rid, o in res.outcomes.items()}
    assert got == EXPECTED
    # the probe (which string columns to check per value), one scan, three key sets
    # (sfz: unique + cross-source; qx; sfz+xm), one sample pass
    assert res.queries == 6
    assert res.rows == 10
    ric_reasons = {s["reason"] for s in res.outcomes[1].samples}
    assert ric_reasons == {"lowercase_x", "charset", "legacy15", "birthdate", "checksum"}
    assert all(s["fields"] == ["sfz"] for s in res.outcomes[1].samples)
    assert len(res.outcomes[1].samples) == 5
    assert res.outcomes[3].samples[0]["key"] == {"sfz": ric("110105", "19491231", 1)}
    assert res.outcomes[4].samples[0]["values"]["csrq"] == "2000-01-02"
    assert res.outcomes[12].samples and {s["key"]["qx"] for s in res.outcomes[12].samples} == {
        "11010",
        "999999",
    }
    assert "超过" in (res.outcomes[21].message or "")
    assert res.outcomes[23].passed
    # thresholds: 10% allowed on the not-null rule passes it
    assert not res.outcomes[2].passed
    assert set(res.dimension_scores) == set(K.DIMENSION_NAMES)


def test_threshold_and_scores(con: Any) -> None:
    rules = [
        E.RuleDef(1, "not_null", "sfz", {}, "完整性", threshold=0.1),
        E.RuleDef(2, "mobile", "sjhm", {}, "规范性", threshold=0.0),
    ]
    res = E.evaluate(con.table("person"), rules, execute=con.execute, ctx=_ctx(con))
    assert res.outcomes[1].passed and res.outcomes[1].score == 90.0
    assert not res.outcomes[2].passed and res.outcomes[2].score == E.FAIL_CAP
    assert res.dimension_scores == {"完整性": 90.0, "规范性": 60.0}
    assert res.score == 75.0
    assert res.queries == 3  # the probe, the scan and the samples of the failed rule


def test_checking_per_value_gives_the_same_results(con: Any) -> None:
    """Row rules checked once per distinct value (a column grouped) or per row: the same
    counts, samples and scores, whatever the probe would decide."""
    results = {
        mode: E.evaluate(
            con.table("person"),
            RULES,
            execute=con.execute,
            ctx=_ctx(con),
            key_columns=["sfz"],
            by_value=mode,
        )
        for mode in (True, False, None)
    }
    per_row = results[False]
    for mode in (True, None):
        other = results[mode]
        for rid, o in per_row.outcomes.items():
            assert other.outcomes[rid] == o, (mode, rid)
        assert (other.score, other.dimension_scores) == (per_row.score, per_row.dimension_scores)
    # grouping the ten-row columns: no probe, the value checks ride along in the scan
    assert results[True].queries == per_row.queries


def test_all_pass_needs_one_query(con: Any) -> None:
    rules = [E.RuleDef(1, "not_null", "xb", {}, "完整性")]
    res = E.evaluate(con.table("person"), rules, execute=con.execute, ctx=_ctx(con))
    assert res.queries == 1 and res.outcomes[1].passed


def test_rule_params_are_checked() -> None:
    cols = {"a": "字符串", "b": "字符串"}
    with pytest.raises(ValueError, match="正则"):
        K.get("regex").check({"pattern": "(?=x)"}, cols)
    with pytest.raises(ValueError):
        K.get("length").check({"min_length": 5, "max_length": 2}, cols)
    with pytest.raises(ValueError, match="代码表"):
        K.get("enum").check({"code_table": "nope"}, cols)
    with pytest.raises(ValueError):
        K.get("id_sex_match").check({"id_column": "zz"}, cols)
    with pytest.raises(ValueError):
        K.get("row_count").check({"max_change": 0}, cols)
    assert K.get("enum").check({"values": "1，2, 3"}, cols) == {"values": ["1", "2", "3"]}
    with pytest.raises(ValueError, match="未知"):
        K.get("nope")


def test_registry_has_every_builtin_kind() -> None:
    names = set(K.kinds.names())
    assert {k.name for k in K.BUILTIN} <= names
    levels = {K.get(n).level for n in names}
    assert levels == {"row", "group", "table"}
