"""Readers: department files (CSV, TSV, XLSX, JSON lines, Parquet) as streams of Arrow batches.

A reader yields :class:`RawBatch` es: the source's columns (CSV values always strings,
so codes keep their leading zeros), each row's line number, and rows that could not be
parsed at all (ragged rows, broken JSON) with their text and a Chinese reason. Only a
bounded number of rows is in memory at a time.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from gongshu.errors import ValidationFailed
from gongshu.ingest.encoding import (
    LABELS,
    REPLACEMENT,
    CountingReader,
    TranscodingReader,
    canonical,
    detect_file,
)

FORMATS = {
    "csv": "CSV",
    "tsv": "TSV（制表符分隔）",
    "xlsx": "Excel（xlsx）",
    "jsonl": "JSON Lines",
    "parquet": "Parquet",
}
CSV_BLOCK_BYTES = 4 * 1024 * 1024
SEGMENT_BYTES = 16 * 1024 * 1024
ROWS_PER_BATCH = 65_536
# Encodings whose multi-byte characters never contain a byte below 0x40 (every trail
# byte of GBK is 0x40-0xFE; GB18030's four-byte forms add 0x30-0x39): CSV structure
# (quotes, delimiters, newlines) can be parsed on the raw bytes.
BYTE_PARSABLE = frozenset({"gbk", "gb18030"})


@dataclass
class BadRow:
    line: int
    reason: str
    raw: str


@dataclass
class RawBatch:
    batch: pa.RecordBatch
    lines: pa.Array  # int64, one per row
    bad: list[BadRow] = field(default_factory=list)
    bytes_read: int = 0  # cumulative source bytes consumed so far

    def shifted(self, offset: int) -> RawBatch:
        """The same rows numbered ``offset`` lines further down (unknown lines stay -1)."""
        if not offset:
            return self
        bad = [
            BadRow(b.line + offset if b.line >= 0 else b.line, b.reason, b.raw) for b in self.bad
        ]
        return RawBatch(self.batch, pc.add(self.lines, offset), bad, self.bytes_read)


@dataclass
class Segment:
    """Whole CSV records cut from the source stream (see :meth:`CsvReader.segments`)."""

    data: bytes
    first: bool  # holds the header row, when the file has one
    bytes_read: int  # source bytes consumed when it was cut
    replaced: bool  # undecodable bytes met in the stream so far (transcoded sources)


@dataclass
class _SegmentFlag:
    bad: bool = False  # a column decoded from this segment held undecodable bytes


class TabularReader:
    """Base: ``columns`` is known after construction; iterate ``batches()`` once."""

    format: str = ""
    encoding: str | None = None
    columns: list[str]
    bytes_total: int | None = None

    @property
    def replaced(self) -> bool:
        """Whether undecodable bytes were replaced so far (True when unknown)."""
        return True

    def batches(self) -> Iterator[RawBatch]:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        pass

    def preview(self, n: int = 5) -> list[dict[str, Any]]:
        """The first ``n`` rows as dicts (for the mapping page); consumes the reader."""
        rows: list[dict[str, Any]] = []
        for raw in self.batches():
            rows.extend(raw.batch.slice(0, n - len(rows)).to_pylist())
            if len(rows) >= n:
                break
        self.close()
        return rows


def format_for(name: str) -> str:
    ext = Path(name).suffix.lower().lstrip(".")
    aliases = {"txt": "csv", "json": "jsonl", "ndjson": "jsonl", "pq": "parquet", "xlsm": "xlsx"}
    fmt = aliases.get(ext, ext)
    if fmt not in FORMATS:
        raise ValidationFailed(
            f"不支持的文件类型“.{ext}”，支持 CSV、TSV、XLSX、JSON Lines 和 Parquet",
            code="bad_format",
        )
    return fmt


def unique_names(names: list[str]) -> list[str]:
    """Blank and duplicate headers get stable names (列3, 姓名_2) instead of failing."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(names, 1):
        name = (raw or "").strip().lstrip("\ufeff") or f"列{i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return out


# ---- CSV / TSV ---------------------------------------------------------------------


