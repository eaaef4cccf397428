"""DuckDB engine: one database file (or memory), owned read-write by one process.

Atomicity
    Staging tables live in the same database under the reserved prefix
    ``_stg_<table>__<load_id>_<hex>``; each ``append`` is its own committed
    statement, so a big load never sits in one huge transaction and quality rules
    on other cursors can see the staged rows. Publish is one DuckDB transaction
    (DuckDB DDL is transactional): full = ``DROP`` + ``ALTER TABLE .. RENAME``
    (metadata only, no copy); incremental = ``DELETE .. WHERE EXISTS`` (semi hash
    join on the keys, null-safe) + ``INSERT .. BY NAME`` + ``DROP`` staging. A crash
    before ``COMMIT`` leaves the WAL without the commit, so reopening shows the old
    table; committed staging tables are dropped by :meth:`cleanup_stale_staging`.

Thread safety
    A DuckDB connection must not be used by two threads at once, so every thread
    gets its own cursor (``con.cursor()``: a separate connection to the same
    database instance, with its own MVCC snapshot) wrapped in its own ibis backend.
    Expressions from :meth:`table` are bound to the calling thread's backend; run
    them through ``wh.execute`` / ``wh.to_pyarrow`` / ``wh.to_batches``, which always
    use the *calling* thread's cursor (``expr.execute()`` is only safe on the thread
    that built the expression). Every :meth:`to_batches` stream gets a dedicated
    cursor, so a stream may be consumed from any thread (e.g. a StreamingResponse)
    while the thread runs other queries. Each stage owns a cursor too. Publishes,
    drops and ``put_table`` are serialised by one lock to avoid write-write
    conflicts in DuckDB's optimistic concurrency control.
"""

from __future__ import annotations

import itertools
import os
import threading
import uuid
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.duckdb import Backend as IbisDuckDBBackend

from gongshu.warehouse.base import (
    DEFAULT_BATCH_SIZE,
    STAGING_PREFIX,
    AppendInput,
    LoadStateError,
    PublishMode,
    PublishResult,
    SchemaError,
    Stage,
    TableNotFoundError,
    Warehouse,
    arrow_to_pandas,
    chunk_batches,
    normalize_schema,
    validate_load_id,
    validate_table_name,
)

# Staging tables of live stages in this process, per database, with their
# (table, load_id). A second Warehouse on the same file in the same process shares
# DuckDB's instance, so its cleanup must not drop a stage the first one is filling.
_ACTIVE_STAGING: dict[str, dict[str, tuple[str, int | None]]] = {}
_ACTIVE_LOCK = threading.Lock()
# Data versions per (database, table): a process-wide tick taken on every publish or drop,
# so readers can key caches on it (see ``Warehouse.data_version``). Only this process
# writes the file (DuckDB's lock), so the ticks see every change; reopening a database
# forgets its versions.
_VERSIONS: dict[tuple[str, str], int] = {}
_TICKS = itertools.count(1)


def _bump(db_key: str, table: str) -> None:
    with _ACTIVE_LOCK:
        _VERSIONS[(db_key, table)] = next(_TICKS)


def _q(name: str) -> str:
    """Quote an identifier; names are validated, quoting is belt and braces."""
    return '"' + name.replace('"', '""') + '"'


