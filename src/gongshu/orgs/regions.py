"""GB/T 2260 administrative region codes.

The national table comes from python-stdnum's ``stdnum/cn/loc.dat`` (current and
historical codes); codes the bureau adds locally live in the ``region`` table.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongshu.errors import ValidationFailed
from gongshu.orgs.models import Region

_LINE = re.compile(r'^(\s*)(\d+)\s+\w+="(.*)"')
_YEARS = re.compile(r"^\[[^\]]*\]")
CODE_FORMAT = re.compile(r"^\d{6}$")


@lru_cache
def national_regions() -> dict[str, str]:
    """Code → name for every code in the national table (historical ones included)."""
    text = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    codes: dict[str, str] = {}
    province = ""
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        indent, code, name = m.groups()
        name = _YEARS.sub("", name)
        if not indent:
            province = code
            codes[f"{code}0000"] = name
        else:
            codes[province + code] = name
    return codes


@lru_cache
def province_prefixes() -> frozenset[str]:
    return frozenset(code[:2] for code in national_regions())


def all_regions(session: Session) -> dict[str, str]:
    local = {c: n for c, n in session.execute(select(Region.code, Region.name))}
    return national_regions() | local


def region_name(session: Session, code: str) -> str | None:
    name = national_regions().get(code)
    if name is None:
        name = session.scalar(select(Region.name).where(Region.code == code))
    return name


def validate_region_code(session: Session, code: str, field: str = "region_code") -> str:
    code = code.strip()
    if not CODE_FORMAT.match(code):
        raise ValidationFailed(
            "行政区划代码应为 6 位数字（GB/T 2260）", code="bad_region", field=field
        )
    if code[:2] not in province_prefixes():
        raise ValidationFailed(
            f"行政区划代码 {code} 的省级代码（前两位）不存在", code="bad_region", field=field
        )
    if region_name(session, code) is None:
        raise ValidationFailed(
            f"行政区划代码 {code} 不在 GB/T 2260 代码表或本地补充代码中",
            code="unknown_region",
            field=field,
        )
    return code
