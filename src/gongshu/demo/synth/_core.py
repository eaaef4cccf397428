"""Counter-based randomness, permutations, string building and the dirty-row framework.

Every random value is a hash of ``(seed, generator, field, row index)`` (splitmix64),
so any row can be computed on its own: batches never depend on ``batch_size`` and one
generator can look up another's rows (a social-security row reads its person's ID and
name without generating the population).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_EPOCH = dt.date(1970, 1, 1)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (uint64 in, uint64 out; wraps on overflow by design)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


@lru_cache(maxsize=4096)
def _key(seed: int, stream: str, field: str) -> np.uint64:
    digest = hashlib.blake2b(f"{seed}|{stream}|{field}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


class Rand:
    """Independent uniform streams per field, addressed by row index."""

    def __init__(self, seed: int, stream: str) -> None:
        self.seed = seed
        self.stream = stream

    def bits(self, field: str, idx: np.ndarray) -> np.ndarray:
        x = (np.asarray(idx).astype(np.uint64) + np.uint64(1)) * _GOLDEN
        return _mix(x + _key(self.seed, self.stream, field))

    def uniform(self, field: str, idx: np.ndarray) -> np.ndarray:
        return (self.bits(field, idx) >> np.uint64(11)).astype(np.float64) * 2.0**-53

    def below(self, field: str, idx: np.ndarray, n: int | np.ndarray) -> np.ndarray:
        """Integers uniform in ``[0, n)``; ``n`` may vary per row."""
        return np.minimum(
            (self.uniform(field, idx) * n).astype(np.int64), np.asarray(n, dtype=np.int64) - 1
        )

    def integers(self, field: str, idx: np.ndarray, low: int, high: int) -> np.ndarray:
        """Integers uniform in ``[low, high]``."""
        return low + self.below(field, idx, high - low + 1)

    def pick(
        self, field: str, idx: np.ndarray, weights: Sequence[float] | np.ndarray
    ) -> np.ndarray:
        """Index into ``weights`` drawn with those relative weights."""
        cum = np.cumsum(np.asarray(weights, dtype=np.float64))
        cum /= cum[-1]
        return np.minimum(
            np.searchsorted(cum, self.uniform(field, idx), side="right"), len(cum) - 1
        )

    def chance(self, field: str, idx: np.ndarray, p: float | np.ndarray) -> np.ndarray:
        return self.uniform(field, idx) < p

    def normal(self, field: str, idx: np.ndarray) -> np.ndarray:
        u1 = self.uniform(field + "#1", idx)
        u2 = self.uniform(field + "#2", idx)
        return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


class Permutation:
    """A keyed bijection of ``[0, n)`` (4-round Feistel network with cycle walking).

    Used where keys must be unique (credit codes, ID sequence slots) or where each row
    must pick a different person.
    """

    def __init__(self, n: int, seed: int, name: str) -> None:
        self.n = n
        bits = max(2, int(n - 1).bit_length())
        bits += bits % 2
        self.half = bits // 2
        self.mask = np.uint64((1 << self.half) - 1)
        self.keys = [_key(seed, "perm", f"{name}#{r}") for r in range(4)]

    def _round(self, x: np.ndarray) -> np.ndarray:
        h = np.uint64(self.half)
        left, right = x >> h, x & self.mask
        for k in self.keys:
            left, right = right, left ^ (_mix(right + k) & self.mask)
        return (left << h) | right

    def _unround(self, x: np.ndarray) -> np.ndarray:
        h = np.uint64(self.half)
        left, right = x >> h, x & self.mask
        for k in reversed(self.keys):
            left, right = right ^ (_mix(left + k) & self.mask), left
        return (left << h) | right

    def _walk(self, idx: np.ndarray, step: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        x = step(np.asarray(idx).astype(np.uint64))
        out = x >= np.uint64(self.n)
        while out.any():  # cycle walking: at most a few rounds, vectorised over stragglers
            pos = np.flatnonzero(out)
            x[pos] = step(x[pos])
            out[pos] = x[pos] >= np.uint64(self.n)
        return x.astype(np.int64)

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        return self._walk(idx, self._round)

    def inverse(self, pos: np.ndarray) -> np.ndarray:
        return self._walk(pos, self._unround)


def apportion(weights: np.ndarray, total: int, jitter: np.ndarray | None = None) -> np.ndarray:
    """Integer counts proportional to ``weights`` summing exactly to ``total``.

    With ``jitter`` (uniforms per cell) counts are rounded stochastically first, which
    keeps many tiny cells unbiased; the remainder is settled by largest remainders.
    """
    q = weights / weights.sum() * total
    counts = np.floor(q + (jitter if jitter is not None else 0.0)).astype(np.int64)
    rest = total - int(counts.sum())
    if rest > 0:
        counts[np.argsort(counts - q, kind="stable")[:rest]] += 1
    elif rest < 0:
        over = np.where(counts > 0, q - counts, np.inf)
        counts[np.argsort(over, kind="stable")[:-rest]] -= 1
    return counts


# --- strings -----------------------------------------------------------------------


def ascii_matrix(mat: np.ndarray) -> pa.Array:
    """A string array from an ``(n, width)`` uint8 matrix of ASCII/UTF-8 bytes."""
    n, width = mat.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(mat, dtype=np.uint8)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


_PAIRS = np.array([[48 + i // 10, 48 + i % 10] for i in range(100)], dtype=np.uint8)


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative ints as an ``(n, width)`` ASCII matrix."""
    v = np.asarray(values, dtype=np.int64)
    out = np.empty((len(v), width), dtype=np.uint8)
    end = width
    while end >= 2:  # two digits per division: this is the hot spot of ID building
        v, r = np.divmod(v, 100)
        out[:, end - 2 : end] = _PAIRS[r]
        end -= 2
    if end:
        out[:, 0] = 48 + v % 10
    return out


