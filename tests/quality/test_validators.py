"""Validators: examples per rule kind on DuckDB, python-stdnum as oracle for ID numbers
and credit codes (100,000 values each, one query), and DuckDB/Spark parity."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pytest
from stdnum.cn import ric as stdnum_ric
from stdnum.cn import uscc as stdnum_uscc

from gongshu.quality import validators as v

from .conftest import SPARK_SAMPLE, TODAY, Sample, ric, uscc

Check = Callable[[Any], ir.Value]


def run(con: Any, values: Sequence[Any], check: Check, dtype: str = "string") -> list[Any]:
    """Apply ``check`` to a one-column table of ``values``; results in input order."""
    t = ibis.memtable(
        pd.DataFrame({"i": range(len(values)), "x": pd.Series(list(values), dtype=object)}),
        schema={"i": "int64", "x": dtype},
    )
    df = con.execute(t.select(t.i, out=check(t.x)).order_by("i"))
    return [None if _missing(x) else x for x in df["out"]]


def _missing(x: Any) -> bool:
    return x is None or x is pd.NaT or (isinstance(x, float) and math.isnan(x))


def failing(con: Any, cases: dict[Any, bool], check: Check, dtype: str = "string") -> None:
    """``cases`` maps value -> expected "fails"; compare all at once for a clear diff."""
    values = list(cases)
    got = run(con, values, check, dtype)
    assert dict(zip(values, got, strict=True)) == cases


# --- generic rule kinds ------------------------------------------------------------


def test_not_null(duck: Any) -> None:
    failing(duck, {"a": False, "": False, None: True}, v.not_null_fails)


def test_not_blank(duck: Any) -> None:
    cases = {
        "": True,
        " ": True,
        "\u3000": True,  # full-width space
        " \u3000\t\r\n": True,
        "\u00a0": True,
        "\ufeff": True,
        "a": False,
        " a ": False,
        "\u3000张三": False,
        "张三\u3000": False,
        None: False,  # not-null is its own rule
    }
    failing(duck, cases, v.not_blank_fails)


def test_length_counts_characters(duck: Any) -> None:
    check = lambda c: v.length_fails(c, min_length=2, max_length=4)  # noqa: E731
    failing(duck, {"中": True, "中文": False, "绍兴市局": False, "绍兴市数据局": True}, check)
    failing(duck, {"": False, "ab": True}, lambda c: v.length_fails(c, max_length=1))
    with pytest.raises(ValueError):
        v.length_fails(ibis.literal("x"))


def test_regex_is_anchored(duck: Any) -> None:
    check = lambda c: v.regex_fails(c, pattern="[0-9]{3}")  # noqa: E731
    # "123\n" would pass with Java's "$"; the \z anchor rejects it on both engines.
    failing(duck, {"123": False, "1234": True, "a123": True, "123\n": True, None: False}, check)
    han = lambda c: v.regex_fails(c, pattern=r"[\x{4E00}-\x{9FFF}]+")  # noqa: E731
    failing(duck, {"绍兴": False, "绍兴1": True}, han)


def test_enum_small_large_and_column(duck: Any) -> None:
    small = lambda c: v.enum_fails(c, values=["1", "2", None])  # noqa: E731
    failing(duck, {"1": False, "2": False, "3": True, " 1": True, None: False}, small)
    many = [f"{i:03d}" for i in range(200)]  # beyond the inline limit: a lookup table
    failing(duck, {"007": False, "199": False, "200": True}, lambda c: v.enum_fails(c, values=many))
    codes = ibis.memtable({"code": ["110105", "330602"]})
    failing(duck, {"330602": False, "330600": True}, lambda c: v.enum_fails(c, values=codes.code))
    failing(duck, {"x": True}, lambda c: v.enum_fails(c, values=[]))


def test_numeric_range(duck: Any) -> None:
    failing(
        duck,
        {-1: True, 0: False, 100: False, 101: True, None: False},
        lambda c: v.range_fails(c, min=0, max=100),
        dtype="int64",
    )
    failing(
        duck,
        {0.0: True, 0.5: False, 1.0: True},
        lambda c: v.range_fails(c, min=0, max=1, inclusive=False),
        dtype="float64",
    )
    failing(
        duck,
        {"12.5": False, "abc": True, "": True, "1e9": True, "NaN": True, None: False},
        lambda c: v.range_fails(c, max=100),
    )


def test_date_range(duck: Any) -> None:
    window = {"min": dt.date(2000, 1, 1), "not_future": True, "today": TODAY}
    dates = {
        dt.date(1999, 12, 31): True,
        dt.date(2000, 1, 1): False,
        TODAY: False,
        TODAY + dt.timedelta(days=1): True,
        None: False,
    }
    failing(duck, dates, lambda c: v.date_range_fails(c, **window), dtype="date")
    stamps = {dt.datetime(2025, 6, 1, 23, 59): False, dt.datetime(2025, 6, 2, 0, 0): True}
    failing(duck, stamps, lambda c: v.date_range_fails(c, **window), dtype="timestamp")
    strings = {"1999-12-31": True, "2025-06-01": False, "2025-06-02": True, "2025-02-30": False}
    failing(duck, strings, lambda c: v.date_range_fails(c, format="YYYY-MM-DD", **window))
    # Default today: the date in Asia/Shanghai when the expression is built.
    far = {dt.date(9999, 1, 1): True, dt.date(2001, 1, 1): False}
    failing(duck, far, lambda c: v.date_range_fails(c, not_future=True), dtype="date")
    with pytest.raises(ValueError):
        v.date_range_fails(ibis.literal("2020-01-01"), not_future=True)


@pytest.mark.parametrize(
    ("fmt", "cases"),
    [
        (
            "YYYY-MM-DD",
            {
                "2024-02-29": None,
                "2023-02-29": "date",
                "1900-02-29": "date",
                "2000-02-29": None,
                "1999-04-31": "date",
                "1999-12-31": None,
                "1999-13-01": "date",
                "1999-00-10": "date",
                "1999-2-3": "format",
                "1999/02/03": "format",
                "1999-02-03 ": "format",
                "１９９９-02-03": "format",
                "": "format",
                None: None,
            },
        ),
        (
            "YYYYMMDD",
            {"19990230": "date", "19990228": None, "1999022": "format", "+9990228": "format"},
        ),
        ("YYYY/MM/DD", {"2020/01/31": None, "2020-01-31": "format"}),
        (
            "YYYY年MM月DD日",
            {"2020年01月31日": None, "2020年02月30日": "date", "2020年1月31日": "format"},
        ),
        ("DD.MM.YYYY", {"31.01.2020": None, "31-01-2020": "format", "31.02.2020": "date"}),
        ("MM/DD/YYYY", {"02/29/2000": None, "02/29/2100": "date", "12/31/0000": "date"}),
    ],
)
def test_date_format(duck: Any, fmt: str, cases: dict[str | None, str | None]) -> None:
    values = list(cases)
    reasons = run(duck, values, lambda c: v.date_format_reason(c, format=fmt))
    fails = run(duck, values, lambda c: v.date_format_fails(c, format=fmt))
    assert dict(zip(values, reasons, strict=True)) == cases
    assert fails == [r is not None for r in reasons]


@pytest.mark.parametrize("fmt", ["YYYY-MM", "YYYY-MM-DD-DD", "YY-MM-DD", "MM-YYYY-DD"])
def test_date_format_definition_errors(fmt: str) -> None:
    with pytest.raises(ValueError):
        v.date_format_fails(ibis.literal("x"), format=fmt)


# --- resident ID numbers --------------------------------------------------------------

GB_EXAMPLE = "11010519491231002X"  # the example number of GB 11643-1999


def ric_examples() -> dict[str | None, str | None]:
    """value -> expected reason (None: valid) with the year-agnostic region check."""
    return {
        GB_EXAMPLE: None,
        ric("330602", "19800101", 123): None,  # 越城区 (绍兴)
        ric("330602", "20000229", 124): None,  # leap day
        GB_EXAMPLE[:17] + "x": "lowercase_x",
        GB_EXAMPLE[:17] + "1": "checksum",
        ric("110105", "19490131", 2)[:16] + "93": "checksum",  # two digits changed
        ric("110105", "19990230", 1): "birthdate",  # no such day
        ric("110105", "19000229", 1): "birthdate",  # 1900 was not a leap year
        ric("110105", "19991301", 1): "birthdate",
        ric("110105", "18991231", 1): "birthdate",  # before 1900
        ric("110105", "20250602", 1): "birthdate",  # after TODAY
        "440524188001010014": "birthdate",  # GB 11643's other example: born 1880
        ric("119999", "19800101", 1): "region",  # no such county
        ric("990000", "19800101", 1): "region",
        "１10105194912310021": "charset",  # full-width digit
        "11010519491231002Y": "charset",
        "11010519491231 02X": "charset",
        f" {GB_EXAMPLE}": "length",
        GB_EXAMPLE[:17]: "length",
        "": "length",
        "110105491231002": "legacy15",  # 15-digit form of the GB example
        "11010549123100X": "length",
        None: None,
    }


@pytest.fixture(scope="module")
def ric_opts(region_codes: list[str]) -> dict[str, Any]:
    return {"regions": region_codes, "today": TODAY}


def test_ric_examples(duck: Any, ric_opts: dict[str, Any]) -> None:
    cases = ric_examples()
    values = list(cases)
    reasons = run(duck, values, lambda c: v.ric_reason(c, **ric_opts))
    fails = run(duck, values, lambda c: v.ric_fails(c, **ric_opts))
    assert dict(zip(values, reasons, strict=True)) == cases
    assert fails == [r is not None for r in reasons]


def test_ric_legacy15_allowed(duck: Any, ric_opts: dict[str, Any]) -> None:
    opts = {**ric_opts, "allow_legacy15": True}
    cases: dict[str | None, str | None] = {
        "110105491231002": None,
        "110105990230002": "birthdate",
        "119999491231002": "region",
        "11010549123100x": "charset",
        GB_EXAMPLE: None,
        GB_EXAMPLE[:17] + "x": "lowercase_x",
        "1101054912310": "length",
    }
    values = list(cases)
    reasons = run(duck, values, lambda c: v.ric_reason(c, **opts))
    fails = run(duck, values, lambda c: v.ric_fails(c, **opts))
    assert dict(zip(values, reasons, strict=True)) == cases
    assert fails == [r is not None for r in reasons]


def test_ric_region_sources(duck: Any) -> None:
    valid, elsewhere = ric("330602", "19800101", 5), ric("110105", "19800101", 5)
    region_table = ibis.memtable({"code": ["330602", "330603"], "n": [330602, 330603]})
    for regions in (["330602"], region_table.code, region_table.n):
        check = lambda c, r=regions: v.ric_reason(c, regions=r, today=TODAY)  # noqa: E731
        assert run(duck, [valid, elsewhere], check) == [None, "region"]
    # regions=None skips the region check; it must be said explicitly.
    assert run(duck, [elsewhere], lambda c: v.ric_fails(c, regions=None, today=TODAY)) == [False]
    with pytest.raises(ValueError):
        v.ric_fails(ibis.literal(valid), regions=["330602"], region_years=[1])


def test_ric_region_years(duck: Any, region_keys: list[int]) -> None:
    # 崇文区 110103 was abolished in 2010; 通州区 110112 created in 1997.
    cases = {
        ric("110103", "20090101", 1): None,
        ric("110103", "20110101", 1): "region",
        ric("110112", "19970101", 1): None,
        ric("110112", "19960101", 1): "region",
    }
    check = lambda c: v.ric_reason(c, regions=None, region_years=region_keys, today=TODAY)  # noqa: E731
    assert run(duck, list(cases), check) == list(cases.values())
    for value, reason in cases.items():
        assert stdnum_ric.is_valid(value) is (reason is None)


def test_ric_default_today_is_current_date(duck: Any) -> None:
    future = ric("110105", "20991231", 1)
    assert run(duck, [future, GB_EXAMPLE], lambda c: v.ric_fails(c, regions=None)) == [True, False]


def test_ric_birth_date_and_sex(duck: Any) -> None:
    values = [GB_EXAMPLE, ric("330602", "20000229", 124), "110105491231002", "110105491231001",
              "11010519991301002X", "abc", None]  # fmt: skip
    births = run(duck, values, v.ric_birth_date)
    assert [b.date() if b is not None else None for b in births] == [
        dt.date(1949, 12, 31),
        dt.date(2000, 2, 29),
        dt.date(1949, 12, 31),
        dt.date(1949, 12, 31),
        None,
        None,
        None,
    ]
    # The sex needs only the digits, not a real birth date.
    assert run(duck, values, v.ric_sex) == [2, 2, 2, 1, 2, None, None]


def test_ric_cross_field_rules(duck: Any) -> None:
    man = ric("330602", "19800101", 123)
    t = ibis.memtable(
        {
            "id": [man, man, man, GB_EXAMPLE, "bad", None, man, man],
            "born": [
                dt.date(1980, 1, 1),
                dt.date(1980, 1, 2),
                None,
                dt.date(1949, 12, 31),
                dt.date(1980, 1, 1),
                dt.date(1980, 1, 1),
                dt.date(1980, 1, 1),
                dt.date(1980, 1, 1),
            ],
            "born_s": [
                "1980-01-01",
                "1980-01-02",
                None,
                "1949-12-31",
                "x",
                "y",
                "19800101",
                "1980-01-01",
            ],
            "sex": [1, 2, None, 2, 1, 1, 9, 1],
            "sex_s": ["男", "女", None, "女", "男", "男", "未知", "男"],
            "sex_c": ["1", "2", None, "2", "1", "1", "9", "1"],
        }
    )
    out = duck.execute(
        t.select(
            date=v.ric_birth_date_mismatch(t.id, t.born),
            date_s=v.ric_birth_date_mismatch(t.id, t.born_s),
            sex=v.ric_sex_mismatch(t.id, t.sex),
            sex_s=v.ric_sex_mismatch(t.id, t.sex_s, male="男", female="女"),
            sex_c=v.ric_sex_mismatch(t.id, t.sex_c),
        )
    )
    assert out["date"].tolist() == [False, True, False, False, False, False, False, False]
    # "19800101" is not in the item's format: the date-format rule reports it, not this one
    assert out["date_s"].tolist() == [False, True, False, False, False, False, False, False]
    assert out["sex"].tolist() == [False, True, False, False, False, False, True, False]
    assert out["sex_s"].tolist() == out["sex"].tolist()
    assert out["sex_c"].tolist() == out["sex"].tolist()


# --- unified social credit codes --------------------------------------------------------

STDNUM_EXAMPLE = "91110000600037341L"  # from python-stdnum's documentation


def uscc_examples() -> dict[str | None, str | None]:
    base = uscc("9133060279" + "2A3B4C5")
    examples: dict[str | None, str | None] = {
        STDNUM_EXAMPLE: None,
        base: None,
        STDNUM_EXAMPLE[:17] + "M": "checksum",
        STDNUM_EXAMPLE[:17] + "l": "lowercase",
        base.lower(): "lowercase",
        "A1110000600037341L": "authority",  # stdnum: letters only from character 9
        uscc("91A10000600037341"): "region",
        STDNUM_EXAMPLE[:17]: "length",
        STDNUM_EXAMPLE + "0": "length",
        "９1110000600037341L": "charset",
        f" {STDNUM_EXAMPLE[1:]}": "charset",
        None: None,
    }
    for letter in "IOZSV":  # not in the GB 32100 alphabet
        examples[STDNUM_EXAMPLE[:10] + letter + STDNUM_EXAMPLE[11:]] = "charset"
        examples[STDNUM_EXAMPLE[:17] + letter] = "charset"
    return examples


def test_uscc_examples(duck: Any) -> None:
    cases = uscc_examples()
    values = list(cases)
    reasons = run(duck, values, v.uscc_reason)
    assert dict(zip(values, reasons, strict=True)) == cases
    assert run(duck, values, v.uscc_fails) == [r is not None for r in reasons]
    for value, reason in cases.items():
        if value is not None and stdnum_uscc.compact(value) == value:
            assert stdnum_uscc.is_valid(value) is (reason is None), value


def test_uscc_options(duck: Any) -> None:
    farm = uscc("N2330602" + "MA2B3C4D5")  # 农村集体经济组织, registered by agriculture
    other = uscc("Y1330602" + "000000000")  # GB 32100 authority Y (其他)
    national = uscc("91100000" + "100000000")
    assert run(duck, [farm, other], v.uscc_reason) == ["authority", "authority"]
    lenient = lambda c: v.uscc_reason(c, letter_authority=True)  # noqa: E731
    letter_in_region = uscc("N2A30602" + "MA2B3C4D5")
    assert run(duck, [farm, other, letter_in_region], lenient) == [None, None, "region"]

    in_shaoxing = lambda c: v.uscc_reason(c, regions=["330602", "100000"])  # noqa: E731
    assert run(duck, [farm.replace("N", "9", 1), national, STDNUM_EXAMPLE], in_shaoxing) == [
        "checksum",  # changing the authority breaks the check character
        None,
        "region",
    ]
    # Characters 9-17 of the stdnum example hold organisation code 60003734-1 (valid).
    org = lambda c: v.uscc_reason(c, check_org_code=True)  # noqa: E731
    broken_org = uscc("91110000" + "600037342")
    with_x = uscc("91330602" + "MA2B3C4DX")
    assert run(duck, [STDNUM_EXAMPLE, broken_org, with_x], org) == [None, "org_code", _org(with_x)]
    assert run(duck, [broken_org], v.uscc_reason) == [None]  # stdnum does not check it


def _org(code: str) -> str | None:
    """GB 11714 verdict on characters 9-17, computed the obvious way."""
    body, check = code[8:16], code[16]
    total = sum(int(c, 36) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    expected = {10: "X", 11: "0"}.get(11 - total % 11, str(11 - total % 11))
    return None if check == expected else "org_code"


# --- phones, e-mail, names, normalisation ----------------------------------------------------


def test_mobile(duck: Any) -> None:
    cases = {
        "13812345678": False,
        "19912345678": False,
        "16612345678": False,
        "12812345678": True,
        "1381234567": True,
        "138123456789": True,
        "23812345678": True,
        "1381234567a": True,
        "１３８１２３４５６７８": True,
        "+8613812345678": True,
        "138 1234 5678": True,
        None: False,
    }
    failing(duck, cases, v.mobile_fails)
    prefixed = {
        "13812345678": False,
        "+8613812345678": False,
        "8613812345678": False,
        "+86 13812345678": False,
        "0086-13812345678": False,
        "+85213812345678": True,
        "+86 12812345678": True,
    }
    failing(duck, prefixed, lambda c: v.mobile_fails(c, allow_country_code=True))


def test_landline(duck: Any) -> None:
    cases = {
        "0571-87654321": False,
        "057187654321": False,
        "010-62345678": False,
        "01062345678": False,
        "(0571)8765432": False,
        "0575-8512345": False,
        "021-62345678-123": False,
        "0571-87654321转8001": False,
        "87654321": True,  # no area code
        "571-87654321": True,
        "0571-876543": True,
        "0571--87654321": True,
        "0571-17654321": True,
        "13812345678": True,
        "0571-87654321-": True,
        None: False,
    }
    failing(duck, cases, v.landline_fails)


def test_email(duck: Any) -> None:
    cases = {
        "a1@b.cn": False,
        "zhang.san+tag@sjj.shaoxing.gov.cn": False,
        "o'neil@example.com": False,
        "a@b": True,
        "a@@b.cn": True,
        "a b@c.cn": True,
        ".ab@c.cn": True,
        "a..b@c.cn": True,
        "ab@-c.cn": True,
        "ab@c.c": True,
        "张三@例子.中国": True,
        "ab@c.cn\n": True,
        None: False,
    }
    failing(duck, cases, v.email_fails)


def test_chinese_name(duck: Any) -> None:
    cases = {
        "张三": False,
        "欧阳娜娜": False,
        "阿卜杜拉·买买提": False,
        "\U00020bb7野": False,  # 𠮷 (extension B)
        "张": True,
        "Zhang San": True,
        "张三1": True,
        "张 三": True,
        "阿卜杜拉.买买提": True,
        "阿卜杜拉•买买提": True,
        "·张三": True,
        "张三·": True,
        None: False,
    }
    failing(duck, cases, v.chinese_name_fails)


def test_to_halfwidth(duck: Any) -> None:
    values = [
        "１２３ＡＢＣａｂｃ\u3000Ｘ",
        "（０５７１）－８７６５４３２１",
        "绍兴市，越城区",
        None,
    ]
    assert run(duck, values, v.to_halfwidth) == [
        "123ABCabc X",
        "（0571）－87654321",
        "绍兴市，越城区",
        None,
    ]
    assert run(duck, values, lambda c: v.to_halfwidth(c, punctuation=True)) == [
        "123ABCabc X",
        "(0571)-87654321",
        "绍兴市,越城区",
        None,
    ]


def test_registry(duck: Any) -> None:
    assert set(v.RULE_KINDS) >= {"not_null", "ric", "uscc", "date_format", "mobile"}
    for kind in v.RULE_KINDS.values():
        assert kind.code in v.REASONS or kind.reason is not None
    codes = {"ric": ["length", "charset", "lowercase_x", "legacy15", "region", "birthdate",
                     "checksum"], "uscc": ["lowercase", "authority", "org_code"]}  # fmt: skip
    assert {c for cs in codes.values() for c in cs} <= set(v.REASONS)
    mobile = v.RULE_KINDS["mobile"]
    assert run(duck, ["13812345678", "1"], mobile.reason_of) == [None, "mobile"]


# --- fast paths: the same verdicts as the reference formulations ------------------------

_RIC_FAST_SHAPE = re.compile(r"[1-9][0-9]{16}[0-9X]")


def tricky_ids() -> list[str | None]:
    """Values around the fast ID parse: every non-digit character (and some full-width and
    other Unicode digits) in every position, in place of or before a digit, and the forms
    DuckDB's and Spark's integer casts accept besides plain digits (sign, spaces,
    underscores, a decimal point, exponents, hexadecimal and binary prefixes)."""
    base = [GB_EXAMPLE, ric("330602", "20000229", 124), ric("110105", "19990230", 1)]
    x_end = next(x for x in (ric("110105", "19800101", i) for i in range(50)) if x[-1] == "X")
    chars = [chr(c) for c in range(1, 128) if not chr(c).isdigit()]
    chars += ["\u3000", "１", "\u00a0", "٣", "\ufeff", "x"]
    values: set[str | None] = {None, "", x_end, x_end[:17] + "x", "0" + GB_EXAMPLE[1:]}
    for b in [*base, x_end]:
        values.add(b)
        for i in range(18):
            for c in chars:
                values.add(b[:i] + c + b[i + 1 :])
                values.add((b[:i] + c + b[i:])[:18])
    for i in range(17):
        for j in range(i + 1, 18):
            for c1, c2 in [("e", "+"), ("E", "-"), (".", "e"), ("_", "_"), ("0", "x"), (" ", " ")]:
                chars_ = list(GB_EXAMPLE)
                chars_[i], chars_[j] = c1, c2
                values.add("".join(chars_))
    values.update(
        [
            "0x" + "1" * 16,
            "0X" + "F" * 15 + "X",
            "0b" + "1" * 16,
            "1" * 14 + "e+03",
            "1" * 16 + "e2",
            "1" * 16 + "E2",
            "1" * 15 + "e+2",
            "1101051949123100e2",
            "12345678.901234e10",
            "+" + "1" * 17,
            "1" * 17 + " ",
            " " + "1" * 17,
            "1_" * 9,
            "12345678901234567.",
            "1234567890123456.7",
            "9" * 18,
            "9" * 19,
            "1" * 18 + " ",
            "1234567890_12345678",
            "9e18" + " " * 13 + "X",
            "110105491231002",
            "11010549123100X",
        ]
    )
    return sorted(values, key=lambda x: (x is None, x or ""))


def test_ric_fast_parse_is_exact(duck: Any) -> None:
    """``fast`` holds exactly for the well-formed values, and its digits are right."""
    values = tricky_ids()
    t = ibis.memtable(
        pd.DataFrame({"i": range(len(values)), "x": pd.Series(values, dtype=object)}),
        schema={"i": "int64", "x": "string"},
    )
    p = v.ric_parts(t.x)
    out = duck.execute(
        t.select(
            t.i, fast=p.fast, region=p.region, ymd=p.ymd, sex=p.sex, sum_ok=p.checksum
        ).order_by("i")
    )
    for value, row in zip(values, out.itertuples(), strict=True):
        well_formed = value is not None and _RIC_FAST_SHAPE.fullmatch(value) is not None
        assert bool(row.fast) is well_formed, value
        if well_formed:
            assert value is not None
            assert (row.region, row.ymd) == (int(value[:6]), int(value[6:14])), value
            assert row.sex == (1 if int(value[16]) % 2 else 2), value
            total = sum(int(c) * w for c, w in zip(value[:17], v.RIC_WEIGHTS, strict=True))
            check = "10X98765432"[total % 11]
            assert bool(row.sum_ok) is (value[17] == check), value


@pytest.mark.parametrize(
    "opts",
    [
        {"regions": "codes"},
        {"regions": None},
        {"regions": "codes", "allow_legacy15": True},
        {"regions": None, "region_years": "keys"},
    ],
)
def test_ric_fails_matches_reference_on_tricky_values(
    duck: Any, opts: dict[str, Any], region_codes: list[str], region_keys: list[int]
) -> None:
    args = dict(opts, today=TODAY)
    if args["regions"] == "codes":
        args["regions"] = region_codes
    if args.get("region_years") == "keys":
        args["region_years"] = region_keys
    values = tricky_ids()
    fails = run(duck, values, lambda c: v.ric_fails(c, **args))
    reasons = run(duck, values, lambda c: v.ric_reason(c, **args))
    assert fails == [r is not None for r in reasons]
    # the reason with the shared parse (the engine's) is the reference reason
    fast = run(duck, values, lambda c: v.ric_reason(c, **args, parts=v.ric_parts(c)))
    assert fast == reasons
    assert sum(not f for f in fails) >= 3  # the valid examples stay valid


def tricky_mobiles() -> list[str | None]:
    base = ["13812345678", "19900000000", "13000000000", "12812345678"]
    values: set[str | None] = {None, "", "130000000e2", "1300000000E1", "+1381234567"}
    for b in base:
        for i in range(11):
            for c in [chr(x) for x in range(1, 128) if not chr(x).isdigit()] + ["１", "٣"]:
                values.add(b[:i] + c + b[i + 1 :])
                values.add((b[:i] + c + b[i:])[:11])
        values.update([b + " ", " " + b, b[:10], b + "0", b[:3] + "_" + b[3:]])
    values.update(["0x30000000f", "0X3B9ACA000", "1.300000e10", "13_000000e2", "1e10"])
    return sorted(values, key=lambda x: (x is None, x or ""))


def test_mobile_fast_path_matches_the_pattern(duck: Any) -> None:
    ordered = tricky_mobiles()
    got = run(duck, ordered, v.mobile_fails)
    pattern = re.compile(r"1[3-9][0-9]{9}")
    assert got == [x is not None and pattern.fullmatch(x) is None for x in ordered]


def test_mobile_with_the_scan_shared_number_is_the_same_check(duck: Any) -> None:
    """The engine's scan casts the column once (a prepared ``int`` parse) and the rule
    reads that number: the same verdicts as the inline cast."""
    values = tricky_mobiles()
    t = ibis.memtable(
        pd.DataFrame({"i": range(len(values)), "x": pd.Series(values, dtype=object)}),
        schema={"i": "int64", "x": "string"},
    )
    prepared = v.prepare(t, [v.Need("int", "x")])
    number = v.prepared_int(prepared, "x")
    assert number is not None and v.prepared_int(t, "x") is None
    out = duck.execute(
        prepared.select(
            prepared.i,
            shared=v.mobile_fails(prepared.x, number=number),
            inline=v.mobile_fails(prepared.x),
        ).order_by("i")
    )
    assert out["shared"].tolist() == out["inline"].tolist() and out["shared"].any()


def test_real_day_is_the_calendar(duck: Any) -> None:
    """The month-length check (days up to the 28th take a shortcut) is the Gregorian
    calendar, for whole numbers as integers and as doubles."""
    grid = [
        (y, m, d)
        for y in (1900, 1999, 2000, 2023, 2024)
        for m in range(-1, 15)
        for d in range(-1, 34)
    ]

    def real(y: int, m: int, d: int) -> bool:
        try:
            dt.date(y, m, d)
        except ValueError:
            return False
        return True

    t = ibis.memtable(pd.DataFrame(grid, columns=["y", "m", "d"]))
    f = t.mutate(yf=t.y.cast("float64"), mf=t.m.cast("float64"), df=t.d.cast("float64"))
    out = duck.execute(
        f.select(ints=v._real_day(f.y, f.m, f.d), doubles=v._real_day(f.yf, f.mf, f.df))
    )
    expected = [real(*ymd) for ymd in grid]
    assert out["ints"].tolist() == expected and out["doubles"].tolist() == expected


def tricky_dates() -> list[str | None]:
    good = ["1999-02-28", "2000-02-29", "0001-01-01", "9999-12-31", "1970-01-01", "0999-12-31"]
    bad = [
        "1999-02-29", "1900-02-29", "2024-13-01", "2024-00-10", "2024-04-31", "2024-01-32",
        "0000-01-01", "0000-02-29", "10000-01-01", "infinity", "-infinity", "epoch", "today",
        " 1999-02-03", "1999-02-03 ", "+1999-02-03", "1999-2-03", "1999-02-3", "1999/02/03",
        "19990203", "1999-02-03T00:00", "1999-02-03 00:00:00", "99-02-03", "1999-02-03 (BC)",
        "１９９９-02-03", "1999-02-03\n", "-001-01-01", "1999.02.03", "", " ",
    ]  # fmt: skip
    return [*good, *bad, None]


def test_date_fast_parse_is_exact(duck: Any) -> None:
    values = tricky_dates()
    t = ibis.memtable(
        pd.DataFrame({"i": range(len(values)), "x": pd.Series(values, dtype=object)}),
        schema={"i": "int64", "x": "string"},
    )
    p = v.date_parts(t.x)
    assert p is not None and v.date_parts(t.x, "YYYYMMDD") is None
    out = duck.execute(t.select(t.i, fast=p.fast, ymd=p.ymd).order_by("i"))
    for value, row in zip(values, out.itertuples(), strict=True):
        try:
            real = value is not None and dt.date.fromisoformat(value).isoformat() == value
        except ValueError:
            real = False
        assert bool(row.fast) is real, value
        if real:
            assert value is not None and row.ymd == int(value.replace("-", "")), value


def test_date_rules_match_reference_on_tricky_values(duck: Any) -> None:
    values = tricky_dates()
    for fmt in ("YYYY-MM-DD", "YYYYMMDD"):
        fails = run(duck, values, lambda c, f=fmt: v.date_format_fails(c, format=f))
        reasons = run(duck, values, lambda c, f=fmt: v.date_format_reason(c, format=f))
        assert fails == [r is not None for r in reasons]
    window = {"min": dt.date(1000, 1, 1), "max": dt.date(2000, 1, 1), "format": "YYYY-MM-DD"}
    fast = run(duck, values, lambda c: v.date_range_fails(c, **window))
    slow = run(duck, values, lambda c: v.date_range_fails(c, **window, parts=_no_fast(c)))
    assert fast == slow and any(fast)


def _no_fast(col: Any) -> Any:
    """Date parts that never take the fast path: the reference formulation alone."""
    p = v.date_parts(col)
    assert p is not None
    return v.DateParts(fast=ibis.literal(False), date=p.date, ymd=p.ymd)


def test_id_cross_field_rules_match_reference(duck: Any) -> None:
    ids = [x for x in tricky_ids() if x is None or len(x) in (15, 18)][::7]
    births = ["1949-12-31", "1999-02-30", "1949-12-1", None, "2000-02-29", "1980-01-01"]
    rows = [
        (i, b, s) for i in ids for b, s in zip(births, ["1", "2", "9", None, "2", "1"], strict=True)
    ]
    t = ibis.memtable(
        pd.DataFrame(rows, columns=["id", "born", "sex"]).astype(object),
        schema={"id": "string", "born": "string", "sex": "string"},
    )
    never = v.RicParts(
        **{f: getattr(v.ric_parts(t.id), f) for f in v.RicParts.__dataclass_fields__}
    )
    never = dataclasses.replace(never, fast=ibis.literal(False))
    out = duck.execute(
        t.select(
            birth=v.ric_birth_date_mismatch(t.id, t.born),
            birth_ref=v.ric_birth_date_mismatch(
                t.id, t.born, id_parts=never, birth_parts=_no_fast(t.born)
            ),
            sex=v.ric_sex_mismatch(t.id, t.sex),
            sex_ref=v.ric_sex_mismatch(t.id, t.sex, id_parts=never),
        )
    )
    assert out["birth"].tolist() == out["birth_ref"].tolist() and out["birth"].any()
    assert out["sex"].tolist() == out["sex_ref"].tolist() and out["sex"].any()


# --- oracle: python-stdnum ----------------------------------------------------------------


def _stdnum_verdict(module: Any, value: str) -> tuple[bool, str]:
    """stdnum's is_valid, and how its verdict must be adjusted to compare with ours."""
    try:
        valid = module.is_valid(value)
    except KeyError:  # stdnum 2.2: unknown county under a known province
        return False, "stdnum_keyerror"
    if valid and module.compact(value) != value:
        return True, "normalised"  # stdnum strips spaces / uppercases first; we do not
    if valid and module is stdnum_ric:
        born = module.get_birth_date(value)
        if not dt.date(1900, 1, 1) <= born <= TODAY:
            return True, "birth_bounds"  # stdnum has no 1900 / not-in-future bounds
    return valid, ""


