"""DuckDB-native reads of open datasets: the hot path behind the row API, CKAN
``datastore_search`` and the portal preview.

Compiling an Ibis expression costs more than running a 100-row page, so on DuckDB:

- the open view of a dataset (row filter, published items, masking: ``query.published``)
  is compiled by Ibis once per table version and kept as SQL text;
- user filters, full text, sort, keyset cursors and paging are added as SQL with bound
  parameters (values are never spliced into the text), mirroring ``query.condition``,
  ``query.full_text`` and ``query.after`` exactly (``tests/opendata/test_native.py``
  compares both paths on tricky inputs);
- totals are cached per table version and filter; a deep ``offset`` reads a cached
  *page index* (the key columns of every matching row, in sort order) and fetches only
  the page's rows by key, so page 5,000 costs about what page 1 costs.

Everything is keyed on ``Warehouse.data_version(table)``, which changes on every
publish, so the request after a load sees the new rows. The caches hold only what the
open view yields (rows already filtered and masked), and governance is checked before
any read, so nothing cached here can outlive a withdrawal or a catalog change. Engines
without a native cursor or a data version (Spark) take the Ibis path in
``service.read_rows``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from gongshu.errors import ValidationFailed
from gongshu.opendata import query
from gongshu.warehouse import Warehouse, parsed_statement

Sql = tuple[str, list[Any]]
COMPARE = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class LRU:
    """A small thread-safe LRU bounded by entry count and (optionally) total bytes."""

    def __init__(self, max_entries: int, max_bytes: int | None = None) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._data: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None
            self._data.move_to_end(key)
            return hit[0]

    def put(self, key: Hashable, value: Any, size: int = 0) -> None:
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._data[key] = (value, size)
            self._bytes += size
            while self._data and (
                len(self._data) > self.max_entries
                or (self.max_bytes is not None and self._bytes > self.max_bytes)
            ):
                _, (_, dropped) = self._data.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._data)


def _index_budget() -> int:
    from gongshu.opendata.config import open_settings

    return max(0, open_settings().page_index_mb) * 1024 * 1024


_views = LRU(256)
_counts = LRU(4096)
_indexes = LRU(64, _index_budget())
_building: dict[Hashable, threading.Lock] = {}
_building_lock = threading.Lock()
_TOO_BIG = "too-big"  # an index that exceeded the budget: not built again for this version


def clear_caches() -> None:
    """Forget every cached view, total and page index (tests, settings changes)."""
    _views.clear()
    _counts.clear()
    _indexes.clear()
    _indexes.max_bytes = _index_budget()


@dataclass
class View:
    """The open view of one dataset as DuckDB SQL, for one version of its table."""

    key: Hashable
    sql: str
    columns: tuple[str, ...]
    types: dict[str, Any]  # column -> ibis dtype
    strings: tuple[str, ...]  # text columns (CKAN ``q``)
    # Arrow types when every column converts from Python values (the canonical warehouse
    # types do): small pages are then built from DuckDB's tuples, skipping its Arrow
    # export, which costs more than the query itself for 100 rows.
    arrow: dict[str, pa.DataType] | None = None


def view(
    wh: Warehouse,
    table: str,
    columns: Sequence[query.Column],
    row_filter: Sequence[dict[str, Any]],
) -> View | None:
    """The compiled open view, or ``None`` when this warehouse has no native path.

    Raises ``TableNotFoundError`` when the table does not exist, like ``wh.table``.
    """
    version = wh.data_version(table)
    if version is None or wh.native_cursor() is None:
        return None
    key = (
        version,
        table,
        tuple(columns),
        orjson.dumps(list(row_filter), option=orjson.OPT_SORT_KEYS),
    )
    found = _views.get(key)
    if found is None:
        expr = query.published(wh.table(table), columns, row_filter)
        schema = expr.schema()
        arrow = schema.to_pyarrow()
        found = View(
            key=key,
            sql=ibis.to_sql(expr, dialect="duckdb"),
            columns=tuple(schema.names),
            types=dict(schema.items()),
            strings=tuple(n for n, t in schema.items() if t.is_string()),
            arrow={f.name: f.type for f in arrow} if all(map(_simple, arrow.types)) else None,
        )
        _views.put(key, found)
    return found


def _simple(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(t)
        or pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_date32(t)
        or pa.types.is_decimal(t)
        or pa.types.is_binary(t)
        or (pa.types.is_timestamp(t) and t.tz in (None, "UTC"))
    )


# ---- SQL fragments mirroring query.py ------------------------------------------------


def _and(a: Sql, b: Sql) -> Sql:
    return f"({a[0]}) AND ({b[0]})", a[1] + b[1]


def _or(a: Sql, b: Sql) -> Sql:
    return f"({a[0]}) OR ({b[0]})", a[1] + b[1]


def _not_null(a: Sql) -> Sql:
    """Ibis' ``fill_null(False)``: a NULL condition excludes the row."""
    return f"COALESCE(({a[0]}), FALSE)", a[1]


