"""Spark engine: Parquet datasets under a warehouse directory, queried by PySpark.

Layout of ``warehouse_dir`` (a local or shared POSIX filesystem that the driver
and every executor mount at the same path)::

    tables/<name>/_current.json          pointer: version, data dir, Arrow schema
    tables/<name>/v00000007_<hex>/        one immutable version (Parquet files)
    _staging/<name>__<load_id>_<hex>/     a load in progress
    _staging/<name>__<load_id>_<hex>.lock flock held by the live loader
    _locks/<name>.lock                    flock held while publishing/dropping

Atomicity
    Every reader resolves a table through ``_current.json``, which is only ever
    replaced by ``os.replace`` of a fully written, fsynced temp file: readers see the
    old version or the new one, never a mix. Versions are immutable. A full publish
    renames the staging directory into the table directory (no copy) and switches the
    pointer; an incremental publish has Spark write a fresh version = (old rows whose
    key is not staged) UNION ALL (staged rows), null-safe key match, then switches.
    A process killed at any point leaves the pointer as it was; unreferenced version
    dirs and dead staging dirs are removed by :meth:`cleanup_stale_staging`, which
    only touches a table while holding its publish lock and a staging dir whose
    loader no longer holds its flock (locks die with their process). The current
    and the previous ``keep_versions - 1`` versions are kept so that queries already
    planned against the previous version still finish.

Writes from Arrow (``append``) go straight to Parquet with pyarrow in the calling
process, streaming batch by batch; an ibis expression appended is written by Spark.
Each append is all-or-nothing: files are written under hidden names (``_tmp-``,
which Spark ignores) and renamed once the whole append succeeded.

Costs: a full publish is a rename. An incremental publish rewrites the whole table
(plain Parquet cannot delete rows in place); a table format such as Delta Lake or
Iceberg would make it proportional to the change. ``to_batches`` streams one
partition at a time through ``mapInArrow`` + ``toLocalIterator``; ``to_pyarrow`` and
``execute`` collect the whole result on the driver and are meant for small results.

Thread safety: a SparkSession accepts jobs from many threads; the few shared
structures here (temp-view registry) are guarded by a lock. The session is only
started when a query needs it, so loads and metadata calls stay cheap.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import shutil
import sys
import threading
import uuid
import weakref
from collections.abc import Iterator, Sequence
from functools import reduce
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from gongshu.warehouse.base import (
    DEFAULT_BATCH_SIZE,
    AppendInput,
    LoadStateError,
    PublishMode,
    PublishResult,
    SchemaError,
    Stage,
    TableNotFoundError,
    Warehouse,
    arrow_to_pandas,
    check_publishable,
    normalize_schema,
    validate_load_id,
    validate_table_name,
)

if TYPE_CHECKING:
    from ibis.backends.pyspark import Backend as IbisSparkBackend
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import DataType, StructType

POINTER = "_current.json"
ROWS_PER_FILE = 1_000_000


# ---------------------------------------------------------------------------
# Small filesystem helpers
# ---------------------------------------------------------------------------


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json_atomic(path: str, payload: dict[str, Any]) -> None:
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(os.path.dirname(path))


def _try_flock(path: str, *, blocking: bool) -> int | None:
    """Open ``path`` and take an exclusive flock; None if busy and not blocking."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return None
        raise
    return fd


