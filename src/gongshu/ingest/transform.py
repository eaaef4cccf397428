"""Map, normalise, validate and cast source batches to a resource's schema, vectorised.

One pass per batch, all in Arrow compute kernels (no Python loop over rows): each target
column is normalised (full-width → half-width, spaces, case) as its mapping says, parsed
to its catalog type, and checked (key present, length, decodable text). Rows failing
any check leave the batch as *rejects* with every reason in Chinese and the row's
original fields as a CSV fragment; the rest are the *accepted* batch, in the
warehouse schema of the resource.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gongshu.errors import ValidationFailed
from gongshu.ingest.encoding import LABELS, REPLACEMENT
from gongshu.ingest.readers import BadRow
from gongshu.ingest.spec import ItemSpec, ResourceSpec

NORMALIZERS: dict[str, str] = {
    "nfkc": "全角转半角",
    "trim": "去首尾空白",
    "nospace": "去除全部空格",
    "upper": "字母转大写",
}
REJECT_SCHEMA = pa.schema([("line", pa.int64()), ("reason", pa.string()), ("raw", pa.string())])
LOCAL_TZ = "Asia/Shanghai"
# Excel stores dates as days since 1899-12-30; 5-digit serials are 1927-05-18 .. 2173-10-14.
EXCEL_EPOCH_DAYS = -25569
_INT_RE = r"^[+-]?\d{1,18}(\.0+)?$"
_FLOAT_RE = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$"
_EXCEL_RE = r"^\d{5}(\.\d+)?$"
_TRUE = ["1", "true", "t", "y", "yes", "是", "对", "√"]
_FALSE = ["0", "false", "f", "n", "no", "否", "错", "×"]


@dataclass(frozen=True)
class ColumnMap:
    """Target item column ← source column (``None``: not supplied, stays empty)."""

    target: str
    source: str | None
    normalize: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "source": self.source, "normalize": list(self.normalize)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnMap:
        return cls(d["target"], d.get("source") or None, tuple(d.get("normalize") or ()))


def default_normalize(item: ItemSpec) -> tuple[str, ...]:
    if item.arrow_type != pa.string():
        return ("nfkc", "trim")
    if item.is_code:
        return ("nfkc", "nospace", "upper")
    return ("trim",)


def _norm_label(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


# Labels departments actually use for common data elements.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "公民身份号码": ("身份证号", "身份证号码", "身份证", "证件号码", "证件号", "sfzh", "idcard"),
    "统一社会信用代码": ("信用代码", "社会信用代码", "统一代码", "tyshxydm", "uscc"),
    "手机号码": ("手机", "手机号", "移动电话", "联系手机"),
    "联系电话": ("电话", "联系方式", "电话号码"),
    "行政区划代码": ("区划代码", "行政区划", "区划"),
    "组织机构名称": ("单位名称", "企业名称", "机构名称", "名称"),
    "法定代表人姓名": ("法定代表人", "法人", "法人代表"),
}


def _score(source: str, wanted: list[str]) -> float:
    """Character overlap (Dice) of a source label with the best of the item's labels."""
    chars = set(source)
    best = 0.0
    for w in wanted:
        if not w or not chars:
            continue
        common = len(chars & set(w))
        best = max(best, 2 * common / (len(chars) + len(set(w))))
    return best


