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
import pyarrow.compute as pc
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


def _json_value(col: pa.Array) -> pa.Array:
    """JSON text of each value, computed column-wise in Arrow (no Python objects per row)."""
    t = col.type
    if pa.types.is_boolean(t):
        text = pc.if_else(col, "true", "false")
    elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        if pa.types.is_floating(t):
            # NaN/inf are not JSON: they become null.
            col = pc.if_else(pc.is_finite(col), col, pa.scalar(None, t))
        text = pc.cast(col, pa.string())
    else:
        if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
            col = pc.cast(col, pa.string())
        s = pc.replace_substring(col, "\\", "\\\\")
        s = pc.replace_substring(s, '"', '\\"')
        s = pc.replace_substring(s, "\n", "\\n")
        s = pc.replace_substring(s, "\r", "\\r")
        s = pc.replace_substring(s, "\t", "\\t")
        # Other control characters are rare in open data; they become U+FFFD.
        s = pc.replace_substring_regex(s, "[\\x00-\\x1f]", "\ufffd")
        text = pc.binary_join_element_wise('"', s, '"', "")
    return pc.fill_null(text, "null")


def json_records(batch: pa.RecordBatch, sep: str) -> bytes:
    """The batch as JSON objects, each followed by ``sep``, as one bytes object."""
    parts = [
        pc.binary_join_element_wise(orjson.dumps(name).decode() + ":", _json_value(col), "")
        for name, col in zip(batch.schema.names, batch.columns, strict=True)
    ]
    body = pc.binary_join_element_wise(*parts, ",") if len(parts) > 1 else parts[0]
    lines = pc.binary_join_element_wise("{", body, "}" + sep, "")
    lines = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    offsets = lines.buffers()[1]
    data = lines.buffers()[2]
    first, last = pa.Array.from_buffers(
        pa.int32(), len(lines) + 1, [None, offsets], offset=lines.offset
    ).to_numpy()[[0, -1]]
    return data.slice(int(first), int(last - first)).to_pybytes() if data is not None else b""


def json_stream(reader: pa.RecordBatchReader, lines: bool = False) -> Iterator[bytes]:
    """A JSON array (or JSON lines), built column-wise in Arrow batch by batch."""
    first = True
    if not lines:
        yield b"["
    for batch in reader:
        if batch.num_rows == 0:
            continue
        if lines:
            yield json_records(batch, "\n")
            continue
        body = json_records(batch, ",")[:-1]
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
