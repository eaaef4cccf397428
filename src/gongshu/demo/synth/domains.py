"""The person and enterprise domains: clean identities addressable by index.

``PersonDomain(seed, n).core(idx)`` returns persons ``idx`` of the population exactly as
:func:`~gongshu.demo.synth.persons` emits them (before any dirty change), so other
generators reference real people without generating the whole table. The same holds
for ``EnterpriseDomain``.

Uniqueness is by construction: a person's (region, birth year) cell comes from a keyed
permutation of the row index into cells whose sizes follow the age pyramid, and the
rank inside the cell maps injectively to (day of year, sequence number).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources

import numpy as np
import pyarrow as pa

from gongshu.demo.synth import _vocab as V
from gongshu.demo.synth._core import (
    Permutation,
    Rand,
    apportion,
    ascii_matrix,
    concat,
    date_matrix,
    day_numbers,
    digits,
    take,
    vocab,
    ymd,
)
from gongshu.orgs.regions import national_regions

YEAR0, YEAR1 = 1930, 2024
YEARS = np.arange(YEAR0, YEAR1 + 1)
# Relative cohort sizes still alive (births × survival): famine dip around 1960, the
# 1963–1975 boom, the late-1980s echo and the post-2017 decline.
_PYRAMID = {
    1930: 0.12, 1940: 0.3, 1950: 0.85, 1955: 1.05, 1959: 0.95, 1961: 0.7, 1963: 1.85,
    1970: 1.85, 1975: 1.45, 1980: 1.3, 1987: 1.75, 1990: 1.7, 1995: 1.2, 2000: 1.0,
    2005: 0.95, 2010: 1.0, 2016: 1.1, 2018: 1.0, 2020: 0.75, 2024: 0.55,
}  # fmt: skip
PYRAMID = np.interp(YEARS, list(_PYRAMID), list(_PYRAMID.values()))
LOCAL_SHARE, PROVINCE_SHARE = 0.80, 0.10  # the rest (0.10) from the rest of the country
SEQ_SLOTS = 499  # per (region, birth date): male 2k+1, female 2k+2, k < 499
_STRIDE = 7919  # prime, coprime with 365·499 and 366·499

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)

_LOC_LINE = re.compile(r'^(\s*)(\d+)\s+\w+="(.*)"')
_SPAN = re.compile(r"^\[(\d*)-(\d*)\]")


# --- check characters (vectorised) ----------------------------------------------------


def id_check(mat: np.ndarray) -> np.ndarray:
    """GB 11643 check char (ASCII) for an ``(n, >=17)`` digit matrix (MOD 11-2)."""
    s = np.zeros(len(mat), dtype=np.int32)
    for j, w in enumerate(ID_WEIGHTS.tolist()):  # column loop: faster than an int matmul
        s += mat[:, j].astype(np.int32) * w
    return ID_CHECK[(s - 48 * int(ID_WEIGHTS.sum())) % 11]


def _alnum_values(mat: np.ndarray) -> np.ndarray:
    m = mat.astype(np.int64)
    return np.where(m <= 57, m - 48, m - 55)  # 0-9 → 0-9, A-Z → 10-35


def org_check(body: np.ndarray) -> np.ndarray:
    """GB 11714 organisation-code check char for an ``(n, 8)`` matrix."""
    c = 11 - (_alnum_values(body) @ ORG_WEIGHTS) % 11
    return np.where(c == 10, ord("X"), np.where(c == 11, 48, 48 + c)).astype(np.uint8)


_USCC_VALUE = np.full(128, -1, dtype=np.int64)
_USCC_VALUE[np.frombuffer(USCC_ALPHABET.encode(), dtype=np.uint8)] = np.arange(31)
_USCC_CHARS = np.frombuffer(USCC_ALPHABET.encode(), dtype=np.uint8)


def uscc_check(mat: np.ndarray) -> np.ndarray:
    """GB 32100 check char for an ``(n, >=17)`` matrix over the credit-code alphabet."""
    s = _USCC_VALUE[mat[:, :17]] @ USCC_WEIGHTS
    return _USCC_CHARS[(31 - s % 31) % 31]


# --- regions --------------------------------------------------------------------------


@lru_cache
def national_codes() -> tuple[np.ndarray, np.ndarray]:
    """County-level GB/T 2260 codes and, per birth year, whether the code existed then.

    python-stdnum accepts an ID only if its region code was in force in the birth year,
    so the table keeps each code's ``[start-end]`` spans from ``loc.dat``.
    """
    known = national_regions()
    text = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    codes: list[int] = []
    rows: list[np.ndarray] = []
    province = ""
    for line in text.splitlines():
        m = _LOC_LINE.match(line)
        if not m:
            continue
        indent, code, value = m.groups()
        if not indent:
            province = code
            continue
        full = province + code
        if full not in known or full.endswith(("00", "01")):  # keep counties/districts only
            continue
        valid = np.zeros(len(YEARS), dtype=bool)
        for part in value.split(","):
            span = _SPAN.match(part)
            if span is None:
                valid[:] = True
                break
            lo, hi = (int(x) if x else None for x in span.groups())
            valid |= ((lo or 0) <= YEARS) & ((hi or 9999) >= YEARS)
        if valid.any():
            codes.append(int(full))
            rows.append(valid)
    return np.array(codes, dtype=np.int64), np.array(rows)


LOCAL_CODES = np.array([int(c) for c in V.DISTRICTS], dtype=np.int64)
LOCAL_WEIGHTS = np.array([w for _, w in V.DISTRICTS.values()])
DISTRICT_NAMES = vocab([name for name, _ in V.DISTRICTS.values()])
LOCAL_CODE_STR = vocab(list(V.DISTRICTS))


def local_index(codes: np.ndarray) -> np.ndarray:
    """Index into the demo districts, or -1 for codes elsewhere."""
    pos = np.searchsorted(LOCAL_CODES, codes)
    pos = np.minimum(pos, len(LOCAL_CODES) - 1)
    return np.where(LOCAL_CODES[pos] == codes, pos, -1)


def years_between(birth: np.ndarray, at: np.ndarray | int) -> np.ndarray:
    """Completed years of age (calendar-exact) between two day numbers."""
    by, bm, bd = ymd(birth)
    ay, am, ad = ymd(np.broadcast_to(at, np.shape(birth)))
    return ay - by - ((am * 100 + ad) < (bm * 100 + bd))


# --- persons ----------------------------------------------------------------------------


@dataclass
class People:
    idx: np.ndarray
    region: np.ndarray  # int, GB/T 2260
    birth: np.ndarray  # day number
    sex: np.ndarray  # 1 男 2 女
    id_matrix: np.ndarray  # (n, 18) ASCII
    surname: np.ndarray
    given1: np.ndarray
    given2: np.ndarray  # index of "" for one-character given names

    @property
    def ids(self) -> pa.Array:
        return ascii_matrix(self.id_matrix)

    def names(self) -> pa.Array:
        return concat(
            take(_SURNAMES, self.surname), take(_GIVEN, self.given1), take(_GIVEN, self.given2)
        )

    def name_variant(self) -> pa.Array:
        """The same person's name with the last character changed (a typo or homophone)."""
        two = self.given2 != _EMPTY
        last = np.where(two, self.given2, self.given1)
        lo, size = _GIVEN_LO[self._group], _GIVEN_LEN[self._group]
        alt = lo + (last - lo + 1 + self.idx % (size - 1)) % size
        g1 = np.where(two, self.given1, alt)
        g2 = np.where(two, alt, self.given2)
        return concat(take(_SURNAMES, self.surname), take(_GIVEN, g1), take(_GIVEN, g2))

    @cached_property
    def _group(self) -> np.ndarray:
        return (self.sex - 1) * 2 + (ymd(self.birth)[0] >= 1980)