def _compare(values: list[str], ours: list[bool], verdicts: list[tuple[bool, str]]) -> Counter[str]:
    """Ours must equal stdnum's verdict, except where a documented difference applies:
    then we reject (stdnum accepts, or raises). Returns the differences by kind."""
    differences: Counter[str] = Counter()
    for value, mine, (theirs, why) in zip(values, ours, verdicts, strict=True):
        if why:
            assert not mine, f"{value!r}: we accept, stdnum adjusted by {why}"
            differences[why] += mine != theirs
        else:
            assert mine == theirs, f"{value!r}: ours {mine}, stdnum {theirs}"
    return +differences


def _report(title: str, rows: dict[str, Any]) -> None:
    print(f"\n{title}: " + ", ".join(f"{k}={val}" for k, val in rows.items()))


def test_oracle_ric(
    duck: Any,
    ric_samples: list[Sample],
    region_codes: list[str],
    region_keys: list[int],
) -> None:
    values = [s.value for s in ric_samples]
    t = ibis.memtable({"i": range(len(values)), "x": values})
    year_aware = {"regions": None, "region_years": region_keys, "today": TODAY}
    agnostic = {"regions": region_codes, "today": TODAY}
    started = time.perf_counter()
    out = duck.execute(
        t.select(
            t.i,
            fails=v.ric_fails(t.x, **year_aware),
            reason=v.ric_reason(t.x, **year_aware),
            fails_codes=v.ric_fails(t.x, **agnostic),
            born=v.ric_birth_date(t.x),
            sex=v.ric_sex(t.x),
        ).order_by("i")
    )
    query_s = time.perf_counter() - started

    verdicts = [_stdnum_verdict(stdnum_ric, x) for x in values]
    ours = [not f for f in out["fails"]]
    differences = _compare(values, ours, verdicts)

    # fails and reason agree; reasons match the corruption where it is unambiguous.
    assert (out["fails"] == out["reason"].notna()).all()
    expected_reason = {
        "lower_x": {"lowercase_x"},
        "bad_date": {"birthdate"},
        "future": {"birthdate"},
        "pre1900": {"birthdate"},
        "bad_region": {"region"},
        "region_year": {"region"},
        "legacy15": {"legacy15"},
        "fullwidth": {"charset"},
        "letter": {"charset"},
        "length": {"length", "legacy15"},
        "check": {"checksum"},
        "valid": {None},
    }
    for sample, reason in zip(ric_samples, out["reason"], strict=True):
        allowed = expected_reason.get(sample.kind)
        got = None if _missing(reason) else reason
        assert allowed is None or got in allowed, (sample, got)

    # The year-agnostic region set accepts more, and only codes not in use that year.
    more = out["fails"] & ~out["fails_codes"]
    assert not (out["fails_codes"] & ~out["fails"]).any()
    assert (out.loc[more, "reason"] == "region").all()

    # Helpers agree with stdnum on every value it accepts.
    for value, (theirs, why), born, sex in zip(
        values, verdicts, out["born"], out["sex"], strict=True
    ):
        if theirs and not why:
            assert born.date() == stdnum_ric.get_birth_date(value)
            assert sex == (1 if int(value[16]) % 2 else 2)

    _report(
        "RIC oracle",
        {
            "values": len(values),
            "stdnum_valid": sum(sv for sv, _ in verdicts),
            "ours_valid": sum(ours),
            "agree_raw": len(values) - sum(differences.values()),
            "agree_after_documented_differences": len(values),
            **{f"diff_{k}": n for k, n in sorted(differences.items())},
            "stdnum_keyerror": sum(why == "stdnum_keyerror" for _, why in verdicts),
            "year_agnostic_accepts_more": int(more.sum()),
            "duckdb_query_s": round(query_s, 2),
        },
    )


