"""Synthetic data for the demo city 示例市: deterministic, vectorised, streamable.

Every generator has the shape ``gen(n, *, seed, dirty_rate=…, batch_size=200_000,
today=None, labels=False, …) -> Iterator[pyarrow.RecordBatch]``; :func:`table` collects
one into a ``pyarrow.Table`` for small ``n``. Code-like values are strings, dates in
register data are ``YYYY-MM-DD`` strings (so impossible dates can be represented),
times are ``timestamp[s, UTC]``.

Randomness is counter-based: each value is a splitmix64 hash of (seed, generator,
field, row index). The same ``seed`` and ``n`` give the same rows whatever
``batch_size``; any row can be computed alone, which is how generators share keys:
``PersonDomain(seed, persons_n).core(idx)`` is exactly row ``idx`` of ``persons`` before
dirty changes, and ``EnterpriseDomain`` likewise for ``enterprises``. ``today``
(default: the real today) anchors registration dates, "future" dirty dates and the
default period of time series: the 730 days ending yesterday.

Generators (``COLUMNS`` dicts give the Chinese label of each column):

* ``persons`` 人口基本信息 — gmsfhm 公民身份号码 (GB 11643; region 80% 示例市
  districts 339902–339906/339921, 10% other 浙江 counties, 10% the rest of the
  country, each code valid in the birth year as python-stdnum requires; birth years
  1930–2024 on an age pyramid; sequence parity = sex; MOD 11-2 check char; unique by
  construction), xm 姓名 (surnames by frequency, era- and sex-typical given names),
  xb 性别代码 (GB/T 2261.1: 1 男 2 女), csrq 出生日期, mz 民族代码 (GB/T 3304),
  hjdz_xzqh 户籍地行政区划代码, zz 住址, sjhm 手机号码, djrq 登记日期.
* ``enterprises`` 法人基本信息/营业执照 — tyshxydm 统一社会信用代码 (GB 32100: 9 +
  type 1/2/3 + region 3399xx + GB 11714 organisation code with its own check char,
  "MA…" since 2016 + MOD 31 check; unique), qymc 企业名称 (unique for the first
  262,144), qylx 企业类型, fddbr/fddbr_sfzh 法定代表人 (a person aged 18–75 at
  founding), clrq 成立日期, zczb 注册资本（万元）, hydm 行业代码 (GB/T 4754), zs 住所,
  djjg 登记机关, jyzt 经营状态.
* ``social_security`` 社保参保 — gmsfhm, xm, xzlx 险种类型, cbrq 参保日期, cbzt 参保状态,
  jfjs 缴费基数, dwmc, tyshxydm: one row per distinct person while ``n <= persons_n``;
  scheme by age and employment; employer from ``enterprises(enterprises_n)``.
* ``housing_fund`` 公积金缴存, ``real_estate`` 不动产登记, ``marriages`` 婚姻登记
  (spouses of the right sex and legal age), ``licences`` 行政许可, ``penalties``
  行政处罚 — smaller registers keyed on the same persons and enterprises.
* ``hotline`` 12345热线工单 — exactly ``n`` tickets over the period, daily volume with
  weekly shape (weekday > weekend), holidays, summer peak, growth, and the spikes of
  ``HOTLINE_SPIKES`` (every 01-25 ×2.0 停水, 07-20 ×2.5 台风积水, 11-12 ×1.6 消费纠纷;
  see ``hotline_spikes``); gdbh = 12345 + date + number within the day (increasing
  with slsj).
* ``air_quality`` 空气质量监测 — ``n`` stations × hourly readings; winter PM peaks,
  summer-afternoon O₃, rush-hour NO₂, shared weather; AQI by HJ 633-2012.
* ``bus_daily`` 公交刷卡 — ``n`` routes × days; workday/weekend/holiday shape via
  ``chinese_calendar`` (调休 included), Spring Festival trough.
* ``service_cases`` 政务服务办件 — cases on working days, 承诺时限 in working days,
  sfcs 是否超时 consistent with the durations.

Dirty rows: each row is dirty with probability ``dirty_rate`` and then of one kind
drawn by weight from the generator's ``*_DIRTY`` tuple (:class:`DirtyKind`: code,
column, label). With ``labels=True`` a ``dirty_kind`` column names it (null = clean);
all other columns of a clean row are valid. Kinds:

* IDs (GB 11643): ``id_bad_check`` wrong check char; ``id_lowercase_x`` check X written
  as x (valid once upper-cased); ``id_fullwidth`` full-width characters;
  ``id_legacy_15`` 15-digit pre-1999 number; ``id_bad_region`` prefix 99xxxx;
  ``birth_impossible`` 1999-02-30-style date in csrq and the ID (check char
  recomputed); ``sex_mismatch`` xb against the sequence parity; ``rep_id_bad_check``,
  ``applicant_bad_check`` as ``id_bad_check`` on other ID columns.
* Credit codes (GB 32100): ``uscc_bad_check``; ``uscc_forbidden_char`` one of I O Z S V
  in the organisation code; ``uscc_short`` 17 characters.
* Values: ``name_blank`` / ``content_blank`` / ``item_blank`` empty text;
  ``phone_10_digits``; ``future_date`` after ``today``; ``ethnic_out_of_range`` (00, 60);
  ``capital_out_of_range``, ``base_out_of_range``, ``amount_out_of_range``,
  ``area_out_of_range``, ``rate_out_of_range``; ``status_nonstandard``,
  ``category_nonstandard``, ``region_invalid`` codes outside their tables;
  ``negative_value``, ``sentinel_9999``, ``missing_reading``, ``negative_count``,
  ``outlier_spike``, ``missing_count`` sensor/clearing glitches.
* Consistency: ``close_before_accept`` / ``date_order`` end before start;
  ``overdue_flag_wrong``; ``deposit_mismatch`` 月缴存额 ≠ 基数×比例×2; ``underage``
  bride under 20.
* Cross-source: ``name_mismatch`` name differs from the population/legal-person
  record; ``unknown_person`` / ``unknown_employer`` / ``unknown_holder`` keys absent
  from the referenced register.
* ``duplicate_key`` the key (and for registers the identity) of a nearby clean row.

A clean row of a referencing generator may still miss its partner when that partner's
own row is dirty (e.g. its ID was corrupted) — as in real data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from gongshu.demo.synth._core import LABEL_COLUMN, DirtyKind
from gongshu.demo.synth.business import (
    ENTERPRISES_COLUMNS,
    ENTERPRISES_DIRTY,
    LICENCES_COLUMNS,
    LICENCES_DIRTY,
    PENALTIES_COLUMNS,
    PENALTIES_DIRTY,
    enterprises,
    licences,
    penalties,
)
from gongshu.demo.synth.city import (
    AIR_COLUMNS,
    AIR_DIRTY,
    BUS_COLUMNS,
    BUS_DIRTY,
    HOTLINE_COLUMNS,
    HOTLINE_DIRTY,
    HOTLINE_SPIKES,
    SERVICE_CASES_COLUMNS,
    SERVICE_CASES_DIRTY,
    air_quality,
    bus_daily,
    hotline,
    hotline_daily,
    hotline_spikes,
    service_cases,
    stations,
)
from gongshu.demo.synth.domains import EnterpriseDomain, PersonDomain
from gongshu.demo.synth.people import (
    HOUSING_FUND_COLUMNS,
    HOUSING_FUND_DIRTY,
    MARRIAGE_COLUMNS,
    MARRIAGE_DIRTY,
    PERSONS_COLUMNS,
    PERSONS_DIRTY,
    REAL_ESTATE_COLUMNS,
    REAL_ESTATE_DIRTY,
    SOCIAL_SECURITY_COLUMNS,
    SOCIAL_SECURITY_DIRTY,
    housing_fund,
    marriages,
    persons,
    real_estate,
    social_security,
)


@dataclass(frozen=True)
class Generator:
    name: str
    label: str
    columns: dict[str, str]
    dirty: tuple[DirtyKind, ...]
    generate: Callable[..., Iterator[pa.RecordBatch]]


GENERATORS: dict[str, Generator] = {
    g.name: g
    for g in (
        Generator("persons", "人口基本信息", PERSONS_COLUMNS, PERSONS_DIRTY, persons),
        Generator(
            "enterprises", "法人基本信息", ENTERPRISES_COLUMNS, ENTERPRISES_DIRTY, enterprises
        ),
        Generator(
            "social_security",
            "社保参保信息",
            SOCIAL_SECURITY_COLUMNS,
            SOCIAL_SECURITY_DIRTY,
            social_security,
        ),
        Generator(
            "housing_fund", "公积金缴存信息", HOUSING_FUND_COLUMNS, HOUSING_FUND_DIRTY, housing_fund
        ),
        Generator(
            "real_estate", "不动产登记信息", REAL_ESTATE_COLUMNS, REAL_ESTATE_DIRTY, real_estate
        ),
        Generator("marriages", "婚姻登记信息", MARRIAGE_COLUMNS, MARRIAGE_DIRTY, marriages),
        Generator("licences", "行政许可信息", LICENCES_COLUMNS, LICENCES_DIRTY, licences),
        Generator("penalties", "行政处罚信息", PENALTIES_COLUMNS, PENALTIES_DIRTY, penalties),
        Generator("hotline", "12345热线工单", HOTLINE_COLUMNS, HOTLINE_DIRTY, hotline),
        Generator("air_quality", "空气质量监测数据", AIR_COLUMNS, AIR_DIRTY, air_quality),
        Generator("bus_daily", "公交刷卡日统计", BUS_COLUMNS, BUS_DIRTY, bus_daily),
        Generator(
            "service_cases",
            "政务服务办件信息",
            SERVICE_CASES_COLUMNS,
            SERVICE_CASES_DIRTY,
            service_cases,
        ),
    )
}


def table(
    generator: str | Callable[..., Iterator[pa.RecordBatch]], n: int, **kwargs: Any
) -> pa.Table:
    """All rows of one generator as a Table (for small ``n``; stream large ones)."""
    gen = GENERATORS[generator].generate if isinstance(generator, str) else generator
    batches = list(gen(n, **kwargs))
    if not batches:  # n = 0 yields nothing: take the schema from a one-row run
        return next(gen(1, **kwargs)).schema.empty_table()
    return pa.Table.from_batches(batches)


__all__ = [
    "GENERATORS",
    "HOTLINE_SPIKES",
    "LABEL_COLUMN",
    "DirtyKind",
    "EnterpriseDomain",
    "Generator",
    "PersonDomain",
    "air_quality",
    "bus_daily",
    "enterprises",
    "hotline",
    "hotline_daily",
    "hotline_spikes",
    "housing_fund",
    "licences",
    "marriages",
    "penalties",
    "persons",
    "real_estate",
    "service_cases",
    "social_security",
    "stations",
    "table",
]
