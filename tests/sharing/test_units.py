"""Maskers (vectorised and scalar twins agree), the ID-number validator (python-stdnum as
oracle), the working-day calendar, the latency percentile, the masker/kind registries."""

from __future__ import annotations

import random
from datetime import date

import pyarrow as pa
import pytest
from stdnum.cn import ric

from gongshu.sharing import maskers, params, synth
from gongshu.sharing.kinds import interface_kinds
from gongshu.sharing.stats import percentile
from gongshu.workdays import WorkCalendar

CORPUS = [
    "330602199001011234",
    "张三",
    "欧阳娜娜",
    None,
    "13812345678",
    "6222021234567890123",
    "示例市城东区解放路1号",
    "abc",
    "张",
    "",
    "临江县某村",
]


def test_masking_examples() -> None:
    def m(rule: str, value: str) -> str | None:
        return maskers.get(rule)(pa.array([value])).to_pylist()[0]

    assert m("id_number", "330602199001011234") == "330602********1234"
    assert m("name", "张三") == "张*"
    assert m("phone", "13812345678") == "138****5678"
    assert m("address", "示例市城东区解放路1号") == "示例市城东区****"
    assert m("bank_card", "6222021234567890123") == "***************0123"
    assert m("hash", "330602199001011234") == m("hash", "330602199001011234")
    assert len(m("hash", "x") or "") == 32 and m("hash", "x") != m("hash", "y")
    assert m("null", "x") is None and m("none", "x") == "x"


@pytest.mark.parametrize("rule", maskers.names())
def test_scalar_and_vector_paths_agree(rule: str) -> None:
    masker = maskers.get(rule)
    values = pa.array(CORPUS * 5, pa.string())  # > SMALL: the vectorised kernels
    assert len(values) > maskers.SMALL
    big = masker(values).to_pylist()
    small = [masker(pa.array([v], pa.string())).to_pylist()[0] for v in CORPUS]
    assert big[: len(CORPUS)] == small
    for original, masked in zip(CORPUS, small, strict=True):
        if rule != "none" and original and len(original) > 1:
            assert masked != original, (rule, original)
    # Non-string values are masked on their text form.
    assert masker(pa.array([date(2020, 1, 2)])).to_pylist()[0] is not None or rule == "null"


def test_registries_hold_the_builtins() -> None:
    assert {"id_number", "name", "phone", "hash", "none"} <= set(maskers.names())
    assert set(interface_kinds.names()) >= {"query", "verify", "batch", "export"}


def test_id_validator_matches_stdnum() -> None:
    rnd = random.Random(3)
    ids = synth.persons(300, seed=5).column("gmsfhm").to_pylist()
    for good in ids:
        assert params.valid_id_number(good)
        assert ric.calc_check_digit(good) == good[-1]
        bad = good[:17] + ("0" if good[-1] != "0" else "1")
        assert not params.valid_id_number(bad)
    for _ in range(2000):
        body = "".join(rnd.choice("0123456789") for _ in range(17))
        for check in "0123456789X":
            assert params.valid_id_number(body + check) == (
                ric.calc_check_digit(body + check) == check
            )
    for junk in ("", "123", "11010519491231002x", "1101051949123100XX", "１１０１"):
        assert not params.valid_id_number(junk)
    assert params.normalise(" 11010519491231002x ") == "11010519491231002X"
    from stdnum.cn import uscc

    body = "91330100MA27XL0E2"
    code = body + uscc.calc_check_digit(body)
    assert uscc.is_valid(code) and params.valid_uscc(code) and not params.valid_uscc(body + "Y")
    assert params.valid_mobile("13812345678") and not params.valid_mobile("23812345678")


def test_calendar() -> None:
    cal = WorkCalendar()
    assert not cal.is_workday(date(2026, 10, 1))  # National Day
    assert cal.is_workday(date(2026, 3, 2)) and not cal.is_workday(date(2026, 3, 7))
    assert cal.add_working_days(date(2026, 3, 2), 10) == date(2026, 3, 16)
    assert cal.working_days_between(date(2026, 3, 2), date(2026, 3, 16)) == 10
    assert cal.working_days_between(date(2026, 3, 16), date(2026, 3, 2)) == -10
    # Outside chinese_calendar's years: Monday to Friday.
    assert cal.is_workday(date(2035, 1, 2)) and not cal.is_workday(date(2035, 1, 6))
    override = WorkCalendar({date(2026, 3, 7): True, date(2026, 3, 3): False})
    assert override.is_workday(date(2026, 3, 7)) and not override.is_workday(date(2026, 3, 3))


def test_percentile_from_histogram() -> None:
    hist = [0] * 12
    hist[3] = 100  # all in [5, 10) ms
    assert percentile(hist, 0.5) == 7.5
    assert percentile([0] * 12, 0.5) is None
    hist[6] = 100  # half in [50, 100)
    assert 5 <= (percentile(hist, 0.5) or 0) <= 10 and 50 <= (percentile(hist, 0.95) or 0) <= 100