def num_str(values: np.ndarray, width: int) -> pa.Array:
    return ascii_matrix(digits(values, width))


def fullwidth(mat: np.ndarray) -> pa.Array:
    """Printable ASCII → full-width forms (U+FF01…): what IME input leaves in IDs."""
    v = mat.astype(np.int64) - 0x20  # U+FF00 + v, 3 UTF-8 bytes each
    out = np.empty((*mat.shape, 3), dtype=np.uint8)
    out[..., 0] = 0xEF
    out[..., 1] = 0xBC + (v >> 6)
    out[..., 2] = 0x80 + (v & 0x3F)
    return ascii_matrix(out.reshape(mat.shape[0], -1))


def vocab(words: Sequence[str]) -> pa.Array:
    return pa.array(list(words), pa.string())


def take(words: pa.Array, idx: np.ndarray) -> pa.Array:
    return pc.take(words, pa.array(np.asarray(idx, dtype=np.int64)))


def concat(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def int_str(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def replace(
    col: pa.Array, mask: np.ndarray, values: pa.Array | np.ndarray | str | None
) -> pa.Array:
    """``col`` with rows under ``mask`` replaced (values: one per masked row or a scalar)."""
    if not mask.any():
        return col
    k = int(mask.sum())
    if values is None or isinstance(values, str):
        values = pa.array([values] * k, col.type) if values is not None else pa.nulls(k, col.type)
    elif isinstance(values, np.ndarray):
        values = pa.array(values, col.type)
    return pc.replace_with_mask(col, pa.array(mask), values.cast(col.type))


# --- dates -------------------------------------------------------------------------


def day_number(d: dt.date) -> int:
    return (d - _EPOCH).days


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Civil (year, month, day) of day numbers (H. Hinnant's algorithm; numpy's
    datetime64 casts are several times slower)."""
    z = np.asarray(days, dtype=np.int64) + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (month <= 2), month, day


def day_numbers(
    year: np.ndarray, month: np.ndarray | int = 1, day: np.ndarray | int = 1
) -> np.ndarray:
    """Day numbers of civil dates (inverse of :func:`ymd`)."""
    y = np.asarray(year, dtype=np.int64) - (np.asarray(month) <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    m = np.asarray(month, dtype=np.int64)
    doy = (153 * np.where(m > 2, m - 3, m + 9) + 2) // 5 + np.asarray(day) - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def date_matrix(
    year: np.ndarray, month: np.ndarray, day: np.ndarray, sep: bool = True
) -> np.ndarray:
    """``YYYY-MM-DD`` (or ``YYYYMMDD``) as ASCII; works for impossible dates too."""
    parts = [digits(year, 4), digits(month, 2), digits(day, 2)]
    if sep:
        dash = np.full((len(year), 1), ord("-"), dtype=np.uint8)
        parts = [parts[0], dash, parts[1], dash, parts[2]]
    return np.hstack(parts)


def date_str(days: np.ndarray) -> pa.Array:
    return ascii_matrix(date_matrix(*ymd(days)))


def timestamps(seconds: np.ndarray) -> pa.Array:
    """UTC timestamps from seconds since the epoch."""
    return pa.array(np.asarray(seconds, dtype=np.int64), pa.timestamp("s", tz="UTC"))


def dates(days: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int64).astype("datetime64[D]"), pa.date32())


def resolve_today(today: dt.date | None) -> dt.date:
    return today or dt.date.today()


def two_years(
    today: dt.date | None, start: dt.date | None, end: dt.date | None
) -> tuple[dt.date, dt.date]:
    """Default period: the two years (730 days) ending yesterday, both ends inclusive."""
    end = end or resolve_today(today) - dt.timedelta(days=1)
    start = start or end - dt.timedelta(days=729)
    if start > end:
        raise ValueError("start must not be after end")
    return start, end


# --- dirty rows ----------------------------------------------------------------------


@dataclass(frozen=True)
class DirtyKind:
    """One realistic defect: which column it hits and what a detector should see."""

    code: str
    column: str
    label: str
    weight: float = 1.0


def dirty_index(rand: Rand, idx: np.ndarray, rate: float, kinds: Sequence[DirtyKind]) -> np.ndarray:
    """Per row: -1 when clean, else the index of its dirty kind."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError("dirty_rate must be within [0, 1]")
    which = rand.pick("dirty:kind", idx, [k.weight for k in kinds])
    return np.where(rand.chance("dirty", idx, rate), which, -1)


def duplicate_sources(
    rand: Rand, idx: np.ndarray, n: int, rate: float, kinds: Sequence[DirtyKind]
) -> np.ndarray:
    """A nearby clean row for each row to copy its key from (for ``duplicate_key`` rows)."""
    best = idx.copy()
    found = np.zeros(len(idx), dtype=bool)
    if n < 2:
        return best
    for c in range(6):  # first clean candidate among six nearby rows (all dirty: ~1e-11)
        step = 1 + rand.below(f"dup:{c}", idx, 50)
        cand = np.where(idx - step >= 0, idx - step, np.minimum(idx + step, n - 1))
        ok = ~found & (dirty_index(rand, cand, rate, kinds) < 0) & (cand != idx)
        best[ok] = cand[ok]
        found |= ok
    return best


def label_column(kind: np.ndarray, kinds: Sequence[DirtyKind]) -> pa.Array:
    codes = vocab([k.code for k in kinds])
    return pc.take(codes, pa.array(np.maximum(kind, 0), mask=kind < 0))


def masks(kind: np.ndarray, kinds: Sequence[DirtyKind]) -> dict[str, np.ndarray]:
    return {k.code: kind == i for i, k in enumerate(kinds)}


# --- batching ------------------------------------------------------------------------

LABEL_COLUMN = "dirty_kind"

Builder = Callable[[np.ndarray], dict[str, pa.Array]]


def batches(n: int, batch_size: int, build: Builder, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Rows ``[0, n)`` in slices of ``batch_size``; ``build`` gets the global row indices."""
    if n < 0 or batch_size < 1:
        raise ValueError("n must be >= 0 and batch_size >= 1")
    for start in range(0, n, batch_size):
        idx = np.arange(start, min(n, start + batch_size), dtype=np.int64)
        cols = build(idx)
        yield pa.RecordBatch.from_arrays([cols[f.name] for f in schema], schema=schema)


def schema_of(columns: dict[str, str], types: dict[str, pa.DataType], labels: bool) -> pa.Schema:
    fields = [
        pa.field(name, types.get(name, pa.string()), metadata={"label": label})
        for name, label in columns.items()
    ]
    if labels:
        fields.append(pa.field(LABEL_COLUMN, pa.string(), metadata={"label": "脏数据类型"}))
    return pa.schema(fields)
