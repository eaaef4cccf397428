"""Open-data reads as Ibis expressions: published items, masking, row filter, user filters,
sort and keyset pagination. Runs unchanged on DuckDB and Spark."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from gongshu import masking
from gongshu.errors import ValidationFailed

MAX_LIMIT = 1000
OPS = ("eq", "ne", "gt", "ge", "lt", "le", "in", "notnull", "contains")


@dataclass(frozen=True)
class Column:
    column: str
    name: str
    data_type: str
    masking: str
    description: str | None = None


@dataclass(frozen=True)
class Cond:
    column: str
    op: str
    value: Any = None


def _coerce(value: Any, dtype: Any, column: str) -> Any:
    """A user-supplied filter value as the column's type (bad input → 422, never 500)."""
    if value is None:
        return None
    try:
        if dtype.is_integer():
            return int(value)
        if dtype.is_floating() or dtype.is_decimal():
            return float(value)
        if dtype.is_boolean():
            if isinstance(value, bool):
                return value
            return str(value).lower() in ("1", "true", "是", "yes")
        if dtype.is_timestamp():
            ts = dt.datetime.fromisoformat(str(value))
            return ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)
        if dtype.is_date():
            return dt.date.fromisoformat(str(value)[:10])
    except (TypeError, ValueError):
        raise ValidationFailed(
            f"字段 {column} 的取值“{value}”格式不正确", code="bad_filter"
        ) from None
    return str(value)


def condition(t: ir.Table, c: Cond) -> ir.BooleanValue:
    if c.column not in t.columns:
        raise ValidationFailed(f"字段 {c.column} 不存在或未开放", code="bad_filter")
    col = t[c.column]
    dtype = col.type()
    if c.op == "notnull":
        return col.notnull()
    if c.op == "in":
        values = c.value if isinstance(c.value, list) else str(c.value).split(",")
        if not values or len(values) > 200:
            raise ValidationFailed("in 条件须给出 1–200 个取值", code="bad_filter")
        return col.isin([_coerce(v, dtype, c.column) for v in values])
    if c.op == "contains":
        return col.cast("string").contains(str(c.value))
    v = _coerce(c.value, dtype, c.column)
    if v is None:
        return col.isnull() if c.op == "eq" else col.notnull()
    ops = {
        "eq": col.__eq__,
        "ne": col.__ne__,
        "gt": col.__gt__,
        "ge": col.__ge__,
        "lt": col.__lt__,
        "le": col.__le__,
    }
    if c.op not in ops:
        raise ValidationFailed(f"不支持的运算符 {c.op}", code="bad_filter")
    return ops[c.op](v)


def published(
    t: ir.Table,
    columns: Sequence[Column],
    row_filter: Sequence[dict[str, Any]] = (),
) -> ir.Table:
    """The open view: row filter on the raw table, then only published items, masked."""
    for f in row_filter:
        t = t.filter(condition(t, Cond(f["column"], f["op"], f.get("value"))))
    return t.select([masking.apply(c.masking, t[c.column]) for c in columns])


def full_text(t: ir.Table, q: str) -> ir.Table:
    """CKAN-style ``q``: rows where any text column contains the words."""
    words = [w for w in q.split() if w][:5]
    text_cols = [t[c] for c in t.columns if t[c].type().is_string()]
    if not words or not text_cols:
        return t
    for w in words:
        hit = text_cols[0].contains(w)
        for col in text_cols[1:]:
            hit = hit | col.contains(w)
        t = t.filter(hit.fill_null(False))
    return t


def parse_sort(spec: str | None, columns: Sequence[str]) -> list[tuple[str, bool]]:
    """``"col1 desc, col2"`` → ``[("col1", True), ("col2", False)]`` (True = descending)."""
    out: list[tuple[str, bool]] = []
    for part in (spec or "").split(","):
        bits = part.strip().split()
        if not bits:
            continue
        col = bits[0].lstrip("-")
        desc = bits[0].startswith("-") or (len(bits) > 1 and bits[1].lower() == "desc")
        if col not in columns:
            raise ValidationFailed(f"排序字段 {col} 不存在或未开放", code="bad_sort")
        out.append((col, desc))
    return out[:5]


def order(t: ir.Table, sort: Sequence[tuple[str, bool]]) -> ir.Table:
    if not sort:
        return t
    keys = [
        ibis.desc(t[c], nulls_first=False) if d else ibis.asc(t[c], nulls_first=False)
        for c, d in sort
    ]
    return t.order_by(keys)


def after(t: ir.Table, sort: Sequence[tuple[str, bool]], values: Sequence[Any]) -> ir.Table:
    """Rows strictly after the cursor ``values`` in ``sort`` order (nulls last)."""
    if len(values) != len(sort):
        raise ValidationFailed("分页游标无效", code="bad_cursor")
    cond: ir.BooleanValue | None = None
    tie: ir.BooleanValue | None = None
    for (c, desc), v in zip(sort, values, strict=True):
        col = t[c]
        v = _coerce(v, col.type(), c)
        if v is None:
            beyond: ir.BooleanValue = ibis.literal(False)
            same = col.isnull()
        else:
            beyond = (col < v if desc else col > v) | col.isnull()
            same = col == v
        step = beyond if tie is None else (tie & beyond)
        cond = step if cond is None else (cond | step)
        tie = same if tie is None else (tie & same)
    assert cond is not None
    return t.filter(cond.fill_null(False))


def _plain(v: Any) -> Any:
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    return v


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([_plain(v) for v in values])).decode().rstrip("=")


def decode_cursor(token: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = orjson.loads(raw)
    except (ValueError, orjson.JSONDecodeError):
        raise ValidationFailed("分页游标无效", code="bad_cursor") from None
    if not isinstance(values, list):
        raise ValidationFailed("分页游标无效", code="bad_cursor")
    return values


def jsonable(table: pa.Table) -> list[dict[str, Any]]:
    """Arrow rows as JSON-ready dicts: temporal columns become ISO strings in Arrow."""
    cols = {}
    for name in table.column_names:
        col = table[name]
        t = col.type
        if pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_time(t):
            col = pc.cast(col, pa.string())
        elif pa.types.is_decimal(t):
            col = pc.cast(col, pa.float64())
        elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
            col = pa.nulls(len(col), pa.string())
        cols[name] = col
    return pa.table(cols).to_pylist() if cols else []


def field_type(dtype: Any) -> str:
    """CKAN datastore field type names."""
    if dtype.is_integer():
        return "int"
    if dtype.is_floating() or dtype.is_decimal():
        return "numeric"
    if dtype.is_boolean():
        return "bool"
    if dtype.is_timestamp():
        return "timestamp"
    if dtype.is_date():
        return "date"
    return "text"
