"""Fast keyed reads for the gateway, on the process-wide warehouse
(``gongshu.warehouse.shared``: the server owns the DuckDB file).

Point lookups need a lean path: compiling an Ibis expression per call costs more
than the query, so on DuckDB the gateway runs parameterised SQL on the calling thread's
warehouse cursor (the same per-thread cursor the warehouse hands Ibis) and keeps an ART
index on each published key column. Other engines (Spark) go through Ibis expressions.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from gongshu.warehouse import (
    Warehouse,
    parsed_statement,
    validate_column_name,
    validate_table_name,
)

log = logging.getLogger("gongshu.sharing")
# Results here are a handful of rows; the extra copy DuckDB warns about is negligible.
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)


# DuckDB result type names → Arrow types for small results built from tuples.
_ARROW: dict[str, Any] = {
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "SMALLINT": pa.int16(),
    "TINYINT": pa.int8(),
    "DOUBLE": pa.float64(),
    "FLOAT": pa.float32(),
    "BOOLEAN": pa.bool_(),
    "STRING": pa.string(),
}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ensure_key_index(wh: Warehouse, table: str, column: str) -> bool:
    """An ART index on ``table(column)`` so a point lookup reads one leaf, not a scan.

    Full publishes replace the table (and drop its indexes); the gateway calls this again
    whenever it reloads its cache. Failure is harmless: the lookup still works, by scan.
    """
    validate_table_name(table)
    validate_column_name(column)
    cur = wh.native_cursor()
    if cur is None or not wh.exists(table):
        return False
    name = f"gs_ix_{table}_{column}"[:63]
    try:
        found = cur.execute(
            "SELECT count(*) FROM duckdb_indexes() WHERE table_name = ? AND index_name = ?",
            [table, name],
        ).fetchall()[0][0]
        if not found:
            cur.execute(f"CREATE INDEX IF NOT EXISTS {_q(name)} ON {_q(table)} ({_q(column)})")
        return True
    except Exception:  # a concurrent publish; the next reload retries
        log.warning("could not index %s(%s)", table, column, exc_info=True)
        return False


@dataclass(frozen=True, slots=True)
class Rows:
    """A small keyed-read result as Python tuples: the gateway shapes a handful of rows
    faster in Python than through Arrow, whose per-call setup dominates at this size."""

    columns: tuple[str, ...]
    types: tuple[pa.DataType | None, ...]  # None: not mapped, inferred by Arrow
    rows: list[tuple[Any, ...]]

    def with_rows(self, rows: list[tuple[Any, ...]]) -> Rows:
        return Rows(self.columns, self.types, rows)

    def to_arrow(self) -> pa.Table:
        data = list(zip(*self.rows, strict=True)) if self.rows else [()] * len(self.columns)
        arrays = [
            pa.array(col, t) if t is not None or col else pa.array(col, pa.null())
            for col, t in zip(data, self.types, strict=True)
        ]
        return pa.table(arrays, names=list(self.columns))

    @classmethod
    def from_arrow(cls, table: pa.Table) -> Rows:
        cols = [c.to_pylist() for c in table.columns]
        rows = list(zip(*cols, strict=True)) if cols else []
        return cls(tuple(table.column_names), tuple(table.schema.types), rows)


def _key_sql(table: str, columns: Sequence[str], key: str, n: int) -> str:
    where = f"{_q(key)} = ?" if n == 1 else f"{_q(key)} IN ({', '.join('?' * n)})"
    return f"SELECT {', '.join(_q(c) for c in columns)} FROM {_q(table)} WHERE {where}"


def lookup_rows(
    wh: Warehouse, table: str, columns: Sequence[str], key: str, keys: Sequence[str]
) -> Rows:
    """Rows of ``table`` whose ``key`` is one of ``keys`` (runs on the calling thread).

    On DuckDB one parameterised statement on the thread's cursor, answered through the
    ART index on ``key`` (see :func:`ensure_key_index`), fetched as tuples.
    """
    cur = wh.native_cursor()
    if cur is not None:
        sql = _key_sql(table, columns, key, len(keys))
        result = cur.execute(parsed_statement(cur, sql), list(keys))
        types = tuple(_ARROW.get(str(d[1]).upper()) for d in result.description)
        return Rows(tuple(columns), types, result.fetchall())
    t = wh.table(table)
    return Rows.from_arrow(wh.to_pyarrow(t.filter(t[key].isin(list(keys))).select(list(columns))))


def lookup(
    wh: Warehouse, table: str, columns: Sequence[str], key: str, keys: Sequence[str]
) -> pa.Table:
    """:func:`lookup_rows` as an Arrow table."""
    return lookup_rows(wh, table, columns, key, keys).to_arrow()


def page(
    wh: Warehouse,
    table: str,
    columns: Sequence[str],
    order: Sequence[str],
    since: Any | None,
    offset: int,
    limit: int,
    row_filter: tuple[str, Sequence[str]] | None,
) -> pa.Table:
    """A page ordered by ``order``: rows whose ``order[0]`` is at least ``since`` (when
    given), skipping ``offset`` rows. Cursors carry no row values (see kinds.ExportKind)."""
    cur = wh.native_cursor()
    if cur is None:
        return _page_ibis(wh, table, columns, order, since, offset, limit, row_filter)
    params: list[Any] = []
    conds: list[str] = []
    if row_filter is not None:
        col, values = row_filter
        conds.append(f"{_q(col)} IN ({', '.join('?' * len(values))})")
        params.extend(values)
    if since is not None:
        conds.append(f"{_q(order[0])} >= ?")
        params.append(since)
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    cols = ", ".join(_q(c) for c in dict.fromkeys([*columns, *order]))
    sql = (
        f"SELECT {cols} FROM {_q(table)}{where} "
        f"ORDER BY {', '.join(_q(c) for c in order)} LIMIT {int(limit)} OFFSET {int(offset)}"
    )
    return cur.execute(sql, params).to_arrow_table()


def _page_ibis(
    wh: Warehouse,
    table: str,
    columns: Sequence[str],
    order: Sequence[str],
    since: Any | None,
    offset: int,
    limit: int,
    row_filter: tuple[str, Sequence[str]] | None,
) -> pa.Table:
    t = wh.table(table)
    if row_filter is not None:
        t = t.filter(t[row_filter[0]].isin(list(row_filter[1])))
    if since is not None:
        t = t.filter(t[order[0]] >= since)
    cols = list(dict.fromkeys([*columns, *order]))
    return wh.to_pyarrow(t.select(cols).order_by(list(order)).limit(limit, offset=offset))
