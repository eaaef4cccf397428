"""One load, end to end: read → transform → stage → gate → publish (or abort).

The data path is Arrow batches all the way: the reader streams batches, the
transformer splits each into accepted and rejected rows with vectorised kernels, the
accepted rows stream into the warehouse stage, rejects spill to a temporary Arrow IPC
file (so a file of bad rows cannot exhaust memory) and are staged into the resource's
rejects table after the pass. Publishing is the warehouse's atomic switch: until it
happens, readers see the old table, and a crash leaves only staging that the next
connect removes.
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pyarrow as pa

from gongshu.errors import AppError, ValidationFailed
from gongshu.ingest import gate
from gongshu.ingest.readers import CsvReader, RawBatch, Segment, TabularReader
from gongshu.ingest.settings import IngestSettings
from gongshu.ingest.spec import ResourceSpec
from gongshu.ingest.transform import REJECT_SCHEMA, ColumnMap, Transformer, TransformResult
from gongshu.warehouse import Warehouse

REJECT_TABLE_SCHEMA = pa.schema(
    [("load_id", pa.int64()), ("line", pa.int64()), ("reason", pa.string()), ("raw", pa.string())]
)
Progress = Callable[[int, int], None]  # (rows read so far, source bytes read so far)


class GateBlocked(AppError):
    status_code = 422
    default_code = "gate_blocked"
    stats: LoadStats | None = None


@dataclass
class LoadStats:
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    bytes_read: int = 0
    duration_s: float = 0.0
    published_rows: int = 0
    findings: list[gate.GateFinding] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    watermark: object = None


def run_load(
    wh: Warehouse,
    spec: ResourceSpec,
    reader: TabularReader,
    mapping: list[ColumnMap],
    *,
    load_id: int,
    mode: str = "full",
    max_reject_ratio: float = 0.5,
    progress: Progress | None = None,
    tmp_dir: str | os.PathLike[str] | None = None,
    on_batch: Callable[[pa.RecordBatch], None] | None = None,
) -> LoadStats:
    """Load everything ``reader`` yields into ``spec``'s table; raises on failure.

    On any exception (including :class:`GateBlocked`) nothing was published.
    ``on_batch`` sees each raw source batch (connectors track watermarks with it).
    """
    if mode not in ("full", "incremental"):
        raise ValidationFailed("归集方式只能是全量或增量", code="bad_mode")
    keys = spec.key_columns
    if mode == "incremental" and not keys:
        raise ValidationFailed("增量归集需要资源目录中标明主键数据项", code="no_key")
    if not spec.items:
        raise ValidationFailed("资源目录中没有数据项，无法归集", code="no_items")
    started = time.monotonic()
    stats = LoadStats(columns=list(reader.columns))

    def make_transformer() -> Transformer:
        return Transformer(spec, mapping, list(reader.columns), reader.encoding)

    make_transformer()  # a wrong mapping fails here, before anything is staged
    workers = parse_workers()
    spill_dir = Path(tmp_dir) if tmp_dir else None
    if spill_dir:
        spill_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        prefix=f"rejects-{load_id}-", suffix=".arrow", dir=spill_dir, delete=True
    ) as spill:
        writer = pa.ipc.new_stream(spill, REJECT_SCHEMA)

        def accepted() -> Iterator[pa.RecordBatch]:
            for raw, result in transformed(reader, make_transformer, workers):
                if on_batch is not None:
                    on_batch(raw.batch)
                stats.rows_read += raw.batch.num_rows + len(raw.bad)
                stats.rows_accepted += result.accepted.num_rows
                stats.rows_rejected += result.rejected.num_rows
                stats.bytes_read = max(stats.bytes_read, raw.bytes_read)
                if result.rejected.num_rows:
                    writer.write_batch(result.rejected)
                if progress is not None:
                    progress(stats.rows_read, stats.bytes_read)
                if result.accepted.num_rows:
                    yield result.accepted

        with wh.begin_load(spec.table, load_id, spec.arrow_schema) as stage:
            # Segmented sources are parsed ahead by the pool; others by one thread.
            segmented = workers > 1 and isinstance(reader, CsvReader)
            batches = accepted() if segmented else prefetch(accepted())
            try:
                stage.append(pa.RecordBatchReader.from_batches(spec.arrow_schema, batches))
            finally:
                batches.close()  # stops and joins the producer before the reader closes
                reader.close()
            writer.close()
            spill.flush()
            ctx = gate.GateContext(
                resource=spec,
                staged=stage.staged_table(),
                warehouse=wh,
                load_id=load_id,
                mode=mode,
                rows_read=stats.rows_read,
                rows_accepted=stats.rows_accepted,
                rows_rejected=stats.rows_rejected,
                max_reject_ratio=max_reject_ratio,
            )
            verdict = gate.evaluate(ctx)
            stats.findings = verdict.findings
            if stats.rows_rejected:
                _publish_rejects(wh, spec, load_id, spill.name)
            if not verdict.passed:
                blocked = GateBlocked(f"质量闸门未通过：{verdict.message()}")
                blocked.stats = stats  # the load records what was read even when blocked
                raise blocked
            result = stage.publish(mode, key_columns=keys if mode == "incremental" else None)
            stats.published_rows = result.rows
    stats.duration_s = time.monotonic() - started
    return stats


T = TypeVar("T")
Transformed = tuple[RawBatch, TransformResult]


def parse_workers() -> int:
    """Threads that parse and transform segments of one CSV at once
    (``GONGSHU_INGEST_PARSE_THREADS``; 0, the default: the CPUs, at most 4)."""
    configured = IngestSettings().parse_threads  # read per load: tests and operators change it
    return configured or max(1, min(4, os.cpu_count() or 1))


def transformed(
    reader: TabularReader, make_transformer: Callable[[], Transformer], workers: int
) -> Iterator[Transformed]:
    """Each source batch with its transform result, in source order.

    A CSV is cut into segments of whole records that ``workers`` threads parse and
    transform at once (pyarrow's parser and kernels release the GIL); this generator
    keeps at most ``workers + 1`` segments in flight, hands results out in order and
    numbers their lines (a segment's line numbers depend on the records before it)."""
    if workers < 2 or not isinstance(reader, CsvReader):
        transformer = make_transformer()
        for raw in reader.batches():
            transformer.check_replacement = reader.replaced
            yield raw, transformer(raw.batch, raw.lines, raw.bad)
        return
    local = threading.local()

    def work(segment: Segment) -> list[Transformed]:
        transformer = getattr(local, "transformer", None)
        if transformer is None:
            transformer = local.transformer = make_transformer()
        raws, replaced = reader.parse_segment(segment)
        transformer.check_replacement = replaced
        return [(raw, transformer(raw.batch, raw.lines, raw.bad)) for raw in raws]

    records = 0  # records before the segment being handed out
    pending: deque[tuple[Segment, Future[list[Transformed]]]] = deque()
    segments = reader.segments()
    with ThreadPoolExecutor(workers, thread_name_prefix="ingest-parse") as pool:
        try:
            while True:
                for segment in segments:
                    pending.append((segment, pool.submit(work, segment)))
                    if len(pending) > workers:
                        break
                if not pending:
                    return
                segment, future = pending.popleft()
                offset = reader.line_offset(segment, records)
                for raw, result in future.result():
                    records += raw.batch.num_rows + len(raw.bad)
                    yield raw.shifted(offset), result.shifted(offset)
        finally:
            for _, future in pending:
                future.cancel()
            segments.close()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


def prefetch(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Produce ``items`` in a background thread, up to ``depth`` ahead of the consumer.

    Reading and transforming the next batch then overlaps with the warehouse writing
    the last one (DuckDB releases the GIL). A third thread (reading apart from
    transforming) measured slower: the threads then queue for the GIL (the GBK codec
    holds it while it decodes a column). Memory stays bounded by ``depth`` batches.
    An exception in the producer is raised in the consumer. Closing the returned
    generator (the consumer stopped early: a failed insert) stops the producer at its
    next batch, waits for it and closes ``items``.
    """
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failed(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="ingest-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


def _publish_rejects(wh: Warehouse, spec: ResourceSpec, load_id: int, path: str) -> None:
    """Rejects of this load into the resource's rejects table (kept per load)."""
    with pa.memory_map(path) as source:
        reader = pa.ipc.open_stream(source)

        def batches() -> Iterator[pa.RecordBatch]:
            for b in reader:
                ids = pa.repeat(pa.scalar(load_id, pa.int64()), b.num_rows)
                yield pa.RecordBatch.from_arrays([ids, *b.columns], schema=REJECT_TABLE_SCHEMA)

        with wh.begin_load(spec.rejects_table, load_id, REJECT_TABLE_SCHEMA) as stage:
            stage.append(pa.RecordBatchReader.from_batches(REJECT_TABLE_SCHEMA, batches()))
            stage.publish("incremental", key_columns=["load_id"])
