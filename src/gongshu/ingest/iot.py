"""物联感知: device readings, spooled to disk on arrival, appended to the warehouse in
micro-batches.

At-least-once: a batch is acknowledged only after it is appended and fsynced to the
resource's spool file; the flusher turns spool files into loads and deletes a file only
after its load published. A graceful shutdown flushes everything; after a crash the
spool is loaded at the next start, and a reading loaded twice replaces itself (IoT
resources must have key items, e.g. 设备编号 + 采集时间, and loads upsert by them).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session, sessionmaker

from gongshu.config import Settings
from gongshu.errors import ValidationFailed
from gongshu.ingest import catalog_port, service
from gongshu.ingest.models import Device, Load
from gongshu.ingest.readers import ArrowReader
from gongshu.ingest.spec import ResourceSpec
from gongshu.ingest.transform import ColumnMap, default_normalize
from gongshu.warehouse import Warehouse

log = logging.getLogger("gongshu.ingest.iot")
MAX_FAILURES = 3


def device_column(spec: ResourceSpec) -> str | None:
    """The item that names the device (a key item called 设备…): set by the server, so a
    device cannot write readings in another device's name."""
    for item in spec.items:
        if item.is_key and "设备" in item.name:
            return item.column
    return None


class IotBuffer:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], wh: Warehouse) -> None:
        self.root = settings.data_dir / "iot"
        self.root.mkdir(parents=True, exist_ok=True)
        self.settings = settings
        self.sessions = sessions
        self.wh = wh
        self._lock = threading.Lock()  # spool appends and rotations
        self._flush_lock = threading.Lock()  # one flush at a time
        self.pending_rows = 0
        self._failures: dict[str, int] = {}

    # ---- accept ------------------------------------------------------------------------
    def accept(self, session: Session, device: Device, readings: Any, max_batch: int) -> int:
        if isinstance(readings, dict):
            readings = readings.get("readings")
        if not isinstance(readings, list) or not readings:
            raise ValidationFailed(
                '请求体须为读数数组，或 {"readings": [...]}', code="bad_readings"
            )
        if len(readings) > max_batch:
            raise ValidationFailed(f"单次最多上报 {max_batch} 条读数", code="too_many_readings")
        if not all(isinstance(r, dict) for r in readings):
            raise ValidationFailed("每条读数须为 JSON 对象", code="bad_readings")
        spec = catalog_port.require_published(catalog_port.resource(session, device.resource_id))
        dev_col = device_column(spec)
        columns = {i.column for i in spec.items}
        lines = []
        for r in readings:
            row = {k: v for k, v in r.items() if k in columns}
            if dev_col:
                row[dev_col] = device.code
            lines.append(orjson.dumps(row))
        payload = b"\n".join(lines) + b"\n"
        folder = self.root / str(spec.id)
        with self._lock:
            folder.mkdir(exist_ok=True)
            fd = os.open(folder / "current.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, payload)
                os.fsync(fd)
            finally:
                os.close(fd)
            self.pending_rows += len(lines)
        device.readings += len(lines)
        device.last_seen_at = service.utcnow()
        session.commit()
        return len(lines)

    # ---- flush -------------------------------------------------------------------------
    def _rotate(self) -> list[Path]:
        with self._lock:
            for folder in self.root.iterdir():
                current = folder / "current.jsonl"
                if current.exists() and current.stat().st_size:
                    current.rename(folder / f"batch-{time.time_ns()}.jsonl")
            self.pending_rows = 0
        return sorted(self.root.glob("*/batch-*.jsonl"))

    def flush(self) -> list[Load]:
        """Load every spooled reading; returns the loads made. Safe to call any time."""
        loads = []
        with self._flush_lock:
            for path in self._rotate():
                load = self._load_file(path)
                if load is not None:
                    loads.append(load)
        return loads

    def _load_file(self, path: Path) -> Load | None:
        resource_id = int(path.parent.name)
        session = self.sessions()
        try:
            spec = catalog_port.resource(session, resource_id)
            actor = service.scheduler_principal()
            columns = [i.column for i in spec.items]
            mapping = [ColumnMap(i.column, i.column, default_normalize(i)) for i in spec.items]
            load = service.start_load(
                session,
                actor,
                spec,
                kind="iot",
                config={"path": str(path)},
                mapping=[m.as_dict() for m in mapping],
                mode="incremental",
                file_name=path.name,
                max_reject_ratio=1.0,  # bad readings are rejects, never a reason to drop good ones
            )
            reader = ArrowReader(columns, _read_spool(path, columns, spec.key_columns), "iot")
            load = service.execute_load(
                session, actor, load.id, wh=self.wh, settings=self.settings, reader=reader
            )
            if load.status == "succeeded":
                path.unlink()
                self._failures.pop(str(path), None)
            else:
                self._failed(path, load.error)
            return load
        except Exception as exc:  # keep the spool file; retried at the next flush
            log.warning("IoT flush of %s failed: %s", path, exc)
            session.rollback()
            self._failed(path, str(exc))
            return None
        finally:
            session.close()

    def _failed(self, path: Path, error: str | None) -> None:
        n = self._failures.get(str(path), 0) + 1
        self._failures[str(path)] = n
        if n >= MAX_FAILURES:
            # Park it (not delete): an operator can inspect and replay it.
            parked = path.parent / "failed"
            parked.mkdir(exist_ok=True)
            path.rename(parked / path.name)
            self._failures.pop(str(path), None)
            log.error("IoT spool %s parked after %d failures: %s", path, n, error)


def _read_spool(path: Path, columns: list[str], keys: list[str]) -> Iterator[pa.RecordBatch]:
    """A spool file as one batch, a re-sent reading (same key) kept once (the last)."""
    rows: list[dict[str, Any]] = []
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                obj = orjson.loads(line)
                rows.append({c: _text(obj.get(c)) for c in columns})
    table = pa.Table.from_pylist(rows, schema=_schema(columns))
    if keys and table.num_rows:
        indexed = table.append_column("__i", pa.array(range(table.num_rows), pa.int64()))
        last = indexed.group_by(keys, use_threads=False).aggregate([("__i", "max")])
        keep = last.column("__i_max").combine_chunks()
        table = table.take(keep.take(pc.array_sort_indices(keep)))  # arrival order
    yield from table.to_batches()


def _schema(columns: list[str]) -> pa.Schema:
    return pa.schema([(c, pa.string()) for c in columns])


def _text(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v) if isinstance(v, float) else str(v)
    return orjson.dumps(v).decode()
