"""Synthetic demo data: valid identifiers, documented defects, determinism, streaming."""

from __future__ import annotations

import datetime as dt
import statistics
import time
import unicodedata
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

from gongshu.demo import synth
from gongshu.demo.synth import GENERATORS, LABEL_COLUMN, table

TODAY = dt.date(2026, 1, 1)
SEED = 20260101
LOCAL = {"339902", "339903", "339904", "339905", "339906", "339921"}
GB3304 = {f"{i:02d}" for i in range(1, 57)} | {"97", "98"}


def id_ok(number: str) -> bool:
    """python-stdnum's verdict; the demo's own district codes are not in its table, so
    for them everything but the place lookup is checked with stdnum's own helpers."""
    if number[:6] in LOCAL:
        try:
            ric.get_birth_date(number)
        except InvalidComponent:
            return False
        return (
            len(number) == 18
            and number[:17].isdigit()
            and ric.calc_check_digit(number) == number[17]
        )
    return ric.is_valid(number)


def id_error(number: str) -> type[Exception] | None:
    if number[:6] in LOCAL:
        if ric.calc_check_digit(number) != number[17]:
            return InvalidChecksum
        try:
            ric.get_birth_date(number)
        except InvalidComponent:
            return InvalidComponent
        return None
    try:
        ric.validate(number)
    except Exception as e:
        return type(e)
    return None


def org_code_ok(code: str) -> bool:
    """GB 11714 check of the organisation code inside a credit code (own implementation)."""
    body, check = code[8:16], code[16]
    values = [int(c) if c.isdigit() else ord(c) - 55 for c in body]
    c = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    return check == {10: "X", 11: "0"}.get(c, str(c))


def rows_by_kind(t: pa.Table) -> dict[str | None, list[dict]]:
    out: dict[str | None, list[dict]] = {}
    for row in t.to_pylist():
        out.setdefault(row[LABEL_COLUMN], []).append(row)
    return out


@pytest.fixture(scope="module")
def people() -> pa.Table:
    return table("persons", 40_000, seed=SEED, dirty_rate=0.03, today=TODAY, labels=True)


@pytest.fixture(scope="module")
def firms() -> pa.Table:
    return table(
        "enterprises",
        20_000,
        seed=SEED,
        persons_n=40_000,
        dirty_rate=0.03,
        today=TODAY,
        labels=True,
    )


def test_clean_person_rows_are_valid_and_consistent(people: pa.Table) -> None:
    clean = rows_by_kind(people)[None][:20_000]
    assert len(clean) == 20_000
    assert all(id_ok(r["gmsfhm"]) for r in clean)
    for r in clean:
        g = r["gmsfhm"]
        assert r["xb"] == ("1" if int(g[16]) % 2 else "2")
        assert r["csrq"] == f"{g[6:10]}-{g[10:12]}-{g[12:14]}"
        assert r["xm"].strip() and len(r["sjhm"]) == 11 and r["sjhm"].isdigit()
        assert r["mz"] in GB3304 and r["djrq"] <= TODAY.isoformat() and r["djrq"] >= r["csrq"]
    ids = [r["gmsfhm"] for r in clean]
    assert len(set(ids)) == len(ids)
    local = sum(g[:6] in LOCAL for g in ids) / len(ids)
    assert 0.77 < local < 0.83
    outside = [g for g in ids if g[:6] not in LOCAL]
    assert all(ric.is_valid(g) for g in outside)  # the full stdnum check, place included
    years = Counter(int(g[6:10]) for g in ids)
    assert min(years) >= 1930 and max(years) <= 2024
    assert years[1965] > 2 * years[1935]  # the age pyramid: boom cohorts outnumber the old
    mz = Counter(r["mz"] for r in clean)
    assert mz["01"] / len(clean) > 0.9


