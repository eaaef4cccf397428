"""Fixtures for the validator tests: engines, the region table, and test corpora of
valid and corrupted ID numbers and credit codes built with the standards' algorithms."""

from __future__ import annotations

import datetime as dt
import os
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ibis
import pytest

from gongshu.quality.validators import (
    RIC_WEIGHTS,
    USCC_ALPHABET,
    USCC_WEIGHTS,
    Region,
    region_year_keys,
    stdnum_regions,
)

if TYPE_CHECKING:
    from ibis.backends.duckdb import Backend as DuckDBBackend
    from ibis.backends.pyspark import Backend as PySparkBackend
    from pyspark.sql import SparkSession

#: Fixed "today" so date rules are deterministic.
TODAY = dt.date(2025, 6, 1)
ORACLE_SIZE = 100_000
SPARK_SAMPLE = 5_000


def pytest_configure(config: pytest.Config) -> None:
    # ibis 12 still calls a DuckDB 2 method that is deprecated; not ours to fix.
    config.addinivalue_line(
        "filterwarnings", "ignore:fetch_arrow_table\\(\\) is deprecated:DeprecationWarning"
    )


# --- engines ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def duck() -> Iterator[DuckDBBackend]:
    con = ibis.duckdb.connect(threads=2)
    yield con
    con.disconnect()


@pytest.fixture(scope="session")
def spark_session() -> Iterator[SparkSession]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("gongshu-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def spark(spark_session: SparkSession) -> PySparkBackend:
    return ibis.pyspark.connect(spark_session)


# --- regions ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def regions() -> list[Region]:
    return stdnum_regions()


@pytest.fixture(scope="session")
def region_codes(regions: list[Region]) -> list[str]:
    return sorted({r.code for r in regions})


@pytest.fixture(scope="session")
def region_keys(regions: list[Region]) -> list[int]:
    return region_year_keys(regions, last_year=TODAY.year)


# --- value builders -------------------------------------------------------------------

FULLWIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}


def ric_check(body17: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(body17, RIC_WEIGHTS, strict=True)) % 11]


def ric(region: str, birth: str, seq: int) -> str:
    body = f"{region}{birth}{seq:03d}"
    return body + ric_check(body)


