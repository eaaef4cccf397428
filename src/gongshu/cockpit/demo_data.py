"""示例市's city-operation warehouse tables and the ~40 city indicators defined on them.

Every value is a pure function of (calendar date, district, measure): a base level,
district weight, trend, weekly and yearly shape and hash-derived noise. So the tables are
deterministic, a window built today agrees with one built tomorrow on the days they share,
and :func:`load_days` can append a new day that fits the history. A few anomalies are
injected at fixed distances before the last day (see :data:`ANOMALIES`); the one on the
last day is what the daily log of that day must mention.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

SEED = 20260101
DISTRICTS: list[tuple[str, str, float]] = [
    ("339902", "城东区", 1.25),
    ("339903", "城西区", 1.10),
    ("339904", "江南区", 1.00),
    ("339905", "江北区", 0.90),
    ("339906", "湖滨区", 0.80),
    ("339921", "临江县", 0.55),
]
DISTRICT_NAMES = {code: name for code, name, _ in DISTRICTS}
WEEKDAY = (1.04, 1.06, 1.05, 1.03, 1.00, 0.90, 0.92)  # Mon..Sun
WEEKEND_LOW = (1.10, 1.10, 1.08, 1.08, 1.06, 0.80, 0.78)
WEEKEND_HIGH = (0.93, 0.93, 0.94, 0.95, 1.02, 1.12, 1.11)
WORKDAYS = tuple(x * x for x in WEEKEND_LOW)  # offices: weekends very low


@dataclass(frozen=True)
class Measure:
    base: float  # city-level mean per district-day at weight 1
    weekly: tuple[float, ...] = WEEKDAY
    yearly: float = 0.0  # relative amplitude of the yearly cycle
    peak_doy: int = 15  # day of year of the yearly peak
    trend: float = 0.0  # relative growth per year
    noise: float = 0.05  # relative noise
    integer: bool = True
    spatial: bool = True  # scales with district size (counts); levels and shares do not


FLAT = (1.0,) * 7
MEASURES: dict[str, dict[str, Measure]] = {
    "city_air_quality_daily": {
        "aqi": Measure(62, FLAT, 0.35, 15, -0.04, 0.16, True, spatial=False),
        "pm25": Measure(34, FLAT, 0.45, 15, -0.05, 0.18, True, spatial=False),
        "pm10": Measure(58, FLAT, 0.35, 40, -0.04, 0.15, True, spatial=False),
        "o3": Measure(92, FLAT, 0.30, 190, 0.02, 0.12, True, spatial=False),
        "no2": Measure(31, WEEKDAY, 0.20, 15, -0.03, 0.12, True, spatial=False),
    },
    "city_transport_daily": {
        "bus_riders": Measure(98_000, WEEKEND_LOW, 0.06, 100, -0.02, 0.04),
        "metro_riders": Measure(165_000, WEEKEND_LOW, 0.05, 100, 0.08, 0.035),
        "taxi_orders": Measure(21_000, WEEKEND_HIGH, 0.05, 200, 0.03, 0.05),
        "congestion": Measure(1.62, WEEKEND_LOW, 0.04, 280, 0.01, 0.04, False, spatial=False),
        "accidents": Measure(14, WEEKEND_HIGH, 0.10, 20, -0.05, 0.18),
        "violations": Measure(1_300, WEEKEND_LOW, 0.05, 120, 0.02, 0.07),
    },
    "city_economy_daily": {
        "electricity_mwh": Measure(5_200, WEEKEND_LOW, 0.18, 205, 0.05, 0.03, False),
        "new_firms": Measure(46, WORKDAYS, 0.08, 90, 0.04, 0.12),
        "tax_wan": Measure(3_100, WORKDAYS, 0.10, 330, 0.03, 0.08, False),
        "retail_wan": Measure(8_600, WEEKEND_HIGH, 0.12, 40, 0.05, 0.05, False),
    },
    "city_gov_service_daily": {
        "applications": Measure(2_100, WORKDAYS, 0.06, 80, 0.06, 0.05),
        "online_share": Measure(0.74, FLAT, 0.0, 0, 0.04, 0.02, False, spatial=False),
        "one_visit_share": Measure(0.91, FLAT, 0.0, 0, 0.01, 0.01, False, spatial=False),
        "good_reviews": Measure(0.985, FLAT, 0.0, 0, 0.0, 0.004, False, spatial=False),
    },
    "city_urban_daily": {
        "events": Measure(420, WEEKDAY, 0.15, 200, 0.03, 0.07),
        "closed_share": Measure(0.93, FLAT, 0.0, 0, 0.01, 0.015, False, spatial=False),
        "garbage_tons": Measure(690, WEEKEND_HIGH, 0.08, 220, 0.02, 0.04, False),
        "water_km3": Measure(118, FLAT, 0.12, 205, 0.01, 0.03, False),
    },
    "city_safety_daily": {
        "police_calls": Measure(640, WEEKEND_HIGH, 0.10, 210, -0.03, 0.06),
        "fire_calls": Measure(9, FLAT, 0.25, 30, -0.02, 0.25),
        "criminal_cases": Measure(31, WEEKEND_HIGH, 0.08, 200, -0.08, 0.15),
        "fraud_cases": Measure(12, FLAT, 0.05, 300, 0.05, 0.2),
    },
    "city_livelihood_daily": {
        "outpatients": Measure(31_000, WEEKEND_LOW, 0.12, 10, 0.04, 0.04),
        "new_jobs": Measure(410, WORKDAYS, 0.2, 75, 0.02, 0.1),
        "insured_payments": Measure(18_500, WORKDAYS, 0.05, 0, 0.03, 0.05),
        "elderly_meals": Measure(6_300, FLAT, 0.05, 30, 0.12, 0.05),
    },
}
HOTLINE = "city_hotline_ticket"
HOTLINE_BASE = Measure(21, WEEKDAY, 0.18, 200, 0.05, 0.08)  # tickets per district-day
CATEGORIES = ["咨询", "投诉", "求助", "建议", "举报"]
CATEGORY_P = np.array([0.42, 0.30, 0.15, 0.08, 0.05])
CATEGORY_ORG = ["ZWFWB", "CGJ", "MZJ", "ZWFWB", "SCJGJ"]


@dataclass(frozen=True)
class Injected:
    days_before_end: int
    table: str
    measure: str
    factor: float
    note: str


ANOMALIES: list[Injected] = [
    Injected(0, HOTLINE, "tickets", 2.1, "强降雨致积水、停电诉求集中"),
    Injected(0, "city_air_quality_daily", "aqi", 2.4, "静稳天气，区域性污染"),
    Injected(3, "city_transport_daily", "metro_riders", 0.55, "地铁线路设备故障"),
    Injected(45, "city_economy_daily", "electricity_mwh", 1.45, "持续高温"),
    Injected(200, "city_safety_daily", "police_calls", 1.8, "大型活动"),
    Injected(400, "city_gov_service_daily", "applications", 0.35, "政务服务系统升级停办"),
]


def _salt(text: str) -> np.uint64:
    return np.uint64(zlib.crc32(text.encode()))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-spread uint64 from a uint64."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _uniform(*keys: np.ndarray) -> np.ndarray:
    h = np.full(np.broadcast(*keys).shape, np.uint64(SEED), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in keys:
            h = _mix(h ^ (np.asarray(k).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)))
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def _normal(*keys: np.ndarray) -> np.ndarray:
    u1 = _uniform(*keys, np.uint64(1))
    u2 = _uniform(*keys, np.uint64(2))
    return np.sqrt(-2 * np.log(u1)) * np.cos(2 * math.pi * u2)


def _grid(start: date, end: date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ordinal, district index, date64) for every district-day, day-major."""
    days = np.arange(start.toordinal(), end.toordinal() + 1, dtype=np.int64)
    nd = len(DISTRICTS)
    ordinal = np.repeat(days, nd)
    district = np.tile(np.arange(nd, dtype=np.int64), len(days))
    return ordinal, district, ordinal