def test_dirty_person_rows_fail_for_their_documented_reason(people: pa.Table) -> None:
    kinds = rows_by_kind(people)
    assert set(kinds) - {None} == {k.code for k in synth.PERSONS_DIRTY}
    all_ids = Counter(people["gmsfhm"].to_pylist())
    for r in kinds["id_bad_check"]:
        assert id_error(r["gmsfhm"]) is InvalidChecksum
    for r in kinds["id_lowercase_x"]:
        assert r["gmsfhm"].endswith("x") and id_ok(r["gmsfhm"].upper())
    for r in kinds["id_fullwidth"]:
        g = r["gmsfhm"]
        assert all(ord(c) > 0xFF00 for c in g) and id_ok(unicodedata.normalize("NFKC", g))
    for r in kinds["id_legacy_15"]:
        assert len(r["gmsfhm"]) == 15 and r["gmsfhm"].isdigit()
        with pytest.raises(InvalidLength):
            ric.validate(r["gmsfhm"])
    for r in kinds["id_bad_region"]:
        assert r["gmsfhm"].startswith("99")
        with pytest.raises(InvalidComponent):
            ric.validate(r["gmsfhm"])
    for r in kinds["birth_impossible"]:
        with pytest.raises(ValueError):
            dt.date.fromisoformat(r["csrq"])
        assert r["csrq"].replace("-", "") == r["gmsfhm"][6:14]
        assert id_error(r["gmsfhm"]) is InvalidComponent
    for r in kinds["sex_mismatch"]:
        assert id_ok(r["gmsfhm"]) and r["xb"] != ("1" if int(r["gmsfhm"][16]) % 2 else "2")
    assert all(not r["xm"].strip() for r in kinds["name_blank"])
    assert all(len(r["sjhm"]) == 10 for r in kinds["phone_10_digits"])
    assert all(r["djrq"] > TODAY.isoformat() for r in kinds["future_date"])
    assert all(r["mz"] not in GB3304 for r in kinds["ethnic_out_of_range"])
    for r in kinds["duplicate_key"]:
        assert id_ok(r["gmsfhm"]) and all_ids[r["gmsfhm"]] >= 2


def test_credit_codes_valid_when_clean_and_broken_as_documented(firms: pa.Table) -> None:
    kinds = rows_by_kind(firms)
    clean = kinds[None][:20_000]
    codes = [r["tyshxydm"] for r in clean]
    assert all(uscc.is_valid(c) and org_code_ok(c) for c in codes)
    assert len(set(codes)) == len(codes) and len({r["qymc"] for r in clean}) == len(clean)
    assert all(c[2:8] in LOCAL | {"339900"} for c in codes)
    assert all(id_ok(r["fddbr_sfzh"]) and r["fddbr"] for r in clean)
    assert all(r["clrq"] <= TODAY.isoformat() and r["zczb"] > 0 for r in clean)
    for r in kinds["uscc_bad_check"]:
        with pytest.raises(InvalidChecksum):
            uscc.validate(r["tyshxydm"])
    for r in kinds["uscc_forbidden_char"]:
        assert set(r["tyshxydm"][8:]) & set("IOZSV")
        with pytest.raises(InvalidFormat):
            uscc.validate(r["tyshxydm"])
    for r in kinds["uscc_short"]:
        with pytest.raises(InvalidLength):
            uscc.validate(r["tyshxydm"])
    assert all(id_error(r["fddbr_sfzh"]) is InvalidChecksum for r in kinds["rep_id_bad_check"])
    assert all(r["zczb"] <= 0 for r in kinds["capital_out_of_range"])
    assert all(r["qymc"] == "" for r in kinds["name_blank"])
    all_codes = Counter(firms["tyshxydm"].to_pylist())
    assert all(all_codes[r["tyshxydm"]] >= 2 for r in kinds["duplicate_key"])


