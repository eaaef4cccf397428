"""File sources: an uploaded file, or a file or directory on the server."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gongshu.errors import ValidationFailed
from gongshu.ingest.connectors import ConnectorContext, Pull
from gongshu.ingest.readers import FORMATS, RawBatch, TabularReader, format_for, open_file


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    real = path.resolve()
    return any(real == r.resolve() or r.resolve() in real.parents for r in roots)


class MultiFileReader(TabularReader):
    """Several files with the same header, read one after another as one load."""

    def __init__(self, paths: list[Path], opener: Any) -> None:
        self.paths = paths
        self._opener = opener
        first = opener(paths[0])
        self.columns = first.columns
        self.encoding = first.encoding
        self.format = first.format
        self.bytes_total = sum(p.stat().st_size for p in paths)
        self._first: TabularReader | None = first

    def batches(self) -> Iterator[RawBatch]:
        done = 0
        for path in self.paths:
            reader = self._first or self._opener(path)
            self._first = None
            if reader.columns != self.columns:
                raise ValidationFailed(
                    f"文件 {path.name} 的表头与第一个文件不同，不能合并归集", code="header_mismatch"
                )
            for raw in reader.batches():
                raw.bytes_read += done
                yield raw
            done += path.stat().st_size
            reader.close()


class FileConnector:
    name = "file"
    title = "文件（上传或服务器路径）"

    def check(self, config: dict[str, Any], ctx: ConnectorContext) -> dict[str, Any]:
        raw_path = str(config.get("path") or "").strip()
        if not raw_path:
            raise ValidationFailed("请填写文件或目录路径", code="path_required", field="path")
        path = Path(raw_path)
        if not path.is_absolute():
            raise ValidationFailed("请填写绝对路径", code="bad_path", field="path")
        if not _inside(path, ctx.file_roots):
            roots = "、".join(str(r) for r in ctx.file_roots)
            raise ValidationFailed(
                f"只能读取归集目录下的文件（{roots}）", code="path_not_allowed", field="path"
            )
        fmt = (config.get("format") or "").strip() or None
        if fmt and fmt not in FORMATS:
            raise ValidationFailed(f"不支持的文件格式“{fmt}”", code="bad_format", field="format")
        out: dict[str, Any] = {"path": str(path)}
        for key in ("format", "encoding", "sheet", "pattern", "file_name"):
            value = str(config.get(key) or "").strip()
            if value:
                out[key] = value
        return out

    def _paths(self, config: dict[str, Any]) -> list[Path]:
        path = Path(config["path"])
        if path.is_dir():
            pattern = config.get("pattern") or "*"
            found = sorted(
                p for p in path.iterdir() if p.is_file() and fnmatch.fnmatch(p.name, pattern)
            )
            if not found:
                raise ValidationFailed(f"目录 {path} 中没有匹配 {pattern} 的文件", code="no_files")
            return found
        if not path.is_file():
            raise ValidationFailed(f"文件不存在：{path}", code="file_missing")
        return [path]

    def open(self, config: dict[str, Any], ctx: ConnectorContext, pull: Pull) -> TabularReader:
        if not _inside(Path(config["path"]), ctx.file_roots):
            raise ValidationFailed("只能读取归集目录下的文件", code="path_not_allowed")
        paths = self._paths(config)

        def opener(p: Path) -> TabularReader:
            fmt = config.get("format") or format_for(config.get("file_name") or p.name)
            return open_file(p, fmt, encoding=config.get("encoding"), sheet=config.get("sheet"))

        if len(paths) == 1:
            return opener(paths[0])
        return MultiFileReader(paths, opener)


def allowed_roots(data_dir: Path, extra: str) -> tuple[Path, ...]:
    roots = [data_dir / "uploads", data_dir / "inbox"]
    roots += [Path(p) for p in extra.split(os.pathsep) if p.strip()]
    return tuple(roots)
