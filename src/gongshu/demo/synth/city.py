"""City-operation time series: 12345 hotline, air quality, bus card swipes, service cases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gongshu.demo.synth import _vocab as V
from gongshu.demo.synth._core import (
    DirtyKind,
    Rand,
    apportion,
    ascii_matrix,
    batches,
    concat,
    date_matrix,
    dates,
    day_number,
    day_numbers,
    digits,
    dirty_index,
    duplicate_sources,
    label_column,
    masks,
    num_str,
    replace,
    resolve_today,
    schema_of,
    take,
    timestamps,
    two_years,
    vocab,
    ymd,
)
from gongshu.demo.synth.domains import (
    DISTRICT_NAMES,
    LOCAL_CODE_STR,
    LOCAL_WEIGHTS,
    PersonDomain,
)
from gongshu.demo.synth.people import DEMO_PERSONS, _bad_check

SHANGHAI = 8 * 3600  # UTC offset in seconds; the city runs on Asia/Shanghai time
ORG_NAMES = {
    "GAJ": "示例市公安局", "SCJGJ": "示例市市场监督管理局", "RSJ": "示例市人力资源和社会保障局",
    "ZRZYJ": "示例市自然资源和规划局", "MZJ": "示例市民政局", "GJJ": "示例市住房公积金管理中心",
    "STHJJ": "示例市生态环境局", "JTJ": "示例市交通运输局", "WJW": "示例市卫生健康委员会",
    "JYJ": "示例市教育局", "ZWFWB": "示例市政务服务管理办公室", "CGJ": "示例市城市管理局",
}  # fmt: skip


# --- calendar -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """Day kinds from ``chinese_calendar`` (statutory holidays and make-up workdays);
    outside its years only weekends count."""

    holidays: np.ndarray  # day numbers
    spring: np.ndarray  # Spring Festival days
    makeup: np.ndarray  # weekend days that are workdays (调休)

    def workday(self, days: np.ndarray) -> np.ndarray:
        weekend = (days + 3) % 7 >= 5  # 1970-01-01 was a Thursday
        return (~weekend | np.isin(days, self.makeup)) & ~np.isin(days, self.holidays)


@lru_cache
def calendar() -> Calendar:
    from chinese_calendar import constants

    hol = constants.holidays
    to_day = np.vectorize(day_number, otypes=[np.int64])
    return Calendar(
        to_day(list(hol)),
        to_day([d for d, name in hol.items() if name == "Spring Festival"]),
        to_day(list(constants.workdays)),
    )


def _period_days(start: dt.date, end: dt.date) -> np.ndarray:
    return np.arange(day_number(start), day_number(end) + 1, dtype=np.int64)


def _doy(days: np.ndarray) -> np.ndarray:
    return days - _jan1(ymd(days)[0])


def _jan1(year: np.ndarray) -> np.ndarray:
    return day_numbers(year)


# --- 12345 hotline --------------------------------------------------------------------------------

HOTLINE_COLUMNS = {
    "gdbh": "工单编号",
    "slsj": "受理时间",
    "qy": "区域（行政区划代码）",
    "lb": "类别",
    "zt": "主题",
    "nr": "内容",
    "cbdw": "承办单位",
    "bjsj": "办结时间",
    "myd": "满意度",
}
# (month, day, volume factor, reason, topic): every year of the period has these spikes.
HOTLINE_SPIKES = (
    (1, 25, 2.0, "寒潮导致水管冻裂，大面积停水", "供水停水"),
    (7, 20, 2.5, "台风过境，城区严重积水", "积水内涝"),
    (11, 12, 1.6, "“双十一”后消费纠纷集中", "消费纠纷"),
)
HOTLINE_DIRTY = (
    DirtyKind("close_before_accept", "bjsj", "办结时间早于受理时间"),
    DirtyKind("region_invalid", "qy", "区域代码不在示例市区划中（339999）"),
    DirtyKind("content_blank", "nr", "工单内容为空"),
    DirtyKind("category_nonstandard", "lb", "类别不在代码表中（“其它”）"),
    DirtyKind("duplicate_key", "gdbh", "工单编号重复（重复派单）"),
)
_HOURLY = np.array(
    [2, 1, 1, 1, 1, 2, 4, 8, 14, 16, 15, 13, 9, 10, 13, 14, 13, 11, 9, 8, 7, 6, 4, 3.0]
)
_HOURLY_CDF = np.concatenate([[0.0], np.cumsum(_HOURLY) / _HOURLY.sum()])
_TAILS = ["请尽快处理。", "希望相关部门核实处理。", "已多次反映，至今未解决。", "请给予答复。"]


def hotline_spikes(start: dt.date, end: dt.date) -> dict[dt.date, tuple[float, str, str]]:
    """Spike days within ``[start, end]``: date → (factor, reason, topic)."""
    out = {}
    for year in range(start.year, end.year + 1):
        for month, day, factor, reason, topic in HOTLINE_SPIKES:
            d = dt.date(year, month, day)
            if start <= d <= end:
                out[d] = (factor, reason, topic)
    return out


def hotline_daily(
    n: int, *, seed: int, start: dt.date, end: dt.date
) -> tuple[np.ndarray, np.ndarray]:
    """(day numbers, ticket counts) summing to exactly ``n``: weekly, seasonal, spikes."""
    days = _period_days(start, end)
    rand = Rand(seed, "hotline:daily")
    cal = calendar()
    weekday = (days + 3) % 7
    shape = np.array([1.12, 1.05, 1.02, 1.0, 0.97, 0.68, 0.62])[weekday]
    shape = np.where(np.isin(days, cal.holidays), 0.55, shape)
    shape = np.where(np.isin(days, cal.makeup), 0.95, shape)
    shape *= 1 + 0.15 * np.cos(2 * np.pi * (_doy(days) - 200) / 365.25)  # summer peak
    shape *= 1 + 0.08 * (days - days[0]) / 365.25  # slow growth
    shape *= np.exp(0.06 * rand.normal("noise", days))
    for d, (factor, _, _) in hotline_spikes(start, end).items():
        shape[days == day_number(d)] *= factor
    return days, apportion(shape, n)


def hotline(
    n: int,
    *,
    seed: int,
    start: dt.date | None = None,
    end: dt.date | None = None,
    today: dt.date | None = None,
    dirty_rate: float = 0.01,
    batch_size: int = 200_000,
    labels: bool = False,
) -> Iterator[pa.RecordBatch]:
    """12345热线工单: exactly ``n`` tickets over ``[start, end]`` (default: two years)."""
    start, end = two_years(today, start, end)
    now = day_number(resolve_today(today)) * 86400 - SHANGHAI
    days, counts = hotline_daily(n, seed=seed, start=start, end=end)
    ends = np.cumsum(counts)
    spikes = hotline_spikes(start, end)
    spike_days = np.array([day_number(d) for d in spikes], dtype=np.int64)
    spike_factor = np.array([f for f, _, _ in spikes.values()])
    topic_names = [t for t, *_ in V.HOTLINE_TOPICS]
    spike_topic = np.array([topic_names.index(t) for _, _, t in spikes.values()], dtype=np.int64)
    cat_cum = np.cumsum([c for _, _, c, _, _ in V.HOTLINE_TOPICS], axis=1).astype(float)
    cat_cum /= cat_cum[:, -1:]
    rand = Rand(seed, "hotline")
    schema = schema_of(
        HOTLINE_COLUMNS,
        {"slsj": pa.timestamp("s", "UTC"), "bjsj": pa.timestamp("s", "UTC")},
        labels,
    )
    kinds = HOTLINE_DIRTY

    def ticket_numbers(k: np.ndarray) -> pa.Array:
        """12345 + 受理日期 + 6-digit number within the day."""
        pos = np.searchsorted(ends, k, side="right")
        within = k - (ends[pos] - counts[pos]) + 1
        head = np.broadcast_to(np.frombuffer(b"12345", np.uint8), (len(k), 5))
        return ascii_matrix(
            np.hstack([head, date_matrix(*ymd(days[pos]), sep=False), digits(within, 6)])
        )

    def build(idx: np.ndarray) -> dict[str, pa.Array]:
        kind = dirty_index(rand, idx, dirty_rate, kinds)
        m = masks(kind, kinds)
        pos = np.searchsorted(ends, idx, side="right")
        day = days[pos]
        # Time of day by rank within the day through the hourly profile's inverse CDF,
        # so ticket numbers increase with the acceptance time.
        rank = (idx - (ends[pos] - counts[pos]) + rand.uniform("sec", idx)) / counts[pos]
        second = np.interp(rank, _HOURLY_CDF, np.arange(25) * 3600.0).astype(np.int64)
        accepted = day * 86400 + second - SHANGHAI
        topic = rand.pick("topic", idx, [w for _, w, *_ in V.HOTLINE_TOPICS])
        sp = np.searchsorted(spike_days, day)
        sp = np.minimum(sp, max(len(spike_days) - 1, 0))
        on_spike = (spike_days[sp] == day) if len(spike_days) else np.zeros(len(idx), bool)
        if on_spike.any():  # the extra volume of a spike day is about its event
            extra = on_spike & rand.chance("spike", idx, 1 - 1 / spike_factor[sp])
            topic = np.where(extra, spike_topic[sp], topic)
        category = (rand.uniform("lb", idx)[:, None] > cat_cum[topic]).sum(axis=1)
        district = rand.pick("qy", idx, LOCAL_WEIGHTS)
        hours_taken = np.exp(np.log(36) + 0.9 * rand.normal("duration", idx))
        closed = accepted + (hours_taken * 3600).astype(np.int64)
        closed = np.where(
            m["close_before_accept"], accepted - rand.integers("back", idx, 600, 86400), closed
        )
        open_ = closed > now
        rated = ~open_ & rand.chance("rated", idx, 0.85)
        sat = rand.pick("myd", idx, list(V.SATISFACTION.values()))
        number = ticket_numbers(idx)
        if (sel := m["duplicate_key"]).any():
            number = replace(
                number, sel, ticket_numbers(duplicate_sources(rand, idx, n, dirty_rate, kinds)[sel])
            )
        content = concat(
            take(DISTRICT_NAMES, district),
            take(vocab(V.ROADS), rand.below("road", idx, len(V.ROADS))),
            "附近",
            take(vocab([p for *_, p in V.HOTLINE_TOPICS]), topic),
            "，",
            take(vocab(_TAILS), rand.below("tail", idx, len(_TAILS))),
        )
        region = replace(take(LOCAL_CODE_STR, district), m["region_invalid"], "339999")
        cols = {
            "gdbh": number,
            "slsj": timestamps(accepted),
            "qy": region,
            "lb": replace(
                take(vocab(V.HOTLINE_CATEGORIES), category), m["category_nonstandard"], "其它"
            ),
            "zt": take(vocab(topic_names), topic),
            "nr": replace(content, m["content_blank"], ""),
            "cbdw": take(vocab([ORG_NAMES[o] for _, _, _, o, _ in V.HOTLINE_TOPICS]), topic),
            "bjsj": pa.array(closed, pa.timestamp("s", "UTC"), mask=open_),
            "myd": pc.take(vocab(list(V.SATISFACTION)), pa.array(sat, mask=~rated)),
        }
        if labels:
            cols["dirty_kind"] = label_column(kind, kinds)
        return cols

    return batches(n, batch_size, build, schema)


# --- air quality ----------------------------------------------------------------------------------

AIR_COLUMNS = {
    "zdbm": "站点编码",
    "zdmc": "站点名称",
    "qy": "区域（行政区划代码）",
    "jcsj": "监测时间",
    "aqi": "空气质量指数",
    "pm25": "PM2.5（μg/m³）",
    "pm10": "PM10（μg/m³）",
    "so2": "二氧化硫（μg/m³）",
    "no2": "二氧化氮（μg/m³）",
    "o3": "臭氧（μg/m³）",
    "co": "一氧化碳（mg/m³）",
}
AIR_DIRTY = (
    DirtyKind("negative_value", "pm25", "传感器故障：PM2.5 为负值"),
    DirtyKind("sentinel_9999", "pm25", "传感器故障：PM2.5 为 9999（仪器填充值）"),
    DirtyKind("missing_reading", "pm25", "数据缺失：PM2.5、PM10 为空"),
    DirtyKind("duplicate_key", "jcsj", "同一站点同一时间重复上报（时间未更新）"),
)
_STATION_SUFFIX = ["监测站", "公园", "中学", "开发区"]
# HJ 633-2012 breakpoints; hourly AQI uses the 24-hour ones for PM2.5 and PM10.
_IAQI = np.array([0, 50, 100, 150, 200, 300, 400, 500], dtype=float)
_BREAKPOINTS = {
    "pm25": [0, 35, 75, 115, 150, 250, 350, 500],
    "pm10": [0, 50, 150, 250, 350, 420, 500, 600],
    "so2": [0, 150, 500, 650, 800, 1600, 2100, 2620],
    "no2": [0, 100, 200, 700, 1200, 2340, 3090, 3840],
    "co": [0, 5, 10, 35, 60, 90, 120, 150],
    "o3": [0, 160, 200, 300, 400, 800, 1000, 1200],
}
_AIR_TYPES = {"jcsj": pa.timestamp("s", "UTC"), "aqi": pa.int32()} | {
    k: pa.float64() for k in ("pm25", "pm10", "so2", "no2", "o3", "co")
}


def stations(n: int) -> list[tuple[str, str, str]]:
    """(站点编码, 站点名称, district code) of ``n`` stations spread over the districts."""
    codes = list(V.DISTRICTS)
    out = []
    for i in range(n):
        code = codes[i % len(codes)]
        suffix = _STATION_SUFFIX[(i // len(codes)) % len(_STATION_SUFFIX)]
        out.append((f"{code}{i + 1:02d}A", f"{V.DISTRICTS[code][0]}{suffix}", code))
    return out


def aqi(values: dict[str, np.ndarray]) -> np.ndarray:
    """Hourly AQI: the maximum individual index (IAQI) over the pollutants."""
    parts = [np.interp(np.clip(values[k], 0, None), bp, _IAQI) for k, bp in _BREAKPOINTS.items()]
    return np.ceil(np.max(parts, axis=0)).astype(np.int32)


def air_quality(
    n: int = 12,
    *,
    seed: int,
    start: dt.date | None = None,
    end: dt.date | None = None,
    today: dt.date | None = None,
    dirty_rate: float = 0.01,
    batch_size: int = 200_000,
    labels: bool = False,
) -> Iterator[pa.RecordBatch]:
    """空气质量监测: hourly readings of ``n`` stations, rows ordered by time then station.

    Winter peaks for PM and SO₂/CO, summer-afternoon peaks for O₃, traffic peaks for NO₂;
    weather moves all stations together (a shared daily factor, interpolated by hour).
    """
    start, end = two_years(today, start, end)
    first = day_number(start)
    hours = (day_number(end) - first + 1) * 24
    info = stations(n)
    st_codes = vocab([c for c, _, _ in info])
    st_names = vocab([name for _, name, _ in info])
    st_region = vocab([r for _, _, r in info])
    rand = Rand(seed, "air")
    level = np.exp(0.25 * rand.normal("station", np.arange(n)))  # some stations sit dirtier
    schema = schema_of(AIR_COLUMNS, _AIR_TYPES, labels)
    kinds = AIR_DIRTY
    total = hours * n

    def weather(station: np.ndarray, hour: np.ndarray) -> np.ndarray:
        day, w = hour // 24, (hour % 24) / 24

        def z(d: np.ndarray) -> np.ndarray:
            return 0.8 * rand.normal("regional", d) + 0.45 * rand.normal(
                "local", d * 1000 + station
            )

        return (1 - w) * z(day) + w * z(day + 1)

    def build(idx: np.ndarray) -> dict[str, pa.Array]:
        kind = dirty_index(rand, idx, dirty_rate, kinds)
        m = masks(kind, kinds)
        hour = idx // n
        hour = np.where(m["duplicate_key"] & (hour > 0), hour - 1, hour)  # stale timestamp
        station = idx % n
        t = first * 24 + hour  # local hours since the epoch
        local_hour = t % 24
        season = np.cos(2 * np.pi * (_doy(t // 24) - 10) / 365.25)  # +1 mid-January
        wx = weather(station, hour)
        noise = lambda f, s: np.exp(s * rand.normal(f, idx))  # noqa: E731
        v = {
            "pm25": 36 * level[station] * (1 + 0.5 * season)
            * (1 + 0.15 * np.cos(2 * np.pi * (local_hour - 22) / 24)) * np.exp(0.45 * wx) * noise("n1", 0.1),
            "so2": 7 * (1 + 0.4 * season) * np.exp(0.3 * wx) * noise("n2", 0.15),
            "no2": 30 * level[station] * (1 + 0.25 * season)
            * (1 + 0.3 * np.exp(-((local_hour - 8) ** 2) / 4) + 0.35 * np.exp(-((local_hour - 19) ** 2) / 6))
            * np.exp(0.3 * wx) * noise("n3", 0.12),
            "o3": 55 * (1 - 0.45 * season)
            * (0.5 + 1.1 * np.clip(np.sin(np.pi * (local_hour - 7) / 13), 0, None))
            * np.exp(-0.2 * wx) * noise("n4", 0.12),
            "co": 0.65 * (1 + 0.35 * season) * np.exp(0.3 * wx) * noise("n5", 0.1),
        }  # fmt: skip
        v["pm10"] = v["pm25"] * (1.5 + 0.4 * rand.uniform("pm10", idx))
        for k in ("pm25", "pm10", "so2", "no2", "o3"):
            v[k] = np.round(v[k])
        v["co"] = np.round(v["co"], 2)
        v["pm25"] = np.where(m["negative_value"], -np.maximum(v["pm25"], 1), v["pm25"])
        v["pm25"] = np.where(m["sentinel_9999"], 9999.0, v["pm25"])
        index = aqi(v)
        missing = m["missing_reading"]
        cols = {
            "zdbm": take(st_codes, station),
            "zdmc": take(st_names, station),
            "qy": take(st_region, station),
            "jcsj": timestamps(t * 3600 - SHANGHAI),
            "aqi": pa.array(index, pa.int32(), mask=missing),
        }
        for k in ("pm25", "pm10", "so2", "no2", "o3", "co"):
            cols[k] = pa.array(v[k], pa.float64(), mask=missing if k in ("pm25", "pm10") else None)
        if labels:
            cols["dirty_kind"] = label_column(kind, kinds)
        return cols

    return batches(total, batch_size, build, schema)


# --- bus card swipes --------------------------------------------------------------------------------

BUS_COLUMNS = {"rq": "日期", "xlbm": "线路编码", "xlmc": "线路名称", "sksl": "刷卡人次"}
BUS_DIRTY = (
    DirtyKind("negative_count", "sksl", "刷卡人次为负数"),
    DirtyKind("outlier_spike", "sksl", "刷卡人次异常放大（约 20 倍，清分重复）"),
    DirtyKind("missing_count", "sksl", "刷卡人次缺失"),
    DirtyKind("duplicate_key", "rq", "同一线路同一日期重复（日期未更新）"),
)


def bus_daily(
    n: int = 120,
    *,
    seed: int,
    start: dt.date | None = None,
    end: dt.date | None = None,
    today: dt.date | None = None,
    dirty_rate: float = 0.01,
    batch_size: int = 200_000,
    labels: bool = False,
) -> Iterator[pa.RecordBatch]:
    """公交刷卡 daily aggregates for ``n`` routes (rows ordered by day then route).

    Workdays (incl. 调休 weekend workdays) carry full volume, weekends ~72%, statutory
    holidays ~55% and the Spring Festival ~35%; summer is slightly quieter.
    """
    start, end = two_years(today, start, end)
    days = _period_days(start, end)
    cal = calendar()
    factor = np.where(cal.workday(days), 1.0, 0.72)
    factor = np.where(np.isin(days, cal.holidays), 0.55, factor)
    factor = np.where(np.isin(days, cal.spring), 0.35, factor)
    factor *= 1 - 0.06 * np.cos(2 * np.pi * (_doy(days) - 210) / 365.25)
    rand = Rand(seed, "bus")
    route_base = np.exp(np.log(3500) + 0.7 * rand.normal("route", np.arange(n)))
    names = vocab([f"{'K' if i % 10 == 9 else ''}{i + 1}路" for i in range(n)])
    codes = vocab([f"XL{i + 1:04d}" for i in range(n)])
    schema = schema_of(BUS_COLUMNS, {"rq": pa.date32(), "sksl": pa.int64()}, labels)
    kinds = BUS_DIRTY

    def build(idx: np.ndarray) -> dict[str, pa.Array]:
        kind = dirty_index(rand, idx, dirty_rate, kinds)
        m = masks(kind, kinds)
        d = idx // n
        d = np.where(m["duplicate_key"] & (d > 0), d - 1, d)
        route = idx % n
        count = np.round(route_base[route] * factor[d] * np.exp(0.06 * rand.normal("noise", idx)))
        count = np.where(m["negative_count"], -count, count)
        count = np.where(m["outlier_spike"], count * 20, count)
        cols = {
            "rq": dates(days[d]),
            "xlbm": take(codes, route),
            "xlmc": take(names, route),
            "sksl": pa.array(count.astype(np.int64), mask=m["missing_count"]),
        }
        if labels:
            cols["dirty_kind"] = label_column(kind, kinds)
        return cols

    return batches(len(days) * n, batch_size, build, schema)


# --- service cases --------------------------------------------------------------------------------

SERVICE_CASES_COLUMNS = {
    "bjbh": "办件编号",
    "sxmc": "事项名称",
    "slbm": "受理部门（部门编码）",
    "sqr_sfzh": "申请人身份号码",
    "sqrxm": "申请人姓名",
    "slsj": "受理时间",
    "bjsj": "办结时间",
    "cnsx": "承诺时限（工作日）",
    "sfcs": "是否超时",
}
SERVICE_CASES_DIRTY = (
    DirtyKind("applicant_bad_check", "sqr_sfzh", "申请人身份号码校验码错误"),
    DirtyKind("close_before_accept", "bjsj", "办结时间早于受理时间"),
    DirtyKind("overdue_flag_wrong", "sfcs", "是否超时与受理、办结时间不符"),
    DirtyKind("item_blank", "sxmc", "事项名称为空"),
    DirtyKind("duplicate_key", "bjbh", "办件编号重复"),
)


def service_cases(
    n: int,
    *,
    seed: int,
    persons_n: int = DEMO_PERSONS,
    start: dt.date | None = None,
    end: dt.date | None = None,
    today: dt.date | None = None,
    dirty_rate: float = 0.01,
    batch_size: int = 200_000,
    labels: bool = False,
) -> Iterator[pa.RecordBatch]:
    """政务服务办件: ``n`` cases accepted on working days of ``[start, end]``.

    Durations count working days with numpy's business-day functions and the statutory
    holidays (调休 weekend workdays are not counted as working days there).
    """
    start, end = two_years(today, start, end)
    now = day_number(resolve_today(today))
    cal = calendar()
    period = _period_days(start, end)
    workdays = period[cal.workday(period)]
    holidays = cal.holidays.astype("datetime64[D]")
    people = PersonDomain(seed, persons_n)
    rand = Rand(seed, "service_cases")
    items = V.SERVICE_ITEMS
    promise = np.array([d for _, _, d, _ in items])
    schema = schema_of(
        SERVICE_CASES_COLUMNS,
        {"slsj": pa.timestamp("s", "UTC"), "bjsj": pa.timestamp("s", "UTC"), "cnsx": pa.int32()},
        labels,
    )
    kinds = SERVICE_CASES_DIRTY

    def build(idx: np.ndarray) -> dict[str, pa.Array]:
        kind = dirty_index(rand, idx, dirty_rate, kinds)
        m = masks(kind, kinds)
        day = workdays[rand.below("day", idx, len(workdays))]
        item = rand.pick("item", idx, [w for *_, w in items])
        accepted = day * 86400 + rand.integers("sec", idx, 9 * 3600, 17 * 3600) - SHANGHAI
        late = rand.chance("late", idx, 0.03)
        taken = np.where(
            late,
            promise[item] + 1 + rand.below("over", idx, 5),
            np.minimum(np.floor(promise[item] * rand.uniform("taken", idx) ** 1.5), promise[item]),
        ).astype(np.int64)
        close_day = np.busday_offset(
            day.astype("datetime64[D]"), taken, roll="forward", holidays=holidays
        )
        close_day = close_day.astype(np.int64)
        closed = close_day * 86400 + rand.integers("csec", idx, 9 * 3600, 17 * 3600) - SHANGHAI
        closed = np.where(taken == 0, np.maximum(closed, accepted + 600), closed)
        closed = np.where(
            m["close_before_accept"], accepted - rand.integers("back", idx, 3600, 5 * 86400), closed
        )
        overdue = taken > promise[item]
        overdue = np.where(m["overdue_flag_wrong"], ~overdue, overdue)
        open_ = close_day >= now
        who = people.pick(rand, "applicant", idx, day, 18, 90)
        p = people.core(who)
        ids = p.ids
        if (sel := m["applicant_bad_check"]).any():
            bad = p.id_matrix[sel].copy()
            bad[:, 17] = _bad_check(rand, idx[sel], bad)
            ids = replace(ids, sel, ascii_matrix(bad))
        case_no = idx.copy()
        if m["duplicate_key"].any():
            case_no = np.where(
                m["duplicate_key"], duplicate_sources(rand, idx, n, dirty_rate, kinds), idx
            )
        numbers = concat("ZW339900", num_str(case_no + 1, 10))
        cols = {
            "bjbh": numbers,
            "sxmc": replace(take(vocab([s for s, *_ in items]), item), m["item_blank"], ""),
            "slbm": take(vocab([o for _, o, _, _ in items]), item),
            "sqr_sfzh": ids,
            "sqrxm": p.names(),
            "slsj": timestamps(accepted),
            "bjsj": pa.array(closed, pa.timestamp("s", "UTC"), mask=open_),
            "cnsx": pa.array(promise[item].astype(np.int32)),
            "sfcs": pa.array(np.where(overdue, "是", "否"), mask=open_),
        }
        if labels:
            cols["dirty_kind"] = label_column(kind, kinds)
        return cols

    return batches(n, batch_size, build, schema)
