"""Streaming downloads: CSV (UTF-8 BOM), JSON, Parquet and XLSX from a record-batch reader.

Each generator holds one batch (plus the writer's own buffer) at a time, so a download
of any size runs in bounded memory. XLSX is the exception the format forces: openpyxl's
write-only mode spills rows to temporary files, then the finished zip is streamed from a
spooled temporary file; it is capped at Excel's row limit with a note in the sheet.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator, Sequence

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from gongshu.opendata.query import jsonable

BOM = "\ufeff".encode()
EXCEL_MAX_ROWS = 1_048_576
CHUNK = 1 << 20

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMATS = tuple(MEDIA_TYPES)


class _Sink(io.RawIOBase):
    """A write-only file object whose bytes are collected and drained by the generator."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.pos = 0

    def writable(self) -> bool:
        return True

    def write(self, b: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        data = bytes(b)
        self.parts.append(data)
        self.pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self.pos

    def drain(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def _renamed(batch: pa.RecordBatch, header: Sequence[str] | None) -> pa.RecordBatch:
    if header is None:
        return batch
    return pa.RecordBatch.from_arrays(batch.columns, names=list(header))


def csv_stream(
    reader: pa.RecordBatchReader, header: Sequence[str] | None = None
) -> Iterator[bytes]:
    sink = _Sink()
    yield BOM
    schema = (
        reader.schema
        if header is None
        else pa.schema([pa.field(h, f.type) for h, f in zip(header, reader.schema, strict=True)])
    )
    with pacsv.CSVWriter(sink, schema) as writer:
        wrote_any = False
        for batch in reader:
            writer.write_batch(_renamed(batch, header))
            wrote_any = True
            out = sink.drain()
            if out:
                yield out
        if not wrote_any:
            writer.write_table(schema.empty_table())
    tail = sink.drain()
    if tail:
        yield tail


def json_stream(reader: pa.RecordBatchReader, lines: bool = False) -> Iterator[bytes]:
    """A JSON array (or JSON lines); one serialiser call per batch, in C."""
    first = True
    if not lines:
        yield b"["
    for batch in reader:
        if batch.num_rows == 0:
            continue
        rows = jsonable(pa.Table.from_batches([batch]))
        if lines:
            yield b"\n".join(map(orjson.dumps, rows)) + b"\n"
            continue
        body = orjson.dumps(rows)[1:-1]
        yield (b"" if first else b",") + body
        first = False
    if not lines:
        yield b"]"


def parquet_stream(reader: pa.RecordBatchReader) -> Iterator[bytes]:
    sink = _Sink()
    writer = pq.ParquetWriter(sink, reader.schema, compression="zstd")
    try:
        for batch in reader:
            writer.write_batch(batch)
            out = sink.drain()
            if out:
                yield out
    finally:
        writer.close()
    yield sink.drain()


def xlsx_stream(
    reader: pa.RecordBatchReader, header: Sequence[str], title: str = "数据"
) -> Iterator[bytes]:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:31] or "数据")
    ws.append(list(header))
    room = EXCEL_MAX_ROWS - 2  # header + a possible truncation note
    truncated = False
    for batch in reader:
        if room <= 0:
            truncated = True
            break
        if batch.num_rows > room:
            batch = batch.slice(0, room)
            truncated = True
        for row in jsonable(pa.Table.from_batches([batch])):
            ws.append(list(row.values()))
        room -= batch.num_rows
    if truncated:
        ws.append(
            [
                f"数据超过 Excel 单表 {EXCEL_MAX_ROWS:,} 行上限，已截断；完整数据请下载 CSV 或 Parquet"
            ]
        )
    with tempfile.SpooledTemporaryFile(max_size=16 << 20) as tmp:
        wb.save(tmp)
        tmp.seek(0)
        while chunk := tmp.read(CHUNK):
            yield chunk
