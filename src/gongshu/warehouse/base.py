"""Engine-neutral parts of the warehouse: names, schemas, errors and the abstract API.

The concrete engines live in :mod:`gongshu.warehouse.duckdb_engine` and
:mod:`gongshu.warehouse.spark_engine`; everything here is shared so that both
engines accept exactly the same names, types and inputs.
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

LOAD_ID_COLUMN = "_load_id"
STAGING_PREFIX = "_stg_"
MAX_NAME_LENGTH = 63
DEFAULT_BATCH_SIZE = 65_536

PublishMode = Literal["full", "incremental"]
AppendInput = pa.RecordBatch | pa.Table | pa.RecordBatchReader | ir.Table

_TABLE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_COLUMN_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# A catalog code: ASCII letters/digits in groups joined by - _ . / or spaces.
_CODE_RE = re.compile(r"^[A-Za-z0-9]+(?:[-_./ ][A-Za-z0-9]+)*$")
_INT64_MAX = 2**63 - 1


class WarehouseError(Exception):
    """Base class of every error raised by the warehouse layer."""


class TableNotFoundError(WarehouseError, LookupError):
    """The named table is not published."""

    def __init__(self, name: str) -> None:
        super().__init__(f"table not found: {name}")
        self.name = name


class SchemaError(WarehouseError, ValueError):
    """A schema or a batch does not fit what the warehouse stores."""


class LoadStateError(WarehouseError):
    """A stage was used after it was published or aborted."""


# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------


def validate_table_name(name: str) -> str:
    """Return ``name`` if it is a safe published-table name, else raise ValueError.

    Safe means lowercase ASCII ``[a-z0-9_]``, starting with a letter, at most 63
    characters: valid unquoted in DuckDB and Spark SQL and as a directory name.
    Names starting with ``_`` are reserved for staging and internal objects.
    """
    if not isinstance(name, str) or not _TABLE_NAME_RE.fullmatch(name):
        raise ValueError(f"unsafe table name {name!r}: use [a-z][a-z0-9_]*")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"table name {name!r} longer than {MAX_NAME_LENGTH} characters")
    return name


def validate_column_name(name: str) -> str:
    """Return ``name`` if it is a safe user column name, else raise ValueError.

    Same rule as tables. Lowercase only, because DuckDB and Spark both match
    identifiers case-insensitively and ``A``/``a`` would silently collide.
    """
    if not isinstance(name, str) or not _COLUMN_NAME_RE.fullmatch(name):
        raise ValueError(f"unsafe column name {name!r}: use [a-z][a-z0-9_]*")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"column name {name!r} longer than {MAX_NAME_LENGTH} characters")
    return name


def _code_to_identifier(code: str, prefix: str) -> str:
    if not isinstance(code, str) or not _CODE_RE.fullmatch(code.strip()):
        raise ValueError(
            f"unsafe code {code!r}: only ASCII letters and digits separated by - _ . / or space"
        )
    body = re.sub(r"[^a-z0-9]+", "_", code.strip().lower())
    name = f"{prefix}{body}"
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"code {code!r} too long for a table or column name")
    return name


def table_name_for(resource_code: str) -> str:
    """Map a catalog resource code to its warehouse table name.

    ``JC-330600-SJJ-000123`` -> ``r_jc_330600_sjj_000123``. Separators collapse to
    ``_``, so codes differing only by separator map to the same table (catalog codes
    are unique up to that by convention). Anything outside ASCII letters, digits
    and the separators raises ValueError.
    """
    return validate_table_name(_code_to_identifier(resource_code, "r_"))


def column_name_for(item_code: str) -> str:
    """Map a catalog item code (``XM``, ``SFZH-1``) to a safe column name (``xm``, ``sfzh_1``).

    Codes starting with a digit get a ``c_`` prefix.
    """
    name = _code_to_identifier(item_code, "")
    if not name[0].isalpha():
        name = f"c_{name}"
    return validate_column_name(name)


def validate_load_id(load_id: int) -> int:
    if isinstance(load_id, bool) or not isinstance(load_id, int):
        raise ValueError(f"load_id must be an int, got {load_id!r}")
    if not 0 <= load_id <= _INT64_MAX:
        raise ValueError(f"load_id {load_id} out of BIGINT range")
    return load_id


# ---------------------------------------------------------------------------
# Schemas: one canonical set of Arrow types that both engines store identically
# ---------------------------------------------------------------------------


def _normalize_type(name: str, t: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(t):
        return _normalize_type(name, t.value_type)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if (
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_binary_view(t)
        or pa.types.is_fixed_size_binary(t)
    ):
        return pa.binary()
    if pa.types.is_boolean(t) or t in (pa.int8(), pa.int16(), pa.int32(), pa.int64()):
        return t
    # Spark has no unsigned integers: widen to the next signed type.
    widened = {pa.uint8(): pa.int16(), pa.uint16(): pa.int32(), pa.uint32(): pa.int64()}
    if t in widened:
        return widened[t]
    if t == pa.float16():
        return pa.float32()
    if t in (pa.float32(), pa.float64()):
        return t
    if pa.types.is_date(t):
        return pa.date32()
    if pa.types.is_timestamp(t):
        if t.tz is None:
            # Storage is UTC (DESIGN.md); a naive value's zone is unknowable here.
            raise SchemaError(
                f"column {name!r}: naive timestamp; attach a time zone first "
                "(e.g. pyarrow.compute.assume_timezone(col, 'Asia/Shanghai'))"
            )
        return pa.timestamp("us", tz="UTC")
    if pa.types.is_decimal(t) and t.precision <= 38:
        return pa.decimal128(t.precision, t.scale)
    raise SchemaError(f"column {name!r}: type {t} is not supported by the warehouse")


def normalize_schema(schema: pa.Schema, *, allow_load_id: bool = False) -> pa.Schema:
    """Validate ``schema`` and map it onto the canonical type set.

    Canonical types: string, binary, bool, int8..int64, float32/64, date32,
    timestamp[us, UTC] and decimal128(p<=38). Unsigned ints widen, large/view/
    dictionary strings become string, tz-aware timestamps become UTC
    microseconds. Naive timestamps, uint64, time, duration, nested and null
    types raise SchemaError. Column names must be safe (see
    :func:`validate_column_name`); ``_load_id`` is reserved.
    """
    if not isinstance(schema, pa.Schema):
        raise TypeError(f"expected a pyarrow.Schema, got {type(schema).__name__}")
    fields = []
    seen: set[str] = set()
    for field in schema:
        if field.name == LOAD_ID_COLUMN and allow_load_id:
            fields.append(pa.field(LOAD_ID_COLUMN, pa.int64()))
        else:
            try:
                validate_column_name(field.name)
            except ValueError as e:
                raise SchemaError(str(e)) from None
            fields.append(pa.field(field.name, _normalize_type(field.name, field.type)))
        if field.name in seen:
            raise SchemaError(f"duplicate column {field.name!r}")
        seen.add(field.name)
    if not fields:
        raise SchemaError("a table needs at least one column")
    return pa.schema(fields)


def with_load_id(schema: pa.Schema) -> pa.Schema:
    return schema.append(pa.field(LOAD_ID_COLUMN, pa.int64()))


def conform_batch(batch: pa.RecordBatch, schema: pa.Schema, load_id: int | None) -> pa.RecordBatch:
    """Select, order and cast ``batch`` to ``schema`` and add ``_load_id``.

    ``schema`` is the user schema (without ``_load_id``). Missing or extra columns
    raise SchemaError; casts are safe except that timestamps may lose sub-microsecond
    precision (nanosecond sources are common, microseconds are what both engines keep).
    """
    names = set(batch.schema.names)
    missing = [n for n in schema.names if n not in names]
    extra = [n for n in batch.schema.names if n not in set(schema.names)]
    if missing or extra:
        raise SchemaError(f"batch columns do not match the load: missing={missing} extra={extra}")
    columns = []
    for field in schema:
        col = batch.column(field.name)
        if col.type != field.type:
            try:
                if pa.types.is_dictionary(col.type):
                    col = col.dictionary_decode()
                if pa.types.is_timestamp(col.type) and col.type.tz is None:
                    raise SchemaError(f"column {field.name!r}: naive timestamp")
                col = pc.cast(col, field.type, safe=not pa.types.is_timestamp(field.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                raise SchemaError(
                    f"column {field.name!r}: cannot store as {field.type}: {e}"
                ) from e
        columns.append(col)
    out_schema = schema
    if load_id is not None:
        columns.append(pa.repeat(pa.scalar(load_id, pa.int64()), batch.num_rows))
        out_schema = with_load_id(schema)
    return pa.RecordBatch.from_arrays(columns, schema=out_schema)


def iter_input_batches(
    data: pa.RecordBatch | pa.Table | pa.RecordBatchReader,
) -> Iterator[pa.RecordBatch]:
    """Yield the record batches of an Arrow input without materialising a reader."""
    if isinstance(data, pa.RecordBatch):
        yield data
    elif isinstance(data, pa.Table):
        yield from data.to_batches()
    elif isinstance(data, pa.RecordBatchReader):
        yield from data
    else:
        raise TypeError(
            "append() takes a pyarrow RecordBatch, Table, RecordBatchReader or an ibis Table, "
            f"got {type(data).__name__}"
        )


def arrow_to_pandas(expr: ir.Expr, table: pa.Table) -> Any:
    """Arrow result -> ibis' pandas result shape (DataFrame / Series / scalar).

    Columns holding nulls go through Python objects so integer columns with
    nulls keep their integers (pandas would turn them into floats).
    """
    df = pd.DataFrame(
        {
            name: col.to_pylist()
            if col.null_count or pa.types.is_nested(col.type)
            else col.to_pandas()
            for name, col in zip(table.column_names, table.columns, strict=True)
        }
    )
    return expr.__pandas_result__(df)


@dataclass(frozen=True)
class PublishResult:
    """What a publish did: ``rows`` is the number of staged rows published."""

    table: str
    load_id: int | None
    mode: PublishMode
    rows: int
    version: int | None = None


# ---------------------------------------------------------------------------
# Abstract API
# ---------------------------------------------------------------------------


class Stage(ABC):
    """A load in progress. Use from one thread at a time; a context manager.

    Leaving the ``with`` block without :meth:`publish` (normally or by exception)
    aborts the load.
    """

    def __init__(self, table: str, load_id: int | None, schema: pa.Schema) -> None:
        self.table = table
        self.load_id = load_id
        self.schema = schema  # user columns, without _load_id
        self._state: Literal["open", "published", "aborted"] = "open"

    @property
    def storage_schema(self) -> pa.Schema:
        return self.schema if self.load_id is None else with_load_id(self.schema)

    @property
    def is_open(self) -> bool:
        return self._state == "open"

    def _require_open(self) -> None:
        if self._state != "open":
            raise LoadStateError(f"load of {self.table!r} already {self._state}")

    def _conformed(
        self, data: pa.RecordBatch | pa.Table | pa.RecordBatchReader
    ) -> Iterator[pa.RecordBatch]:
        for batch in iter_input_batches(data):
            yield conform_batch(batch, self.schema, self.load_id)

    def _conform_expr(self, expr: ir.Table) -> ir.Table:
        """Engine-side append: select and cast the expression to the load schema."""
        from ibis.formats.pyarrow import PyArrowType

        cols = set(expr.columns)
        missing = [n for n in self.schema.names if n not in cols]
        extra = [n for n in expr.columns if n not in set(self.schema.names)]
        if missing or extra:
            raise SchemaError(f"expression columns do not match: missing={missing} extra={extra}")
        projected = {f.name: expr[f.name].cast(PyArrowType.to_ibis(f.type)) for f in self.schema}
        if self.load_id is not None:
            projected[LOAD_ID_COLUMN] = ibis.literal(self.load_id, type="int64")
        return expr.select(**projected)

    def _check_publish_args(self, mode: str, key_columns: Sequence[str] | None) -> list[str]:
        if mode not in ("full", "incremental"):
            raise ValueError(f"publish mode must be 'full' or 'incremental', got {mode!r}")
        keys = list(key_columns or [])
        if mode == "incremental":
            if not keys:
                raise ValueError("incremental publish needs key_columns")
            unknown = [k for k in keys if k not in self.schema.names]
            if unknown:
                raise ValueError(f"key columns not in the load schema: {unknown}")
        return keys

    @abstractmethod
    def append(self, data: AppendInput) -> int:
        """Stage rows; returns the number of rows appended (when known cheaply, else -1)."""

    @abstractmethod
    def staged_table(self) -> ir.Table:
        """The rows staged so far, as an ibis table (for blocking quality rules)."""

    @abstractmethod
    def count(self) -> int:
        """Number of rows staged so far."""

    @abstractmethod
    def publish(
        self, mode: PublishMode = "full", key_columns: Sequence[str] | None = None
    ) -> PublishResult:
        """Atomically make the staged rows the table's content (full) or upsert them."""

    @abstractmethod
    def abort(self) -> None:
        """Drop the staged rows; the published table is untouched. Idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.is_open:
            self.abort()


class Warehouse(ABC):
    """The data plane: published tables as ibis expressions, atomic staged loads."""

    engine: str
    url: str

    # --- reading -----------------------------------------------------------------
    @abstractmethod
    def table(self, name: str) -> ir.Table:
        """The published table ``name`` (TableNotFoundError if absent)."""

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def list_tables(self) -> list[str]:
        """Published table names, sorted; never staging or internal objects."""

    def schema(self, name: str) -> pa.Schema:
        """Arrow schema of a published table (including ``_load_id`` when present)."""
        return self.table(name).schema().to_pyarrow()

    def count(self, name: str) -> int:
        return int(self.execute(self.table(name).count()))

    @abstractmethod
    def execute(self, expr: ir.Expr) -> Any:
        """Run ``expr``; pandas DataFrame / Series / scalar as ibis' ``execute``.

        For small results. Stream big ones with :meth:`to_batches`.
        """

    @abstractmethod
    def to_pyarrow(self, expr: ir.Expr) -> Any:
        """Run ``expr``; pyarrow Table / ChunkedArray / Scalar as ibis' ``to_pyarrow``."""

    def native_cursor(self) -> Any | None:
        """The calling thread's DuckDB cursor, or ``None`` on engines without one.

        For hot paths that must skip ibis compilation (the gateway's point lookups,
        validated indicator SQL). Callers keep an ibis fallback for other engines, and
        use the cursor only on the thread that asked for it.
        """
        return None

    def data_version(self, name: str) -> Hashable | None:
        """A token that changes whenever table ``name`` is published, replaced or dropped
        (``None``: this engine cannot tell, so callers must not cache derived results).

        For caches of results derived from a table (counts, page indexes): equal tokens
        mean the same rows. Stable only while this process owns the warehouse.
        """
        return None

    @abstractmethod
    def to_batches(
        self, expr: ir.Table | ir.Column, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> pa.RecordBatchReader:
        """Stream the result as Arrow record batches of at most ``batch_size`` rows.

        The returned reader is iterable (``for batch in reader``) and holds only a
        bounded number of rows in memory. Close it (or exhaust it) to free the
        engine cursor early.
        """

    # --- writing -----------------------------------------------------------------
    @abstractmethod
    def begin_load(self, table: str, load_id: int, schema: pa.Schema) -> Stage:
        """Start a staged load of ``table``; ``schema`` excludes ``_load_id``."""

    @abstractmethod
    def _begin_stage(self, table: str, load_id: int | None, schema: pa.Schema) -> Stage: ...

    def put_table(
        self, name: str, data: pa.Table | pa.RecordBatchReader | pa.RecordBatch
    ) -> PublishResult:
        """Atomically create or replace a small auxiliary table (no ``_load_id``)."""
        validate_table_name(name)
        schema = normalize_schema(data.schema)
        with self._begin_stage(name, None, schema) as stage:
            stage.append(data)
            return stage.publish("full")

    @abstractmethod
    def drop(self, name: str, *, missing_ok: bool = True) -> None: ...

    @abstractmethod
    def cleanup_stale_staging(self) -> list[str]:
        """Remove staging left by dead loads; returns what was removed. Safe any time."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def check_publishable(old: pa.Schema, new: pa.Schema, table: str) -> None:
    """Incremental loads must keep the published schema exactly."""
    if old != new:
        raise SchemaError(
            f"incremental load of {table!r} does not match the published schema: "
            f"published {old} vs staged {new}"
        )


def chunk_batches(batches: Iterable[pa.RecordBatch], batch_size: int) -> Iterator[pa.RecordBatch]:
    """Split batches larger than ``batch_size`` (never merges, so memory stays bounded)."""
    for batch in batches:
        if batch.num_rows <= batch_size:
            if batch.num_rows:
                yield batch
            continue
        for offset in range(0, batch.num_rows, batch_size):
            yield batch.slice(offset, batch_size)


_parsed = threading.local()


def parsed_statement(cur: Any, sql: str) -> Any:
    """``sql`` parsed once per thread and cursor, for ``cur.execute`` on a hot path.

    DuckDB binds and plans a parsed statement afresh on every execution (so a
    republished table is seen) but skips its parser (~10 % of a point query, more for
    long statements); a DB-API cursor keeps no prepared statements instead. A different
    cursor (a reopened warehouse) starts a fresh cache."""
    cache: dict[str, Any] | None = getattr(_parsed, "cache", None)
    if cache is None or len(cache) > 256 or _parsed.cursor is not cur:
        cache = _parsed.cache = {}
        _parsed.cursor = cur
    stmt = cache.get(sql)
    if stmt is None:
        stmt = cache[sql] = cur.extract_statements(sql)[0]
    return stmt