_SURNAMES = vocab(list(V.SURNAMES))
_SURNAME_W = np.array(list(V.SURNAMES.values()))
_GROUPS = [("男", "old"), ("男", "new"), ("女", "old"), ("女", "new")]
_GIVEN = vocab([c for g in _GROUPS for c in V.GIVEN[g]] + [""])
_GIVEN_LEN = np.array([len(V.GIVEN[g]) for g in _GROUPS], dtype=np.int64)
_GIVEN_LO = np.concatenate([[0], np.cumsum(_GIVEN_LEN)[:-1]])
_EMPTY = int(_GIVEN_LEN.sum())


class PersonDomain:
    """The population of ``n`` persons for ``seed`` (clean values, random access)."""

    def __init__(self, seed: int, n: int) -> None:
        self.seed, self.n = seed, n
        self.rand = Rand(seed, "persons")
        self.perm = Permutation(max(n, 1), seed, "persons")
        self.codes, self.starts, self.ends = _cells(seed, n)

    def _cell(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = self.perm(idx)
        cell = np.searchsorted(self.ends, p, side="right")
        rank = p - self.starts[cell]
        return cell, rank, p

    def birth_and_seq(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(region code, birth day number, sequence slot k) of persons ``idx``."""
        cell, rank, _ = self._cell(idx)
        year = YEAR0 + cell % len(YEARS)
        region = self.codes[cell // len(YEARS)]
        jan1 = day_numbers(year)
        diy = np.where((year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0)), 366, 365)
        span = diy * SEQ_SLOTS
        r = (rank * _STRIDE + self.rand.below("cell:offset", cell, span)) % span
        return region, jan1 + r // SEQ_SLOTS, r % SEQ_SLOTS

    def birth(self, idx: np.ndarray) -> np.ndarray:
        return self.birth_and_seq(idx)[1]

    def sex(self, idx: np.ndarray) -> np.ndarray:
        return np.where(self.rand.chance("sex", idx, 0.51), 1, 2)

    def core(self, idx: np.ndarray) -> People:
        region, birth, k = self.birth_and_seq(idx)
        sex = self.sex(idx)
        seq = 2 * k + np.where(sex == 1, 1, 2)
        y, m, d = ymd(birth)
        mat = np.empty((len(idx), 18), dtype=np.uint8)
        mat[:, :6] = digits(region, 6)
        mat[:, 6:14] = date_matrix(y, m, d, sep=False)
        mat[:, 14:17] = digits(seq, 3)
        mat[:, 17] = id_check(mat)
        group = (sex - 1) * 2 + (y >= 1980)
        lo, size = _GIVEN_LO[group], _GIVEN_LEN[group]
        given1 = lo + self.rand.below("given1", idx, size)
        two = self.rand.chance("given2?", idx, np.where(y >= 1980, 0.82, 0.62))
        given2 = np.where(two, lo + self.rand.below("given2", idx, size), _EMPTY)
        surname = self.rand.pick("surname", idx, _SURNAME_W)
        return People(idx, region, birth, sex, mat, surname, given1, given2)

    def pick(
        self,
        rand: Rand,
        field: str,
        idx: np.ndarray,
        at: np.ndarray | int,
        min_age: int | np.ndarray = 18,
        max_age: int | np.ndarray = 200,
        sex: int | np.ndarray | None = None,
    ) -> np.ndarray:
        """A person per row aged ``[min_age, max_age]`` at day ``at`` (of sex ``sex``).

        Candidates are drawn among the birth-year cells the age range allows (through
        the inverse permutation), then checked exactly; the rare misses (birthday in
        the edge years, wrong sex) are redrawn, up to 40 vectorised rounds.
        """
        shape = idx.shape
        at = np.broadcast_to(np.asarray(at), shape)
        lo = np.broadcast_to(np.asarray(min_age), shape)
        hi = np.broadcast_to(np.asarray(max_age), shape)
        want = None if sex is None else np.broadcast_to(np.asarray(sex), shape)
        year_at = ymd(at)[0]
        first = np.clip(year_at - hi - 1 - YEAR0, 0, len(YEARS) - 1)
        last = np.clip(year_at - lo - YEAR0, 0, len(YEARS) - 1)
        order, cum = self._by_year
        chosen = np.zeros(len(idx), dtype=np.int64)
        todo = np.ones(len(idx), dtype=bool)
        for r in range(40):
            pos = np.flatnonzero(todo)
            if not len(pos):
                break
            a, b = cum[self._year_bounds[first[pos]]], cum[self._year_bounds[last[pos] + 1]]
            slot = a + rand.below(f"{field}:{r}", idx[pos], np.maximum(b - a, 1))
            k = np.searchsorted(cum, slot, side="right") - 1  # position in year order
            cell = order[k]
            cand = self.perm.inverse(self.starts[cell] + slot - cum[k])
            age = years_between(self.birth(cand), at[pos])
            ok = (age >= lo[pos]) & (age <= hi[pos])
            if want is not None:
                ok &= self.sex(cand) == want[pos]
            chosen[pos] = cand
            todo[pos[ok]] = False
        return chosen

    @cached_property
    def _by_year(self) -> tuple[np.ndarray, np.ndarray]:
        """Cells ordered by birth year, with cumulative counts in that order."""
        year = np.arange(len(self.ends)) % len(YEARS)
        order = np.argsort(year, kind="stable")
        counts = (self.ends - self.starts)[order]
        return order, np.concatenate([[0], np.cumsum(counts)])

    @cached_property
    def _year_bounds(self) -> np.ndarray:
        """Index in year order where each birth year's cells begin (plus the end)."""
        year = (np.arange(len(self.ends)) % len(YEARS))[self._by_year[0]]
        return np.searchsorted(year, np.arange(len(YEARS) + 1))


@lru_cache(maxsize=8)
def _cells(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Region codes and per-(code, year) cell boundaries in permuted row space."""
    national, valid = national_codes()
    in_prov = (national // 10000 == 33) & (national // 100 != 3399)
    w_local = LOCAL_SHARE * LOCAL_WEIGHTS[:, None] * np.ones((1, len(YEARS)))
    share = np.where(in_prov, PROVINCE_SHARE, 1 - LOCAL_SHARE - PROVINCE_SHARE)[:, None]
    count_prov = (valid & in_prov[:, None]).sum(axis=0)
    count_rest = (valid & ~in_prov[:, None]).sum(axis=0)
    per_code = np.where(in_prov[:, None], 1 / count_prov, 1 / count_rest)
    w_nat = share * valid * per_code
    codes = np.concatenate([LOCAL_CODES, national])
    weights = np.vstack([w_local, w_nat]) * PYRAMID[None, :]
    rand = Rand(seed, "persons")
    cells = np.arange(weights.size)
    weights = weights.ravel() * np.exp(0.12 * rand.normal("cell:noise", cells))
    counts = apportion(weights, n, rand.uniform("cell:round", cells))
    ends = np.cumsum(counts)
    if n and counts.max() >= 365 * SEQ_SLOTS:
        raise ValueError("population too large for one region and birth year")
    return codes, ends - counts, ends


# --- enterprises --------------------------------------------------------------------------

_NAME_CHARS = "华信恒远鼎盛瑞丰宏达嘉禾天成鑫源众合博启航汇通金诚中联海纳同创万腾飞卓越永兴明辉安泰锦程立东升光正和新佳美富康润泽隆昌聚德益晟泓宸晨峰"
_NAME_POOL = vocab(list(dict.fromkeys(_NAME_CHARS)))
_TYPES_W = np.array([w for *_, w in V.ENTERPRISE_TYPES])
_IND_W = np.array([w for *_, w in V.INDUSTRIES])
_SINCE_DAY = 5479  # 1985-01-01: the oldest founding date


@dataclass
class Firms:
    idx: np.ndarray
    uscc_matrix: np.ndarray  # (n, 18) ASCII
    region: np.ndarray  # registration region (int)
    type_index: np.ndarray
    industry: np.ndarray
    founded: np.ndarray  # day number
    name: pa.Array

    @property
    def codes(self) -> pa.Array:
        return ascii_matrix(self.uscc_matrix)


class EnterpriseDomain:
    """``n`` market entities for ``seed``: credit code, name, type, industry, founding day."""

    def __init__(self, seed: int, n: int, today_day: int) -> None:
        self.seed, self.n, self.today = seed, n, today_day
        self.rand = Rand(seed, "enterprises")
        self.perm_digits = Permutation(10**8, seed, "org:digits")
        self.perm_ma = Permutation(31**6, seed, "org:ma")
        pool = len(_NAME_POOL)
        self.perm_name = Permutation(pool**3, seed, "firm:name")

    def core(self, idx: np.ndarray) -> Firms:
        r = self.rand
        t = r.pick("type", idx, _TYPES_W)
        ind = r.pick("industry", idx, _IND_W)
        # Founding: recent firms dominate (market entities grew ~10%/year).
        oldest = self.today - _SINCE_DAY - 1
        age = np.minimum(-np.log1p(-r.uniform("age", idx)) * 2600, oldest).astype(np.int64)
        founded = self.today - 1 - age
        district = r.pick("district", idx, LOCAL_WEIGHTS)
        # Companies may register with the city bureau (region 339900), others locally.
        city_level = r.chance("city_level", idx, 0.2) & (_type_chars(t) == ord("1"))
        region = np.where(city_level, 339900, LOCAL_CODES[district])
        mat = np.empty((len(idx), 18), dtype=np.uint8)
        mat[:, 0] = ord("9")  # 9 = 市场监管 registration authority
        mat[:, 1] = _type_chars(t)
        mat[:, 2:8] = digits(region, 6)
        # Organisation code: "MA" + 6 chars for firms since 2016, 8 digits before.
        new = founded >= 16801  # 2016-01-01
        body = np.empty((len(idx), 8), dtype=np.uint8)
        body[:] = digits(self.perm_digits(idx), 8)
        if new.any():
            ma = self.perm_ma(idx[new])
            chars = _USCC_CHARS[(ma[:, None] // 31 ** np.arange(5, -1, -1)) % 31]
            body[new, 0], body[new, 1] = ord("M"), ord("A")
            body[new, 2:] = chars
        mat[:, 8:16] = body
        mat[:, 16] = org_check(body)
        mat[:, 17] = uscc_check(mat)
        return Firms(idx, mat, region, t, ind, founded, self._names(idx, t, ind, district))

    def _names(
        self, idx: np.ndarray, t: np.ndarray, ind: np.ndarray, district: np.ndarray
    ) -> pa.Array:
        pool = len(_NAME_POOL)
        z = self.perm_name(idx % pool**3)  # a unique brand (字号) for the first 262,144 firms
        brand = concat(
            take(_NAME_POOL, z // pool**2),
            take(_NAME_POOL, z // pool % pool),
            take(_NAME_POOL, z % pool),
        )
        trade = take(_TRADES, ind)
        local = _TYPE_LOCAL[t]  # 个体工商户 and 合作社 carry their district in the name
        place = take(_DISTRICT_OR_EMPTY, np.where(local, district, len(V.DISTRICTS)))
        return concat(V.CITY, place, brand, trade, take(_TYPE_SUFFIX, t))


_TRADES = vocab([w for _, _, w, _ in V.INDUSTRIES])
_DISTRICT_OR_EMPTY = vocab([name for name, _ in V.DISTRICTS.values()] + [""])
_TYPE_SUFFIX = vocab(
    [
        "店" if label == "个体工商户"
        else "农民专业合作社" if label == "农民专业合作社"
        else "商行" if label == "个人独资企业"
        else "股份有限公司" if label.startswith("股份")
        else "（有限合伙）" if label == "有限合伙企业"
        else "（普通合伙）" if label == "普通合伙企业"
        else "有限公司"
        for _, label, _ in V.ENTERPRISE_TYPES
    ]
)  # fmt: skip
_TYPE_LOCAL = np.array([c != "1" for c, _, _ in V.ENTERPRISE_TYPES])


def _type_chars(t: np.ndarray) -> np.ndarray:
    return np.array([ord(c) for c, _, _ in V.ENTERPRISE_TYPES], dtype=np.uint8)[t]


def region_names(codes: np.ndarray) -> pa.Array:
    """Names of demo districts ("" for the city itself and codes elsewhere)."""
    li = local_index(codes)
    return take(_DISTRICT_OR_EMPTY, np.where(li < 0, len(V.DISTRICTS), li))