def condition(v: View, c: query.Cond) -> Sql:
    """``query.condition`` as SQL (same checks, same messages, same coercion)."""
    if c.column not in v.types:
        raise ValidationFailed(f"字段 {c.column} 不存在或未开放", code="bad_filter")
    col, dtype = _q(c.column), v.types[c.column]
    if c.op == "notnull":
        return _not_null((f"{col} IS NOT NULL", []))
    if c.op == "in":
        values = c.value if isinstance(c.value, list) else str(c.value).split(",")
        if not values or len(values) > 200:
            raise ValidationFailed("in 条件须给出 1–200 个取值", code="bad_filter")
        coerced = [query._coerce(x, dtype, c.column) for x in values]
        return _not_null((f"{col} IN ({', '.join('?' * len(coerced))})", coerced))
    if c.op == "contains":
        return _not_null((f"contains(CAST({col} AS VARCHAR), ?)", [str(c.value)]))
    value = query._coerce(c.value, dtype, c.column)
    if value is None:
        return _not_null((f"{col} IS NULL" if c.op == "eq" else f"{col} IS NOT NULL", []))
    if c.op not in COMPARE:
        raise ValidationFailed(f"不支持的运算符 {c.op}", code="bad_filter")
    return _not_null((f"{col} {COMPARE[c.op]} ?", [value]))


def full_text(v: View, q: str) -> list[Sql]:
    """``query.full_text``: every word in some text column."""
    words = [w for w in q.split() if w][:5]
    if not words or not v.strings:
        return []
    out = []
    for w in words:
        hit = " OR ".join(f"contains({_q(c)}, ?)" for c in v.strings)
        out.append(_not_null((hit, [w] * len(v.strings))))
    return out


def after(v: View, order: Sequence[tuple[str, bool]], values: Sequence[Any]) -> Sql:
    """``query.after``: rows strictly after the cursor in ``order`` (nulls last)."""
    if len(values) != len(order):
        raise ValidationFailed("分页游标无效", code="bad_cursor")
    cond: Sql | None = None
    tie: Sql | None = None
    for (c, desc), raw in zip(order, values, strict=True):
        col = _q(c)
        value = query._coerce(raw, v.types[c], c)
        if value is None:
            beyond: Sql = ("FALSE", [])
            same: Sql = (f"{col} IS NULL", [])
        else:
            beyond = (f"({col} {'<' if desc else '>'} ?) OR ({col} IS NULL)", [value])
            same = (f"{col} = ?", [value])
        step = beyond if tie is None else _and(tie, beyond)
        cond = step if cond is None else _or(cond, step)
        tie = same if tie is None else _and(tie, same)
    assert cond is not None
    return _not_null(cond)


def _where(parts: Sequence[Sql]) -> Sql:
    if not parts:
        return "TRUE", []
    return " AND ".join(f"({p[0]})" for p in parts), [x for p in parts for x in p[1]]