def _expected(m: Measure, ordinal: np.ndarray, district: np.ndarray, salt: np.uint64) -> np.ndarray:
    weights = np.array([w for _, _, w in DISTRICTS])
    dates = [date.fromordinal(int(o)) for o in np.unique(ordinal)]
    first = int(np.unique(ordinal)[0])
    dow = np.array([d.weekday() for d in dates])[ordinal - first]
    doy = np.array([d.timetuple().tm_yday for d in dates])[ordinal - first]
    years = (ordinal - date(2024, 1, 1).toordinal()) / 365.25
    shape = (
        m.base
        * (weights[district] if m.spatial else 1.0)
        * (1 + m.trend * years)
        * np.asarray(m.weekly)[dow]
        * (1 + m.yearly * np.cos(2 * math.pi * (doy - m.peak_doy) / 365.25))
    )
    return shape * (1 + m.noise * _normal(ordinal, district, salt))


def _inject(values: np.ndarray, ordinal: np.ndarray, table: str, measure: str, end: date) -> None:
    for a in ANOMALIES:
        if a.table == table and a.measure == measure:
            values[ordinal == (end - timedelta(days=a.days_before_end)).toordinal()] *= a.factor


def _date_array(ordinal: np.ndarray) -> pa.Array:
    epoch = date(1970, 1, 1).toordinal()
    return pa.array((ordinal - epoch).astype(np.int32), type=pa.date32())


