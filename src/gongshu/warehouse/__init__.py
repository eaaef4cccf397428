"""The warehouse: gongshu's data plane, one Ibis interface over DuckDB and PySpark.

Everything above this layer (ingest, quality, sharing, open data, indicators)
talks to published tables through Ibis expressions and gets Arrow or pandas back,
so the same code runs on the embedded DuckDB file and on a Spark cluster.

Connecting
----------
``connect(url, *, spark_session=None, cleanup=True) -> Warehouse``

* ``duckdb://`` or ``duckdb://:memory:`` - in-memory database.
* ``duckdb:///var/gongshu.duckdb`` - relative path ``var/gongshu.duckdb``;
  ``duckdb:////srv/gongshu.duckdb`` - absolute path (SQLAlchemy's convention,
  like the control plane's ``sqlite:///``). Query parameters are DuckDB settings,
  e.g. ``?threads=4&memory_limit=8GB``; ``read_only=true`` opens read-only.
* ``spark://local[2]?warehouse_dir=/srv/wh`` - local-mode Spark;
  ``spark://host:7077?warehouse_dir=/mnt/wh`` a standalone master, ``spark://yarn?...``
  YARN. Other ``spark.*`` parameters become Spark conf; ``keep_versions=N`` (default 2)
  sets how many table versions are kept. ``spark_session=`` reuses a session.

``cleanup`` runs :meth:`Warehouse.cleanup_stale_staging` on connect.

Reading (``wh`` is a :class:`Warehouse`)
---------------------------------------
* ``wh.table(name) -> ibis.Table`` the published table; ``wh.exists(name) -> bool``;
  ``wh.list_tables() -> list[str]`` (published only, never staging);
  ``wh.schema(name) -> pyarrow.Schema``; ``wh.count(name) -> int``;
  ``wh.drop(name, missing_ok=True)``.
* ``wh.execute(expr)`` -> pandas DataFrame / Series / scalar (small results);
  ``wh.to_pyarrow(expr)`` -> pyarrow Table / ChunkedArray / Scalar;
  ``wh.to_batches(expr, batch_size=65536) -> pyarrow.RecordBatchReader``: a stream of
  record batches (iterate it) holding a bounded number of rows in memory.
* ``wh.data_version(name)`` -> a token that changes on every publish/drop of ``name``
  (DuckDB; ``None`` on Spark): key caches of derived results (counts, page indexes) on it.

Loading
-------
::

    with wh.begin_load(table_name_for("JC-330600-SJJ-000123"), load_id, arrow_schema) as stage:
        stage.append(reader)          # RecordBatch | Table | RecordBatchReader | ibis.Table
        bad = wh.execute(rule(stage.staged_table()))   # blocking quality rules
        stage.publish("incremental", key_columns=["tyshxydm"])   # or "full"

Every row of a load gets ``_load_id`` (BIGINT). Publishing is atomic on both engines:
readers see the old table or the new one, never a mix, and a process killed at any
point (even ``kill -9``) leaves the published table exactly as it was; staging
leftovers are removed by ``cleanup_stale_staging()``. ``full`` replaces the table;
``incremental`` upserts: published rows whose key (null-safe) appears among the staged
rows are replaced by the staged rows, other rows are kept. Duplicate keys inside one
load are all inserted (catching them is the quality gate's job). Leaving the ``with``
block unpublished, by exception or not, aborts. ``wh.put_table(name, arrow_table)``
atomically creates or replaces a small auxiliary table (no ``_load_id``).

Names and types
---------------
``table_name_for(code)`` / ``column_name_for(code)`` turn catalog codes into safe
identifiers (``[a-z][a-z0-9_]*``, at most 63 chars); unsafe names raise ValueError.
Columns use one canonical Arrow type set so both engines store the same thing:
string, binary, bool, int8-64, float32/64, date32, timestamp[us, UTC],
decimal128 - see :func:`normalize_schema`. Strings stay strings (leading zeros kept).

Sharing one warehouse per process
---------------------------------
``shared(url)`` returns the process's one open :class:`Warehouse` for ``url`` (opened on
first use; the server process owns the DuckDB file, so every domain must go through
it rather than ``connect`` again); ``release_shared(url)`` closes it (app shutdown).

Concurrency: see :mod:`gongshu.warehouse.duckdb_engine` (per-thread cursors) and
:mod:`gongshu.warehouse.spark_engine` (pointer files and flocks).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from gongshu.warehouse.base import (
    DEFAULT_BATCH_SIZE,
    LOAD_ID_COLUMN,
    STAGING_PREFIX,
    LoadStateError,
    PublishMode,
    PublishResult,
    SchemaError,
    Stage,
    TableNotFoundError,
    Warehouse,
    WarehouseError,
    column_name_for,
    normalize_schema,
    parsed_statement,
    table_name_for,
    validate_column_name,
    validate_table_name,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "LOAD_ID_COLUMN",
    "STAGING_PREFIX",
    "LoadStateError",
    "PublishMode",
    "PublishResult",
    "SchemaError",
    "Stage",
    "TableNotFoundError",
    "Warehouse",
    "WarehouseError",
    "column_name_for",
    "connect",
    "normalize_schema",
    "parsed_statement",
    "release_shared",
    "shared",
    "table_name_for",
    "validate_column_name",
    "validate_table_name",
]

_TRUE = {"1", "true", "yes", "on"}


def _split(url: str, scheme: str) -> tuple[str, dict[str, str]]:
    rest = url[len(scheme) :]
    location, _, query = rest.partition("?")
    return location, dict(parse_qsl(query, keep_blank_values=True))


def _connect_duckdb(url: str, cleanup: bool) -> Warehouse:
    from gongshu.warehouse.duckdb_engine import DuckDBWarehouse

    location, params = _split(url, "duckdb://")
    if location in ("", ":memory:", "/:memory:"):
        path = None
    elif location.startswith("/"):
        path = location[1:]  # "duckdb:///rel/x" -> "rel/x"; "duckdb:////abs/x" -> "/abs/x"
        if not path:
            raise ValueError(f"no database path in {url!r}")
    else:
        raise ValueError(
            f"bad DuckDB URL {url!r}: use duckdb:///relative/path.duckdb, "
            "duckdb:////absolute/path.duckdb or duckdb://:memory:"
        )
    read_only = params.pop("read_only", "false").lower() in _TRUE
    return DuckDBWarehouse(url, path, config=params, read_only=read_only, cleanup=cleanup)


def _connect_spark(url: str, cleanup: bool, spark_session: SparkSession | None) -> Warehouse:
    from gongshu.warehouse.spark_engine import SparkWarehouse

    location, params = _split(url, "spark://")
    location = location.rstrip("/")
    warehouse_dir = params.pop("warehouse_dir", "")
    if not warehouse_dir:
        raise ValueError(f"Spark URL {url!r} needs ?warehouse_dir=/path")
    keep_versions = int(params.pop("keep_versions", "2"))
    if location == "" or location.startswith("local"):
        master = location or "local[*]"
    elif location in ("yarn",) or "://" in location:
        master = location
    else:
        master = f"spark://{location}"
    unknown = [k for k in params if not k.startswith("spark.")]
    if unknown:
        raise ValueError(f"unknown Spark URL parameters {unknown}; Spark conf keys start 'spark.'")
    return SparkWarehouse(
        url,
        warehouse_dir,
        master=master,
        conf=params,
        spark_session=spark_session,
        keep_versions=keep_versions,
        cleanup=cleanup,
    )


def connect(
    url: str, *, spark_session: SparkSession | None = None, cleanup: bool = True
) -> Warehouse:
    """Open the warehouse at ``url`` (see the module docstring for URL forms)."""
    if url.startswith("duckdb:"):
        if not url.startswith("duckdb://"):
            raise ValueError(f"bad DuckDB URL {url!r}")
        return _connect_duckdb(url, cleanup)
    if url.startswith("spark://"):
        return _connect_spark(url, cleanup, spark_session)
    raise ValueError(f"unsupported warehouse URL {url!r}: use duckdb://... or spark://...")


_SHARED: dict[str, Warehouse] = {}
_SHARED_LOCK = threading.Lock()


def shared(url: str) -> Warehouse:
    """The process-wide warehouse for ``url``, opened once and reused by every caller."""
    with _SHARED_LOCK:
        wh = _SHARED.get(url)
        if wh is None:
            wh = _SHARED[url] = connect(url)
        return wh


def release_shared(url: str) -> None:
    """Close the shared warehouse for ``url`` (if open); the next ``shared`` reopens it."""
    with _SHARED_LOCK:
        wh = _SHARED.pop(url, None)
    if wh is not None:
        wh.close()
