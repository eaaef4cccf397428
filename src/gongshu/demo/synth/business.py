"""Enterprise-keyed generators: legal persons (营业执照), licences, administrative penalties."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gongshu.demo.synth import _vocab as V
from gongshu.demo.synth._core import (
    DirtyKind,
    Rand,
    ascii_matrix,
    batches,
    concat,
    date_str,
    day_number,
    dirty_index,
    duplicate_sources,
    int_str,
    label_column,
    masks,
    num_str,
    replace,
    resolve_today,
    schema_of,
    take,
    vocab,
    ymd,
)
from gongshu.demo.synth.domains import (
    LOCAL_WEIGHTS,
    USCC_ALPHABET,
    EnterpriseDomain,
    PersonDomain,
    region_names,
)
from gongshu.demo.synth.people import (
    DEMO_ENTERPRISES,
    DEMO_PERSONS,
    _bad_check,
    address,
    future_days,
)

ENTERPRISES_COLUMNS = {
    "tyshxydm": "统一社会信用代码",
    "qymc": "企业名称",
    "qylx": "企业类型",
    "fddbr": "法定代表人",
    "fddbr_sfzh": "法定代表人身份号码",
    "clrq": "成立日期",
    "zczb": "注册资本（万元）",
    "hydm": "行业代码",
    "zs": "住所",
    "djjg": "登记机关",
    "jyzt": "经营状态",
}
ENTERPRISES_DIRTY = (
    DirtyKind("uscc_bad_check", "tyshxydm", "信用代码校验码错误（MOD 31 不符）", 2.0),
    DirtyKind("uscc_forbidden_char", "tyshxydm", "信用代码含禁用字母 I O Z S V"),
    DirtyKind("uscc_short", "tyshxydm", "信用代码只有 17 位"),
    DirtyKind("name_blank", "qymc", "企业名称为空"),
    DirtyKind("rep_id_bad_check", "fddbr_sfzh", "法定代表人身份号码校验码错误"),
    DirtyKind("future_date", "clrq", "成立日期晚于当前日期"),
    DirtyKind("capital_out_of_range", "zczb", "注册资本为 0 或负数"),
    DirtyKind("status_nonstandard", "jyzt", "经营状态不在代码表中（如“正常营业”）"),
    DirtyKind("duplicate_key", "tyshxydm", "重复记录：与另一行信用代码、名称相同", 2.0),
)
_ENT_TYPES = {"zczb": pa.float64()}
_CAPITALS = np.array([3, 5, 10, 30, 50, 100, 200, 300, 500, 1000, 2000, 5000, 10000], dtype=float)
_CAPITAL_W = [4, 8, 14, 8, 14, 18, 8, 5, 8, 6, 3, 2, 1]


def enterprises(
    n: int,
    *,
    seed: int,
    persons_n: int = DEMO_PERSONS,
    dirty_rate: float = 0.015,
    batch_size: int = 200_000,
    today: dt.date | None = None,
    labels: bool = False,
) -> Iterator[pa.RecordBatch]:
    """法人基本信息 / 营业执照: ``n`` market entities registered in 示例市."""
    now = day_number(resolve_today(today))
    firms = EnterpriseDomain(seed, n, now)
    people = PersonDomain(seed, persons_n)
    rand = Rand(seed, "enterprises:rows")
    schema = schema_of(ENTERPRISES_COLUMNS, _ENT_TYPES, labels)
    kinds = ENTERPRISES_DIRTY
    types = vocab([label for _, label, _ in V.ENTERPRISE_TYPES])
    statuses = list(V.BUSINESS_STATUS)

    def build(idx: np.ndarray) -> dict[str, pa.Array]:
        kind = dirty_index(rand, idx, dirty_rate, kinds)
        m = masks(kind, kinds)
        src = np.where(m["duplicate_key"], duplicate_sources(rand, idx, n, dirty_rate, kinds), idx)
        f = firms.core(src)
        rep = people.core(people.pick(rand, "rep", src, f.founded, 18, 75))
        mat = f.uscc_matrix.copy()
        if (sel := m["uscc_bad_check"]).any():
            alphabet = np.frombuffer(USCC_ALPHABET.encode(), dtype=np.uint8)
            right = np.searchsorted(alphabet, mat[sel, 17])  # alphabet is sorted ASCII
            mat[sel, 17] = alphabet[(right + 1 + rand.below("bad", idx[sel], 30)) % 31]
        if (sel := m["uscc_forbidden_char"]).any():
            pos = 8 + rand.below("forbidden:pos", idx[sel], 9)
            mat[np.flatnonzero(sel), pos] = np.frombuffer(b"IOZSV", dtype=np.uint8)[
                rand.below("forbidden", idx[sel], 5)
            ]
        codes = ascii_matrix(mat)
        if (sel := m["uscc_short"]).any():
            codes = replace(codes, sel, ascii_matrix(mat[sel, :17]))
        name = replace(f.name, m["name_blank"], "")
        rep_ids = rep.ids
        if (sel := m["rep_id_bad_check"]).any():
            bad = rep.id_matrix[sel].copy()
            bad[:, 17] = _bad_check(rand, idx[sel], bad)
            rep_ids = replace(rep_ids, sel, ascii_matrix(bad))
        founded = np.where(m["future_date"], future_days(rand, "future", idx, now), f.founded)
        capital = _CAPITALS[rand.pick("zczb", src, _CAPITAL_W)]
        capital = np.where(
            m["capital_out_of_range"], np.where(idx % 2 == 0, 0.0, -capital), capital
        )
        ind = V.INDUSTRIES
        hydm = concat(
            take(vocab([s for s, _, _, _ in ind]), f.industry),
            take(vocab([d for _, d, _, _ in ind]), f.industry),
            num_str(rand.integers("hy:sub", src, 10, 49), 2),
        )
        status = take(vocab(statuses), rand.pick("jyzt", src, list(V.BUSINESS_STATUS.values())))
        status = replace(status, m["status_nonstandard"], "正常营业")
        district = np.searchsorted(np.array(list(map(int, V.DISTRICTS))), f.region)
        district = np.where(f.region == 339900, rand.pick("zs:d", src, LOCAL_WEIGHTS), district)
        office = concat(V.CITY, region_names(f.region), "市场监督管理局")
        cols = {
            "tyshxydm": codes,
            "qymc": name,
            "qylx": take(types, f.type_index),
            "fddbr": rep.names(),
            "fddbr_sfzh": rep_ids,
            "clrq": date_str(founded),
            "zczb": pa.array(capital),
            "hydm": hydm,
            "zs": address(rand, "zs", src, district),
            "djjg": office,
            "jyzt": status,
        }
        if labels:
            cols["dirty_kind"] = label_column(kind, kinds)
        return cols

    return batches(n, batch_size, build, schema)


# --- licences -------------------------------------------------------------------------------

LICENCES_COLUMNS = {
    "xkwsh": "许可文书号",
    "xkzmc": "许可证书名称",
    "tyshxydm": "统一社会信用代码",
    "xdrmc": "行政相对人名称",
    "xkjg": "许可机关",
    "xkrq": "许可决定日期",
    "yxqz": "有效期自",
    "yxqzhi": "有效期至",
}
_LICENCES = [("食品经营许可证", "JY", 5), ("卫生许可证", "WS", 4), ("道路运输经营许可证", "DY", 6)]
_LICENCES += [("排污许可证", "PW", 5), ("建筑施工企业安全生产许可证", "AQ", 3)]
LICENCES_DIRTY = (
    DirtyKind("date_order", "yxqzhi", "有效期至早于有效期自"),
    DirtyKind("unknown_holder", "tyshxydm", "信用代码在法人库中不存在"),
    DirtyKind("duplicate_key", "xkwsh", "许可文书号重复"),
)


def licences(
    n: int,
    *,
    seed: int,
    enterprises_n: int = DEMO_ENTERPRISES,
    dirty_rate: float = 0.01,
    batch_size: int = 200_000,
    today: dt.date | None = None,
    labels: bool = False,
) -> Iterator[pa.RecordBatch]:
    """行政许可: licences held by enterprises of ``enterprises(enterprises_n)``."""
    now = day_number(resolve_today(today))
    firms = EnterpriseDomain(seed, enterprises_n, now)
    rand = Rand(seed, "licences")
    schema = schema_of(LICENCES_COLUMNS, {}, labels)
    kinds = LICENCES_DIRTY

    def build(idx: np.ndarray) -> dict[str, pa.Array]:
        kind = dirty_index(rand, idx, dirty_rate, kinds)
        m = masks(kind, kinds)
        # a duplicate repeats another licence row as a whole (collected twice)
        src = np.where(m["duplicate_key"], duplicate_sources(rand, idx, n, dirty_rate, kinds), idx)
        holder = rand.below("holder", src, max(enterprises_n, 1))
        holder = np.where(m["unknown_holder"], enterprises_n + idx, holder)
        f = firms.core(holder)
        lic = rand.below("type", src, len(_LICENCES))
        issued = f.founded + (rand.uniform("xkrq", src) * (now - 1 - f.founded)).astype(np.int64)
        years = np.array([y for *_, y in _LICENCES])[lic]
        until = issued + years * 365
        until = np.where(m["date_order"], issued - 30 - rand.below("back", idx, 300), until)
        number = concat(
            take(vocab([c for _, c, _ in _LICENCES]), lic),
            "3399",
            num_str(ymd(issued)[0], 4),
            num_str(src, 7),
        )
        cols = {
            "xkwsh": number,
            "xkzmc": take(vocab([name for name, _, _ in _LICENCES]), lic),
            "tyshxydm": f.codes,
            "xdrmc": f.name,
            "xkjg": concat(V.CITY, region_names(f.region), "市场监督管理局"),
            "xkrq": date_str(issued),
            "yxqz": date_str(issued),
            "yxqzhi": date_str(until),
        }
        if labels:
            cols["dirty_kind"] = label_column(kind, kinds)
        return cols

    return batches(n, batch_size, build, schema)


# --- administrative penalties -------------------------------------------------------------------

PENALTIES_COLUMNS = {
    "cfjdsh": "行政处罚决定书文号",
    "tyshxydm": "统一社会信用代码",
    "dsrmc": "当事人名称",
    "wfxw": "违法行为类型",
    "cflb": "处罚类别",
    "fkje": "罚款金额（万元）",
    "cfjg": "处罚机关",
    "cfrq": "处罚决定日期",
}
_OFFENCES = [
    ("销售过期食品", "SCJGJ"), ("虚假宣传", "SCJGJ"), ("无照经营", "SCJGJ"),
    ("未按规定公示年度报告", "SCJGJ"), ("超标排放污染物", "STHJJ"), ("未批先建", "STHJJ"),
    ("违规占道经营", "CGJ"), ("渣土运输抛洒", "CGJ"), ("超限超载运输", "JTJ"),
]  # fmt: skip
_PENALTY_KINDS = {
    "警告": 20.0,
    "罚款": 60.0,
    "没收违法所得": 8.0,
    "责令停产停业": 6.0,
    "吊销许可证": 2.0,
}
_OFFICES = {"SCJGJ": ("示例市市场监督管理局", "示市监"), "STHJJ": ("示例市生态环境局", "示环")}
_OFFICES |= {"CGJ": ("示例市城市管理局", "示城管"), "JTJ": ("示例市交通运输局", "示交")}
PENALTIES_DIRTY = (
    DirtyKind("amount_out_of_range", "fkje", "罚款金额为负数"),
    DirtyKind("future_date", "cfrq", "处罚决定日期晚于当前日期"),
    DirtyKind("name_mismatch", "dsrmc", "当事人名称与法人库不一致（缺“示例市”）"),
)


def penalties(
    n: int,
    *,
    seed: int,
    enterprises_n: int = DEMO_ENTERPRISES,
    dirty_rate: float = 0.01,
    batch_size: int = 200_000,
    today: dt.date | None = None,
    labels: bool = False,
) -> Iterator[pa.RecordBatch]:
    """行政处罚: decisions against enterprises of ``enterprises(enterprises_n)``."""
    now = day_number(resolve_today(today))
    firms = EnterpriseDomain(seed, enterprises_n, now)
    rand = Rand(seed, "penalties")
    schema = schema_of(PENALTIES_COLUMNS, {"fkje": pa.float64()}, labels)
    kinds = PENALTIES_DIRTY
    office_of = [_OFFICES[org] for _, org in _OFFENCES]

    def build(idx: np.ndarray) -> dict[str, pa.Array]:
        kind = dirty_index(rand, idx, dirty_rate, kinds)
        m = masks(kind, kinds)
        f = firms.core(rand.below("party", idx, max(enterprises_n, 1)))
        offence = rand.below("wfxw", idx, len(_OFFENCES))
        penalty = rand.pick("cflb", idx, list(_PENALTY_KINDS.values()))
        lo = np.maximum(f.founded + 30, now - 5 * 365)
        day = lo + (rand.uniform("cfrq", idx) * np.maximum(now - 1 - lo, 1)).astype(np.int64)
        day = np.where(m["future_date"], future_days(rand, "future", idx, now), day)
        fine = np.where(
            penalty == 1, np.round(np.exp(rand.normal("fkje", idx) * 1.1) * 0.8, 2), 0.0
        )
        fine = np.where(m["amount_out_of_range"], -np.maximum(fine, 0.5), fine)
        name = f.name
        if (sel := m["name_mismatch"]).any():  # the name without its 示例市 prefix
            name = replace(name, sel, pc.replace_substring(name.filter(pa.array(sel)), V.CITY, ""))
        number = concat(
            take(vocab([abbr for _, abbr in office_of]), offence),
            "罚〔",
            int_str(ymd(day)[0]),
            "〕",
            int_str(1 + idx),
            "号",
        )
        cols = {
            "cfjdsh": number,
            "tyshxydm": f.codes,
            "dsrmc": name,
            "wfxw": take(vocab([o for o, _ in _OFFENCES]), offence),
            "cflb": take(vocab(list(_PENALTY_KINDS)), penalty),
            "fkje": pa.array(fine),
            "cfjg": take(vocab([o for o, _ in office_of]), offence),
            "cfrq": date_str(day),
        }
        if labels:
            cols["dirty_kind"] = label_column(kind, kinds)
        return cols

    return batches(n, batch_size, build, schema)