def _order_sql(order: Sequence[tuple[str, bool]], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{_q(c)} {'DESC' if desc else 'ASC'} NULLS LAST" for c, desc in order)


# ---- reading -------------------------------------------------------------------------


def _run(wh: Warehouse, sql: str, params: list[Any]) -> pa.Table:
    cur = wh.native_cursor()
    assert cur is not None
    return cur.sql(sql, params=params or None).to_arrow_table()


def _page(
    wh: Warehouse,
    v: View,
    select: Sequence[str],
    sql: str,
    params: list[Any],
    key_type_of: str | None = None,
) -> pa.Table:
    """A small result as Arrow with the view's types (the same table ``_run`` gives).
    ``key_type_of``: the view column whose type the extra ``__k`` column has."""
    if v.arrow is None:
        return _run(wh, sql, params)
    cur = wh.native_cursor()
    assert cur is not None
    rows = cur.execute(parsed_statement(cur, sql), params).fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(select)
    types = [v.arrow[key_type_of if n == "__k" and key_type_of else n] for n in select]
    return pa.table(
        [pa.array(c, type=t) for c, t in zip(columns, types, strict=True)], names=list(select)
    )


def _count(wh: Warehouse, v: View, where: Sql) -> int:
    key = (v.key, where[0], orjson.dumps(where[1], default=str))
    n = _counts.get(key)
    if n is None:
        sql = f"SELECT count(*) FROM ({v.sql}) AS v WHERE {where[0]}"
        n = int(_run(wh, sql, where[1]).column(0)[0].as_py())
        _counts.put(key, n)
    return int(n)


def _page_index(
    wh: Warehouse, v: View, where: Sql, order: Sequence[tuple[str, bool]], keys: Sequence[str]
) -> pa.Table | None:
    """Key columns of every matching row in ``order`` (cached), or None if over budget."""
    key = _index_key_of(v, where, order, keys)
    idx = _indexes.get(key)
    if idx is None:
        with _building_lock:
            lock = _building.setdefault(key, threading.Lock())
        try:
            with lock:  # one build per shape; concurrent requests wait for it
                idx = _indexes.get(key)
                if idx is None:
                    idx = _build_index(wh, v, where, order, keys)
                    size = 0 if isinstance(idx, str) else idx.nbytes
                    _indexes.put(key, idx, size)
        finally:
            with _building_lock:
                _building.pop(key, None)
    return None if isinstance(idx, str) else idx


def _build_index(
    wh: Warehouse, v: View, where: Sql, order: Sequence[tuple[str, bool]], keys: Sequence[str]
) -> pa.Table | str:
    # One index may take a quarter of the budget; bigger shapes page by OFFSET. Keys take
    # at least 8 bytes a row, so most oversized shapes are known before sorting them.
    budget = (_indexes.max_bytes or 0) // 4
    if _count(wh, v, where) * 8 * len(keys) > budget:
        return _TOO_BIG
    sql = (
        f"SELECT {', '.join(_q(k) for k in keys)} FROM ({v.sql}) AS v "
        f"WHERE {where[0]} ORDER BY {_order_sql(order)}"
    )
    idx = _run(wh, sql, where[1]).combine_chunks()
    return _TOO_BIG if idx.nbytes > budget else idx


def _by_keys(
    wh: Warehouse,
    v: View,
    select: Sequence[str],
    where: Sql,
    order: Sequence[tuple[str, bool]],
    keys: Sequence[str],
    page: pa.Table,
) -> pa.Table | None:
    """Rows of the view whose keys are the page's, in the page's order (None when the
    keys do not map one-to-one to rows: duplicate or NULL keys)."""
    cols = ", ".join(f"v.{_q(c)}" for c in select)
    first = _q(keys[0])
    lo, hi = page.column(0)[0].as_py(), page.column(0)[-1].as_py()
    if len(keys) == 1 and list(order) == [(keys[0], False)]:
        # In key order the page is exactly the matching rows between its first and last
        # key: a range scan, which skips every row group outside it.
        if lo is None or hi is None:
            return None
        sql = (
            f"SELECT {cols} FROM ({v.sql}) AS v WHERE ({where[0]}) "
            f"AND v.{first} BETWEEN ? AND ? ORDER BY v.{first}"
        )
        got = _page(wh, v, select, sql, [*where[1], lo, hi])
    elif len(keys) == 1:
        # Scattered keys: a semi-join on the key list (cheaper than a join keeping
        # positions), then the rows are put in the page's order here.
        if lo is None or hi is None:
            return None
        wanted = page.column(0).to_pylist()
        lo_hi = pc.min_max(page.column(0))
        sql = (
            f"SELECT {cols}, v.{first} AS __k FROM ({v.sql}) AS v WHERE ({where[0]}) "
            f"AND v.{first} IN (SELECT unnest(?)) AND v.{first} BETWEEN ? AND ?"
        )
        params = [*where[1], wanted, lo_hi["min"].as_py(), lo_hi["max"].as_py()]
        got = _page(wh, v, [*select, "__k"], sql, params, key_type_of=keys[0])
        if got.num_rows != len(wanted):
            return None
        at = {k: i for i, k in enumerate(got.column("__k").to_pylist())}
        if len(at) != len(wanted) or any(k not in at for k in wanted):
            return None
        return got.take([at[k] for k in wanted]).drop_columns(["__k"])
    else:
        n = page.num_rows
        unnest = ", ".join(f"unnest(?) AS __k{i}" for i in range(len(keys)))
        on = " AND ".join(f"v.{_q(k)} = p.__k{i}" for i, k in enumerate(keys))
        # The first key's range lets DuckDB skip row groups when rows are stored roughly
        # in key order (loads usually append in key order).
        lo_hi = pc.min_max(page.column(0))
        params = [page.column(k).to_pylist() for k in keys] + [n] + where[1]
        params += [lo_hi["min"].as_py(), lo_hi["max"].as_py()]
        sql = (
            f"SELECT {cols} FROM ({v.sql}) AS v "
            f"JOIN (SELECT {unnest}, unnest(range(?)) AS __pos) AS p ON {on} "
            f"WHERE ({where[0]}) AND v.{first} BETWEEN ? AND ? ORDER BY p.__pos"
        )
        got = _page(wh, v, select, sql, params)
    return got if got.num_rows == page.num_rows else None


def read(
    wh: Warehouse,
    v: View,
    *,
    where: Sequence[Sql],
    order: Sequence[tuple[str, bool]],
    keys: Sequence[str],
    select: Sequence[str],
    limit: int,
    offset: int,
    cursor: Sequence[Any] | None,
    want_total: bool,
) -> tuple[pa.Table, int | None]:
    """One page of the view (``select`` columns) and, when asked, the matching total."""
    cond = _where(where)
    cols = ", ".join(f"v.{_q(c)}" for c in select)
    order_sql = f" ORDER BY {_order_sql(order, 'v.')}" if order else ""
    total: int | None = None
    table: pa.Table | None = None
    if cursor is not None:
        page_cond = _where([*where, after(v, order, cursor)])
        sql = f"SELECT {cols} FROM ({v.sql}) AS v WHERE {page_cond[0]}{order_sql} LIMIT ?"
        table = _page(wh, v, select, sql, [*page_cond[1], limit])
    elif offset > 0 and keys:
        idx = _page_index(wh, v, cond, order, keys)
        if idx is not None:
            total = idx.num_rows
            page = idx.slice(offset, limit)
            if page.num_rows == 0:
                table = _page(wh, v, select, f"SELECT {cols} FROM ({v.sql}) AS v LIMIT 0", [])
            else:
                table = _by_keys(wh, v, select, cond, order, keys, page)
                if table is None:
                    # Keys that do not identify rows: this shape pages by OFFSET from now
                    # on (always correct, just slower).
                    _indexes.put(_index_key_of(v, cond, order, keys), _TOO_BIG)
    if table is None:
        sql = f"SELECT {cols} FROM ({v.sql}) AS v WHERE {cond[0]}{order_sql} LIMIT ? OFFSET ?"
        table = _page(wh, v, select, sql, [*cond[1], limit, offset])
    if want_total and total is None:
        total = _count(wh, v, cond)
    return table, total


def _index_key_of(
    v: View, where: Sql, order: Sequence[tuple[str, bool]], keys: Sequence[str]
) -> Hashable:
    return (v.key, where[0], orjson.dumps(where[1], default=str), tuple(order), tuple(keys))