def district_table(name: str, start: date, end: date, anomaly_end: date) -> pa.Table:
    ordinal, district, _ = _grid(start, end)
    cols: dict[str, Any] = {
        "day": _date_array(ordinal),
        "district": pa.array([DISTRICTS[i][0] for i in district], type=pa.string()),
    }
    for mname, m in MEASURES[name].items():
        v = _expected(m, ordinal, district, _salt(f"{name}.{mname}"))
        _inject(v, ordinal, name, mname, anomaly_end)
        if mname.endswith("_share") or mname == "good_reviews":
            v = np.clip(v, 0, 1)
        cols[mname] = (
            pa.array(np.maximum(np.round(v), 0).astype(np.int64))
            if m.integer
            else (pa.array(np.round(np.maximum(v, 0), 4)))
        )
    return pa.table(cols)


def hotline_table(start: date, end: date, anomaly_end: date) -> pa.Table:
    """12345 tickets, one row per ticket."""
    ordinal, district, _ = _grid(start, end)
    counts = _expected(HOTLINE_BASE, ordinal, district, _salt("hotline.count"))
    _inject(counts, ordinal, HOTLINE, "tickets", anomaly_end)
    counts = np.maximum(np.round(counts), 0).astype(np.int64)
    day = np.repeat(ordinal, counts)
    dist = np.repeat(district, counts)
    seq = np.arange(len(day)) - np.repeat(np.cumsum(counts) - counts, counts)
    ticket_id = day * 100_000 + dist * 10_000 + seq
    u_cat = _uniform(ticket_id, np.uint64(11))
    cat = np.searchsorted(np.cumsum(CATEGORY_P), u_cat)
    cat = np.minimum(cat, len(CATEGORIES) - 1)
    epoch = date(1970, 1, 1).toordinal()
    secs = 8 * 3600 + (_uniform(ticket_id, np.uint64(12)) * 14 * 3600).astype(np.int64)
    created_utc = (day - epoch) * 86_400 + secs - 8 * 3600  # local (UTC+8) to UTC
    # Tickets of the last week are partly still open; older ones are closed.
    age = end.toordinal() - day
    closed = _uniform(ticket_id, np.uint64(13)) < np.where(age < 7, 0.55 + 0.06 * age, 0.985)
    overdue = _uniform(ticket_id, np.uint64(14)) < 0.035 + 0.02 * (cat == 1)
    satisfied_p = 0.95 - 0.05 * (cat == 1) - 0.08 * overdue
    rated = closed & (_uniform(ticket_id, np.uint64(15)) < 0.7)
    satisfied = _uniform(ticket_id, np.uint64(16)) < satisfied_p
    return pa.table(
        {
            "ticket_id": pa.array(ticket_id, type=pa.int64()),
            "created_at": pa.array(created_utc * 1_000_000, type=pa.timestamp("us", tz="UTC")),
            "created_date": _date_array(day),
            "district": pa.array([DISTRICTS[i][0] for i in dist], type=pa.string()),
            "category": pa.array(np.array(CATEGORIES)[cat], type=pa.string()),
            "org_code": pa.array(np.array(CATEGORY_ORG)[cat], type=pa.string()),
            "closed": pa.array(closed),
            "overdue": pa.array(overdue),
            "satisfied": pa.array(np.where(rated, satisfied, None), type=pa.bool_()),
        }
    )