def test_oracle_uscc(duck: Any, uscc_samples: list[Sample]) -> None:
    values = [s.value for s in uscc_samples]
    t = ibis.memtable({"i": range(len(values)), "x": values})
    started = time.perf_counter()
    out = duck.execute(
        t.select(t.i, fails=v.uscc_fails(t.x), reason=v.uscc_reason(t.x)).order_by("i")
    )
    query_s = time.perf_counter() - started

    verdicts = [_stdnum_verdict(stdnum_uscc, x) for x in values]
    ours = [not f for f in out["fails"]]
    differences = _compare(values, ours, verdicts)

    assert (out["fails"] == out["reason"].notna()).all()
    expected_reason = {
        "forbidden": {"charset"},
        "lower": {"lowercase"},
        "fullwidth": {"charset"},
        "check": {"checksum"},
        "letter_prefix": {"authority", "region"},
        "length": {"length"},
        "valid": {None},
    }
    for sample, reason in zip(uscc_samples, out["reason"], strict=True):
        allowed = expected_reason.get(sample.kind)
        got = None if _missing(reason) else reason
        assert allowed is None or got in allowed, (sample, got)

    _report(
        "USCC oracle",
        {
            "values": len(values),
            "stdnum_valid": sum(sv for sv, _ in verdicts),
            "ours_valid": sum(ours),
            "agree_raw": len(values) - sum(differences.values()),
            "agree_after_documented_differences": len(values),
            **{f"diff_{k}": n for k, n in sorted(differences.items())},
            "duckdb_query_s": round(query_s, 2),
        },
    )