def suggest_mapping(spec: ResourceSpec, source_columns: Iterable[str]) -> list[ColumnMap]:
    """Guess each item's source column: exact English column name or Chinese label (or a
    known synonym of its data element) first, then the best character overlap >= 0.7."""
    sources = list(source_columns)
    normed = {s: _norm_label(s) for s in sources}
    used: set[str] = set()
    picks: dict[str, str] = {}
    labels: dict[str, list[str]] = {}
    for item in spec.items:
        wanted = [_norm_label(item.column), _norm_label(item.name)]
        for element in (item.data_element, item.name):
            if element:
                wanted.append(_norm_label(element))
                wanted.extend(_norm_label(x) for x in SYNONYMS.get(element, ()))
        labels[item.column] = wanted
        exact = next((s for w in wanted for s in sources if normed[s] == w and s not in used), None)
        if exact:
            picks[item.column] = exact
            used.add(exact)
    candidates = sorted(
        (
            (_score(normed[s], labels[i.column][1:]), i.column, s)
            for i in spec.items
            if i.column not in picks
            for s in sources
            if s not in used
        ),
        reverse=True,
    )
    for score, column, source in candidates:
        if score < 0.7:
            break
        if column in picks or source in used:
            continue
        picks[column] = source
        used.add(source)
    return [ColumnMap(i.column, picks.get(i.column), default_normalize(i)) for i in spec.items]


def check_mapping(spec: ResourceSpec, mapping: list[ColumnMap], source_columns: list[str]) -> None:
    targets = {m.target for m in mapping}
    unknown = targets - {i.column for i in spec.items}
    if unknown:
        raise ValidationFailed(
            f"映射中有资源不存在的数据项：{'、'.join(sorted(unknown))}", code="bad_mapping"
        )
    missing_src = [m.source for m in mapping if m.source and m.source not in source_columns]
    if missing_src:
        raise ValidationFailed(
            f"来源中没有这些列：{'、'.join(missing_src)}（来源列：{'、'.join(source_columns[:30])}）",
            code="bad_mapping",
        )
    by_target = {m.target: m for m in mapping}
    unmapped_keys = [
        i.name
        for i in spec.items
        if i.is_key and not (by_target.get(i.column) and by_target[i.column].source)
    ]
    if unmapped_keys:
        raise ValidationFailed(f"主键数据项未映射：{'、'.join(unmapped_keys)}", code="key_unmapped")
    if not any(m.source for m in mapping):
        raise ValidationFailed("没有任何数据项映射到来源列", code="bad_mapping")
    for m in mapping:
        bad = set(m.normalize) - set(NORMALIZERS)
        if bad:
            raise ValidationFailed(
                f"未知的规范化选项：{'、'.join(sorted(bad))}", code="bad_mapping"
            )


# ---- kernels -------------------------------------------------------------------------


def _any(mask: pa.Array) -> bool:
    return bool(pc.any(mask).as_py())