TABLES = [HOTLINE, *MEASURES]
KEYS = {HOTLINE: ["ticket_id"], **{t: ["day", "district"] for t in MEASURES}}


def tables_for(start: date, end: date, anomaly_end: date | None = None) -> dict[str, pa.Table]:
    anomaly_end = anomaly_end or end
    out = {HOTLINE: hotline_table(start, end, anomaly_end)}
    for name in MEASURES:
        out[name] = district_table(name, start, end, anomaly_end)
    return out


def load_days(
    warehouse: Any, start: date, end: date, *, anomaly_end: date | None = None, full: bool = True
) -> dict[str, int]:
    """Write the days ``start``..``end`` to the warehouse (replace, or upsert when not full)."""
    load_id = int(datetime.now(UTC).timestamp() * 1000)
    counts = {}
    for name, table in tables_for(start, end, anomaly_end).items():
        with warehouse.begin_load(name, load_id, table.schema) as stage:
            stage.append(table)
            if full or not warehouse.exists(name):
                stage.publish("full")
            else:
                stage.publish("incremental", key_columns=KEYS[name])
        counts[name] = table.num_rows
    return counts


# ---- the city indicators ------------------------------------------------------------------


def _dsum(table: str, column: str) -> str:
    return f"SELECT day AS period, district, {column} AS value FROM {table}"


def _dshare(table: str, column: str, weight: str) -> str:
    return (
        f"SELECT day AS period, district, {column} * {weight} AS num, {weight} AS den FROM {table}"
    )


AQ = "city_air_quality_daily"
TR = "city_transport_daily"
EC = "city_economy_daily"
GS = "city_gov_service_daily"
UR = "city_urban_daily"
SF = "city_safety_daily"
LV = "city_livelihood_daily"
HL = HOTLINE


def _i(
    code: str, name: str, unit: str, topic: str, org: str, sql: str, src: str, **kw: Any
) -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "unit": unit,
        "topic": topic,
        "owner_org": org,
        "definition": sql,
        "sources": [src],
        "dimensions": kw.pop("dimensions", ["district"]),
        **kw,
    }