# --- DuckDB and Spark agree ----------------------------------------------------------------

MISC_VALUES = [
    "", " ", "\u3000", "\u3000 a", "a", "13812345678", "+86 13812345678", "12812345678",
    "0571-87654321", "(0571)8765432", "0571-87654321转8001", "a1@b.cn", "a..b@c.cn",
    "张三", "阿卜杜拉·买买提", "\U00020bb7野", "Zhang San", "1999-02-28", "1999-02-29",
    "2000-02-29", "19990230", "2024年02月29日", "１２３ＡＢＣ\u3000", "12.5", "abc", "1e3",
    "NaN", "007", "199", "123\n", None,
]  # fmt: skip


def _misc_checks() -> dict[str, Check]:
    return {
        "blank": v.not_blank_fails,
        "length": lambda c: v.length_fails(c, min_length=2, max_length=8),
        "regex": lambda c: v.regex_fails(c, pattern="[0-9]{3}"),
        "regex_han": lambda c: v.regex_fails(c, pattern=r"[\x{4E00}-\x{9FFF}]+"),
        "enum": lambda c: v.enum_fails(c, values=[f"{i:03d}" for i in range(200)]),
        "range": lambda c: v.range_fails(c, min=0, max=100),
        "date_range": lambda c: v.date_range_fails(c, format="YYYY-MM-DD", max=dt.date(2000, 1, 1)),
        "date_format": lambda c: v.date_format_reason(c, format="YYYY-MM-DD"),
        "date_compact": lambda c: v.date_format_reason(c, format="YYYYMMDD"),
        "date_cn": lambda c: v.date_format_reason(c, format="YYYY年MM月DD日"),
        "mobile": v.mobile_fails,
        "mobile_shared": lambda c: v.mobile_fails(c, number=c.try_cast("int64")),
        "mobile86": lambda c: v.mobile_fails(c, allow_country_code=True),
        "landline": v.landline_fails,
        "email": v.email_fails,
        "name": v.chinese_name_fails,
        "halfwidth": lambda c: v.to_halfwidth(c, punctuation=True),
    }


