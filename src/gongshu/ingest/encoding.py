"""Text encodings of Chinese department files: detect from samples, transcode streaming.

Detection is deterministic for the encodings that matter (UTF-8 with or without BOM,
GBK, GB18030) and falls back to charset-normalizer for anything else (Big5, UTF-16…).
Files are sampled at the start, middle and end: exports that are ASCII for the first
megabyte and Chinese later are common (IDs first, names and addresses later).
"""

from __future__ import annotations

import codecs
import io
import os
from typing import BinaryIO

from charset_normalizer import from_bytes

SAMPLE_BYTES = 256 * 1024
CHUNK_BYTES = 16 * 1024 * 1024
REPLACEMENT = "\ufffd"

CANONICAL = {
    "utf_8": "utf-8",
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "utf_8_sig": "utf-8-sig",
    "utf-8-sig": "utf-8-sig",
    "gbk": "gbk",
    "cp936": "gbk",
    "gb2312": "gbk",  # GBK is a superset; decoding as GBK never loses GB2312 text
    "gb18030": "gb18030",
    "big5": "big5",
    "utf_16": "utf-16",
    "utf-16": "utf-16",
}
LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8（带 BOM）",
    "gbk": "GBK",
    "gb18030": "GB18030",
    "big5": "Big5",
    "utf-16": "UTF-16",
}


def canonical(name: str) -> str:
    """Normalise an encoding name; raises LookupError for unknown ones."""
    key = name.strip().lower().replace(" ", "")
    if key in CANONICAL:
        return CANONICAL[key]
    return codecs.lookup(key).name


def _decodes(sample: bytes, encoding: str) -> bool:
    # Incremental and not final: a sample may cut a multi-byte character at its end.
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def detect_bytes(samples: list[bytes]) -> str:
    """Best encoding for these samples (the first one is the file's start)."""
    head = samples[0] if samples else b""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # Middle/end samples start at an arbitrary byte: drop a partial leading UTF-8 char.
    trimmed = [head] + [s.lstrip(bytes(range(0x80, 0xC0))) for s in samples[1:]]
    if all(_decodes(s, "utf-8") for s in trimmed):
        return "utf-8"
    # Mid-file samples may start inside a GBK pair; align on the first newline.
    aligned = [head] + [s[s.find(b"\n") + 1 :] if b"\n" in s else s for s in samples[1:]]
    if all(_decodes(s, "gbk") for s in aligned):
        return "gbk"
    if all(_decodes(s, "gb18030") for s in aligned):
        return "gb18030"
    # A few corrupt bytes in an otherwise clean file: pick the encoding with fewest errors
    # (the bad rows are rejected later), preferring UTF-8, then GBK.
    blob = b"\n".join(aligned)
    errors = {
        enc: codecs.getincrementaldecoder(enc)(errors="replace").decode(blob).count(REPLACEMENT)
        for enc in ("utf-8", "gbk", "gb18030")
    }
    best_enc = min(errors, key=lambda e: errors[e])
    if errors[best_enc] <= max(4, len(blob) // 2000):
        return best_enc
    best = from_bytes(b"".join(aligned)).best()
    if best is None:
        return "gb18030"  # decodes any byte sequence GBK-family exports produce
    try:
        return canonical(best.encoding)
    except LookupError:
        return "gb18030"


def sample_file(path: str | os.PathLike[str], size: int = SAMPLE_BYTES) -> list[bytes]:
    total = os.path.getsize(path)
    with open(path, "rb") as f:
        samples = [f.read(size)]
        if total > 3 * size:
            for pos in (total // 2, total - size):
                f.seek(pos)
                samples.append(f.read(size))
    return samples


def detect_file(path: str | os.PathLike[str]) -> str:
    return detect_bytes(sample_file(path))


class TranscodingReader(io.RawIOBase):
    """A binary stream that yields UTF-8 from a source in another encoding.

    Reads ``CHUNK_BYTES`` at a time, so memory stays bounded whatever the file size.
    Undecodable bytes become U+FFFD; the transform rejects rows holding it (the
    reason names the encoding), instead of failing the whole file on one bad byte.
    """

    def __init__(self, raw: BinaryIO, encoding: str, chunk: int = CHUNK_BYTES) -> None:
        super().__init__()
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._chunk = chunk
        self._buf = memoryview(b"")
        self._eof = False
        self.bytes_in = 0

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        while not self._buf and not self._eof:
            data = self._raw.read(self._chunk)
            self.bytes_in += len(data)
            if not data:
                self._eof = True
                text = self._decoder.decode(b"", final=True)
            else:
                text = self._decoder.decode(data)
            self._buf = memoryview(text.encode("utf-8"))

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        self._fill()
        n = min(len(buffer), len(self._buf))
        buffer[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


class CountingReader(io.RawIOBase):
    """Pass-through that counts bytes read (progress for UTF-8 files)."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self.bytes_in = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        self.bytes_in += n or 0
        return n or 0

    def close(self) -> None:
        self._raw.close()
        super().close()
