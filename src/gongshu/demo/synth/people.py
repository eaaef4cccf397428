"""Person-keyed generators: population, social security, marriage, housing fund, real estate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gongshu.demo.synth import _vocab as V
from gongshu.demo.synth._core import (
    DirtyKind,
    Permutation,
    Rand,
    ascii_matrix,
    batches,
    concat,
    date_matrix,
    date_str,
    day_number,
    digits,
    dirty_index,
    duplicate_sources,
    fullwidth,
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
    DISTRICT_NAMES,
    LOCAL_CODE_STR,
    LOCAL_CODES,
    LOCAL_WEIGHTS,
    EnterpriseDomain,
    PersonDomain,
    id_check,
    local_index,
    years_between,
)

DEMO_PERSONS = 1_000_000
DEMO_ENTERPRISES = 100_000

# --- shared column builders -----------------------------------------------------------------


def address(rand: Rand, field: str, idx: np.ndarray, district: np.ndarray) -> pa.Array:
    """示例市 + district + road + number, and for most rows a compound/building/flat."""
    road = take(vocab(V.ROADS), rand.below(f"{field}:road", idx, len(V.ROADS)))
    number = int_str(rand.integers(f"{field}:no", idx, 1, 999))
    compound = take(vocab(V.COMMUNITIES), rand.below(f"{field}:xq", idx, len(V.COMMUNITIES)))
    building = int_str(rand.integers(f"{field}:zh", idx, 1, 36))
    unit = int_str(rand.integers(f"{field}:dy", idx, 1, 4))
    floor = rand.integers(f"{field}:lc", idx, 1, 28)
    room = int_str(floor * 100 + rand.integers(f"{field}:sh", idx, 1, 4))
    flat = concat(compound, building, "幢", unit, "单元", room, "室")
    in_compound = pa.array(rand.chance(f"{field}:in_xq", idx, 0.75))
    tail = pc.if_else(in_compound, flat, "")
    return concat(V.CITY, take(DISTRICT_NAMES, district), road, number, "号", tail)


def mobile(rand: Rand, field: str, idx: np.ndarray) -> np.ndarray:
    """11-digit mainland mobile numbers as an ASCII matrix."""
    prefixes = np.array([[ord(c) for c in p] for p in V.MOBILE_PREFIXES], dtype=np.uint8)
    out = np.empty((len(idx), 11), dtype=np.uint8)
    out[:, :3] = prefixes[rand.below(f"{field}:prefix", idx, len(prefixes))]
    out[:, 3:] = digits(rand.below(f"{field}:rest", idx, 10**8), 8)
    return out


def future_days(rand: Rand, field: str, idx: np.ndarray, today: int) -> np.ndarray:
    return today + rand.integers(field, idx, 1, 400)


def _bad_check(rand: Rand, idx: np.ndarray, mat: np.ndarray) -> np.ndarray:
    """A check char guaranteed different from the right one."""
    table = np.frombuffer(b"10X98765432", dtype=np.uint8)
    right = np.searchsorted(np.sort(table), mat[:, 17])  # position in sorted table
    sorted_table = np.sort(table)
    return sorted_table[(right + 1 + rand.below("bad_check", idx, 10)) % 11]


IMPOSSIBLE_DATES = np.array(
    [[2, 30], [2, 31], [4, 31], [6, 31], [9, 31], [11, 31], [13, 1], [0, 12]]
)

# --- persons ------------------------------------------------------------------------------------

PERSONS_COLUMNS = {
    "gmsfhm": "公民身份号码",
    "xm": "姓名",
    "xb": "性别代码",
    "csrq": "出生日期",
    "mz": "民族代码",
    "hjdz_xzqh": "户籍地行政区划代码",
    "zz": "住址",
    "sjhm": "手机号码",
    "djrq": "登记日期",
}
PERSONS_DIRTY = (
    DirtyKind("id_bad_check", "gmsfhm", "身份号码校验码错误（MOD 11-2 不符）", 2.0),
    DirtyKind("id_lowercase_x", "gmsfhm", "校验码 X 写成小写 x（转大写后有效）"),
    DirtyKind("id_fullwidth", "gmsfhm", "身份号码为全角字符"),
    DirtyKind("id_legacy_15", "gmsfhm", "15 位旧身份号码（无世纪、无校验码）"),
    DirtyKind("id_bad_region", "gmsfhm", "身份号码前 6 位不是行政区划代码（99 开头）"),
    DirtyKind("birth_impossible", "csrq", "出生日期不存在（如 1999-02-30），身份号码同"),
    DirtyKind("sex_mismatch", "xb", "性别代码与身份号码顺序码奇偶不符"),
    DirtyKind("name_blank", "xm", "姓名为空或空格", 2.0),
    DirtyKind("phone_10_digits", "sjhm", "手机号码只有 10 位"),
    DirtyKind("future_date", "djrq", "登记日期晚于当前日期"),
    DirtyKind("ethnic_out_of_range", "mz", "民族代码不在 GB/T 3304 中（00、60）"),
    DirtyKind("duplicate_key", "gmsfhm", "重复记录：与另一行身份号码、姓名相同", 2.0),
)
_PERSON_TYPES: dict[str, pa.DataType] = {}


def persons(
    n: int,
    *,
    seed: int,
    dirty_rate: float = 0.015,
    batch_size: int = 200_000,
    today: dt.date | None = None,
    labels: bool = False,
) -> Iterator[pa.RecordBatch]:
    """人口基本信息: ``n`` residents of 示例市 (80% born there)."""
    domain = PersonDomain(seed, n)
    rand = Rand(seed, "persons:rows")
    now = day_number(resolve_today(today))
    schema = schema_of(PERSONS_COLUMNS, _PERSON_TYPES, labels)
    kinds = PERSONS_DIRTY

    def build(idx: np.ndarray) -> dict[str, pa.Array]:
        kind = dirty_index(rand, idx, dirty_rate, kinds)
        m = masks(kind, kinds)
        src = np.where(m["duplicate_key"], duplicate_sources(rand, idx, n, dirty_rate, kinds), idx)
        p = domain.core(src)
        mat = p.id_matrix.copy()
        y, mo, d = ymd(p.birth)
        sex = p.sex.copy()

        if (sel := m["id_lowercase_x"]).any():  # re-pick seq digits so the check is X
            mat[sel] = _force_x(mat[sel])
        if (sel := m["birth_impossible"]).any():
            bad = IMPOSSIBLE_DATES[rand.below("impossible", idx[sel], len(IMPOSSIBLE_DATES))]
            mo, d = mo.copy(), d.copy()
            mo[sel], d[sel] = bad[:, 0], bad[:, 1]
            mat[sel, 10:14] = np.hstack([digits(mo[sel], 2), digits(d[sel], 2)])
            mat[sel, 17] = id_check(mat[sel])
        if (sel := m["id_bad_region"]).any():
            mat[sel, 0:2] = ord("9")
            mat[sel, 17] = id_check(mat[sel])
        if (sel := m["id_bad_check"]).any():
            mat[sel, 17] = _bad_check(rand, idx[sel], mat[sel])
        if (sel := m["sex_mismatch"]).any():
            sex[sel] = 3 - sex[sel]

        ids = ascii_matrix(mat)
        if (sel := m["id_lowercase_x"]).any():
            low = mat[sel].copy()
            low[:, 17] = ord("x")
            ids = replace(ids, sel, ascii_matrix(low))
        if (sel := m["id_fullwidth"]).any():
            ids = replace(ids, sel, fullwidth(mat[sel]))
        if (sel := m["id_legacy_15"]).any():
            ids = replace(ids, sel, ascii_matrix(np.hstack([mat[sel, :6], mat[sel, 8:17]])))

        name = p.names()
        if (sel := m["name_blank"]).any():
            name = replace(name, sel, np.where(idx[sel] % 2 == 0, "", " ").astype(object))

        phone = mobile(rand, "sjhm", src)
        phones = ascii_matrix(phone)
        if (sel := m["phone_10_digits"]).any():
            phones = replace(phones, sel, ascii_matrix(phone[sel, :10]))

        ethnic_codes = list(V.ETHNIC)
        mz = take(vocab(ethnic_codes), rand.pick("mz", src, list(V.ETHNIC.values())))
        if (sel := m["ethnic_out_of_range"]).any():
            mz = replace(mz, sel, np.where(idx[sel] % 2 == 0, "00", "60").astype(object))

        # 户籍: locals mostly where they were born; 80% of the others moved their hukou in.
        born_local = local_index(p.region)
        moved = rand.chance("hj:moved", src, np.where(born_local >= 0, 0.1, 0.8))
        hj_district = rand.pick("hj:district", src, LOCAL_WEIGHTS)
        hj_district = np.where((born_local >= 0) & ~moved, born_local, hj_district)
        keeps_origin = (born_local < 0) & ~moved
        hj = np.where(keeps_origin, p.region, LOCAL_CODES[hj_district])
        home = np.where(keeps_origin, rand.pick("zz:district", idx, LOCAL_WEIGHTS), hj_district)

        # Registration: at birth for the young, from 1995 (system start) for the others.
        first = np.maximum(p.birth, day_number(dt.date(1995, 1, 1)))
        djrq = first + (rand.uniform("djrq", idx) * np.maximum(now - 1 - first, 0)).astype(np.int64)
        djrq = np.where(m["future_date"], future_days(rand, "future", idx, now), djrq)

        cols = {
            "gmsfhm": ids,
            "xm": name,
            "xb": num_str(sex, 1),
            "csrq": ascii_matrix(date_matrix(y, mo, d)),
            "mz": mz,
            "hjdz_xzqh": num_str(hj, 6),
            "zz": address(rand, "zz", idx, home),
            "sjhm": phones,
            "djrq": date_str(djrq),
        }
        if labels:
            cols["dirty_kind"] = label_column(kind, kinds)
        return cols

    return batches(n, batch_size, build, schema)


def _force_x(mat: np.ndarray) -> np.ndarray:
    """Change seq digits 15–16 (parity digit 17 kept) until the check char is X."""
    out = mat.copy()
    done = np.zeros(len(mat), dtype=bool)
    for v in range(1, 100):  # ≤ 11 tries on average; loop over candidates, not rows
        trial = mat.copy()
        trial[:, 14:16] = digits(np.full(len(mat), v), 2)
        ok = ~done & (id_check(trial) == ord("X"))
        out[ok] = trial[ok]
        done |= ok
        if done.all():
            break
    out[:, 17] = ord("X")
    return out


# --- social security ----------------------------------------------------------------------------

SOCIAL_SECURITY_COLUMNS = {
    "gmsfhm": "公民身份号码",
    "xm": "姓名",
    "xzlx": "险种类型",
    "cbrq": "参保日期",
    "cbzt": "参保状态",
    "jfjs": "缴费基数（元）",
    "dwmc": "单位名称",
    "tyshxydm": "单位统一社会信用代码",
}
EMPLOYEE_SCHEMES = ["企业职工基本养老保险", "职工基本医疗保险", "失业保险", "工伤保险"]
RESIDENT_SCHEMES = ["城乡居民基本养老保险", "城乡居民基本医疗保险"]
SOCIAL_SECURITY_DIRTY = (
    DirtyKind("name_mismatch", "xm", "姓名与人口库不一致（错字、同音字）", 1.0),
    DirtyKind("unknown_person", "gmsfhm", "身份号码在人口库中不存在（外市人员或录入错误）", 0.6),
    DirtyKind("unknown_employer", "tyshxydm", "单位信用代码在法人库中不存在", 0.4),
    DirtyKind("id_bad_check", "gmsfhm", "身份号码校验码错误", 0.5),
    DirtyKind("base_out_of_range", "jfjs", "缴费基数超出上下限（负数或过大）", 0.5),
)
_SS_TYPES = {"jfjs": pa.float64()}
_SS_SINCE = day_number(dt.date(1993, 1, 1))
_RESIDENT_SINCE = day_number(dt.date(2009, 1, 1))


def social_security(
    n: int,
    *,
    seed: int,
    persons_n: int = DEMO_PERSONS,
    enterprises_n: int = DEMO_ENTERPRISES,
    dirty_rate: float = 0.015,
    batch_size: int = 200_000,
    today: dt.date | None = None,
    labels: bool = False,
) -> Iterator[pa.RecordBatch]:
    """社保参保: one row per insured (person, scheme); persons from ``persons(persons_n)``.

    Row ``r`` covers person ``perm(r mod persons_n)`` and scheme slot ``r // persons_n``,
    so ``n <= persons_n`` gives one record per person and keys never repeat.
    """
    people = PersonDomain(seed, persons_n)
    now = day_number(resolve_today(today))
    firms = EnterpriseDomain(seed, enterprises_n, now)
    rand = Rand(seed, "social_security")
    perm = Permutation(max(persons_n, 1), seed, "social_security")
    schema = schema_of(SOCIAL_SECURITY_COLUMNS, _SS_TYPES, labels)
    kinds = SOCIAL_SECURITY_DIRTY
    all_schemes = vocab(EMPLOYEE_SCHEMES + RESIDENT_SCHEMES)

    def build(idx: np.ndarray) -> dict[str, pa.Array]:
        kind = dirty_index(rand, idx, dirty_rate, kinds)
        m = masks(kind, kinds)
        who = perm(idx % persons_n)
        slot = idx // persons_n  # > 0 only when n > persons_n
        p = people.core(who)
        age = years_between(p.birth, now)
        employed = (age >= 18) & (age < 60) & rand.chance("employed", who, 0.72)
        retired = (age >= 60) & rand.chance("retired_employee", who, 0.55)
        first = rand.below("scheme", who, 4) + slot
        scheme = np.select(
            [age < 16, employed, retired],
            [5, first % 4, first % 2],  # 城乡居民医保 / any employee scheme / pension, medical
            default=4 + first % 2,  # 城乡居民养老 or 医保
        )
        employer = rand.below("employer", who, max(enterprises_n, 1))
        f = firms.core(employer)
        adult = p.birth + 18 * 365 + 5
        start = np.select(
            [employed, retired, scheme == 4],
            [
                np.maximum(np.maximum(adult, f.founded), _SS_SINCE),
                np.maximum(adult, _SS_SINCE),
                np.maximum(p.birth + 16 * 366, _RESIDENT_SINCE),  # residents' pension from 16
            ],
            default=np.maximum(p.birth + 30, _RESIDENT_SINCE),
        )
        end = np.where(retired, np.minimum(p.birth + 60 * 365, now - 1), now - 1)
        cbrq = start + (rand.uniform("cbrq", idx) * np.maximum(end - start, 0)).astype(np.int64)
        base = np.round(np.exp(np.log(7800) + 0.45 * rand.normal("jfjs", who)) / 10) * 10
        base = np.where(employed, np.clip(base, 4462, 24930), np.nan)  # 2025 floor / cap

        ids = p.ids
        if (sel := m["unknown_person"]).any():  # someone outside the population register
            # 110100 (北京市市辖区) is valid but never used by the population generator
            outsider = p.id_matrix[sel].copy()
            outsider[:, :6] = digits(np.full(int(sel.sum()), 110100), 6)
            outsider[:, 17] = id_check(outsider)
            ids = replace(ids, sel, ascii_matrix(outsider))
        if (sel := m["id_bad_check"]).any():
            bad = p.id_matrix[sel].copy()
            bad[:, 17] = _bad_check(rand, idx[sel], bad)
            ids = replace(ids, sel, ascii_matrix(bad))
        names = p.names()
        if (sel := m["name_mismatch"]).any():
            names = replace(names, sel, p.name_variant().filter(pa.array(sel)))
        credit = f.codes
        if (sel := m["unknown_employer"]).any():
            beyond = firms.core(enterprises_n + idx[sel]).uscc_matrix  # never generated
            credit = replace(credit, sel, ascii_matrix(beyond))
        if (sel := m["base_out_of_range"]).any():
            base = base.copy()
            base[sel] = np.where(idx[sel] % 2 == 0, -3000.0, 999999.0)
        status = np.where(rand.chance("cbzt", idx, 0.9), "正常参保", "暂停缴费")
        none = ~employed
        cols = {
            "gmsfhm": ids,
            "xm": names,
            "xzlx": take(all_schemes, scheme),
            "cbrq": date_str(cbrq),
            "cbzt": pa.array(status),
            "jfjs": pa.array(base, pa.float64(), from_pandas=True),
            "dwmc": replace(f.name, none, None),
            "tyshxydm": replace(credit, none, None),
        }
        if labels:
            cols["dirty_kind"] = label_column(kind, kinds)
        return cols

    return batches(n, batch_size, build, schema)


# --- marriage -------------------------------------------------------------------------------------

MARRIAGE_COLUMNS = {
    "djzh": "登记证字号",
    "djlx": "登记类型",
    "nfxm": "男方姓名",
    "nfsfzh": "男方身份号码",
    "nvfxm": "女方姓名",
    "nvfsfzh": "女方身份号码",
    "djrq": "登记日期",
    "djjg": "登记机关",
}
MARRIAGE_DIRTY = (
    DirtyKind("underage", "nvfsfzh", "女方登记时未满 20 周岁（法定婚龄）"),
    DirtyKind("id_bad_check", "nfsfzh", "男方身份号码校验码错误"),
    DirtyKind("future_date", "djrq", "登记日期晚于当前日期"),
    DirtyKind("duplicate_key", "djzh", "登记证字号重复"),
)


def marriages(
    n: int,
    *,
    seed: int,
    persons_n: int = DEMO_PERSONS,
    dirty_rate: float = 0.01,
    batch_size: int = 200_000,
    today: dt.date | None = None,
    labels: bool = False,
) -> Iterator[pa.RecordBatch]:
    """婚姻登记 over the last ten years; both parties from ``persons(persons_n)``."""
    people = PersonDomain(seed, persons_n)
    now = day_number(resolve_today(today))
    rand = Rand(seed, "marriages")
    schema = schema_of(MARRIAGE_COLUMNS, {}, labels)
    kinds = MARRIAGE_DIRTY

    def build(idx: np.ndarray) -> dict[str, pa.Array]:
        kind = dirty_index(rand, idx, dirty_rate, kinds)
        m = masks(kind, kinds)
        src = np.where(m["duplicate_key"], duplicate_sources(rand, idx, n, dirty_rate, kinds), idx)
        day = now - 1 - rand.below("djrq", idx, 3650)
        divorce = rand.chance("divorce", src, 0.18)
        young = rand.chance("young", src, 0.8)  # most marry before 40; some remarry later
        man = people.core(people.pick(rand, "man", idx, day, 22, np.where(young, 38, 70), sex=1))
        lo = np.where(m["underage"], 16, 20)
        hi = np.where(m["underage"], 19, np.where(young, 36, 65))
        woman = people.core(people.pick(rand, "woman", idx, day, lo, hi, sex=2))
        man_ids = man.ids
        if (sel := m["id_bad_check"]).any():
            bad = man.id_matrix[sel].copy()
            bad[:, 17] = _bad_check(rand, idx[sel], bad)
            man_ids = replace(man_ids, sel, ascii_matrix(bad))
        day = np.where(m["future_date"], future_days(rand, "future", idx, now), day)
        district = rand.pick("office", idx, LOCAL_WEIGHTS)
        number = concat(pc.if_else(pa.array(divorce), "L", "J"), "339900-", num_str(src + 1, 8))
        cols = {
            "djzh": number,
            "djlx": pa.array(np.where(divorce, "离婚登记", "结婚登记")),
            "nfxm": man.names(),
            "nfsfzh": man_ids,
            "nvfxm": woman.names(),
            "nvfsfzh": woman.ids,
            "djrq": date_str(day),
            "djjg": concat(V.CITY, take(DISTRICT_NAMES, district), "民政局婚姻登记处"),
        }
        if labels:
            cols["dirty_kind"] = label_column(kind, kinds)
        return cols

    return batches(n, batch_size, build, schema)


# --- housing fund -----------------------------------------------------------------------------------

HOUSING_FUND_COLUMNS = {
    "gjjzh": "公积金个人账号",
    "gmsfhm": "公民身份号码",
    "xm": "姓名",
    "dwmc": "单位名称",
    "tyshxydm": "单位统一社会信用代码",
    "jcjs": "缴存基数（元）",
    "jcbl": "缴存比例（%）",
    "yjce": "月缴存额（元，单位+个人）",
    "zhzt": "账户状态",
    "khrq": "开户日期",
}
HOUSING_FUND_DIRTY = (
    DirtyKind("deposit_mismatch", "yjce", "月缴存额不等于基数×比例×2"),
    DirtyKind("rate_out_of_range", "jcbl", "缴存比例超出 5%–12%"),
    DirtyKind("id_bad_check", "gmsfhm", "身份号码校验码错误"),
    DirtyKind("duplicate_key", "gjjzh", "公积金账号重复"),
)


def housing_fund(
    n: int,
    *,
    seed: int,
    persons_n: int = DEMO_PERSONS,
    enterprises_n: int = DEMO_ENTERPRISES,
    dirty_rate: float = 0.01,
    batch_size: int = 200_000,
    today: dt.date | None = None,
    labels: bool = False,
) -> Iterator[pa.RecordBatch]:
    """公积金缴存 accounts of working-age persons at enterprises of the demo domains."""
    people = PersonDomain(seed, persons_n)
    now = day_number(resolve_today(today))
    firms = EnterpriseDomain(seed, enterprises_n, now)
    rand = Rand(seed, "housing_fund")
    perm = Permutation(10**10, seed, "housing_fund:account")
    schema = schema_of(
        HOUSING_FUND_COLUMNS,
        {"jcjs": pa.float64(), "jcbl": pa.int32(), "yjce": pa.float64()},
        labels,
    )
    kinds = HOUSING_FUND_DIRTY

    def build(idx: np.ndarray) -> dict[str, pa.Array]:
        kind = dirty_index(rand, idx, dirty_rate, kinds)
        m = masks(kind, kinds)
        src = np.where(m["duplicate_key"], duplicate_sources(rand, idx, n, dirty_rate, kinds), idx)
        p = people.core(people.pick(rand, "holder", idx, now, 20, 59))
        f = firms.core(rand.below("employer", idx, max(enterprises_n, 1)))
        base = np.clip(
            np.round(np.exp(np.log(8200) + 0.45 * rand.normal("jcjs", idx))), 2490, 36000
        )
        rate = rand.integers("jcbl", idx, 5, 12)
        rate = np.where(m["rate_out_of_range"], np.where(idx % 2 == 0, 15, 3), rate)
        monthly = np.round(base * rate / 100) * 2
        monthly = np.where(
            m["deposit_mismatch"], monthly + rand.integers("off", idx, 10, 500), monthly
        )
        opened = np.maximum(f.founded, p.birth + 18 * 366)
        opened = opened + (rand.uniform("khrq", idx) * np.maximum(now - 1 - opened, 0)).astype(
            np.int64
        )
        ids = p.ids
        if (sel := m["id_bad_check"]).any():
            bad = p.id_matrix[sel].copy()
            bad[:, 17] = _bad_check(rand, idx[sel], bad)
            ids = replace(ids, sel, ascii_matrix(bad))
        status = rand.pick("zhzt", idx, [85, 12, 3])
        cols = {
            "gjjzh": concat("3399", num_str(perm(src), 10)),
            "gmsfhm": ids,
            "xm": p.names(),
            "dwmc": f.name,
            "tyshxydm": f.codes,
            "jcjs": pa.array(base),
            "jcbl": pa.array(rate.astype(np.int32)),
            "yjce": pa.array(monthly.astype(np.float64)),
            "zhzt": take(vocab(["正常", "封存", "销户"]), status),
            "khrq": date_str(opened),
        }
        if labels:
            cols["dirty_kind"] = label_column(kind, kinds)
        return cols

    return batches(n, batch_size, build, schema)


# --- real estate -------------------------------------------------------------------------------------

REAL_ESTATE_COLUMNS = {
    "bdcqzh": "不动产权证书号",
    "bdcdyh": "不动产单元号",
    "qlrmc": "权利人名称",
    "zjlx": "权利人证件类型",
    "zjhm": "权利人证件号码",
    "zl": "坐落",
    "yt": "用途",
    "mj": "面积（平方米）",
    "djlx": "登记类型",
    "djrq": "登记日期",
}
REAL_ESTATE_DIRTY = (
    DirtyKind("area_out_of_range", "mj", "面积为 0 或超过 99999 平方米"),
    DirtyKind("id_bad_check", "zjhm", "权利人身份号码校验码错误"),
    DirtyKind("future_date", "djrq", "登记日期晚于当前日期"),
    DirtyKind("duplicate_key", "bdcqzh", "不动产权证书号重复"),
)
_USES = {"住宅": 80.0, "商业": 9.0, "办公": 5.0, "工业": 4.0, "车位": 2.0}
_REG_KINDS = {"首次登记": 30.0, "转移登记": 45.0, "变更登记": 10.0, "抵押登记": 15.0}


def real_estate(
    n: int,
    *,
    seed: int,
    persons_n: int = DEMO_PERSONS,
    enterprises_n: int = DEMO_ENTERPRISES,
    dirty_rate: float = 0.01,
    batch_size: int = 200_000,
    today: dt.date | None = None,
    labels: bool = False,
) -> Iterator[pa.RecordBatch]:
    """不动产登记 since 2016 (unified registration); owners are persons (90%) or firms."""
    people = PersonDomain(seed, persons_n)
    now = day_number(resolve_today(today))
    firms = EnterpriseDomain(seed, enterprises_n, now)
    rand = Rand(seed, "real_estate")
    schema = schema_of(REAL_ESTATE_COLUMNS, {"mj": pa.float64()}, labels)
    kinds = REAL_ESTATE_DIRTY
    since = day_number(dt.date(2016, 1, 1))

    def build(idx: np.ndarray) -> dict[str, pa.Array]:
        kind = dirty_index(rand, idx, dirty_rate, kinds)
        m = masks(kind, kinds)
        src = np.where(m["duplicate_key"], duplicate_sources(rand, idx, n, dirty_rate, kinds), idx)
        day = since + rand.below("djrq", src, now - since)
        firm_owned = rand.chance("firm", idx, 0.1) & ~m["id_bad_check"]
        p = people.core(people.pick(rand, "owner", idx, day, 18, 95))
        f = firms.core(rand.below("firm_owner", idx, max(enterprises_n, 1)))
        ids = p.ids
        if (sel := m["id_bad_check"]).any():
            bad = p.id_matrix[sel].copy()
            bad[:, 17] = _bad_check(rand, idx[sel], bad)
            ids = replace(ids, sel, ascii_matrix(bad))
        fo = pa.array(firm_owned)
        use = rand.pick("yt", idx, list(_USES.values()))
        area = np.round(
            np.exp(np.log(np.array([95, 120, 150, 800, 14])[use]) + 0.35 * rand.normal("mj", idx)),
            2,
        )
        area = np.where(m["area_out_of_range"], np.where(idx % 2 == 0, 0.0, 123456.0), area)
        district = rand.pick("district", idx, LOCAL_WEIGHTS)
        year = ymd(day)[0]
        day = np.where(m["future_date"], future_days(rand, "future", idx, now), day)
        unit = concat(
            take(LOCAL_CODE_STR, district),
            num_str(rand.integers("jd", src, 1, 20), 3),
            num_str(rand.integers("jf", src, 1, 30), 3),
            "GB",
            num_str(rand.integers("zd", src, 1, 99999), 5),
            "F",
            num_str(src % 10**8, 8),
        )
        cols = {
            "bdcqzh": concat(
                "浙（", int_str(year), "）示例市不动产权第", num_str(src + 1, 7), "号"
            ),
            "bdcdyh": unit,
            "qlrmc": pc.if_else(fo, f.name, p.names()),
            "zjlx": pc.if_else(fo, "统一社会信用代码", "居民身份证"),
            "zjhm": pc.if_else(fo, f.codes, ids),
            "zl": address(rand, "zl", idx, district),
            "yt": take(vocab(list(_USES)), use),
            "mj": pa.array(area),
            "djlx": take(
                vocab(list(_REG_KINDS)), rand.pick("djlx", idx, list(_REG_KINDS.values()))
            ),
            "djrq": date_str(day),
        }
        if labels:
            cols["dirty_kind"] = label_column(kind, kinds)
        return cols

    return batches(n, batch_size, build, schema)
