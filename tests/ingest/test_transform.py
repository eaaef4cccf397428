"""The transform's fast paths give what its general paths give (no warehouse needed)."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.compute as pc

from gongshu.ingest import transform as T
from gongshu.ingest.transform import Transformer, suggest_mapping

from .conftest import person_spec

SPELLINGS = [
    "2024-01-05",
    "2024/01/05",
    "2024/1/5",
    "2024.01.05",
    "2024年1月5日",
    "20240105",
    "1990-02-30",
    "1990/02/30",
    "2000/02/29",
    "1900/02/29",
    "2024-13-01",
    "2024/13/01",
    "45000",
    "45000.5",
    "2024-01-05 00:00",
    "2024-01-05 08:00:00",
    "2024/01/05 08:00:00",
    "2024/01/05T08:00:00",
    "",
    None,
    "abc",
    "2024/01/05/",
    "0000/01/01",
    "9999/12/31",
    "2024-01-05T00:00:00",
    "2024/01/5",
    "2024-1-05",
    "2024//01/05",
    "2024/01/05 24:00:00",
    "2024/02/29 23:59:59",
    "2023/02/29 12:00:00",
    "2024-01-05T08:00:00.5",
    "20240105083000",
    "2024/01/05 8:00:00",
    "2024/01/05 08:00",
    "1991/09/15 01:30:00",  # a daylight-saving night in Shanghai
    "1940/06/03 00:30:00",
    "2024/01-05",
    "2024-01/05 08:00:00",
    "2024/01/05 08/00/00",
]


def _values(seed: int, n: int) -> list[str | None]:
    rng = random.Random(seed)
    out: list[str | None] = []
    for _ in range(n):
        y, m, d = rng.randint(1900, 2030), rng.randint(0, 13), rng.randint(0, 32)
        sep = rng.choice("-/-/.")
        text = f"{y}{sep}{m:02d}{sep}{d:02d}"
        if rng.random() < 0.5:
            text += f"{rng.choice(' T')}{rng.randint(0, 24):02d}:{rng.randint(0, 60):02d}:00"
        out.append(text)
    return out + SPELLINGS


def _ints(a: pa.Array) -> list[int | None]:
    return (a.view(pa.int32()) if a.type == pa.date32() else a.view(pa.int64())).to_pylist()


def test_date_fast_paths_agree_with_the_general_parser() -> None:
    values = _values(1, 3000)
    col = pa.array(values, pa.string())
    fast = _ints(T.parse_date(col))
    assert fast == _ints(T._date_general(col))
    # A batch gives each value what it would get alone (the fast path is per batch).
    assert [_ints(T.parse_date(pa.array([v], pa.string())))[0] for v in SPELLINGS] == fast[
        -len(SPELLINGS) :
    ]
    assert sum(v is not None for v in fast) > 1000  # plenty of real dates among them


def test_datetime_fast_paths_agree_with_the_general_parser() -> None:
    values = _values(2, 3000)
    col = pa.array(values, pa.string())
    general = T._datetime_general(col)
    local = pc.assume_timezone(general, T.LOCAL_TZ, ambiguous="earliest", nonexistent="earliest")
    fast = _ints(T.parse_datetime(col))
    assert fast == _ints(pc.cast(local, pa.timestamp("us", tz="UTC")))
    assert [_ints(T.parse_datetime(pa.array([v], pa.string())))[0] for v in SPELLINGS] == fast[
        -len(SPELLINGS) :
    ]
    assert sum(v is not None for v in fast) > 1000


def _transformer(columns: list[str]) -> Transformer:
    spec = person_spec()
    return Transformer(spec, suggest_mapping(spec, columns), columns, "gbk")


COLUMNS = ["身份证号", "姓名", "年龄", "出生日期", "行政区划代码", "登记时间", "月收入"]


def test_reject_reasons_list_every_failed_check() -> None:
    rows = [
        ["330602199001010011", "张三", "34", "1990-01-01", "330602", "2024-01-02", "1"],
        ["", "李四", "abc", "1990-02-30", "3306021", "2024-01-02", "x"],
        ["330602199001010022", "王\ufffd", "30", "1990-01-01", "330602", "2024-01-02", "1"],
        ["330602199001010033", "赵六", "30", "1990/1/1", "330602", "2024-01-02 8:00", "2.5"],
    ]
    batch = pa.record_batch(
        [pa.array(c, pa.string()) for c in zip(*rows, strict=True)], names=COLUMNS
    )
    result = _transformer(COLUMNS)(batch, pa.array([2, 3, 4, 5], pa.int64()))
    assert result.accepted.column("gmsfhm").to_pylist() == [
        "330602199001010011",
        "330602199001010033",
    ]
    assert result.rejected.to_pylist() == [
        {
            "line": 3,
            "reason": "公民身份号码（gmsfhm）为主键，不能为空；年龄（nl）不是整数；"
            "出生日期（csrq）不是有效日期；行政区划代码（xzqh）超过长度 6；月收入（ysr）不是数值",
            "raw": '"","李四","abc","1990-02-30","3306021","2024-01-02","x"',
        },
        {
            "line": 4,
            "reason": "姓名（xm）含无法按 GBK 解码的字符",
            "raw": '"330602199001010022","王\ufffd","30","1990-01-01","330602","2024-01-02","1"',
        },
    ]


def test_rows_with_empty_cells_are_never_lost() -> None:
    # Typed sources (XLSX, JSON, SQL) give nulls; a null must not make a row vanish
    # from both the accepted and the rejected rows when another row fails a check.
    batch = pa.record_batch(
        [
            pa.array(["330602199001010011", "330602199001010022", "330602199001010033"]),
            pa.array(["张三", None, "王\ufffd"]),
            pa.array(["34", "30", None]),
            pa.array(["1990-01-01", None, "1990-01-01"]),
            pa.array([None, "330602", "330602"]),
            pa.array(["2024-01-02", "2024-01-02", None]),
            pa.array(["1", None, "1"]),
        ],
        names=COLUMNS,
    )
    result = _transformer(COLUMNS)(batch, pa.array([2, 3, 4], pa.int64()))
    assert result.accepted.column("gmsfhm").to_pylist() == [
        "330602199001010011",
        "330602199001010022",
    ]
    assert [r["line"] for r in result.rejected.to_pylist()] == [4]


def test_normalising_an_ascii_batch_equals_the_unicode_way() -> None:
    # Pure-ASCII batches take ASCII kernels; a value must not depend on its batch.
    ascii_values = [f"{chr(c)}a b\t{chr(c)}" for c in range(128)] + ["", None]
    for steps in [("nfkc", "trim"), ("nfkc", "nospace", "upper"), ("trim",), ("upper",)]:
        alone = T.normalise(pa.array(ascii_values, pa.string()), steps).to_pylist()
        mixed = T.normalise(pa.array([*ascii_values, "ａ"], pa.string()), steps).to_pylist()
        assert alone == mixed[:-1], steps


YEARS = [0, 1, 4, 100, 400, 1582, 1900, 1970, 1999, 2000, 2023, 2024, 2100, 9999]


def test_iso_dates_follow_the_calendar_like_the_general_parser() -> None:
    # Every month 00-13 and day 00-32 of leap, non-leap and century years.
    values = [f"{y:04d}-{m:02d}-{d:02d}" for y in YEARS for m in range(14) for d in range(33)]
    odd = ["2024-01-0a", "2024-01-01 ", "2024-1-01", "２０２４-01-01", "2024-01-011", None]
    col = pa.array([*values, *odd], pa.string())
    shaped, parsed = T.parse_iso(col, T.DATE_LAYOUT)
    assert shaped.tolist() == [True] * len(values) + [False] * len(odd)
    general = _ints(T._date_general(col))
    assert _ints(parsed)[: len(values)] == general[: len(values)]
    assert _ints(T.parse_date(col)) == general
    leap_years = 5  # 0000, 0004, 0400, 2000, 2024
    real_days = leap_years * 366 + (len(YEARS) - leap_years) * 365
    assert sum(v is not None for v in general[: len(values)]) == real_days
    # A slice of a batch (its offsets do not start at 0) parses like the values alone.
    tail_shaped, tail = T.parse_iso(col.slice(7), T.DATE_LAYOUT)
    assert tail_shaped.tolist() == shaped.tolist()[7:] and _ints(tail) == _ints(parsed)[7:]


def test_iso_times_follow_the_clock_like_the_general_parser() -> None:
    values = [
        f"{day}{sep}{h:02d}:{mi:02d}:{s:02d}"
        for day in ("0000-02-29", "1900-02-29", "2024-02-29", "2024-12-31", "2023-02-29")
        for sep in " T"
        for h in (0, 9, 23, 24, 99)
        for mi in (0, 59, 60)
        for s in (0, 59, 60, 61, 62)
    ]
    odd = ["2024-01-01 08:00", "2024-01-01X08:00:00", None]
    col = pa.array([*values, *odd], pa.string())
    shaped, parsed = T.parse_iso(col, T.DATETIME_LAYOUT)
    assert shaped.tolist() == [True] * len(values) + [False] * len(odd)
    general = _ints(T._datetime_general(col))
    assert _ints(parsed)[: len(values)] == general[: len(values)]
    assert sum(v is not None for v in general[: len(values)]) > 40


def test_plain_numbers_are_what_the_number_pattern_says() -> None:
    values = ["1", "1.5", ".5", "5.", ".", "", None, "1.2.3", "+1", "-1.5", "1e5", "1E-3"]
    values += ["1e", "abc", "未知", "１２", "1,000", " 1", "0x10", "nan", "inf", "-", "٣"]
    col = pa.array(values, pa.string())
    assert T._plain_number(col).to_pylist() == (
        pc.match_substring_regex(col, T._FLOAT_RE).to_pylist()
    )
    clean = pa.array(["1", "2.5", None], pa.string())
    assert T._plain_number(clean).to_pylist() == [True, True, None]


def test_trim_and_nospace_skip_only_batches_they_would_not_change() -> None:
    rng = random.Random(3)
    alphabet = [chr(c) for c in range(128)] + ["\u3000", "\u00a0", "\u2003", "张", "\u0085"]
    for _ in range(1500):
        values = [
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4)))
            if rng.random() > 0.1
            else None
            for _ in range(rng.randint(0, 6))
        ]
        col = pa.array(values, pa.string())
        for c in (col, col.slice(min(1, len(col)))):
            trimmed = pc.utf8_trim_whitespace(c).to_pylist()
            assert T.normalise(c, ("trim",)).to_pylist() == trimmed
            spaced = pc.replace_substring(pc.replace_substring(c, " ", ""), "\t", "")
            assert T.normalise(c, ("nospace",)).to_pylist() == spaced.to_pylist()