# ASCII bytes utf8_trim_whitespace removes (its Unicode whitespace; ASCII's isspace
# lacks 0x1c-0x1f). Bytes of 0x80 and above start or end multi-byte characters, some of
# them whitespace (U+3000, U+00A0): those values are trimmed the Unicode way.
_TRIMMED = np.zeros(256, bool)
_TRIMMED[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
_TRIMMED[0x80:] = True


def _value_bytes(col: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, data) of a string array, zero-copy."""
    n = len(col)
    _, offsets_buf, data_buf = col.buffers()
    if not n or offsets_buf is None:
        return np.zeros(1, np.int32), np.zeros(0, np.uint8)
    offsets = np.frombuffer(offsets_buf, np.int32, n + 1, col.offset * 4)
    data = np.frombuffer(data_buf, np.uint8) if data_buf else np.zeros(0, np.uint8)
    return offsets, data


def _needs_trim(col: pa.Array) -> bool:
    """Whether some value may start or end with whitespace (checks first/last bytes)."""
    if not len(col):
        return False
    offsets, data = _value_bytes(col)
    nonempty = offsets[1:] > offsets[:-1]
    first, last = offsets[:-1][nonempty], offsets[1:][nonempty] - 1
    return bool(_TRIMMED[data[first]].any() or _TRIMMED[data[last]].any())


def _has_bytes(col: pa.Array, values: tuple[int, ...]) -> bool:
    """Whether a value holds one of these ASCII bytes (never part of a UTF-8 sequence)."""
    offsets, data = _value_bytes(col)
    part = data[offsets[0] : offsets[-1]] if len(col) else data[:0]
    return any(bool((part == v).any()) for v in values)


def normalise(col: pa.Array, steps: Iterable[str]) -> pa.Array:
    """Each step skips batches it would leave unchanged (a check of their bytes)."""
    ascii_only = False  # known to be pure ASCII (then the ASCII kernels give the same)
    for step in steps:
        if step == "nfkc":
            # Most batches are pure ASCII: skip the Unicode pass for them.
            ascii_only = bool(pc.all(pc.string_is_ascii(col)).as_py())
            if not ascii_only:
                col = pc.utf8_normalize(col, "NFKC")
        elif step == "trim":
            if _needs_trim(col):
                col = pc.utf8_trim_whitespace(col)
        elif step == "nospace":
            if _has_bytes(col, (32, 9)):
                col = pc.replace_substring(pc.replace_substring(col, " ", ""), "\t", "")
        elif step == "upper":
            col = pc.ascii_upper(col) if ascii_only else pc.utf8_upper(col)
    return col


def _blank_to_null(col: pa.Array) -> pa.Array:
    blank = pc.equal(pc.binary_length(col), 0)
    if not _any(blank):
        return col
    return pc.if_else(blank, pa.scalar(None, col.type), col)


def _datetime_text(col: pa.Array) -> pa.Array:
    """One canonical spelling ``YYYY-MM-DD[ HH:MM[:SS]]`` for the dates departments write:
    ``2024/1/5``, ``2024.01.05``, ``2024年1月5日``, ``20240105``, ``2024-01-05T08:00:00.5``."""
    col = pc.replace_substring_regex(col, r"[/.年月]", "-")
    col = pc.replace_substring_regex(col, r"[日T]", " ")
    col = pc.utf8_trim_whitespace(col)
    col = pc.replace_substring_regex(
        col, r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$", r"\1-\2-\3 \4:\5:\6"
    )
    col = pc.replace_substring_regex(col, r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3")
    col = pc.replace_substring_regex(col, r"^(\d{4})-(\d)-", r"\1-0\2-")
    col = pc.replace_substring_regex(col, r"^(\d{4}-\d{2})-(\d)( |$)", r"\1-0\2\3")
    col = pc.replace_substring_regex(col, r" (\d):", r" 0\1:")
    return pc.replace_substring_regex(col, r"(\d{2}:\d{2}:\d{2})-\d+$", r"\1")


def _try_cast(col: pa.Array, target: pa.DataType) -> pa.Array | None:
    """Arrow's own strict cast: fast, but all or nothing (None if any value is bad)."""
    try:
        return pc.cast(col, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _null_like(col: pa.Array, t: pa.DataType) -> pa.Scalar:
    return pa.scalar(None, t)


def _day_matches(text: pa.Array, ts: pa.Array) -> pa.Array:
    """strptime rolls 2024-02-30 over to 03-01; the day then differs from the text's."""
    parsed = pc.if_else(pc.is_valid(ts), pc.utf8_slice_codeunits(text, 8, 10), None)
    day = pc.cast(parsed, pa.int64())  # digits wherever strptime succeeded
    return pc.fill_null(pc.equal(pc.cast(pc.day(ts), pa.int64()), day), False)


def _date_general(col: pa.Array) -> pa.Array:
    """Any spelling, Excel serials included (the slow path, for rows not in ISO form)."""
    text = _datetime_text(col)
    head = pc.utf8_slice_codeunits(text, 0, 10)
    head = pc.if_else(pc.match_substring_regex(head, r"^\d{4}-\d{2}-\d{2}$"), head, None)
    ts = pc.strptime(head, format="%Y-%m-%d", unit="s", error_is_null=True)
    ts = pc.if_else(_day_matches(head, ts), ts, _null_like(ts, ts.type))
    out = pc.cast(ts, pa.date32())
    excel = pc.match_substring_regex(col, _EXCEL_RE)
    if _any(excel):
        days = pc.cast(pc.floor(pc.cast(pc.if_else(excel, col, None), pa.float64())), pa.int32())
        days = pc.cast(pc.add(days, EXCEL_EPOCH_DAYS), pa.int32())
        out = pc.coalesce(out, days.view(pa.date32()))
    # A date with a non-midnight time part is not a date.
    tail = pc.utf8_slice_codeunits(text, 10)
    extra = pc.and_(
        pc.greater(pc.utf8_length(tail), 0),
        pc.invert(pc.match_substring_regex(tail, r"^ 00:00(:00)?$")),
    )
    return pc.if_else(pc.fill_null(extra, False), pa.scalar(None, pa.date32()), out)


# Byte layouts of the ISO forms: "d" a digit, "?" a space or a "T", anything else itself.
DATE_LAYOUT = "dddd-dd-dd"
DATETIME_LAYOUT = "dddd-dd-dd?dd:dd:dd"
_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)


def _number(m: np.ndarray, start: int, end: int) -> np.ndarray:
    out = np.zeros(len(m), np.int64)
    for j in range(start, end):
        out = out * 10 + (m[:, j].astype(np.int64) - 48)
    return out


def parse_iso(col: pa.Array, layout: str) -> tuple[np.ndarray, pa.Array]:
    """Values laid out exactly as ``layout`` (checked byte by byte; "-" may also be "/"),
    parsed with integer arithmetic: ``(shaped, parsed)``. ``parsed`` is date32 (``DATE_LAYOUT``) or naive
    timestamp[s] (``DATETIME_LAYOUT``), null where a value is not shaped or is not a
    real date/time (1990-02-30, 24:00:00). Same rules as strptime with a day check:
    proleptic Gregorian calendar, years 0000-9999, hours 00-23, minutes 00-59.
    """
    n, width = len(col), len(layout)
    timed = width > 10
    offsets, data = _value_bytes(col)
    shaped = np.diff(offsets) == width
    if col.null_count:
        shaped &= col.is_valid().to_numpy(zero_copy_only=False)
    if shaped.all():  # the usual case: the values are the rows of a byte matrix
        rows = np.arange(n)
        m = data[offsets[0] : offsets[0] + n * width].reshape(n, width)
    else:
        rows = np.flatnonzero(shaped)
        m = data[offsets[rows][:, None] + np.arange(width)]
    ok = np.ones(len(rows), bool)
    for j, c in enumerate(layout):
        if c == "d":
            ok &= (m[:, j] - 48) < 10  # uint8: bytes below "0" wrap round to large
        elif c == "?":
            ok &= (m[:, j] == 32) | (m[:, j] == 84)
        elif c == "-":  # 2024/01/05 (Excel's spelling) is the same date
            ok &= (m[:, j] == 45) | (m[:, j] == 47)
        else:
            ok &= m[:, j] == ord(c)
    shaped[rows[~ok]] = False
    rows, m = rows[ok], m[ok]
    year, month, day = _number(m, 0, 4), _number(m, 5, 7), _number(m, 8, 10)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _DAYS_IN_MONTH[np.clip(month - 1, 0, 11)] + (leap & (month == 2))
    valid = (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)
    # Days since 1970-01-01 (H. Hinnant's days_from_civil).
    y = year - (month <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    if timed:
        hour, minute, second = _number(m, 11, 13), _number(m, 14, 16), _number(m, 17, 19)
        # strptime takes seconds 60 and 61 (leap seconds) and rolls them over; the day
        # check then refuses the ones that roll into the next day.
        valid &= (hour <= 23) & (minute <= 59) & (second <= 61)
        valid &= ~((hour == 23) & (minute == 59) & (second >= 60))
        value = days * 86400 + hour * 3600 + minute * 60 + second
        full = np.zeros(n, np.int64)
    else:
        value = days
        full = np.zeros(n, np.int32)
    good = np.zeros(n, bool)
    full[rows] = value
    good[rows] = valid
    target = pa.timestamp("s") if timed else pa.date32()
    base = pa.int64() if timed else pa.int32()
    return shaped, pa.array(full, base, mask=~good).view(target)


def _two_speed(col: pa.Array, layout: str, general: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """ISO values and their slashed spelling ``2024/01/05`` (Excel's; the general
    parser's first step makes it ISO) are parsed by :func:`parse_iso`, the norm; only
    the remaining rows pay for ``general``'s canonicalisation."""
    shaped, out = parse_iso(col, layout)
    others = pc.and_(pc.is_valid(col), pa.array(~shaped))
    if _any(others):
        out = pc.replace_with_mask(out, others, general(col.filter(others)))
    return out


def parse_date(col: pa.Array) -> pa.Array:
    return _two_speed(col, DATE_LAYOUT, _date_general)


def _datetime_general(col: pa.Array) -> pa.Array:
    text = _datetime_text(col)
    n = pc.utf8_length(text)
    # Pad to seconds so one format covers dates, minutes and seconds.
    full = pc.if_else(
        pc.equal(n, 10),
        pc.binary_join_element_wise(text, " 00:00:00", ""),
        pc.if_else(pc.equal(n, 16), pc.binary_join_element_wise(text, ":00", ""), text),
    )
    ts = pc.strptime(full, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True)
    ts = pc.if_else(_day_matches(full, ts), ts, _null_like(ts, ts.type))
    excel = pc.match_substring_regex(col, _EXCEL_RE)
    if _any(excel):
        serial = pc.cast(pc.if_else(excel, col, None), pa.float64())
        secs = pc.cast(pc.round(pc.multiply(pc.subtract(serial, 25569.0), 86400.0)), pa.int64())
        ts = pc.coalesce(ts, secs.view(pa.timestamp("s")))
    return ts


def parse_datetime(col: pa.Array) -> pa.Array:
    ts = _two_speed(col, DATETIME_LAYOUT, _datetime_general)
    local = pc.assume_timezone(ts, LOCAL_TZ, ambiguous="earliest", nonexistent="earliest")
    return pc.cast(local, pa.timestamp("us", tz="UTC"))


def _plain_number(col: pa.Array) -> pa.Array:
    """Where ``col`` matches ``_FLOAT_RE``. Digits with at most one dot (the usual
    amount) always do; only the other values go through the regex."""
    simple = pc.ascii_is_decimal(pc.replace_substring(col, ".", "", max_replacements=1))
    rest = pc.fill_null(pc.invert(simple), False)
    if not _any(rest):
        return simple
    return pc.replace_with_mask(simple, rest, pc.match_substring_regex(col.filter(rest), _FLOAT_RE))


def _parse(item: ItemSpec, col: pa.Array) -> tuple[pa.Array, str]:
    """(typed column, failure message). Values that do not parse become null."""
    t = item.arrow_type
    if t == pa.int64():
        fast = _try_cast(col, t)
        if fast is not None:
            return fast, "不是整数"
        ok = pc.match_substring_regex(col, _INT_RE)
        digits = pc.replace_substring_regex(col, r"\.0+$", "")
        return pc.cast(pc.if_else(ok, digits, None), t), "不是整数"
    if t == pa.float64():
        fast = _try_cast(col, t)
        if fast is not None:
            return fast, "不是数值"
        return pc.cast(pc.if_else(_plain_number(col), col, None), t), "不是数值"
    if t == pa.date32():
        return parse_date(col), "不是有效日期"
    if pa.types.is_timestamp(t):
        return parse_datetime(col), "不是有效日期时间"
    if t == pa.bool_():
        low = pc.utf8_lower(col)
        is_true = pc.is_in(low, value_set=pa.array(_TRUE))
        is_false = pc.is_in(low, value_set=pa.array(_FALSE))
        known = pc.or_(is_true, is_false)
        return pc.if_else(known, is_true, pa.scalar(None, pa.bool_())), "不是布尔值（是/否）"
    if t == pa.binary():
        return pc.cast(col, pa.binary()), ""
    return col, ""


@dataclass
class TransformResult:
    accepted: pa.RecordBatch
    rejected: pa.RecordBatch  # REJECT_SCHEMA

    @property
    def n_rejected(self) -> int:
        return self.rejected.num_rows

    def shifted(self, offset: int) -> TransformResult:
        """Rejected rows numbered ``offset`` lines further down (unknown lines stay -1)."""
        if not offset or not self.rejected.num_rows:
            return self
        line = self.rejected.column("line")
        moved = pc.if_else(pc.less(line, 0), line, pc.add(line, offset))
        columns = [moved, *self.rejected.columns[1:]]
        return TransformResult(
            self.accepted, pa.RecordBatch.from_arrays(columns, schema=self.rejected.schema)
        )


@dataclass
class Transformer:
    spec: ResourceSpec
    mapping: list[ColumnMap]
    source_columns: list[str]
    encoding: str | None = None
    # False when the reader knows no byte failed to decode (skips a scan per column).
    check_replacement: bool = True
    _by_target: dict[str, ColumnMap] = field(init=False)

    def __post_init__(self) -> None:
        check_mapping(self.spec, self.mapping, self.source_columns)
        self._by_target = {m.target: m for m in self.mapping}
        self.schema = self.spec.arrow_schema

    def _column(
        self, item: ItemSpec, batch: pa.RecordBatch
    ) -> tuple[pa.Array, list[tuple[pa.Array, str]]]:
        n = batch.num_rows
        m = self._by_target.get(item.column)
        label = f"{item.name}（{item.column}）"
        checks: list[tuple[pa.Array, str]] = []
        if m is None or m.source is None:
            col: pa.Array = pa.nulls(n, item.arrow_type)
        else:
            col = batch.column(m.source)
            if isinstance(col, pa.ChunkedArray):
                col = col.combine_chunks()
            typed = None if pa.types.is_string(col.type) else typed_cast(col, item.arrow_type)
            if typed is not None:
                col = typed  # typed source (Parquet, SQL, JSON numbers): nothing to parse
            else:
                if not pa.types.is_string(col.type):
                    col = _as_text(col)
                if self.check_replacement and item.arrow_type != pa.binary():
                    bad_text = pc.match_substring(col, REPLACEMENT)
                    if _any(bad_text):
                        enc = LABELS.get(self.encoding or "", self.encoding or "来源")
                        checks.append((bad_text, f"{label}含无法按 {enc} 解码的字符"))
                col = _blank_to_null(normalise(col, m.normalize))
                raw_col = col
                col, message = _parse(item, col)
                if message:
                    failed = pc.and_(pc.is_valid(raw_col), pc.is_null(col))
                    if _any(failed):
                        checks.append((failed, f"{label}{message}"))
        if item.length and pa.types.is_string(item.arrow_type):
            too_long = pc.fill_null(pc.greater(pc.utf8_length(col), item.length), False)
            if _any(too_long):
                checks.append((too_long, f"{label}超过长度 {item.length}"))
        if item.is_key:
            missing = pc.is_null(col)
            if _any(missing):
                checks.append((missing, f"{label}为主键，不能为空"))
        return col, checks

    def __call__(
        self, batch: pa.RecordBatch, lines: pa.Array, bad: list[BadRow] | None = None
    ) -> TransformResult:
        columns: list[pa.Array] = []
        checks: list[tuple[pa.Array, str]] = []
        for item in self.spec.items:
            col, item_checks = self._column(item, batch)
            columns.append(col)
            checks.extend(item_checks)
        accepted = pa.RecordBatch.from_arrays(columns, schema=self.schema)
        rejected = _bad_rows(bad or [])
        if checks:
            # Rows failing any check are rejected; their reason is every failed check's
            # message joined with "；". Built for the rejected rows only (a handful),
            # not as a string column over the whole batch.
            masks = [pc.fill_null(mask, False) for mask, _ in checks]
            reject = masks[0]
            for mask in masks[1:]:
                reject = pc.or_(reject, mask)
            accepted = accepted.filter(pc.invert(reject))
            empty = pa.scalar("")
            parts = [
                pc.if_else(mask.filter(reject), pa.scalar(msg + "；"), empty)
                for mask, (_, msg) in zip(masks, checks, strict=True)
            ]
            reason = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "")
            value_rejects = pa.RecordBatch.from_arrays(
                [
                    lines.filter(reject),
                    pc.utf8_rtrim(reason, characters="；"),
                    raw_text(batch.filter(reject)),
                ],
                schema=REJECT_SCHEMA,
            )
            rejected = _concat([rejected, value_rejects])
        return TransformResult(accepted, rejected)


def typed_cast(col: pa.Array, target: pa.DataType) -> pa.Array | None:
    """Cast a typed source column straight to the target type, or None to parse its text.

    Naive timestamps from databases are local time (Asia/Shanghai), like CSV text.
    """
    t = col.type
    try:
        if pa.types.is_null(t):
            return pa.nulls(len(col), target)
        if target == pa.int64() and pa.types.is_integer(t):
            return pc.cast(col, target)
        if target == pa.float64() and (
            pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
        ):
            return pc.cast(col, target)
        if target == pa.bool_() and pa.types.is_boolean(t):
            return col
        if target == pa.date32() and pa.types.is_date(t):
            return pc.cast(col, target)
        if target == pa.date32() and pa.types.is_timestamp(t):
            local = pc.local_timestamp(col) if t.tz else col
            return pc.cast(pc.floor_temporal(local, unit="day"), pa.date32())
        if pa.types.is_timestamp(target) and (pa.types.is_timestamp(t) or pa.types.is_date(t)):
            ts = pc.cast(col, pa.timestamp("us")) if pa.types.is_date(t) else col
            if not ts.type.tz:
                ts = pc.assume_timezone(ts, LOCAL_TZ, ambiguous="earliest", nonexistent="earliest")
            return pc.cast(ts, target)
        if target == pa.binary() and (pa.types.is_binary(t) or pa.types.is_large_binary(t)):
            return pc.cast(col, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return None


def _as_text(col: pa.Array) -> pa.Array:
    t = col.type
    if pa.types.is_null(t):
        return pa.nulls(len(col), pa.string())
    if pa.types.is_timestamp(t) and t.tz:
        col = pc.local_timestamp(pc.cast(col, pa.timestamp(t.unit, LOCAL_TZ)))
    if pa.types.is_decimal(t):
        col = pc.cast(col, pa.float64())
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pc.cast(col, pa.string())
    return pc.cast(col, pa.string())


def raw_text(batch: pa.RecordBatch) -> pa.Array:
    """Each row's fields as one CSV line fragment (always quoted), for rejects download."""
    if batch.num_columns == 0:
        return pa.array([""] * batch.num_rows, pa.string())
    quoted = []
    for col in batch.columns:
        text = col if pa.types.is_string(col.type) else _as_text(col)
        text = pc.replace_substring(text, '"', '""')
        quoted.append(pc.binary_join_element_wise('"', text, '"', ""))
    return pc.binary_join_element_wise(*quoted, ",", null_handling="replace", null_replacement="")


def _bad_rows(bad: list[BadRow]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(
        [{"line": b.line, "reason": b.reason, "raw": b.raw} for b in bad], schema=REJECT_SCHEMA
    )


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    batches = [b for b in batches if b.num_rows]
    if not batches:
        return pa.RecordBatch.from_pylist([], schema=REJECT_SCHEMA)
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]