class CsvReader(TabularReader):
    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        delimiter: str = ",",
        encoding: str | None = None,
        header: bool = True,
    ) -> None:
        self.path = Path(path)
        self.format = "tsv" if delimiter == "\t" else "csv"
        self.delimiter = delimiter
        try:
            self.encoding = canonical(encoding) if encoding else detect_file(self.path)
        except LookupError:
            raise ValidationFailed(f"不认识的字符编码“{encoding}”", code="bad_encoding") from None
        self.bytes_total = self.path.stat().st_size
        self.header = header
        first = self._first_record()
        if not first:
            raise ValidationFailed("文件为空，没有表头", code="empty_file")
        self.columns = (
            unique_names(first) if header else [f"列{i}" for i in range(1, len(first) + 1)]
        )

    _counter: Any = None
    _decoded_bad = False  # a text column decoded here held undecodable bytes

    @property
    def replaced(self) -> bool:
        if self._counter is None:
            return True
        return self._decoded_bad or bool(self._counter.replaced)

    @property
    def _byte_parsable(self) -> bool:
        return self.encoding in BYTE_PARSABLE

    def _open_utf8(self, *, raw_bytes: bool = False) -> tuple[BinaryIO, Any]:
        raw = open(self.path, "rb")  # noqa: SIM115 - closed by the stream wrapper
        counter: Any
        if raw_bytes or self.encoding in ("utf-8", "utf-8-sig"):
            counter = CountingReader(raw)
        else:
            counter = TranscodingReader(raw, self.encoding or "utf-8")
        return io.BufferedReader(counter, 1024 * 1024), counter

    def _first_record(self) -> list[str]:
        stream, _ = self._open_utf8()
        with stream:
            text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
            return next(csv.reader(text, delimiter=self.delimiter), [])

    def segments(self) -> Iterator[Segment]:
        """The file cut into segments of whole records, in order (cheap: no parsing).

        Segments parse independently (:meth:`parse_segment`), so a load can parse
        several at once; :meth:`batches` parses them one after the other."""
        raw_bytes = self._byte_parsable
        stream, counter = self._open_utf8(raw_bytes=raw_bytes)
        self._counter = counter
        carry = b""
        first = True
        try:
            while True:
                chunk = stream.read(SEGMENT_BYTES)
                data = carry + chunk
                if chunk:
                    cut = record_boundary(data)
                    if cut == 0:  # one record longer than a segment: read on
                        carry = data
                        continue
                    segment, carry = data[:cut], data[cut:]
                else:
                    segment, carry = data, b""
                if segment and not segment.isspace():
                    replaced = bool(getattr(counter, "replaced", False))
                    yield Segment(segment, first, counter.bytes_in, replaced)
                    first = False
                if not chunk:
                    break
        finally:
            stream.close()

    def parse_segment(self, segment: Segment) -> tuple[list[RawBatch], bool]:
        """A segment's batches with line numbers as if it were the first segment's
        (shift them with :meth:`RawBatch.shifted`), and whether any of its bytes could
        not be decoded. Safe to call from several threads at once."""
        skip = int(self.header) if segment.first else 0
        flag = _SegmentFlag()
        if self._byte_parsable:
            parts = self._parse_bytes(segment.data, skip, segment.bytes_read, flag)
        else:
            parts = self._parse(segment.data, skip, segment.bytes_read)
        raws = list(parts)
        if flag.bad:
            self._decoded_bad = True  # only ever set: a race between threads is harmless
        return raws, flag.bad or segment.replaced

    def line_offset(self, segment: Segment, records_before: int) -> int:
        """What to add to :meth:`parse_segment`'s line numbers, given the records (parsed
        and skipped) of the segments before it: the header is line 1, and pyarrow numbers
        rows within a segment."""
        return 0 if segment.first else int(self.header) + records_before

    def batches(self) -> Iterator[RawBatch]:
        """Parse the file in segments of whole records, one short-lived pyarrow reader per
        segment: a single streaming reader's memory grows with the file
        (apache/arrow#6764), a fresh one per segment keeps it flat.

        GBK and GB18030 files are parsed as bytes (their multi-byte characters never
        contain a quote, delimiter or newline byte) and only the columns holding
        non-ASCII text are decoded, each in one call: IDs, dates and amounts, most of a
        file, are never transcoded. Other encodings stream through UTF-8."""
        records = 0  # records (parsed and skipped) before the current segment
        for segment in self.segments():
            raws, _ = self.parse_segment(segment)
            offset = self.line_offset(segment, records)
            for raw in raws:
                records += raw.batch.num_rows + len(raw.bad)
                yield raw.shifted(offset)

    def _parse_bytes(
        self, segment: bytes, skip: int, bytes_read: int, flag: _SegmentFlag
    ) -> Iterator[RawBatch]:
        """A segment of GBK/GB18030 bytes: parsed as binary columns, text decoded per
        column. From a ragged row on, the segment goes the UTF-8 way (pyarrow reports a
        bad row's text as UTF-8 only): a segment starts at a record, so decoding it on
        its own gives the stream's text, and its first ``done`` rows, all good, are
        already out."""
        encoding = self.encoding or "gbk"
        line = skip + 1
        done = 0
        try:
            for batch in self._read_segment(segment, skip, binary=True):
                columns = []
                for col in batch.columns:
                    text_col, bad = decode_column(col, encoding)
                    flag.bad = flag.bad or bad
                    columns.append(text_col)
                n = batch.num_rows
                lines = pa.array(np.arange(line + done, line + done + n, dtype=np.int64))
                done += n
                yield RawBatch(pa.record_batch(columns, names=self.columns), lines, [], bytes_read)
        except pa.ArrowInvalid:
            text = segment.decode(encoding, "replace")
            flag.bad = flag.bad or REPLACEMENT in text
            for raw in self._parse(text.encode("utf-8"), skip, bytes_read):
                drop = min(done, raw.batch.num_rows)
                done -= drop
                if drop:  # bad rows all come after the rows already out
                    raw = RawBatch(raw.batch.slice(drop), raw.lines[drop:], raw.bad, raw.bytes_read)
                if raw.batch.num_rows or raw.bad:
                    yield raw

    def _read_segment(
        self, segment: bytes, skip: int, *, binary: bool, on_invalid: Any = None
    ) -> Iterator[pa.RecordBatch]:
        reader = pcsv.open_csv(
            pa.BufferReader(segment),
            read_options=pcsv.ReadOptions(
                column_names=self.columns,
                skip_rows=skip,
                block_size=CSV_BLOCK_BYTES,
                # Single-threaded parsing numbers ragged rows; decoding is the bottleneck.
                use_threads=False,
            ),
            parse_options=pcsv.ParseOptions(
                delimiter=self.delimiter,
                newlines_in_values=True,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pcsv.ConvertOptions(
                column_types={c: pa.binary() if binary else pa.string() for c in self.columns},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        while True:
            try:
                yield reader.read_next_batch()
            except StopIteration:
                return

    def _parse(self, segment: bytes, skip: int, bytes_read: int) -> Iterator[RawBatch]:
        bad: list[BadRow] = []

        def on_invalid(row: Any) -> str:
            bad.append(
                BadRow(
                    line=int(row.number) if row.number is not None else -1,
                    reason=f"列数不符：应为 {row.expected_columns} 列，实际 {row.actual_columns} 列",
                    raw=row.text,
                )
            )
            return "skip"

        reader = self._read_segment(segment, skip, binary=False, on_invalid=on_invalid)
        try:
            batches = list(reader)  # one segment: bounded
        except pa.ArrowInvalid as e:
            raise ValidationFailed(_csv_error(str(e), self.encoding), code="bad_file") from e
        # Numbered once the whole segment is parsed: pyarrow may report a skipped row
        # while it parses ahead, after the batch the row falls in was handed out.
        ragged = np.sort(np.asarray([b.line for b in bad if b.line > 0], dtype=np.int64))
        steps = ragged - np.arange(len(ragged))
        line = skip + 1
        for i, batch in enumerate(batches):
            n = batch.num_rows
            # Parsed row k is record k + first line, plus one per skipped row before it.
            base = np.arange(line, line + n, dtype=np.int64)
            if len(steps):
                base = base + np.searchsorted(steps, base, side="right")
            line += n
            last = i == len(batches) - 1
            yield RawBatch(batch, pa.array(base), bad if last else [], bytes_read)
        if bad and not batches:
            yield RawBatch(_empty(self.columns), pa.array([], pa.int64()), bad, bytes_read)


def decode_column(col: pa.Array, encoding: str) -> tuple[pa.Array, bool]:
    """A binary column of ``encoding`` text as a UTF-8 string column, and whether any
    byte could not be decoded (it becomes U+FFFD, as in :class:`TranscodingReader`).

    ASCII columns are reinterpreted in place. Others are decoded in one call with a NUL
    after each value, whose positions in the UTF-8 result give the new offsets.
    """
    if col.offset:
        col = pa.concat_arrays([col])
    n = len(col)
    validity, offsets_buf, data_buf = col.buffers()
    offsets = np.frombuffer(offsets_buf, np.int32)[: n + 1] if n else np.zeros(1, np.int32)
    start, end = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(data_buf, np.uint8)[start:end] if data_buf else np.empty(0, np.uint8)
    if not data.size or int(data.max()) < 0x80:
        return col.view(pa.string()), False
    if not (data == 0).any():  # (a NUL inside a value would be taken for a separator)
        nuls = offsets[1:] - start + np.arange(n, dtype=np.int32)  # a NUL after each value
        joined = np.zeros(data.size + n, np.uint8)
        keep = np.ones(joined.size, bool)
        keep[nuls] = False
        joined[keep] = data
        del keep
        text = joined.tobytes().decode(encoding, "replace")
        del joined
        encoded = text.encode("utf-8")
        ends = np.flatnonzero(np.frombuffer(encoded, np.uint8) == 0)
        if len(ends) == n:  # else an invalid sequence swallowed a NUL: decode one by one
            new_offsets = np.empty(n + 1, np.int32)
            new_offsets[0] = 0
            new_offsets[1:] = ends - np.arange(n)
            out = pa.Array.from_buffers(
                pa.string(),
                n,
                [validity, pa.py_buffer(new_offsets), pa.py_buffer(encoded.replace(b"\0", b""))],
                null_count=col.null_count,
            )
            return out, REPLACEMENT in text
    values = [None if v is None else v.decode(encoding, "replace") for v in col.to_pylist()]
    return pa.array(values, pa.string()), any(REPLACEMENT in v for v in values if v)


def record_boundary(data: bytes) -> int:
    """End of the last complete CSV record in ``data`` (which starts at a record start):
    just after the last newline outside quotes, or 0 if there is none."""
    total = data.count(b'"')
    pos = data.rfind(b"\n")
    after = 0  # quotes in data[pos:] seen so far
    end = len(data)
    while pos >= 0:
        after += data.count(b'"', pos, end)
        if (total - after) % 2 == 0:
            return pos + 1
        end = pos
        pos = data.rfind(b"\n", 0, pos)
    return 0


def _csv_error(message: str, encoding: str | None) -> str:
    if "UTF8" in message or "utf8" in message.lower():
        return f"文件不是有效的 {LABELS.get(encoding or '', encoding)} 文本，请确认字符编码"
    return f"无法解析 CSV 文件：{message[:200]}"


def _empty(columns: list[str]) -> pa.RecordBatch:
    return pa.record_batch([pa.array([], pa.string()) for _ in columns], names=columns)


# ---- XLSX --------------------------------------------------------------------------


def _cell_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == time(0) else v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


class XlsxReader(TabularReader):
    """First worksheet (or ``sheet``); the first non-empty row is the header.

    openpyxl hands out cells one by one, so this is the one reader with a per-row
    Python loop; an XLSX sheet holds at most 1,048,576 rows.
    """

    format = "xlsx"

    def __init__(self, path: str | os.PathLike[str], *, sheet: str | None = None) -> None:
        import openpyxl

        self.path = Path(path)
        self.bytes_total = self.path.stat().st_size
        try:
            self._wb = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as e:  # zip/xml errors of every kind
            raise ValidationFailed(f"无法打开 Excel 文件：{e}", code="bad_file") from e
        try:
            self._ws = self._wb[sheet] if sheet else self._wb.worksheets[0]
        except KeyError:
            raise ValidationFailed(f"工作表“{sheet}”不存在", code="bad_sheet") from None
        self._rows = self._ws.iter_rows(values_only=True)
        self._line = 0
        header: tuple[Any, ...] | None = None
        for row in self._rows:
            self._line += 1
            if any(v not in (None, "") for v in row):
                header = row
                break
        if header is None:
            raise ValidationFailed("工作表为空，没有表头", code="empty_file")
        width = max(i for i, v in enumerate(header, 1) if v not in (None, ""))
        self.columns = unique_names([_cell_text(v) or "" for v in header[:width]])

    def batches(self) -> Iterator[RawBatch]:
        width = len(self.columns)
        cols: list[list[str | None]] = [[] for _ in range(width)]
        lines: list[int] = []
        bad: list[BadRow] = []
        for row in self._rows:
            self._line += 1
            if not any(v not in (None, "") for v in row):
                continue
            texts = [_cell_text(v) for v in row]
            if len(texts) > width and any(t not in (None, "") for t in texts[width:]):
                raw = ",".join(t or "" for t in texts)
                bad.append(BadRow(self._line, f"列数不符：表头 {width} 列，本行有更多数据", raw))
                continue
            for i in range(width):
                cols[i].append(texts[i] if i < len(texts) else None)
            lines.append(self._line)
            if len(lines) >= ROWS_PER_BATCH:
                yield self._emit(cols, lines, bad)
                cols, lines, bad = [[] for _ in range(width)], [], []
        if lines or bad:
            yield self._emit(cols, lines, bad)
        self.close()

    def _emit(self, cols: list[list[str | None]], lines: list[int], bad: list[BadRow]) -> RawBatch:
        batch = pa.record_batch([pa.array(c, pa.string()) for c in cols], names=self.columns)
        return RawBatch(batch, pa.array(lines, pa.int64()), bad, 0)

    def close(self) -> None:
        self._wb.close()


# ---- JSON lines --------------------------------------------------------------------


def _to_text_columns(table: pa.Table) -> pa.Table:
    """Nested values become JSON text; scalars stay typed (the transform casts them)."""
    cols = []
    for col in table.columns:
        if pa.types.is_nested(col.type):
            col = pa.array(
                [None if v is None else orjson.dumps(v).decode() for v in col.to_pylist()],
                pa.string(),
            )
        elif pa.types.is_null(col.type):
            col = pc.cast(col, pa.string())
        cols.append(col)
    return pa.table(cols, names=table.column_names)


class JsonLinesReader(TabularReader):
    """One JSON object per line. Columns are the union of the keys in the first block."""

    format = "jsonl"
    LINES_PER_CHUNK = 50_000

    def __init__(self, path: str | os.PathLike[str], *, encoding: str | None = None) -> None:
        self.path = Path(path)
        self.bytes_total = self.path.stat().st_size
        self.encoding = canonical(encoding) if encoding else detect_file(self.path)
        first = next(self._chunks(), None)
        if first is None:
            raise ValidationFailed("文件为空", code="empty_file")
        table, _ = self._parse(first[1], first[0])
        self.columns = list(table.column_names)

    def _chunks(self) -> Iterator[tuple[int, list[bytes], int]]:
        with open(self.path, "rb") as raw:
            stream = (
                raw
                if self.encoding in ("utf-8", "utf-8-sig")
                else io.BufferedReader(TranscodingReader(raw, self.encoding or "utf-8"))
            )
            start, buf, size = 1, [], 0
            for lineno, line in enumerate(stream, 1):
                if lineno == 1:
                    line = line.removeprefix(b"\xef\xbb\xbf")
                buf.append(line)
                size += len(line)
                if len(buf) >= self.LINES_PER_CHUNK:
                    yield start, buf, size
                    start, buf = lineno + 1, []
            if buf:
                yield start, buf, size

    def _parse(self, lines: list[bytes], start: int) -> tuple[pa.Table, list[BadRow]]:
        try:
            table = pjson.read_json(io.BytesIO(b"".join(lines)))
            if all(line.strip() for line in lines):
                return _to_text_columns(table), []
        except pa.ArrowInvalid:
            pass
        # Slow path for a chunk with a broken line or mixed types: line by line.
        rows, bad = [], []
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError
            except ValueError:
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                bad.append(BadRow(start + i, "不是有效的 JSON 对象", text[:2000]))
                continue
            rows.append(
                {
                    k: (v if isinstance(v, str) or v is None else orjson.dumps(v).decode())
                    for k, v in obj.items()
                }
                | {"\x00line": start + i}
            )
        table = (
            pa.Table.from_pylist(rows) if rows else pa.table({"\x00line": pa.array([], pa.int64())})
        )
        return table, bad

    def batches(self) -> Iterator[RawBatch]:
        for start, lines, size in self._chunks():
            table, bad = self._parse(lines, start)
            if "\x00line" in table.column_names:
                line_col = table.column("\x00line").combine_chunks()
                table = table.drop_columns(["\x00line"])
            else:
                line_col = pa.array(range(start, start + table.num_rows), pa.int64())
            n = table.num_rows
            cols = [
                table.column(c).combine_chunks()
                if c in table.column_names
                else pa.nulls(n, pa.string())
                for c in self.columns
            ]
            batch = pa.record_batch(cols, names=self.columns)
            yield RawBatch(batch, line_col, bad, size)


# ---- Parquet -----------------------------------------------------------------------


class ParquetReader(TabularReader):
    format = "parquet"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.bytes_total = self.path.stat().st_size
        try:
            self._file = pq.ParquetFile(self.path)
        except (pa.ArrowInvalid, OSError) as e:
            raise ValidationFailed(f"无法打开 Parquet 文件：{e}", code="bad_file") from e
        self.columns = list(self._file.schema_arrow.names)

    def batches(self) -> Iterator[RawBatch]:
        record = 0
        groups = self._file.metadata.num_row_groups or 1
        for i, batch in enumerate(self._file.iter_batches(batch_size=ROWS_PER_BATCH)):
            n = batch.num_rows
            lines = pa.array(range(record + 1, record + 1 + n), pa.int64())
            record += n
            done = min(self.bytes_total or 0, int((self.bytes_total or 0) * (i + 1) / groups))
            yield RawBatch(batch, lines, [], done)

    def close(self) -> None:
        self._file.close()


def open_file(
    path: str | os.PathLike[str],
    fmt: str | None = None,
    *,
    encoding: str | None = None,
    sheet: str | None = None,
    delimiter: str | None = None,
) -> TabularReader:
    """A reader for a file on this server, by format (default: from the extension)."""
    fmt = fmt or format_for(str(path))
    if not Path(path).is_file():
        raise ValidationFailed(f"文件不存在：{path}", code="file_missing")
    if fmt in ("csv", "tsv"):
        return CsvReader(
            path, delimiter=delimiter or ("\t" if fmt == "tsv" else ","), encoding=encoding
        )
    if fmt == "xlsx":
        return XlsxReader(path, sheet=sheet)
    if fmt == "jsonl":
        return JsonLinesReader(path, encoding=encoding)
    if fmt == "parquet":
        return ParquetReader(path)
    raise ValidationFailed(f"不支持的文件格式“{fmt}”", code="bad_format")


class ArrowReader(TabularReader):
    """Batches already in Arrow (SQL, HTTP, IoT connectors) with running line numbers."""

    def __init__(
        self, columns: list[str], batches: Iterator[pa.RecordBatch], fmt: str = "arrow"
    ) -> None:
        self.columns = columns
        self.format = fmt
        self._batches = batches
        self.bytes_read = 0

    def batches(self) -> Iterator[RawBatch]:
        record = 0
        for batch in self._batches:
            n = batch.num_rows
            self.bytes_read += batch.nbytes
            cols = [
                batch.column(c) if c in batch.schema.names else pa.nulls(n, pa.string())
                for c in self.columns
            ]
            out = pa.record_batch(cols, names=self.columns)
            yield RawBatch(
                out, pa.array(range(record + 1, record + 1 + n), pa.int64()), [], self.bytes_read
            )
            record += n
