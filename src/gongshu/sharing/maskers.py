"""Masking functions (脱敏): ``(pyarrow.Array) -> pyarrow.Array``, vectorised.

Registered in the entry-point group ``gongshu.maskers`` (the built-ins through our own
pyproject, like any plugin). A third-party masker is one function plus one line::

    [project.entry-points."gongshu.maskers"]
    plate = "mypkg.masks:plate"      # def plate(values: pa.Array) -> pa.Array

Nulls stay null. Non-string values are masked on their text form.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from gongshu.plugins import Registry

Masker = Callable[[pa.Array], pa.Array]
maskers: Registry[Masker] = Registry("maskers")

# A per-deployment salt would be better for `hash`; a fixed one keeps values joinable
# across consumers, which is what 哈希替换 is used for (linking without revealing).
HASH_SALT = b"gongshu-share-hash-v1"


def _text(values: pa.Array) -> pa.Array:
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values
    return pc.cast(values, pa.string())


def _stars(n: pa.Array) -> pa.Array:
    count = pc.max_element_wise(n, pa.scalar(0, pa.int64()))
    return pc.binary_repeat(pa.array(["*"] * len(n), pa.string()), count)


def _keep(values: pa.Array, head: int, tail: int, min_stars: int = 1) -> pa.Array:
    """Keep ``head`` leading and ``tail`` trailing characters, star the middle."""
    v = _text(values)
    length = pc.cast(pc.utf8_length(v), pa.int64())
    short = pc.less_equal(length, pa.scalar(head + tail, pa.int64()))
    first = pc.utf8_slice_codeunits(v, 0, head)
    last = pc.utf8_slice_codeunits(v, -tail) if tail else pc.utf8_slice_codeunits(v, 0, 0)
    middle = _stars(pc.subtract(length, pa.scalar(head + tail, pa.int64())))
    masked = pc.binary_join_element_wise(first, middle, last, "")
    # Too short to keep both ends: keep the head only, never reveal the whole value.
    fallback = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(v, 0, 1), _stars(pc.max_element_wise(length, min_stars)), ""
    )
    return pc.if_else(short, fallback, masked)


def keep(values: pa.Array) -> pa.Array:
    """none: 不脱敏."""
    return values


def id_number(values: pa.Array) -> pa.Array:
    """330602199001011234 → 330602********1234."""
    return _keep(values, 6, 4)


def person_name(values: pa.Array) -> pa.Array:
    """张三 → 张*, 欧阳娜娜 → 欧***."""
    v = _text(values)
    rest = pc.subtract(pc.cast(pc.utf8_length(v), pa.int64()), pa.scalar(1, pa.int64()))
    return pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(v, 0, 1), _stars(pc.max_element_wise(rest, 1)), ""
    )


def phone(values: pa.Array) -> pa.Array:
    """13812345678 → 138****5678."""
    return _keep(values, 3, 4)


def bank_card(values: pa.Array) -> pa.Array:
    """6222021234567890123 → ***************0123."""
    return _keep(values, 0, 4)


def address(values: pa.Array) -> pa.Array:
    """Keep up to the district/county: 示例市城东区解放路1号 → 示例市城东区****."""
    v = _text(values)
    has_district = pc.match_substring_regex(v, "[区县]")
    cut = pc.replace_substring_regex(v, pattern=r"^(.*?[区县]).*$", replacement=r"\1****")
    return pc.if_else(has_district, cut, _keep(v, 3, 0))


def hashed(values: pa.Array) -> pa.Array:
    """SHA-256 (salted, hex, 32 chars). pyarrow has no SHA kernel; results are small."""
    out = [
        None if x is None else hashlib.sha256(HASH_SALT + str(x).encode()).hexdigest()[:32]
        for x in values.to_pylist()
    ]
    return pa.array(out, pa.string())


def partial(values: pa.Array) -> pa.Array:
    """部分遮盖: keep two characters at each end (one for values under eight)."""
    v = _text(values)
    long_ = pc.greater_equal(pc.cast(pc.utf8_length(v), pa.int64()), pa.scalar(8, pa.int64()))
    return pc.if_else(long_, _keep(v, 2, 2), _keep(v, 1, 1))


def nullify(values: pa.Array) -> pa.Array:
    """null: 置空."""
    return pa.nulls(len(values), pa.string())


def get(name: str) -> Masker:
    return maskers.get(name or "none")


def names() -> list[str]:
    return maskers.names()


def apply(table: pa.Table, masking: dict[str, str]) -> pa.Table:
    """Mask the named columns of a (small) result table."""
    for column, rule in masking.items():
        if rule == "none" or column not in table.column_names:
            continue
        i = table.column_names.index(column)
        col = table.column(i)
        arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        table = table.set_column(i, column, get(rule)(arr))
    return table
