"""Scalar validators for one gateway parameter (a malformed key is a 400, not a query).

Whole-table validation is the data plane's job (vectorised rules in the quality domain);
here a single presented value is checked in microseconds before any query runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import mul

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


def valid_id_number(value: str) -> bool:
    """GB 11643 resident ID: 17 digits and a MOD 11-2 check character."""
    if not _ID_RE.match(value):
        return False
    total = sum(map(mul, map(int, value[:17]), ID_WEIGHTS))  # C loops: ~5× the generator
    return ID_CHECK[total % 11] == value[17]


def valid_uscc(value: str) -> bool:
    """GB 32100 unified social credit code."""
    if not _USCC_RE.match(value):
        return False
    total = sum(_USCC_CHARS.index(c) * pow(3, i, 31) for i, c in enumerate(value[:17]))
    return _USCC_CHARS[(31 - total % 31) % 31] == value[17]


def valid_mobile(value: str) -> bool:
    return bool(_MOBILE_RE.match(value))


def _not_blank(value: str) -> bool:
    return 0 < len(value) <= 200


# Data element (数据元) or column name → validator and its Chinese description.
VALIDATORS: dict[str, tuple[Callable[[str], bool], str]] = {
    "公民身份号码": (valid_id_number, "公民身份号码格式或校验位错误"),
    "统一社会信用代码": (valid_uscc, "统一社会信用代码格式或校验位错误"),
    "手机号码": (valid_mobile, "手机号码格式错误"),
}
COLUMN_HINTS = {"gmsfhm": "公民身份号码", "sfzh": "公民身份号码", "tyshxydm": "统一社会信用代码"}


def validator_for(column: str, data_element: str | None) -> tuple[Callable[[str], bool], str]:
    element = data_element or COLUMN_HINTS.get(column)
    return VALIDATORS.get(element or "", (_not_blank, "参数为空或过长"))


def normalise(value: str) -> str:
    """Trim, and upper-case a trailing x (IDs are often typed with a lower-case x)."""
    v = value.strip()
    return v[:-1] + "X" if v.endswith("x") else v
