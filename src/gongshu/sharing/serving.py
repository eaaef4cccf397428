"""Serving replicas: read-only copies of published tables sorted by a key, for the
gateway's point lookups.

A DuckDB point query costs ~0.25 ms of CPU even through an ART index (parse, bind, plan,
schedule), several times the rest of a gateway call. A replica answers the same lookup
in tens of microseconds, inline on the event loop: the table's rows sorted by the key
column are written once to an uncompressed Arrow IPC file under
``<data_dir>/serving/<runtime>/`` and memory-mapped (zero copy); the sorted key column
is also held as a fixed-width numpy bytes array, so a lookup is a ``searchsorted``
(a second one only for a key with several rows) and the found rows' values read from
their record batch.

Consistency: a replica is built for one ``Warehouse.data_version(table)`` token and
used only while the warehouse reports that same token (checked on every call: a dict
lookup). A publish or drop changes the token, so the next call goes to the warehouse
again while a new replica is built in a background thread; the superseded file is
deleted. A build whose token changed while it read the table is discarded. Engines
without a token (``None``: Spark) are never served from a replica. On DuckDB the
server process owns the warehouse file (DuckDB's lock), so no other process can publish
behind its back; a reopened warehouse invalidates every replica.

Only string key columns are replicated (the gateway's keys are text; other types go
through the engine's casts). Rows whose key is NULL never match ``key = ?`` and are
left out. Keys containing NUL bytes (which fixed-width numpy bytes cannot tell from
padding) are answered by the warehouse.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
import uuid
from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gongshu.processes import pid_alive
from gongshu.sharing.warehouse_access import Rows
from gongshu.warehouse import Warehouse

log = logging.getLogger("gongshu.sharing.serving")

BATCH_ROWS = 65536


def _row_type(t: pa.DataType) -> pa.DataType | None:
    """The ``Rows.types`` entry the DuckDB path reports for a column of Arrow type ``t``
    (see ``warehouse_access._ARROW``): None where it leaves the type to Arrow."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pa.string()
    if t in (
        pa.date32(),
        pa.int64(),
        pa.int32(),
        pa.int16(),
        pa.int8(),
        pa.float64(),
        pa.float32(),
        pa.bool_(),
    ):
        return t
    return None


def _fixed_width(arr: pa.Array) -> np.ndarray:
    """A string array as numpy fixed-width bytes (``S<max length>``), vectorised."""
    arr = pc.cast(arr, pa.large_binary()) if not pa.types.is_large_binary(arr.type) else arr
    if arr.offset:
        arr = pa.concat_arrays([arr])  # rebase the offsets
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64, count=n + 1)
    lengths = np.diff(offsets)
    width = max(int(lengths.max()) if n else 0, 1)
    out = np.zeros((n, width), dtype=np.uint8)
    total = int(offsets[-1] - offsets[0])
    if total:
        data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
        rows = np.repeat(np.arange(n), lengths)
        cols = np.arange(total) - np.repeat(offsets[:-1] - offsets[0], lengths)
        out[rows, cols] = data
    return out.view(f"S{width}").reshape(n)


ValueReader = Callable[[int], Any]
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_FIXED_CODES = {
    pa.int64(): "q", pa.int32(): "i", pa.int16(): "h", pa.int8(): "b",
    pa.float64(): "d", pa.float32(): "f", pa.date32(): "i",
}  # fmt: skip


def value_reader(arr: pa.Array) -> ValueReader:
    try:
        read = _buffer_reader(arr)
    except (TypeError, ValueError):  # a buffer layout memoryview cannot cast
        read = None
    return read if read is not None else lambda j: arr[j].as_py()


def _buffer_reader(arr: pa.Array) -> ValueReader | None:
    """``j -> arr[j].as_py()`` reading the array's buffers directly (memoryviews of the
    mapped file): a point lookup reads a handful of values, and building a pyarrow
    scalar per value costs several times more than the read itself. None for a type
    without a direct form (:func:`value_reader` then uses ``as_py``)."""
    t, off = arr.type, arr.offset
    bufs = arr.buffers()
    valid = memoryview(bufs[0]) if arr.null_count and bufs[0] is not None else None

    def is_null(j: int) -> bool:
        i = off + j
        return valid is not None and not (valid[i >> 3] >> (i & 7)) & 1

    if pa.types.is_string(t) or pa.types.is_large_string(t):
        offsets = memoryview(bufs[1]).cast("q" if pa.types.is_large_string(t) else "i")
        data = memoryview(bufs[2]) if bufs[2] is not None else memoryview(b"")

        def read_str(j: int) -> str | None:
            if is_null(j):
                return None
            return str(data[offsets[off + j] : offsets[off + j + 1]], "utf-8")

        return read_str
    code = _FIXED_CODES.get(t)
    if code is not None:
        values = memoryview(bufs[1]).cast(code)
        if t == pa.date32():
            return lambda j: (
                None if is_null(j) else date.fromordinal(_EPOCH_ORDINAL + values[off + j])
            )
        return lambda j: None if is_null(j) else values[off + j]
    if t == pa.bool_():
        bits = memoryview(bufs[1])
        return lambda j: None if is_null(j) else bool((bits[(off + j) >> 3] >> ((off + j) & 7)) & 1)
    return None


