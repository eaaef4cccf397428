"""Masking functions (脱敏函数), shared by every domain that hands rows out.

Each masker is a vectorised Ibis function ``mask(col: ibis.Value) -> ibis.StringValue``:
it becomes part of the query, so masking runs inside DuckDB or Spark, never row by row
in Python. Maskers are plugins in the entry-point group ``gongshu.query_maskers``; the built-in
ones below register through pyproject exactly like a third-party package would::

    [project.entry-points."gongshu.query_maskers"]
    id_number = "gongshu.masking:id_number"

The names match the catalog's masking rules (``gongshu.catalog.vocab.MASKING_RULES``), and
each rule masks exactly like the gateway's Arrow masker of the same name
(``gongshu.sharing.maskers``): a catalog rule means one thing on every channel
(``tests/core/test_masking_parity.py`` compares the two on tricky values).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ibis
import ibis.expr.types as ir

from gongshu.plugins import Registry

Masker = Callable[[Any], Any]
maskers: Registry[Masker] = Registry("query_maskers")


# The salt of ``hash`` on every channel (the gateway's Arrow masker uses it too). A fixed
# salt keeps values joinable across consumers, which is what 哈希替换 is for (linking
# without revealing); a per-deployment one would need every channel to share it.
HASH_SALT = "gongshu-share-hash-v1"


def _s(col: ir.Value) -> ir.StringValue:
    return col if col.type().is_string() else col.cast("string")


def _stars(n: ir.IntegerValue) -> ir.StringValue:
    return ibis.literal("*").repeat(n)


def _keep_ends(col: ir.Value, head: int, tail: int) -> ir.StringValue:
    """Keep ``head`` leading and ``tail`` trailing characters, star the middle."""
    s = _s(col)
    n = s.length()
    masked = s.substr(0, head) + _stars(n - head - tail)
    if tail:
        masked = masked + s.right(tail)
    # Too short to keep both ends: keep the first character only, star the rest.
    short = s.substr(0, 1) + _stars(ibis.greatest(n, 1))
    return ibis.cases((n <= head + tail, short), else_=masked)


def id_number(col: ir.Value) -> ir.StringValue:
    """证件号码：保留前 6 位和后 4 位（330602********1234）。"""
    return _keep_ends(col, 6, 4)


def name(col: ir.Value) -> ir.StringValue:
    """姓名：保留姓（张三 → 张*，欧阳娜娜 → 欧***）。"""
    s = _s(col)
    return s.substr(0, 1) + _stars(ibis.greatest(s.length() - 1, 1))


def phone(col: ir.Value) -> ir.StringValue:
    """手机号码：保留前 3 后 4 位（138****5678）。"""
    return _keep_ends(col, 3, 4)


def bank_card(col: ir.Value) -> ir.StringValue:
    """银行卡号：保留后 4 位。"""
    return _keep_ends(col, 0, 4)


def address(col: ir.Value) -> ir.StringValue:
    """地址：保留到区县（示例市城东区解放路1号 → 示例市城东区****）。"""
    s = _s(col)
    cut = s.re_extract(r"^(.*?[区县])", 1)
    return ibis.cases((s.re_search("[区县]"), cut + "****"), else_=_keep_ends(s, 3, 0))


def hash_(col: ir.Value) -> ir.StringValue:
    """哈希替换：加盐 SHA-256（32 位十六进制），同值同码，可关联不可还原。"""
    return (ibis.literal(HASH_SALT) + _s(col)).hexdigest("sha256").substr(0, 32)


def partial(col: ir.Value) -> ir.StringValue:
    """部分遮盖：保留首尾各 2 个字符（不足 8 个字符时各 1 个）。"""
    s = _s(col)
    return ibis.cases((s.length() >= 8, _keep_ends(s, 2, 2)), else_=_keep_ends(s, 1, 1))


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
