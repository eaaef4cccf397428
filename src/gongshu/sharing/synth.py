"""Synthetic persons with valid resident ID numbers (vectorised numpy), for the demo
gateway table, tests and ``benchmarks/gateway.py``.

``gongshu.demo.synth`` (the demo city's full generator) supersedes this when it is on
main; this stays as the gateway's small, dependency-free fixture generator.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gongshu.sharing.params import ID_CHECK, ID_WEIGHTS

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉建国建华志强海燕晓东"
)
DISTRICTS = ["339902", "339903", "339904", "339905", "339906", "339921"]
STREETS = ["解放路", "人民路", "中山路", "建设路", "文化路", "湖滨路", "江南大道", "望江路"]
DISTRICT_NAMES = {
    "339902": "城东区",
    "339903": "城西区",
    "339904": "江南区",
    "339905": "江北区",
    "339906": "湖滨区",
    "339921": "临江县",
}


def id_numbers(region: np.ndarray, birth: np.ndarray, seq: np.ndarray) -> pa.Array:
    """GB 11643 numbers from int regions (6 digits), YYYYMMDD ints and sequences (< 1000)."""
    body = region.astype(np.int64) * 10**11 + birth.astype(np.int64) * 1000 + seq
    total = np.zeros(len(body), dtype=np.int64)
    rest = body.copy()
    for w in reversed(ID_WEIGHTS):  # the last digit carries the last weight
        rest, digit = np.divmod(rest, 10)
        total += digit * w
    check = pa.array(np.array(list(ID_CHECK))[total % 11], pa.string())
    return pc.binary_join_element_wise(pc.cast(pa.array(body), pa.string()), check, "")


def persons(n: int, seed: int = 20260101) -> pa.Table:
    """``n`` distinct persons: gmsfhm, xm, xb, csrq, xzqh, sjhm, zz."""
    rng = np.random.default_rng(seed)
    region_idx = rng.integers(0, len(DISTRICTS), n)
    days = rng.integers(0, 80 * 365, n)
    # Sequence number = rank within (region, birth day): distinct IDs by construction.
    group = region_idx * 100_000 + days
    order = np.argsort(group, kind="stable")
    sorted_groups = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    first_of = np.repeat(starts, np.diff(np.r_[starts, n]))
    seq = np.empty(n, dtype=np.int64)
    seq[order] = np.arange(n) - first_of
    birth_dates = np.datetime64("1940-01-01") + days.astype("timedelta64[D]")
    y = birth_dates.astype("datetime64[Y]").astype(np.int64) + 1970
    m = birth_dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d = (birth_dates - birth_dates.astype("datetime64[M]")).astype(np.int64) + 1
    region = np.array([int(r) for r in DISTRICTS])[region_idx]
    ids = id_numbers(region, y * 10000 + m * 100 + d, seq)
    xb = np.where(seq % 2 == 1, "1", "2")
    names = pc.binary_join_element_wise(
        pa.array(np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]),
        pa.array(np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]),
        "",
    )
    phones = pc.binary_join_element_wise(
        pa.array(np.array(["138", "139", "150", "186", "177", "133"])[rng.integers(0, 6, n)]),
        pc.utf8_lpad(pc.cast(pa.array(rng.integers(0, 10**8, n)), pa.string()), 8, "0"),
        "",
    )
    address = pc.binary_join_element_wise(
        pa.array(np.array([DISTRICT_NAMES[r] for r in DISTRICTS])[region_idx]),
        pa.array(np.array(STREETS)[rng.integers(0, len(STREETS), n)]),
        pc.cast(pa.array(rng.integers(1, 400, n)), pa.string()),
        "",
    )
    return pa.table(
        {
            "gmsfhm": ids,
            "xm": names,
            "xb": pa.array(xb, pa.string()),
            "csrq": pa.array(birth_dates.astype("datetime64[D]"), pa.date32()),
            "xzqh": pa.array(np.array(DISTRICTS)[region_idx], pa.string()),
            "sjhm": phones,
            "zz": pc.binary_join_element_wise("示例市", address, "号", ""),
        }
    )