CITY_INDICATORS: list[dict[str, Any]] = [
    # 经济运行
    _i(
        "econ.electricity",
        "全社会用电量",
        "兆瓦时",
        "经济运行",
        "SJJ",
        _dsum(EC, "electricity_mwh"),
        EC,
        featured=True,
        rate_pct=60.0,
    ),
    _i(
        "econ.new_firms",
        "新登记市场主体",
        "户",
        "经济运行",
        "SCJGJ",
        _dsum(EC, "new_firms"),
        EC,
        featured=True,
    ),
    _i("econ.tax", "税收收入", "万元", "经济运行", "SJJ", _dsum(EC, "tax_wan"), EC),
    _i(
        "econ.retail",
        "社会消费品零售额",
        "万元",
        "经济运行",
        "SJJ",
        _dsum(EC, "retail_wan"),
        EC,
        featured=True,
    ),
    _i(
        "econ.electricity_month",
        "月度全社会用电量",
        "兆瓦时",
        "经济运行",
        "SJJ",
        _dsum(EC, "electricity_mwh"),
        EC,
        granularity="month",
    ),
    # 城市管理
    _i(
        "city.events",
        "城市管理事件数",
        "件",
        "城市管理",
        "CGJ",
        _dsum(UR, "events"),
        UR,
        featured=True,
        higher_is_better=False,
    ),
    _i(
        "city.events_closed",
        "事件按期处置率",
        "%",
        "城市管理",
        "CGJ",
        _dshare(UR, "closed_share", "events"),
        UR,
        rollup="ratio",
        lower=88.0,
        featured=True,
    ),
    _i("city.garbage", "生活垃圾清运量", "吨", "城市管理", "CGJ", _dsum(UR, "garbage_tons"), UR),
    _i("city.water", "城市供水量", "千立方米", "城市管理", "CGJ", _dsum(UR, "water_km3"), UR),
    _i(
        "city.hotline",
        "12345热线工单量",
        "件",
        "城市管理",
        "ZWFWB",
        f"SELECT created_date AS period, district, org_code AS org, count(*) AS value FROM {HL} GROUP BY ALL",
        HL,
        dimensions=["district", "org"],
        featured=True,
        higher_is_better=False,
        upper=200.0,
        rate_pct=50.0,
    ),
    _i(
        "city.hotline_complaints",
        "12345投诉类工单量",
        "件",
        "城市管理",
        "ZWFWB",
        f"SELECT created_date AS period, district, count(*) AS value FROM {HL} WHERE category = '投诉' GROUP BY ALL",
        HL,
        higher_is_better=False,
    ),
    _i(
        "city.hotline_month",
        "月度12345热线工单量",
        "件",
        "城市管理",
        "ZWFWB",
        f"SELECT created_date AS period, district, count(*) AS value FROM {HL} GROUP BY ALL",
        HL,
        granularity="month",
        higher_is_better=False,
    ),
    # 生态环境
    _i(
        "eco.aqi",
        "空气质量指数(AQI)",
        "",
        "生态环境",
        "STHJJ",
        _dsum(AQ, "aqi"),
        AQ,
        rollup="mean",
        featured=True,
        higher_is_better=False,
        upper=100.0,
        consecutive=3,
    ),
    _i(
        "eco.pm25",
        "PM2.5浓度",
        "μg/m³",
        "生态环境",
        "STHJJ",
        _dsum(AQ, "pm25"),
        AQ,
        rollup="mean",
        featured=True,
        higher_is_better=False,
        upper=75.0,
    ),
    _i(
        "eco.pm10",
        "PM10浓度",
        "μg/m³",
        "生态环境",
        "STHJJ",
        _dsum(AQ, "pm10"),
        AQ,
        rollup="mean",
        higher_is_better=False,
    ),
    _i(
        "eco.o3",
        "臭氧浓度",
        "μg/m³",
        "生态环境",
        "STHJJ",
        _dsum(AQ, "o3"),
        AQ,
        rollup="mean",
        higher_is_better=False,
    ),
    _i(
        "eco.no2",
        "二氧化氮浓度",
        "μg/m³",
        "生态环境",
        "STHJJ",
        _dsum(AQ, "no2"),
        AQ,
        rollup="mean",
        higher_is_better=False,
    ),
    _i(
        "eco.good_days",
        "空气质量优良率",
        "%",
        "生态环境",
        "STHJJ",
        f"SELECT day AS period, district, CASE WHEN aqi <= 100 THEN 1 ELSE 0 END AS num, 1 AS den FROM {AQ}",
        AQ,
        rollup="ratio",
        featured=True,
        target=85.0,
    ),
    # 交通出行
    _i(
        "traffic.bus",
        "公交客运量",
        "人次",
        "交通出行",
        "JTJ",
        _dsum(TR, "bus_riders"),
        TR,
        featured=True,
    ),
    _i(
        "traffic.metro",
        "地铁客运量",
        "人次",
        "交通出行",
        "JTJ",
        _dsum(TR, "metro_riders"),
        TR,
        featured=True,
        lower=750_000.0,
    ),
    _i(
        "traffic.taxi",
        "网约车及出租车订单量",
        "单",
        "交通出行",
        "JTJ",
        _dsum(TR, "taxi_orders"),
        TR,
    ),
    _i(
        "traffic.congestion",
        "高峰拥堵指数",
        "",
        "交通出行",
        "JTJ",
        _dsum(TR, "congestion"),
        TR,
        rollup="mean",
        featured=True,
        higher_is_better=False,
        upper=2.2,
    ),
    _i(
        "traffic.accidents",
        "道路交通事故数",
        "起",
        "交通出行",
        "GAJ",
        _dsum(TR, "accidents"),
        TR,
        higher_is_better=False,
    ),
    _i(
        "traffic.violations", "交通违法查处数", "起", "交通出行", "GAJ", _dsum(TR, "violations"), TR
    ),
    # 政务服务
    _i(
        "gov.applications",
        "政务服务办件量",
        "件",
        "政务服务",
        "ZWFWB",
        _dsum(GS, "applications"),
        GS,
        featured=True,
        lower=3_000.0,
    ),
    _i(
        "gov.online_rate",
        "网上办理率",
        "%",
        "政务服务",
        "ZWFWB",
        _dshare(GS, "online_share", "applications"),
        GS,
        rollup="ratio",
        featured=True,
        target=80.0,
    ),
    _i(
        "gov.one_visit",
        "一次办结率",
        "%",
        "政务服务",
        "ZWFWB",
        _dshare(GS, "one_visit_share", "applications"),
        GS,
        rollup="ratio",
    ),
    _i(
        "gov.good_reviews",
        "好差评好评率",
        "%",
        "政务服务",
        "ZWFWB",
        _dshare(GS, "good_reviews", "applications"),
        GS,
        rollup="ratio",
        featured=True,
        lower=97.0,
    ),
    _i(
        "gov.hotline_satisfaction",
        "12345满意率",
        "%",
        "政务服务",
        "ZWFWB",
        f"SELECT created_date AS period, district, count(*) FILTER (WHERE satisfied) AS num, count(satisfied) AS den FROM {HL} GROUP BY ALL",
        HL,
        rollup="ratio",
        featured=True,
        lower=85.0,
    ),
    _i(
        "gov.hotline_overdue",
        "12345超期工单数",
        "件",
        "政务服务",
        "ZWFWB",
        f"SELECT created_date AS period, district, count(*) FILTER (WHERE overdue) AS value FROM {HL} GROUP BY ALL",
        HL,
        higher_is_better=False,
    ),
    # 民生保障
    _i(
        "life.outpatients",
        "医疗机构门诊量",
        "人次",
        "民生保障",
        "WJW",
        _dsum(LV, "outpatients"),
        LV,
        featured=True,
    ),
    _i(
        "life.new_jobs",
        "城镇新增就业人数",
        "人",
        "民生保障",
        "RSJ",
        _dsum(LV, "new_jobs"),
        LV,
        featured=True,
    ),
    _i(
        "life.insured", "社保缴费人次", "人次", "民生保障", "RSJ", _dsum(LV, "insured_payments"), LV
    ),
    _i(
        "life.elderly_meals",
        "老年助餐服务人次",
        "人次",
        "民生保障",
        "MZJ",
        _dsum(LV, "elderly_meals"),
        LV,
        featured=True,
    ),
    # 公共安全
    _i(
        "safety.police_calls",
        "110接警量",
        "起",
        "公共安全",
        "GAJ",
        _dsum(SF, "police_calls"),
        SF,
        featured=True,
        higher_is_better=False,
        rate_pct=40.0,
    ),
    _i(
        "safety.fire",
        "火警数",
        "起",
        "公共安全",
        "GAJ",
        _dsum(SF, "fire_calls"),
        SF,
        featured=True,
        higher_is_better=False,
    ),
    _i(
        "safety.criminal",
        "刑事案件立案数",
        "起",
        "公共安全",
        "GAJ",
        _dsum(SF, "criminal_cases"),
        SF,
        featured=True,
        higher_is_better=False,
    ),
    _i(
        "safety.fraud",
        "电信网络诈骗案件数",
        "起",
        "公共安全",
        "GAJ",
        _dsum(SF, "fraud_cases"),
        SF,
        higher_is_better=False,
    ),
]