def test_same_seed_same_rows_whatever_the_batch_size() -> None:
    for name, n, extra in [
        ("persons", 30_000, {}),
        ("enterprises", 10_000, {"persons_n": 30_000}),
        ("social_security", 10_000, {"persons_n": 30_000, "enterprises_n": 10_000}),
        ("hotline", 20_000, {}),
        ("air_quality", 3, {}),
        ("service_cases", 5_000, {"persons_n": 30_000}),
    ]:
        kw = {"seed": SEED, "today": TODAY, "labels": True} | extra
        small = pa.Table.from_batches(list(GENERATORS[name].generate(n, batch_size=4_099, **kw)))
        big = table(name, n, batch_size=1_000_000, **kw)
        assert small.equals(big), name
        other = table(name, n, **(kw | {"seed": SEED + 1}))
        assert not other.equals(big), name


def test_dirty_share_follows_the_configured_rate() -> None:
    for name, rate in [("persons", 0.015), ("enterprises", 0.02), ("hotline", 0.01)]:
        t = table(
            name, 100_000, seed=SEED, dirty_rate=rate, today=TODAY, labels=True, batch_size=50_000
        )
        share = t[LABEL_COLUMN].is_valid().to_numpy().mean()
        assert abs(share - rate) < 0.003, (name, share)
    clean = table("persons", 20_000, seed=SEED, dirty_rate=0.0, today=TODAY, labels=True)
    assert clean[LABEL_COLUMN].null_count == clean.num_rows


def test_social_security_references_persons_and_enterprises(
    people: pa.Table, firms: pa.Table
) -> None:
    ss = table(
        "social_security",
        20_000,
        seed=SEED,
        persons_n=40_000,
        enterprises_n=20_000,
        today=TODAY,
        labels=True,
    )
    p_kinds, s_kinds = rows_by_kind(people), rows_by_kind(ss)
    register = {r["gmsfhm"]: r for r in p_kinds[None]}
    everyone = set(people["gmsfhm"].to_pylist())
    firm_clean = {r["tyshxydm"]: r["qymc"] for r in rows_by_kind(firms)[None]}
    firm_all = set(firms["tyshxydm"].to_pylist())
    clean = s_kinds[None]
    found = [r for r in clean if r["gmsfhm"] in register]
    assert len(found) / len(clean) > 0.95  # the rest point at persons whose own row is dirty
    assert all(register[r["gmsfhm"]]["xm"] == r["xm"] for r in found)
    assert len({r["gmsfhm"] for r in clean}) == len(clean)  # one row per person
    for r in found:  # employee schemes only for adults, residents' schemes without employer
        age = (TODAY - dt.date.fromisoformat(register[r["gmsfhm"]]["csrq"])).days / 365.25
        if r["tyshxydm"] is not None:
            assert age >= 18 and r["cbrq"] >= register[r["gmsfhm"]]["csrq"]
    employed = [r for r in clean if r["tyshxydm"] is not None]
    in_firms = [r for r in employed if r["tyshxydm"] in firm_clean]
    assert len(in_firms) / len(employed) > 0.95
    assert all(firm_clean[r["tyshxydm"]] == r["dwmc"] for r in in_firms)
    mismatched = [r for r in s_kinds["name_mismatch"] if r["gmsfhm"] in register]
    assert mismatched and all(register[r["gmsfhm"]]["xm"] != r["xm"] for r in mismatched)
    assert 0.003 < len(s_kinds["name_mismatch"]) / ss.num_rows < 0.008  # ~0.5%
    assert all(r["gmsfhm"] not in everyone for r in s_kinds["unknown_person"])
    assert all(ric.is_valid(r["gmsfhm"]) for r in s_kinds["unknown_person"])
    assert all(r["tyshxydm"] not in firm_all for r in s_kinds["unknown_employer"])