def _scalar(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    # fetchall, not fetchone: duckdb 2 refuses new work on a cursor with unread rows.
    rows = cur.execute(sql, params or []).fetchall()
    return int(rows[0][0]) if rows else 0


class DuckDBWarehouse(Warehouse):
    engine = "duckdb"

    def __init__(
        self,
        url: str,
        path: str | None,
        *,
        config: dict[str, Any] | None = None,
        read_only: bool = False,
        cleanup: bool = True,
    ) -> None:
        self.url = url
        self.path = os.path.abspath(path) if path else None
        if self.path:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._root = duckdb.connect(
            self.path or ":memory:", read_only=read_only, config=config or {}
        )
        self._db_key = os.path.realpath(self.path) if self.path else f":memory:{id(self._root)}"
        self.read_only = read_only
        self._local = threading.local()
        self._cursors_lock = threading.Lock()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._thread_cursors: dict[threading.Thread, duckdb.DuckDBPyConnection] = {}
        self._publish_lock = threading.Lock()
        self._closed = False
        with _ACTIVE_LOCK:
            for k in [k for k in _VERSIONS if k[0] == self._db_key]:
                del _VERSIONS[k]
        if cleanup and not read_only:
            self.cleanup_stale_staging()

    # --- connections ---------------------------------------------------------------
    def _new_cursor(self) -> duckdb.DuckDBPyConnection:
        if self._closed:
            raise LoadStateError("warehouse is closed")
        with self._cursors_lock:
            cur = self._root.cursor()
            self._cursors.append(cur)
        return cur

    def _release_cursor(self, cur: duckdb.DuckDBPyConnection) -> None:
        with self._cursors_lock:
            if cur in self._cursors:
                self._cursors.remove(cur)
        cur.close()

    def _ibis_for(self, cur: duckdb.DuckDBPyConnection) -> IbisDuckDBBackend:
        return ibis.duckdb.from_connection(cur)

    def _backend(self) -> IbisDuckDBBackend:
        """The calling thread's ibis backend (created on first use)."""
        backend = getattr(self._local, "backend", None)
        if backend is None or self._closed:
            cur = self._new_cursor()
            backend = self._ibis_for(cur)
            self._local.backend = backend
            with self._cursors_lock:
                # Close the cursors of threads that have ended (thread pools churn).
                dead = [t for t in self._thread_cursors if not t.is_alive()]
                stale = [self._thread_cursors.pop(t) for t in dead]
                self._thread_cursors[threading.current_thread()] = cur
            for old in stale:
                self._release_cursor(old)
        return backend

    def native_cursor(self) -> duckdb.DuckDBPyConnection:
        return self._backend().con

    def data_version(self, name: str) -> tuple[str, int]:
        with _ACTIVE_LOCK:
            tick = _VERSIONS.get((self._db_key, name))
            if tick is None:
                tick = _VERSIONS[(self._db_key, name)] = next(_TICKS)
        return (self._db_key, tick)

    # --- reading -------------------------------------------------------------------
    def _raw_exists(self, cur: duckdb.DuckDBPyConnection, name: str) -> bool:
        return (
            _scalar(
                cur,
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = 'main' AND table_name = ?",
                [name],
            )
            > 0
        )

    def table(self, name: str) -> ir.Table:
        validate_table_name(name)
        backend = self._backend()
        if not self._raw_exists(backend.con, name):
            raise TableNotFoundError(name)
        return backend.table(name)

    def exists(self, name: str) -> bool:
        validate_table_name(name)
        return self._raw_exists(self._backend().con, name)

    def list_tables(self) -> list[str]:
        rows = (
            self._backend()
            .con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = 'main' AND NOT starts_with(table_name, '_') ORDER BY table_name"
            )
            .fetchall()
        )
        return [r[0] for r in rows]

    def execute(self, expr: ir.Expr) -> Any:
        # Same Arrow -> pandas path as the Spark engine, so results compare equal.
        return arrow_to_pandas(expr, self._backend().to_pyarrow(expr.as_table()))

    def to_pyarrow(self, expr: ir.Expr) -> Any:
        return self._backend().to_pyarrow(expr)

    def to_batches(
        self, expr: ir.Table | ir.Column, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> pa.RecordBatchReader:
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        table_expr = expr.as_table()
        schema = table_expr.schema().to_pyarrow()
        cur = self._new_cursor()
        try:
            backend = self._ibis_for(cur)
            # Registers memtables/UDFs the expression uses on this cursor (private but
            # stable ibis hook; ibis' own to_pyarrow_batches does not work on duckdb 2).
            backend._run_pre_execute_hooks(table_expr)
            reader = cur.sql(backend.compile(table_expr)).to_arrow_reader(batch_size)
        except BaseException:
            self._release_cursor(cur)
            raise

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                for batch in chunk_batches(reader, batch_size):
                    yield batch if batch.schema == schema else batch.cast(schema)
            finally:
                self._release_cursor(cur)

        return pa.RecordBatchReader.from_batches(schema, batches())

    # --- writing -------------------------------------------------------------------
    def begin_load(self, table: str, load_id: int, schema: pa.Schema) -> DuckDBStage:
        validate_table_name(table)
        validate_load_id(load_id)
        return self._begin_stage(table, load_id, normalize_schema(schema))

    def _begin_stage(self, table: str, load_id: int | None, schema: pa.Schema) -> DuckDBStage:
        if self.read_only:
            raise LoadStateError("warehouse opened read-only")
        return DuckDBStage(self, table, load_id, schema)

    def drop(self, name: str, *, missing_ok: bool = True) -> None:
        validate_table_name(name)
        with self._publish_lock:
            cur = self._backend().con
            if not missing_ok and not self._raw_exists(cur, name):
                raise TableNotFoundError(name)
            try:
                cur.execute(f"DROP TABLE IF EXISTS {_q(name)}")
            finally:
                _bump(self._db_key, name)

    def cleanup_stale_staging(self) -> list[str]:
        cur = self._backend().con
        rows = cur.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND starts_with(table_name, ?)",
            [STAGING_PREFIX],
        ).fetchall()
        with _ACTIVE_LOCK:
            active = set(_ACTIVE_STAGING.get(self._db_key, ()))
        removed = [r[0] for r in rows if r[0] not in active]
        with self._publish_lock:
            for name in removed:
                cur.execute(f"DROP TABLE IF EXISTS {_q(name)}")
        return removed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._cursors_lock:
            cursors, self._cursors = self._cursors, []
        self._thread_cursors.clear()
        for cur in cursors:
            cur.close()
        self._root.close()

    def __repr__(self) -> str:
        return f"DuckDBWarehouse({self.path or ':memory:'!r})"


