"""GBK/GB18030 CSV parsed as bytes gives exactly what the transcoding stream gives."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pytest

from gongshu.ingest import readers
from gongshu.ingest.readers import decode_column, open_file

from .conftest import CLEAN_ROWS, DIRTY_ROWS, HEADER


def _values(encoding: str) -> list[bytes | None]:
    rng = random.Random(5)
    words = ["张三", "示例市解放路12号", "已核验", "", "abc", "王　五", "·—…", "\n", "鋆"]
    if encoding == "gb18030":
        words += ["䶮𠀀", "😀"]  # four-byte sequences
    out: list[bytes | None] = [
        "".join(rng.choice(words) for _ in range(rng.randint(0, 4))).encode(encoding)
        for _ in range(500)
    ]
    # Undecodable bytes: a lone lead byte (also at the very end), 0x80, 0xFF, a lead byte
    # before a byte that cannot trail; a NUL (the separator the fast path uses); a null.
    out += [b"\x81", b"ab\xfe", b"\x80x", b"\xff", b"\x81\x30", b"a\x00b", None, b""]
    return out


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_decode_column_matches_decoding_each_value(encoding: str) -> None:
    values = _values(encoding)
    col = pa.array(values, pa.binary())
    for arr in (col, col.slice(3, 400), pa.array(values[:-8], pa.binary())):
        got, replaced = decode_column(arr, encoding)
        want = [None if v is None else v.decode(encoding, "replace") for v in arr.to_pylist()]
        assert got.type == pa.string() and got.to_pylist() == want
        assert replaced == any("\ufffd" in w for w in want if w)
    ascii_col = pa.array([b"330602199001010011", b"", b"1990-01-01"], pa.binary())
    got, replaced = decode_column(ascii_col, encoding)
    assert got.to_pylist() == ["330602199001010011", "", "1990-01-01"] and not replaced


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
@pytest.mark.parametrize("kind", ["clean", "ragged", "undecodable"])
def test_byte_parsing_equals_the_transcoding_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoding: str, kind: str
) -> None:
    rows = CLEAN_ROWS * 300  # quoted newlines, full-width digits, 1,200 rows
    if kind == "ragged":
        rows[500:500] = DIRTY_ROWS  # a short row somewhere in the middle
    body = (HEADER + "\n".join(rows) + "\n").encode(encoding)
    if kind == "undecodable":
        body += "330602199001019999,".encode(encoding) + b"\xff\xfe\x81,30,,,,\n"
    path = tmp_path / "people.csv"
    path.write_bytes(body)
    assert open_file(path, encoding=encoding).encoding == encoding
    # Many segments (records cut across them), several pyarrow blocks in each (a ragged
    # row then comes after rows already passed on).
    monkeypatch.setattr(readers, "SEGMENT_BYTES", 16384)
    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 2048)

    def read(byte_parsable: frozenset[str]) -> tuple[pa.Table, list[int], list, bool]:
        monkeypatch.setattr(readers, "BYTE_PARSABLE", byte_parsable)
        reader = open_file(path, encoding=encoding)
        raws = list(reader.batches())
        table = pa.Table.from_batches([r.batch for r in raws])
        lines = [n for r in raws for n in r.lines.to_pylist()]
        bad = [(b.line, b.reason, b.raw) for r in raws for b in r.bad]
        return table, lines, bad, reader.replaced

    fast, slow = read(frozenset({encoding})), read(frozenset())
    assert fast[0].equals(slow[0])
    assert fast[1:] == slow[1:]
    assert fast[0].num_rows >= 1200
    assert fast[3] == (kind == "undecodable")
    assert bool(fast[2]) == (kind == "ragged")