def test_other_registers_reference_real_people() -> None:
    kw = {"seed": SEED, "today": TODAY, "labels": True, "persons_n": 40_000}
    population = table("persons", 40_000, seed=SEED, today=TODAY, dirty_rate=0.0)
    known = dict(zip(population["gmsfhm"].to_pylist(), population["xm"].to_pylist(), strict=True))
    mar = rows_by_kind(table("marriages", 3_000, **kw))
    for r in mar[None]:
        assert known[r["nfsfzh"]] == r["nfxm"] and known[r["nvfsfzh"]] == r["nvfxm"]
        assert int(r["nfsfzh"][16]) % 2 == 1 and int(r["nvfsfzh"][16]) % 2 == 0
        assert int(r["djrq"][:4]) - int(r["nvfsfzh"][6:10]) >= 20
    for r in mar.get("underage", []):
        assert int(r["djrq"][:4]) - int(r["nvfsfzh"][6:10]) <= 20
    for name in ("housing_fund", "real_estate", "service_cases"):
        t = (
            table(name, 5_000, enterprises_n=10_000, **kw)
            if name != "service_cases"
            else table(name, 5_000, **kw)
        )
        col = {"housing_fund": "gmsfhm", "real_estate": "zjhm", "service_cases": "sqr_sfzh"}[name]
        ids = [r[col] for r in rows_by_kind(t)[None] if r.get("zjlx", "居民身份证") == "居民身份证"]
        assert ids and all(i in known for i in ids), name


def test_every_generator_yields_its_documented_columns() -> None:
    for name, gen in GENERATORS.items():
        n = 12 if name in ("air_quality", "bus_daily") else 2_000
        t = table(name, n, seed=SEED, today=TODAY, labels=True)
        assert t.column_names == [*gen.columns, LABEL_COLUMN], name
        assert t.num_rows > 0
        kinds = set(t[LABEL_COLUMN].drop_null().to_pylist())
        assert kinds <= {k.code for k in gen.dirty}, name
        for f in t.schema:  # code-like columns are strings
            if f.name in ("gmsfhm", "tyshxydm", "xb", "mz", "qy", "hjdz_xzqh", "zdbm", "xlbm"):
                assert pa.types.is_string(f.type), (name, f.name)


def _local_days(t: pa.Table) -> np.ndarray:
    """Asia/Shanghai calendar day numbers of ``slsj``."""
    return (t["slsj"].cast(pa.int64()).to_numpy() + 8 * 3600) // 86400


def _local_day_counts(t: pa.Table) -> dict[dt.date, int]:
    days = Counter(_local_days(t).tolist())
    return {dt.date(1970, 1, 1) + dt.timedelta(days=d): c for d, c in days.items()}


def test_hotline_has_weekly_shape_and_documented_spikes() -> None:
    t = table("hotline", 300_000, seed=SEED, today=TODAY, dirty_rate=0.0)
    assert t.num_rows == 300_000
    counts = _local_day_counts(t)
    start, end = TODAY - dt.timedelta(days=730), TODAY - dt.timedelta(days=1)
    assert min(counts) == start and max(counts) == end and len(counts) == 730
    weekday = [c for d, c in counts.items() if d.weekday() < 5]
    weekend = [c for d, c in counts.items() if d.weekday() >= 5]
    assert statistics.mean(weekday) > 1.2 * statistics.mean(weekend)
    spikes = synth.hotline_spikes(start, end)
    assert len(spikes) == 6
    for day, (factor, _, topic) in spikes.items():
        around = [
            counts[day + dt.timedelta(days=k)]
            for k in range(-7, 8)
            if k and start <= day + dt.timedelta(days=k) <= end
        ]
        assert counts[day] > min(1.35, 0.7 * factor) * statistics.median(around), day
        on_day = t.filter(pa.array(_local_days(t) == (day - dt.date(1970, 1, 1)).days))
        assert Counter(on_day["zt"].to_pylist()).most_common(1)[0][0] == topic
    assert len(set(t["gdbh"].to_pylist())) == t.num_rows  # unique without duplicate_key rows
    closed = t.filter(t["bjsj"].is_valid())
    assert pc.all(pc.greater(closed["bjsj"], closed["slsj"])).as_py()