class Replica:
    """One built replica: the mapped rows and their sorted keys."""

    def __init__(
        self,
        wh: Warehouse,
        table: str,
        key: str,
        version: Any,
        path: Path,
        rows: pa.Table,
        keys: np.ndarray,
    ) -> None:
        self.wh = wh
        self.table = table
        self.key = key
        self.version = version
        self.path = path
        self.data = rows
        self.keys = keys
        self.width = keys.dtype.itemsize
        self.build_s: float | None = None
        self.index = {name: i for i, name in enumerate(rows.column_names)}
        self.types = {
            name: _row_type(t) for name, t in zip(rows.column_names, rows.schema.types, strict=True)
        }
        # Chunk starts (every column of an IPC file is chunked by its record batches).
        self.starts = [0]
        for chunk in rows.column(0).chunks if rows.num_columns else ():
            self.starts.append(self.starts[-1] + len(chunk))
        self.starts.pop()
        self._selected: dict[tuple[str, ...], Any] = {}
        self._readers: dict[str, list[ValueReader]] = {}

    def _select(
        self, columns: tuple[str, ...]
    ) -> tuple[list[list[ValueReader]], tuple[Any, ...]] | None:
        sel = self._selected.get(columns, False)
        if sel is False:
            if len(self._selected) > 64:
                self._selected.clear()
            if not self.has(columns):
                self._selected[columns] = None
                return None
            picked = [self._column_readers(c) for c in columns]
            sel = self._selected[columns] = (
                [list(chunk) for chunk in zip(*picked, strict=True)],
                tuple(self.types[c] for c in columns),
            )
        return sel

    def _column_readers(self, column: str) -> list[ValueReader]:
        readers = self._readers.get(column)
        if readers is None:
            chunks = self.data.column(self.index[column]).chunks
            readers = self._readers[column] = [value_reader(chunk) for chunk in chunks]
        return readers

    def has(self, columns: Sequence[str]) -> bool:
        return all(c in self.index for c in columns)

    def lookup(self, keys: Sequence[str], columns: tuple[str, ...]) -> Rows | None:
        """Rows whose key is one of ``keys`` (in the order of ``keys``), or None when the
        warehouse must answer (a key this replica cannot represent). Like ``IN (...)``,
        a repeated key yields its rows once. Values are Arrow's own ``as_py`` (per
        value: cheaper than slicing the table for the one row a point query finds)."""
        sel = self._select(columns)
        if sel is None:  # a column the replica does not have (a changed catalog)
            return None
        readers, types = sel
        sk, n, starts = self.keys, len(self.keys), self.starts
        out: list[tuple[Any, ...]] = []
        for k in dict.fromkeys(keys) if len(keys) > 1 else keys:
            b = k.encode()
            if b"\x00" in b:
                return None
            if len(b) > self.width:
                continue
            lo = int(sk.searchsorted(b, "left"))
            if lo == n or sk[lo] != b:
                continue
            hi = lo + 1 if lo + 1 == n or sk[lo + 1] != b else int(sk.searchsorted(b, "right"))
            for p in range(lo, hi):
                ci = bisect_right(starts, p) - 1
                j = p - starts[ci]
                out.append(tuple([read(j) for read in readers[ci]]))
        return Rows(columns, types, out)