class DuckDBStage(Stage):
    def __init__(
        self, wh: DuckDBWarehouse, table: str, load_id: int | None, schema: pa.Schema
    ) -> None:
        super().__init__(table, load_id, schema)
        self._wh = wh
        suffix = "" if load_id is None else f"_{load_id}"
        self.staging_name = f"{STAGING_PREFIX}{table}_{suffix}_{uuid.uuid4().hex[:8]}"
        with _ACTIVE_LOCK:
            active = _ACTIVE_STAGING.setdefault(wh._db_key, {})
            if load_id is not None and (table, load_id) in active.values():
                raise LoadStateError(f"load {load_id} of {table!r} is already in progress")
            active[self.staging_name] = (table, load_id)
        # An abandoned (garbage-collected) stage becomes stale, so cleanup may drop it.
        self._forget = weakref.finalize(self, active.pop, self.staging_name, None)
        try:
            self._cur = wh._new_cursor()
            self._ibis = wh._ibis_for(self._cur)
            # Let DuckDB derive its column types from Arrow, exactly as appends will.
            self._cur.register("_gs_empty", self.storage_schema.empty_table())
            self._cur.execute(
                f"CREATE TABLE {_q(self.staging_name)} AS SELECT * FROM _gs_empty WHERE false"
            )
            self._cur.unregister("_gs_empty")
        except BaseException:
            self._forget()
            raise

    def append(self, data: AppendInput) -> int:
        self._require_open()
        if isinstance(data, ir.Table):
            expr = self._conform_expr(data)
            self._ibis._run_pre_execute_hooks(expr)
            sql = self._ibis.compile(expr)
            return _scalar(self._cur, f"INSERT INTO {_q(self.staging_name)} BY NAME {sql}")
        failure: list[BaseException] = []

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                yield from self._conformed(data)
            except BaseException as e:
                failure.append(e)  # DuckDB wraps it; re-raised as is below
                raise

        reader = pa.RecordBatchReader.from_batches(self.storage_schema, batches())
        self._cur.register("_gs_in", reader)
        try:
            # DuckDB scans the reader batch by batch: bounded memory, one commit.
            return _scalar(
                self._cur, f"INSERT INTO {_q(self.staging_name)} BY NAME SELECT * FROM _gs_in"
            )
        except duckdb.Error:
            if failure:
                raise failure[0] from None
            raise
        finally:
            self._cur.unregister("_gs_in")

    def staged_table(self) -> ir.Table:
        self._require_open()
        return self._wh._backend().table(self.staging_name)

    def count(self) -> int:
        self._require_open()
        return _scalar(self._cur, f"SELECT count(*) FROM {_q(self.staging_name)}")

    def _columns(self, name: str) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self._cur.execute(f"DESCRIBE {_q(name)}").fetchall()]

    def publish(
        self, mode: PublishMode = "full", key_columns: Sequence[str] | None = None
    ) -> PublishResult:
        self._require_open()
        keys = self._check_publish_args(mode, key_columns)
        cur, stg, target = self._cur, _q(self.staging_name), _q(self.table)
        with self._wh._publish_lock:
            cur.execute("BEGIN TRANSACTION")
            try:
                rows = self.count()
                if mode == "full" or not self._wh._raw_exists(cur, self.table):
                    cur.execute(f"DROP TABLE IF EXISTS {target}")
                    cur.execute(f"ALTER TABLE {stg} RENAME TO {target}")
                else:
                    if self._columns(self.table) != self._columns(self.staging_name):
                        raise SchemaError(
                            f"incremental load of {self.table!r} does not match the published "
                            f"schema: {self._columns(self.table)} vs "
                            f"{self._columns(self.staging_name)}"
                        )
                    # Null-safe key match, the same rule the Spark engine applies.
                    match = " AND ".join(f"s.{_q(k)} IS NOT DISTINCT FROM t.{_q(k)}" for k in keys)
                    cur.execute(
                        f"DELETE FROM {target} AS t WHERE EXISTS (SELECT 1 FROM {stg} AS s "
                        f"WHERE {match})"
                    )
                    cur.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {stg}")
                    cur.execute(f"DROP TABLE {stg}")
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                _bump(self._wh._db_key, self.table)
        self._state = "published"
        self._finish()
        return PublishResult(self.table, self.load_id, mode, rows)

    def abort(self) -> None:
        if self._state != "open":
            return
        self._state = "aborted"
        try:
            with self._wh._publish_lock:
                self._cur.execute(f"DROP TABLE IF EXISTS {_q(self.staging_name)}")
        finally:
            self._finish()

    def _finish(self) -> None:
        self._forget()
        self._wh._release_cursor(self._cur)


__all__ = ["DuckDBStage", "DuckDBWarehouse"]