def _unlock(fd: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def _schema_to_b64(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def _schema_from_b64(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def _spark_type(t: pa.DataType) -> DataType:
    from pyspark.sql import types as st

    simple: dict[pa.DataType, DataType] = {
        pa.string(): st.StringType(),
        pa.binary(): st.BinaryType(),
        pa.bool_(): st.BooleanType(),
        pa.int8(): st.ByteType(),
        pa.int16(): st.ShortType(),
        pa.int32(): st.IntegerType(),
        pa.int64(): st.LongType(),
        pa.float32(): st.FloatType(),
        pa.float64(): st.DoubleType(),
        pa.date32(): st.DateType(),
        pa.timestamp("us", tz="UTC"): st.TimestampType(),
    }
    if t in simple:
        return simple[t]
    if pa.types.is_decimal(t):
        return st.DecimalType(t.precision, t.scale)
    raise SchemaError(f"type {t} has no Spark mapping")


def _spark_schema(schema: pa.Schema) -> StructType:
    from pyspark.sql import types as st

    return st.StructType([st.StructField(f.name, _spark_type(f.type), True) for f in schema])


# ---------------------------------------------------------------------------
# Warehouse
# ---------------------------------------------------------------------------


class SparkWarehouse(Warehouse):
    engine = "spark"

    def __init__(
        self,
        url: str,
        warehouse_dir: str,
        *,
        master: str = "local[2]",
        conf: dict[str, str] | None = None,
        spark_session: SparkSession | None = None,
        keep_versions: int = 2,
        cleanup: bool = True,
    ) -> None:
        if keep_versions < 1:
            raise ValueError("keep_versions must be at least 1")
        self.url = url
        self.root = os.path.abspath(warehouse_dir)
        self.master = master
        self.keep_versions = keep_versions
        self._conf = dict(conf or {})
        self._session = spark_session
        self._ibis_backend: IbisSparkBackend | None = None
        self._lock = threading.RLock()
        self._views: dict[str, str] = {}  # temp view -> version dir it reads
        self._closed = False
        for sub in ("tables", "_staging", "_locks"):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
        if cleanup:
            self.cleanup_stale_staging()

    # --- session -------------------------------------------------------------------
    @property
    def spark(self) -> SparkSession:
        with self._lock:
            if self._session is None:
                from pyspark.sql import SparkSession

                # Workers (mapInArrow) must run the same interpreter and packages.
                os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
                builder = (
                    SparkSession.builder.master(self.master)
                    .appName("gongshu")
                    .config("spark.ui.enabled", "false")
                    .config("spark.sql.session.timeZone", "UTC")
                )
                for key, value in self._conf.items():
                    builder = builder.config(key, value)
                self._session = builder.getOrCreate()
            return self._session

    @property
    def _ibis(self) -> IbisSparkBackend:
        with self._lock:
            if self._ibis_backend is None:
                session = self.spark
                self._ibis_backend = ibis.pyspark.connect(session)
                # Plain INT64 micros so pyarrow and Spark files look alike on disk.
                session.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
            return self._ibis_backend

    def _to_df(self, expr: ir.Expr) -> DataFrame:
        backend = self._ibis
        table_expr = expr.as_table()
        # Under the lock: ibis' memtable bookkeeping is not thread-safe. spark.sql() only
        # plans; the job runs later, outside the lock.
        with self._lock:
            # Registers memtables/UDFs the expression uses (private but stable ibis hook).
            backend._run_pre_execute_hooks(table_expr)
            return self.spark.sql(backend.compile(table_expr))

    def _read(self, path: str, schema: pa.Schema) -> DataFrame:
        # Explicit schema: no inference, empty dirs read fine, types are exact.
        return self.spark.read.schema(_spark_schema(schema)).parquet(path)

    # --- paths and pointers ----------------------------------------------------------
    def _table_dir(self, name: str) -> str:
        return os.path.join(self.root, "tables", name)

    def _pointer_path(self, name: str) -> str:
        return os.path.join(self._table_dir(name), POINTER)

    def _read_pointer(self, name: str) -> dict[str, Any] | None:
        try:
            with open(self._pointer_path(name), encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return None

    @contextlib.contextmanager
    def _table_lock(self, name: str) -> Iterator[None]:
        fd = _try_flock(os.path.join(self.root, "_locks", f"{name}.lock"), blocking=True)
        assert fd is not None
        try:
            yield
        finally:
            _unlock(fd)

    def _register_view(self, view: str, path: str, schema: pa.Schema) -> None:
        with self._lock:
            if self._views.get(view) != path:
                self._read(path, schema).createOrReplaceTempView(view)
                self._views[view] = path

    def _bind(self, view: str, schema: pa.Schema) -> ir.Table:
        # Bind with our stored schema: ibis' own Spark type mapping would drop the UTC
        # zone of timestamps, and both engines must report identical types.
        return ops.DatabaseTable(
            view,
            schema=ibis.Schema.from_pyarrow(schema),
            source=self._ibis,
            namespace=ops.Namespace(),
        ).to_expr()

    # --- reading -------------------------------------------------------------------
    def table(self, name: str) -> ir.Table:
        validate_table_name(name)
        ptr = self._read_pointer(name)
        if ptr is None:
            raise TableNotFoundError(name)
        schema = _schema_from_b64(ptr["schema"])
        # One view per immutable version: an expression stays pinned to its snapshot.
        view = f"{name}__{ptr['dir']}"
        self._register_view(view, os.path.join(self._table_dir(name), ptr["dir"]), schema)
        return self._bind(view, schema)

    def exists(self, name: str) -> bool:
        validate_table_name(name)
        return os.path.exists(self._pointer_path(name))

    def list_tables(self) -> list[str]:
        tables_dir = os.path.join(self.root, "tables")
        return sorted(
            n
            for n in os.listdir(tables_dir)
            if not n.startswith("_") and os.path.exists(self._pointer_path(n))
        )

    def schema(self, name: str) -> pa.Schema:
        validate_table_name(name)
        ptr = self._read_pointer(name)
        if ptr is None:
            raise TableNotFoundError(name)
        return _schema_from_b64(ptr["schema"])

    def execute(self, expr: ir.Expr) -> Any:
        return arrow_to_pandas(expr, self.to_pyarrow(expr.as_table()))

    def to_pyarrow(self, expr: ir.Expr) -> Any:
        table_expr = expr.as_table()
        schema = table_expr.schema().to_pyarrow()
        result = self._to_df(table_expr).toArrow()
        if result.schema != schema:
            result = result.cast(schema)
        return expr.__pyarrow_result__(result)

    def to_batches(
        self, expr: ir.Table | ir.Column, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> pa.RecordBatchReader:
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        from pyspark.sql import types as st

        table_expr = expr.as_table()
        schema = table_expr.schema().to_pyarrow()
        df = self._to_df(table_expr)

        # Runs in the Python workers: re-encode each partition as Arrow IPC blobs of at
        # most batch_size rows, so the driver pulls one partition at a time
        # (toLocalIterator) and never converts rows to Python objects. Nested so that
        # cloudpickle ships it by value (workers need not import gongshu).
        def encode(batches: Iterator[Any], limit: int = batch_size) -> Iterator[Any]:
            import pyarrow as pa

            def blob(chunk: list[Any]) -> Any:
                sink = pa.BufferOutputStream()
                with pa.ipc.new_stream(sink, chunk[0].schema) as writer:
                    for b in chunk:
                        writer.write_batch(b)
                return pa.record_batch([pa.array([sink.getvalue().to_pybytes()])], names=["ipc"])

            pending: list[Any] = []
            rows = 0
            for batch in batches:
                offset = 0
                while offset < batch.num_rows:
                    part = batch.slice(offset, limit - rows)
                    offset += part.num_rows
                    pending.append(part)
                    rows += part.num_rows
                    if rows >= limit:
                        yield blob(pending)
                        pending, rows = [], 0
            if pending:
                yield blob(pending)

        out_schema = st.StructType([st.StructField("ipc", st.BinaryType(), False)])
        rows_iter = df.mapInArrow(encode, out_schema).toLocalIterator(prefetchPartitions=False)

        def batches() -> Iterator[pa.RecordBatch]:
            for row in rows_iter:
                table = pa.ipc.open_stream(row[0]).read_all()
                if table.num_rows == 0:
                    continue
                batch = table.combine_chunks().to_batches()[0]
                yield batch if batch.schema == schema else batch.cast(schema)

        return pa.RecordBatchReader.from_batches(schema, batches())

    # --- writing -------------------------------------------------------------------
    def begin_load(self, table: str, load_id: int, schema: pa.Schema) -> SparkStage:
        validate_table_name(table)
        validate_load_id(load_id)
        return self._begin_stage(table, load_id, normalize_schema(schema))

    def _begin_stage(self, table: str, load_id: int | None, schema: pa.Schema) -> SparkStage:
        if self._closed:
            raise LoadStateError("warehouse is closed")
        return SparkStage(self, table, load_id, schema)

    def _switch(
        self,
        name: str,
        version_dir: str,
        schema: pa.Schema,
        load_id: int | None,
        previous: dict[str, Any] | None,
    ) -> int:
        """Point ``name`` at ``version_dir`` (caller holds the table lock); GC old versions."""
        version = (previous["version"] + 1) if previous else 1
        retained = [version_dir] + (previous.get("retained", []) if previous else [])
        retained = retained[: self.keep_versions]
        _write_json_atomic(
            self._pointer_path(name),
            {
                "format": 1,
                "table": name,
                "version": version,
                "dir": version_dir,
                "schema": _schema_to_b64(schema),
                "load_id": load_id,
                "published_at": dt.datetime.now(dt.UTC).isoformat(),
                "retained": retained,
            },
        )
        self._gc_table(name, set(retained))
        return version

    def _gc_table(self, name: str, retained: set[str]) -> list[str]:
        """Remove everything in the table dir but the pointer and retained versions."""
        removed = []
        table_dir = self._table_dir(name)
        for entry in os.listdir(table_dir):
            if entry == POINTER or entry in retained:
                continue
            path = os.path.join(table_dir, entry)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
            removed.append(f"{name}/{entry}")
            self._forget_views(lambda p, path=path: p == path)
        return removed

    def _forget_views(self, match: Any) -> None:
        with self._lock:
            gone = [v for v, p in self._views.items() if match(p)]
            for view in gone:
                del self._views[view]
                if self._session is not None:
                    self._session.catalog.dropTempView(view)

    def drop(self, name: str, *, missing_ok: bool = True) -> None:
        validate_table_name(name)
        with self._table_lock(name):
            try:
                os.remove(self._pointer_path(name))  # the atomic step: unpublished
            except FileNotFoundError:
                if not missing_ok:
                    raise TableNotFoundError(name) from None
            shutil.rmtree(self._table_dir(name), ignore_errors=True)
        table_dir = self._table_dir(name) + os.sep
        self._forget_views(lambda p: p.startswith(table_dir))

    def cleanup_stale_staging(self) -> list[str]:
        removed: list[str] = []
        staging = os.path.join(self.root, "_staging")
        entries = set(os.listdir(staging))
        for entry in sorted(entries):
            if not entry.endswith(".lock"):
                continue
            lock_path = os.path.join(staging, entry)
            fd = _try_flock(lock_path, blocking=False)
            if fd is None:
                continue  # a live loader holds it
            try:
                shutil.rmtree(lock_path[: -len(".lock")], ignore_errors=True)
                with contextlib.suppress(FileNotFoundError):
                    os.remove(lock_path)
            finally:
                _unlock(fd)
            removed.append(f"_staging/{entry[: -len('.lock')]}")
        for entry in sorted(entries):
            # A staging dir without its lock file is always dead (loaders create the
            # lock first and remove the dir before the lock).
            path = os.path.join(staging, entry)
            if os.path.isdir(path) and f"{entry}.lock" not in entries:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(f"_staging/{entry}")
        tables_dir = os.path.join(self.root, "tables")
        for name in sorted(os.listdir(tables_dir)):
            fd = _try_flock(os.path.join(self.root, "_locks", f"{name}.lock"), blocking=False)
            if fd is None:
                continue  # being published right now
            try:
                ptr = self._read_pointer(name)
                if ptr is None:  # crashed first publish or drop: nothing is published
                    shutil.rmtree(self._table_dir(name), ignore_errors=True)
                    removed.append(f"tables/{name}")
                else:
                    removed += [f"tables/{r}" for r in self._gc_table(name, set(ptr["retained"]))]
            finally:
                _unlock(fd)
        return removed

    def close(self) -> None:
        # The SparkSession may be shared with others (tests, notebooks): not stopped here.
        self._closed = True
        self._forget_views(lambda p: True)

    def __repr__(self) -> str:
        return f"SparkWarehouse({self.root!r}, master={self.master!r})"


class SparkStage(Stage):
    def __init__(
        self, wh: SparkWarehouse, table: str, load_id: int | None, schema: pa.Schema
    ) -> None:
        super().__init__(table, load_id, schema)
        self._wh = wh
        token = f"{table}__{'aux' if load_id is None else load_id}_{uuid.uuid4().hex[:8]}"
        staging = os.path.join(wh.root, "_staging")
        self.dir = os.path.join(staging, token)
        self._lock_path = f"{self.dir}.lock"
        # Lock first, then the dir: a dir without a lock file is always dead. Re-check
        # the inode in case a concurrent cleanup unlinked the file between open and lock.
        for _attempt in range(5):
            fd = _try_flock(self._lock_path, blocking=True)
            assert fd is not None
            try:
                if os.stat(self._lock_path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            _unlock(fd)
        else:
            raise LoadStateError(f"could not lock staging {self._lock_path}")
        # Closing the fd releases the flock; also done if the stage is garbage-collected.
        self._release_lock = weakref.finalize(self, os.close, fd)
        os.makedirs(self.dir)
        self._seq = 0
        self.view = f"_stg_{token}"

    def _next_name(self) -> str:
        self._seq += 1
        return f"{self._seq:06d}-{uuid.uuid4().hex[:8]}.parquet"

    def append(self, data: AppendInput) -> int:
        self._require_open()
        if isinstance(data, ir.Table):
            return self._append_expr(data)
        done: list[str] = []  # temp paths, renamed only once the whole append succeeded
        writer: pq.ParquetWriter | None = None
        rows = in_file = 0
        try:
            for batch in self._conformed(data):
                if writer is None:
                    done.append(os.path.join(self.dir, f"_tmp-{self._next_name()}"))
                    writer = pq.ParquetWriter(done[-1], self.storage_schema)
                writer.write_batch(batch)
                rows += batch.num_rows
                in_file += batch.num_rows
                if in_file >= ROWS_PER_FILE:
                    writer.close()
                    writer, in_file = None, 0
            if writer is not None:
                writer.close()
                writer = None
            for tmp in done:
                _fsync_file(tmp)
                os.rename(tmp, tmp.replace(f"{os.sep}_tmp-", f"{os.sep}part-"))
        except BaseException:
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.close()
            for tmp in done:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(tmp)
            raise
        return rows

    def _append_expr(self, expr: ir.Table) -> int:
        # Spark writes into a hidden subdir; its files join the stage only on success.
        out = os.path.join(self.dir, f"_expr-{uuid.uuid4().hex[:8]}")
        try:
            self._wh._to_df(self._conform_expr(expr)).write.parquet(out)
            rows = 0
            for entry in sorted(os.listdir(out)):
                if entry.endswith(".parquet") and not entry.startswith(("_", ".")):
                    src = os.path.join(out, entry)
                    rows += pq.ParquetFile(src).metadata.num_rows
                    os.rename(src, os.path.join(self.dir, f"part-{self._next_name()}"))
        finally:
            shutil.rmtree(out, ignore_errors=True)
        return rows

    def _staged_df(self) -> DataFrame:
        return self._wh._read(self.dir, self.storage_schema)

    def staged_table(self) -> ir.Table:
        self._require_open()
        # Re-registered on every call: Spark lists the files when the view is made.
        with self._wh._lock:
            self._staged_df().createOrReplaceTempView(self.view)
        return self._wh._bind(self.view, self.storage_schema)

    def count(self) -> int:
        self._require_open()
        # Parquet footers know their row counts: no Spark job needed.
        return sum(
            pq.ParquetFile(os.path.join(self.dir, e)).metadata.num_rows
            for e in os.listdir(self.dir)
            if e.startswith("part-")
        )

    def publish(
        self, mode: PublishMode = "full", key_columns: Sequence[str] | None = None
    ) -> PublishResult:
        self._require_open()
        keys = self._check_publish_args(mode, key_columns)
        wh = self._wh
        rows = self.count()
        with wh._table_lock(self.table):
            previous = wh._read_pointer(self.table)
            if mode == "incremental" and previous is not None and rows == 0:
                # Nothing to upsert: rewriting the whole table would change nothing.
                check_publishable(
                    _schema_from_b64(previous["schema"]), self.storage_schema, self.table
                )
                self._state = "published"
                self._finish()
                return PublishResult(self.table, self.load_id, mode, 0, previous["version"])
            number = (previous["version"] + 1) if previous else 1
            version_dir = f"v{number:08d}_{uuid.uuid4().hex[:8]}"
            target = os.path.join(wh._table_dir(self.table), version_dir)
            os.makedirs(wh._table_dir(self.table), exist_ok=True)
            if mode == "full" or previous is None:
                _fsync_dir(self.dir)
                os.rename(self.dir, target)  # same filesystem: atomic, no copy
            else:
                old_schema = _schema_from_b64(previous["schema"])
                check_publishable(old_schema, self.storage_schema, self.table)
                old = wh._read(os.path.join(wh._table_dir(self.table), previous["dir"]), old_schema)
                staged = self._staged_df()
                staged_keys = staged.select(
                    *[staged[k].alias(f"__key{i}") for i, k in enumerate(keys)]
                ).distinct()
                # Null-safe key match (<=>), the same rule the DuckDB engine applies.
                cond = reduce(
                    lambda a, b: a & b,
                    [old[k].eqNullSafe(staged_keys[f"__key{i}"]) for i, k in enumerate(keys)],
                )
                merged = old.join(staged_keys, cond, "left_anti").unionByName(staged)
                merged.write.parquet(target)
            version = wh._switch(
                self.table, version_dir, self.storage_schema, self.load_id, previous
            )
        self._state = "published"
        self._finish()
        return PublishResult(self.table, self.load_id, mode, rows, version)

    def abort(self) -> None:
        if self._state != "open":
            return
        self._state = "aborted"
        self._finish()

    def _finish(self) -> None:
        with self._wh._lock:
            if self._wh._session is not None:
                self._wh._session.catalog.dropTempView(self.view)
        shutil.rmtree(self.dir, ignore_errors=True)  # gone already after a full publish
        with contextlib.suppress(FileNotFoundError):
            os.remove(self._lock_path)
        self._release_lock()


__all__ = ["SparkStage", "SparkWarehouse"]