def test_air_and_bus_series_have_seasons_weeks_and_glitches() -> None:
    air = table("air_quality", 12, seed=SEED, today=TODAY, labels=True)
    assert air.num_rows == 12 * 730 * 24
    clean = air.filter(air[LABEL_COLUMN].is_null())
    month = pc.month(clean["jcsj"]).to_numpy()
    pm = clean["pm25"].to_numpy()
    assert pm[np.isin(month, [12, 1, 2])].mean() > 1.5 * pm[np.isin(month, [6, 7, 8])].mean()
    assert 20 < pm.mean() < 70 and (pm >= 0).all() and clean["aqi"].null_count == 0
    glitches = rows_by_kind(air.filter(air[LABEL_COLUMN].is_valid()))
    assert all(r["pm25"] < 0 for r in glitches["negative_value"])
    assert all(r["pm25"] == 9999 for r in glitches["sentinel_9999"])
    assert all(r["pm25"] is None for r in glitches["missing_reading"])
    bus = table("bus_daily", 50, seed=SEED, today=TODAY, dirty_rate=0.0)
    days = bus["rq"].to_pylist()
    swipes = bus["sksl"].to_numpy()
    weekday = np.array([d.weekday() < 5 for d in days])
    assert swipes[weekday].mean() > 1.2 * swipes[~weekday].mean()


def test_service_cases_overdue_flag_matches_durations() -> None:
    t = table("service_cases", 5_000, seed=SEED, today=TODAY, labels=True, persons_n=40_000)
    kinds = rows_by_kind(t)
    holidays = synth.city.calendar().holidays.astype("datetime64[D]")

    def overdue(r: dict) -> bool:
        a = np.datetime64((r["slsj"] + dt.timedelta(hours=8)).date())
        b = np.datetime64((r["bjsj"] + dt.timedelta(hours=8)).date())
        return bool(np.busday_count(a, b, holidays=holidays) > r["cnsx"])

    done = [r for r in kinds[None] if r["bjsj"] is not None]
    assert done and all((r["sfcs"] == "是") == overdue(r) for r in done)
    assert all(r["bjsj"] >= r["slsj"] for r in done)
    assert all((r["sfcs"] == "是") != overdue(r) for r in kinds["overdue_flag_wrong"] if r["bjsj"])


def test_one_million_persons_generate_in_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    rows = sum(b.num_rows for b in synth.persons(1_000_000, seed=SEED, today=TODAY))
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(f"\n1,000,000 persons generated in {elapsed:.2f} s ({rows / elapsed:,.0f} rows/s)")
    assert rows == 1_000_000


_STREAM_PROBE = """
import gc, json, resource, sys
from gongshu.demo import synth
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()
gc.collect()
before = rss()
warm = peak = rows = nbytes = 0
today = __import__("datetime").date.fromisoformat(sys.argv[2])
for i, batch in enumerate(synth.persons(2_000_000, seed=int(sys.argv[1]), today=today, batch_size=100_000)):
    rows += batch.num_rows
    nbytes += batch.nbytes
    if i == 0:  # first batch: imports, region tables, pyarrow kernels
        warm = peak = rss()
    peak = max(peak, rss())
    del batch
print(json.dumps({"rows": rows, "nbytes": nbytes, "before": before, "warm": warm, "peak": peak}))
"""


def test_streaming_two_million_persons_keeps_memory_bounded() -> None:
    # A fresh process: RSS in the long-lived test process reflects everything loaded before.
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _STREAM_PROBE, str(SEED), TODAY.isoformat()],
        capture_output=True,
        text=True,
        check=True,
    )
    m = json.loads(out.stdout.strip().splitlines()[-1])
    assert m["rows"] == 2_000_000
    # no accumulation after warm-up, and far less than the ~300 MB the table would take
    assert m["peak"] - m["warm"] < m["nbytes"] / 10, m
    assert m["peak"] - m["before"] < m["nbytes"] / 2, m
