"""Masking functions (脱敏): ``(pyarrow.Array) -> pyarrow.Array``, vectorised.

Registered in the entry-point group ``gongshu.maskers`` (the built-ins through our own
pyproject, like any plugin). A third-party masker is one function plus one line::

    [project.entry-points."gongshu.maskers"]
    plate = "mypkg.masks:plate"      # def plate(values: pa.Array) -> pa.Array

Nulls stay null. Non-string values are masked on their text form.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from gongshu import masking
from gongshu.plugins import Registry

Masker = Callable[[pa.Array], pa.Array]
maskers: Registry[Masker] = Registry("maskers")

# ``hash`` uses the in-query maskers' salt: one value, one code on every channel.
HASH_SALT = masking.HASH_SALT.encode()


# Results of a point query are one or a few rows, where each pyarrow kernel call costs
# more than the masking itself: arrays up to SMALL values take the scalar twin of the
# same rule (tests check both give identical output), larger ones the kernels.
SMALL = 32


class Rule:
    """A built-in masking rule: one vectorised and one scalar implementation."""

    def __init__(
        self, vector: Callable[[pa.Array], pa.Array], scalar: Callable[[str], str | None]
    ) -> None:
        self.vector = vector
        self.scalar = scalar
        self.__doc__ = vector.__doc__

    def __call__(self, values: pa.Array) -> pa.Array:
        if len(values) > SMALL:
            return self.vector(values)
        scalar = self.scalar
        return pa.array(
            [None if v is None else scalar(str(v)) for v in values.to_pylist()], pa.string()
        )


def _text(values: pa.Array) -> pa.Array:
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values
    return pc.cast(values, pa.string())


def _stars(n: pa.Array) -> pa.Array:
    count = pc.max_element_wise(n, pa.scalar(0, pa.int64()))
    return pc.binary_repeat(pa.array(["*"] * len(n), pa.string()), count)


def _keep(values: pa.Array, head: int, tail: int) -> pa.Array:
    """Keep ``head`` leading and ``tail`` trailing characters, star the middle."""
    v = _text(values)
    length = pc.cast(pc.utf8_length(v), pa.int64())
    short = pc.less_equal(length, pa.scalar(head + tail, pa.int64()))
    first = pc.utf8_slice_codeunits(v, 0, head)
    last = pc.utf8_slice_codeunits(v, -tail) if tail else pc.utf8_slice_codeunits(v, 0, 0)
    middle = _stars(pc.subtract(length, pa.scalar(head + tail, pa.int64())))
    masked = pc.binary_join_element_wise(first, middle, last, "")
    # Too short to keep both ends: keep the first character only, star the rest.
    fallback = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(v, 0, 1), _stars(pc.max_element_wise(length, 1)), ""
    )
    return pc.if_else(short, fallback, masked)


def _keep1(s: str, head: int, tail: int) -> str:
    n = len(s)
    if n <= head + tail:
        return s[:1] + "*" * max(n, 1)
    return s[:head] + "*" * (n - head - tail) + (s[-tail:] if tail else "")


def keep(values: pa.Array) -> pa.Array:
    """none: 不脱敏."""
    return values


id_number = Rule(
    lambda v: _keep(v, 6, 4),  # 330602199001011234 → 330602********1234
    lambda s: _keep1(s, 6, 4),
)
id_number.__doc__ = "证件号码：保留前 6 位和后 4 位（330602********1234）。"


def _name_vec(values: pa.Array) -> pa.Array:
    v = _text(values)
    rest = pc.subtract(pc.cast(pc.utf8_length(v), pa.int64()), pa.scalar(1, pa.int64()))
    return pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(v, 0, 1), _stars(pc.max_element_wise(rest, 1)), ""
    )


person_name = Rule(_name_vec, lambda s: s[:1] + "*" * max(len(s) - 1, 1))
person_name.__doc__ = "姓名：保留姓（张三 → 张*，欧阳娜娜 → 欧***）。"

phone = Rule(lambda v: _keep(v, 3, 4), lambda s: _keep1(s, 3, 4))
phone.__doc__ = "手机号码：保留前 3 后 4 位（138****5678）。"

bank_card = Rule(lambda v: _keep(v, 0, 4), lambda s: _keep1(s, 0, 4))
bank_card.__doc__ = "银行卡号：保留后 4 位。"

_DISTRICT = re.compile(r"^(.*?[区县]).*$", re.S)


def _address_vec(values: pa.Array) -> pa.Array:
    v = _text(values)
    has_district = pc.match_substring_regex(v, "[区县]")
    cut = pc.replace_substring_regex(v, pattern=r"(?s)^(.*?[区县]).*$", replacement=r"\1****")
    return pc.if_else(has_district, cut, _keep(v, 3, 0))


def _address1(s: str) -> str:
    m = _DISTRICT.match(s)
    return m.group(1) + "****" if m else _keep1(s, 3, 0)


address = Rule(_address_vec, _address1)
address.__doc__ = "地址：保留到区县（示例市城东区解放路1号 → 示例市城东区****）。"


def _hash1(s: str) -> str:
    return hashlib.sha256(HASH_SALT + s.encode()).hexdigest()[:32]


hashed = Rule(
    lambda v: pa.array(  # pyarrow has no SHA-256 kernel
        [None if x is None else _hash1(str(x)) for x in v.to_pylist()], pa.string()
    ),
    _hash1,
)
hashed.__doc__ = "哈希替换：加盐 SHA-256（32 位十六进制），同值同码，可关联不可还原。"


def _partial_vec(values: pa.Array) -> pa.Array:
    v = _text(values)
    long_ = pc.greater_equal(pc.cast(pc.utf8_length(v), pa.int64()), pa.scalar(8, pa.int64()))
    return pc.if_else(long_, _keep(v, 2, 2), _keep(v, 1, 1))


partial = Rule(_partial_vec, lambda s: _keep1(s, 2, 2) if len(s) >= 8 else _keep1(s, 1, 1))
partial.__doc__ = "部分遮盖：保留首尾各 2 个字符（不足 8 个字符时各 1 个）。"


def nullify(values: pa.Array) -> pa.Array:
    """null: 置空."""
    return pa.nulls(len(values), pa.string())


def get(name: str) -> Masker:
    return maskers.get(name or "none")


def _identity(value: object) -> object:
    return value


def _null(value: object) -> None:
    return None


def scalar_for(name: str) -> Callable[[object], object] | None:
    """One value masked exactly as :func:`get` masks it in a result of at most ``SMALL``
    rows, or ``None`` when the rule has no scalar twin (a plugin: use the Arrow path)."""
    try:
        masker = get(name)
    except KeyError:
        return None
    if masker is keep:
        return _identity
    if masker is nullify:
        return _null
    if isinstance(masker, Rule):
        scalar = masker.scalar
        return lambda v: None if v is None else scalar(str(v))
    return None


def names() -> list[str]:
    return maskers.names()


def apply(table: pa.Table, masking: dict[str, str]) -> pa.Table:
    """Mask the named columns of a (small) result table."""
    for column, rule in masking.items():
        if rule == "none":
            continue
        # Every column of that name (a selection may repeat one): none leaves unmasked.
        for i, name in enumerate(table.column_names):
            if name == column:
                col = table.column(i)
                arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
                table = table.set_column(i, column, get(rule)(arr))
    return table