class Serving:
    """The replicas of one gateway runtime (one directory, deleted on close)."""

    def __init__(self, base_dir: Path, enabled: bool = True) -> None:
        self.enabled = enabled
        self.base = base_dir / "serving"
        self.dir = self.base / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.replicas: dict[tuple[str, str], Replica] = {}
        self.building: set[tuple[str, str]] = set()
        self.unsupported: dict[tuple[str, str], Any] = {}  # (table, key) → version
        self.builds = 0
        self.hits = 0  # calls answered from a replica
        self.closed = False
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    # -- the hot path
    def get(self, wh: Warehouse, table: str, key: str) -> Replica | None:
        """The replica of ``table`` by ``key`` if it holds the table's current version;
        otherwise None, and a build is started in the background."""
        if not self.enabled:
            return None
        rep = self.replicas.get((table, key))
        version = wh.data_version(table)
        if version is None:
            return None
        if rep is not None and rep.version == version and rep.wh is wh:
            return rep
        self._start_build(wh, table, key, version)
        return None

    def ready(self, table: str, key: str) -> bool:
        return (table, key) in self.replicas

    def status(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "replicas": {
                f"{t}.{k}": {
                    "rows": r.data.num_rows,
                    "bytes": r.path.stat().st_size,
                    "build_s": r.build_s,
                }
                for (t, k), r in list(self.replicas.items())
            },
            "building": sorted(f"{t}.{k}" for t, k in self.building),
            "builds": self.builds,
        }

    # -- building
    def _start_build(self, wh: Warehouse, table: str, key: str, version: Any) -> None:
        k = (table, key)
        if k in self.building or self.closed or self.unsupported.get(k) == version:
            return
        with self._lock:
            if k in self.building or self.closed:
                return
            self.building.add(k)
            t = threading.Thread(
                target=self._build, args=(wh, table, key, version), name="gw-serving", daemon=True
            )
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)
        t.start()

    def _build(self, wh: Warehouse, table: str, key: str, version: Any) -> None:
        k = (table, key)
        path = self.dir / f"{table}.{key}.{uuid.uuid4().hex[:8]}.arrow"
        rep: Replica | None = None
        t0 = time.monotonic()
        try:
            rep = build(wh, table, key, version, path)
            if rep is None:  # e.g. the table was dropped: the old replica is of no use
                self.unsupported[k] = version
                with self._lock:
                    stale = self.replicas.pop(k, None)
                if stale is not None:
                    _unlink(stale.path)
                return
            rep.build_s = round(time.monotonic() - t0, 2)
            with self._lock:
                if self.closed or wh.data_version(table) != version:
                    stale, rep = rep, None  # published meanwhile: the next call rebuilds
                else:
                    stale = self.replicas.get(k)
                    self.replicas[k] = rep
                    self.builds += 1
            if stale is not None:
                _unlink(stale.path)  # the mapping stays valid for calls holding it
        except Exception:  # retried after the next publish, not on every call
            log.warning("serving replica of %s(%s) failed", table, key, exc_info=True)
            self.unsupported[k] = version
            _unlink(path)
        finally:
            self.building.discard(k)

    def wait(self, timeout: float | None = None) -> None:
        """Join the builds in flight (tests, benchmarks, shutdown)."""
        for t in list(self._threads):
            t.join(timeout)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self.replicas.clear()
        self.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def cleanup_stale(self) -> None:
        """Remove directories left by runtimes of processes that are gone."""
        if not self.base.is_dir():
            return
        for d in self.base.iterdir():
            pid = d.name.split("-", 1)[0]
            if d == self.dir or not pid.isdigit():
                continue
            if int(pid) != os.getpid() and not pid_alive(int(pid)):
                shutil.rmtree(d, ignore_errors=True)


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def build(wh: Warehouse, table: str, key: str, version: Any, path: Path) -> Replica | None:
    """Write ``table`` sorted by ``key`` to ``path`` and map it; None when the table cannot
    be served this way (missing, non-text key, keys with NUL bytes, unsorted result).

    Streams through the engine (``order_by`` → ``to_batches``): memory stays bounded by a
    batch plus the key array (a few tens of bytes per row).
    """
    if not wh.exists(table):
        return None
    t = wh.table(table)
    if key not in t.columns or not t[key].type().is_string():
        return None
    expr = t.filter(t[key].notnull()).order_by(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    parts: list[np.ndarray] = []
    tmp = path.with_suffix(".tmp")
    try:
        reader = wh.to_batches(expr, batch_size=BATCH_ROWS)
        with pa.OSFile(str(tmp), "wb") as sink:
            writer: pa.ipc.RecordBatchFileWriter | None = None
            try:
                for batch in reader:
                    if batch.num_rows == 0:
                        continue
                    if writer is None:
                        writer = pa.ipc.new_file(sink, batch.schema)
                    col = batch.column(key)
                    if pc.any(pc.match_substring(col, "\x00")).as_py():
                        return None
                    parts.append(_fixed_width(col))
                    writer.write_batch(batch)
                if writer is None:
                    writer = pa.ipc.new_file(sink, reader.schema)
            finally:
                if writer is not None:
                    writer.close()
                reader.close()
        os.replace(tmp, path)
    finally:
        _unlink(tmp)
    width = max((p.dtype.itemsize for p in parts), default=1)
    keys = np.concatenate([p.astype(f"S{width}") for p in parts]) if parts else np.array([], "S1")
    if len(keys) > 1 and not bool(np.all(keys[:-1] <= keys[1:])):
        _unlink(path)  # the engine's collation is not byte order: serve from the engine
        return None
    source = pa.memory_map(str(path), "r")
    data = pa.ipc.open_file(source).read_all()
    return Replica(wh, table, key, version, path, data, keys)