def uscc_check(body17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc(body17: str) -> str:
    return body17 + uscc_check(body17)


@dataclass(frozen=True)
class Sample:
    value: str
    kind: str  # "valid" or how it was corrupted


def _random_date(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=rng.randrange((last - first).days + 1))


def _usable(region: Region) -> tuple[int, int] | None:
    start = max(1900, region.valid_from or 1900)
    end = min(TODAY.year, region.valid_to or TODAY.year)
    return (start, end) if start <= end else None


RIC_CORRUPTIONS = (
    "digit",
    "swap",
    "check",
    "lower_x",
    "bad_date",
    "future",
    "pre1900",
    "bad_region",
    "region_year",
    "length",
    "legacy15",
    "fullwidth",
    "separator",
    "letter",
)


def ric_corpus(regions: list[Region], size: int, *, seed: int) -> list[Sample]:
    """Half valid ID numbers (region in use in the birth year), half corrupted."""
    rng = random.Random(seed)
    usable = [(r, span) for r in regions if (span := _usable(r)) is not None]
    # Codes whose every entry starts after 1901: someone born earlier cannot carry them.
    first_use: dict[str, int] = {}
    for r in regions:
        first_use[r.code] = min(first_use.get(r.code, 9999), r.valid_from or 0)
    bounded = sorted(code for code, year in first_use.items() if year > 1901)
    codes = {r.code for r in regions}

    def valid() -> tuple[str, dt.date]:
        region, (start, end) = rng.choice(usable)
        last = min(dt.date(end, 12, 31), TODAY)
        born = _random_date(rng, dt.date(start, 1, 1), last)
        return ric(region.code, born.strftime("%Y%m%d"), rng.randrange(1000)), born

    out: list[Sample] = []
    for _ in range(size):
        value, born = valid()
        if rng.random() < 0.5:
            out.append(Sample(value, "valid"))
            continue
        kind = rng.choice(RIC_CORRUPTIONS)
        region, birth, seq = value[:6], value[6:14], int(value[14:17])
        if kind == "digit":
            i = rng.randrange(17)
            new = rng.choice([d for d in "0123456789" if d != value[i]])
            value = value[:i] + new + value[i + 1 :]
        elif kind == "swap":
            i = rng.randrange(17)
            value = value[:i] + value[i + 1] + value[i] + value[i + 2 :]
        elif kind == "check":
            value = value[:17] + rng.choice([c for c in "0123456789X" if c != value[17]])
        elif kind == "lower_x":
            while not value.endswith("X"):
                seq = rng.randrange(1000)
                value = ric(region, birth, seq)
            value = value[:17] + "x"
        elif kind == "bad_date":
            year = born.year if born.year % 4 else 1999
            mmdd = rng.choice(["0230", "0229", "1301", "0000", "0431", "0132", "0100", "0631"])
            value = ric(region, f"{year}{mmdd}", seq)
        elif kind == "future":
            later = _random_date(rng, TODAY + dt.timedelta(days=1), dt.date(2030, 12, 31))
            value = ric(region, later.strftime("%Y%m%d"), seq)
        elif kind == "pre1900":
            value = ric(region, f"18{rng.randrange(100):02d}{birth[4:]}", seq)
        elif kind == "bad_region":
            unknown = rng.choice(["119999", "990101", "000000", "100000", "330699", "720000"])
            assert unknown not in codes
            value = ric(unknown, birth, seq)
        elif kind == "region_year":
            code = rng.choice(bounded)
            year = rng.randrange(1900, first_use[code])
            mmdd = birth[4:] if birth[4:] != "0229" else "0301"
            value = ric(code, f"{year}{mmdd}", seq)
        elif kind == "length":
            i = rng.randrange(18)
            value = value[:i] + value[i + 1 :] if rng.random() < 0.5 else value + value[i]
        elif kind == "legacy15":
            value = region + birth[2:] + f"{seq:03d}"
        elif kind == "fullwidth":
            i = rng.randrange(17)
            value = value[:i] + FULLWIDTH[value[i]] + value[i + 1 :]
        elif kind == "separator":
            value = rng.choice([f" {value}", f"{value} ", f"{value[:6]} {value[6:]}"])
        elif kind == "letter":
            i = rng.randrange(17)
            value = value[:i] + rng.choice("ABCabcOIlo") + value[i + 1 :]
        out.append(Sample(value, kind))
    return out


USCC_CORRUPTIONS = (
    "digit",
    "swap",
    "check",
    "forbidden",
    "lower",
    "letter_prefix",
    "length",
    "fullwidth",
    "separator",
)
_USCC_LETTERS = [c for c in USCC_ALPHABET if c.isalpha()]


def uscc_corpus(region_codes: list[str], size: int, *, seed: int) -> list[Sample]:
    """Half valid credit codes (digits 1-8, alphabet 9-17), half corrupted."""
    rng = random.Random(seed)

    def body() -> str:
        head = rng.choice("159") + rng.choice("123") + rng.choice(region_codes)
        if rng.random() < 0.3:  # older codes: organisation code all digits
            tail = "".join(rng.choice("0123456789") for _ in range(9))
        else:
            tail = "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
        return head + tail

    out: list[Sample] = []
    for _ in range(size):
        value = uscc(body())
        if rng.random() < 0.5:
            out.append(Sample(value, "valid"))
            continue
        kind = rng.choice(USCC_CORRUPTIONS)
        if kind == "digit":
            i = rng.randrange(18)
            pool = "0123456789" if i < 8 else USCC_ALPHABET
            value = value[:i] + rng.choice([c for c in pool if c != value[i]]) + value[i + 1 :]
        elif kind == "swap":
            i = rng.randrange(17)
            value = value[:i] + value[i + 1] + value[i] + value[i + 2 :]
        elif kind == "check":
            value = value[:17] + rng.choice([c for c in USCC_ALPHABET if c != value[17]])
        elif kind == "forbidden":
            i = rng.randrange(8, 18)
            value = value[:i] + rng.choice("IOZSV") + value[i + 1 :]
        elif kind == "lower":
            i = rng.randrange(8, 17)
            b = value[:i] + rng.choice(_USCC_LETTERS) + value[i + 1 : 17]
            value = uscc(b)
            value = value[:i] + value[i].lower() + value[i + 1 :]
        elif kind == "letter_prefix":
            i = rng.randrange(8)
            value = uscc(value[:i] + rng.choice(_USCC_LETTERS) + value[i + 1 : 17])
        elif kind == "length":
            i = rng.randrange(18)
            value = value[:i] + value[i + 1 :] if rng.random() < 0.5 else value + value[i]
        elif kind == "fullwidth":
            i = rng.randrange(8)
            value = value[:i] + FULLWIDTH[value[i]] + value[i + 1 :]
        elif kind == "separator":
            value = rng.choice(
                [f" {value}", f"{value[:8]}-{value[8:]}", f"{value[:2]} {value[2:]}"]
            )
        out.append(Sample(value, kind))
    return out


@pytest.fixture(scope="session")
def ric_samples(regions: list[Region]) -> list[Sample]:
    return ric_corpus(regions, ORACLE_SIZE, seed=11643)


@pytest.fixture(scope="session")
def uscc_samples(region_codes: list[str]) -> list[Sample]:
    return uscc_corpus(region_codes, ORACLE_SIZE, seed=32100)
