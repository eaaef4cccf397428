"""Source connectors (归集来源类型), loaded from the ``gongshu.connectors`` entry points.

A connector is a class with ``name``, ``title`` and two methods::

    check(config, ctx) -> dict          # validated, normalised config (ValidationFailed)
    open(config, ctx, pull) -> TabularReader

``pull`` says what to fetch (full, or incremental after a watermark). Register a new
one with a line in ``pyproject.toml``::

    [project.entry-points."gongshu.connectors"]
    ftp = "mypkg.ftp:FtpConnector"
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from gongshu.config import Settings
from gongshu.errors import ValidationFailed
from gongshu.ingest.readers import TabularReader
from gongshu.plugins import Registry


@dataclass(frozen=True)
class ConnectorContext:
    settings: Settings
    file_roots: tuple[Path, ...]  # server directories file sources may read


@dataclass(frozen=True)
class Pull:
    mode: str = "full"
    watermark_column: str | None = None
    watermark: Any = None  # the last value loaded (Python value), None = from the start


class Connector(Protocol):
    name: str
    title: str

    def check(self, config: dict[str, Any], ctx: ConnectorContext) -> dict[str, Any]: ...

    def open(self, config: dict[str, Any], ctx: ConnectorContext, pull: Pull) -> TabularReader: ...


registry: Registry[type[Connector]] = Registry("connectors")


def get(name: str) -> Connector:
    try:
        return registry.get(name)()
    except KeyError:
        raise ValidationFailed(f"不支持的来源类型“{name}”", code="bad_kind") from None


def titles() -> dict[str, str]:
    return {name: cls.title for name, cls in registry.items()}


# ---- watermarks ---------------------------------------------------------------------


def encode_watermark(value: Any) -> dict[str, Any] | None:
    """A JSON-safe watermark that round-trips its type (compared in the source's terms)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return {"type": "str", "value": str(value)}
    if isinstance(value, int):
        return {"type": "int", "value": value}
    if isinstance(value, float | Decimal):
        return {"type": "float", "value": str(value)}
    if isinstance(value, datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {"type": "date", "value": value.isoformat()}
    return {"type": "str", "value": str(value)}


def decode_watermark(data: dict[str, Any] | None) -> Any:
    if not data:
        return None
    kind, value = data.get("type"), data.get("value")
    if kind == "int":
        return int(value)  # type: ignore[arg-type]
    if kind == "float":
        return Decimal(str(value))
    if kind == "datetime":
        return datetime.fromisoformat(str(value))
    if kind == "date":
        return date.fromisoformat(str(value))
    return value


class WatermarkTracker:
    """Running maximum of the watermark column over the raw batches of a pull."""

    def __init__(self, column: str | None) -> None:
        self.column = column
        self.value: Any = None

    def __call__(self, batch: pa.RecordBatch) -> None:
        if not self.column or self.column not in batch.schema.names or not batch.num_rows:
            return
        col = batch.column(self.column)
        if pa.types.is_null(col.type):
            return
        top = pc.max(col).as_py()
        if top is not None and (self.value is None or top > self.value):
            self.value = top
