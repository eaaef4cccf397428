"""Masking functions (脱敏函数), shared by every domain that hands rows out.

Each masker is a vectorised Ibis function ``mask(col: ibis.Value) -> ibis.StringValue``:
it becomes part of the query, so masking runs inside DuckDB or Spark, never row by row
in Python. Maskers are plugins in the entry-point group ``gongshu.query_maskers``; the built-in
ones below register through pyproject exactly like a third-party package would::

    [project.entry-points."gongshu.query_maskers"]
    id_number = "gongshu.masking:id_number"

The names match the catalog's masking rules (``gongshu.catalog.vocab.MASKING_RULES``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ibis
import ibis.expr.types as ir

from gongshu.plugins import Registry

Masker = Callable[[Any], Any]
maskers: Registry[Masker] = Registry("query_maskers")


def _s(col: ir.Value) -> ir.StringValue:
    return col if col.type().is_string() else col.cast("string")


def _keep_ends(col: ir.Value, head: int, tail: int, stars: int) -> ir.StringValue:
    s = _s(col)
    n = s.length()
    masked = s.substr(0, head) + "*" * stars + s.right(tail)
    # Too short to keep both ends: mask everything rather than reveal it.
    return ibis.cases((n <= head + tail, ibis.literal("*" * stars)), else_=masked).nullif("")


def id_number(col: ir.Value) -> ir.StringValue:
    """公民身份号码: keep the first 6 (region) and last 4."""
    return _keep_ends(col, 6, 4, 8)


def name(col: ir.Value) -> ir.StringValue:
    """姓名: keep the surname (first character)."""
    s = _s(col)
    return s.substr(0, 1) + "**"


def phone(col: ir.Value) -> ir.StringValue:
    """手机号码: keep the first 3 and last 4."""
    return _keep_ends(col, 3, 4, 4)


def bank_card(col: ir.Value) -> ir.StringValue:
    """银行卡号: keep the last 4."""
    s = _s(col)
    return "************" + s.right(4)


def address(col: ir.Value) -> ir.StringValue:
    """地址: keep the text up to the district/county (区/县/市), mask the rest."""
    s = _s(col)
    cut = s.re_extract(r"^(.*?[区县市])", 1)
    return ibis.cases((cut.length() > 0, cut + "****"), else_=ibis.literal("****"))


def hash_(col: ir.Value) -> ir.StringValue:
    """哈希替换: a SHA-256 hex digest, so equal values still join."""
    return _s(col).hashbytes("sha256").hex()


def partial(col: ir.Value) -> ir.StringValue:
    """部分遮盖: keep the first and last character."""
    return _keep_ends(col, 1, 1, 4)


def null(col: ir.Value) -> ir.StringValue:
    """置空."""
    return ibis.null().cast("string")


def apply(rule: str, col: ir.Value) -> ir.Value:
    """Mask ``col`` with the named rule (``none`` returns it unchanged)."""
    if rule == "none":
        return col
    try:
        fn = maskers.get(rule)
    except KeyError:
        # Unknown rule: fail closed — never hand the raw value out.
        fn = null
    return fn(col).name(col.get_name())