def _frame(con: Any, columns: dict[str, list[str | None]], checks: dict[str, Check]) -> Any:
    """One query: ``checks`` maps output name -> (column name, check) over ``columns``."""
    rows = max(len(values) for values in columns.values())
    padded = {
        k: pd.Series(vals + [None] * (rows - len(vals)), dtype=object)
        for k, vals in columns.items()
    }
    t = ibis.memtable(
        pd.DataFrame({"i": range(rows), **padded}),
        schema={"i": "int64", **dict.fromkeys(columns, "string")},
    )
    selected = {name: check(t) for name, check in checks.items()}
    return con.execute(t.select(t.i, **selected).order_by("i")).reset_index(drop=True)


@pytest.mark.spark
def test_duckdb_and_spark_agree(
    duck: Any,
    spark: Any,
    ric_samples: list[Sample],
    uscc_samples: list[Sample],
    region_codes: list[str],
    region_keys: list[int],
) -> None:
    rng = random.Random(2)
    ids = [s.value for s in rng.sample(ric_samples, SPARK_SAMPLE)] + [None, ""]
    codes = [s.value for s in rng.sample(uscc_samples, SPARK_SAMPLE)] + [None, ""]
    # Only the keys the sample looks up: the same verdicts, a much smaller table.
    probed = {int(x[:10]) for x in ids if x and x[:10].isdigit()}
    keys = sorted(probed.intersection(region_keys))
    year_aware = {"regions": None, "region_years": keys, "today": TODAY}

    checks: dict[str, Check] = {
        "ric_fails": lambda t: v.ric_fails(t.id, **year_aware),
        "ric_reason": lambda t: v.ric_reason(t.id, **year_aware),
        "ric_codes": lambda t: v.ric_reason(
            t.id, regions=region_codes, today=TODAY, allow_legacy15=True
        ),
        "ric_born": lambda t: v.ric_birth_date(t.id),
        "ric_sex": lambda t: v.ric_sex(t.id),
        "uscc_fails": lambda t: v.uscc_fails(t.code),
        "uscc_reason": lambda t: v.uscc_reason(t.code),
        "uscc_strict": lambda t: v.uscc_reason(t.code, letter_authority=True, check_org_code=True),
        **{f"misc_{name}": _on_misc(check) for name, check in _misc_checks().items()},
    }
    columns = {"id": ids, "code": codes, "misc": MISC_VALUES}
    on_duck = _frame(duck, columns, checks)
    on_spark = _frame(spark, columns, checks)
    pd.testing.assert_frame_equal(on_duck, on_spark, check_dtype=False)
    assert on_duck["ric_fails"].sum() > 1000 and on_duck["uscc_fails"].sum() > 1000


def _on_misc(check: Check) -> Check:
    return lambda t: check(t.misc)
