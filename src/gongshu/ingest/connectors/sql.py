"""SQL database sources: a table or a query, by SQLAlchemy URL, full or by watermark."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from gongshu.errors import ValidationFailed
from gongshu.ingest.connectors import ConnectorContext, Pull
from gongshu.ingest.readers import ArrowReader, TabularReader

FETCH_ROWS = 50_000


def to_arrow_column(values: tuple[Any, ...] | list[Any]) -> pa.Array:
    """DB-API values -> Arrow; columns of mixed Python types (SQLite) become text."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


class SqlConnector:
    name = "sql"
    title = "数据库（SQLAlchemy URL）"

    def check(self, config: dict[str, Any], ctx: ConnectorContext) -> dict[str, Any]:
        url = str(config.get("url") or "").strip()
        table = str(config.get("table") or "").strip()
        query = str(config.get("query") or "").strip().rstrip(";")
        if not url:
            raise ValidationFailed("请填写数据库连接 URL", code="url_required", field="url")
        try:
            sa.engine.make_url(url)
        except (sa.exc.ArgumentError, ValueError):
            raise ValidationFailed(
                "数据库连接 URL 格式不正确", code="bad_url", field="url"
            ) from None
        if bool(table) == bool(query):
            raise ValidationFailed("请填写表名或查询语句（二选一）", code="table_or_query")
        if query and not query.lower().startswith(("select", "with")):
            raise ValidationFailed("查询语句只能是 SELECT", code="bad_query", field="query")
        out = {"url": url}
        out["table" if table else "query"] = table or query
        return out

    def _statement(self, config: dict[str, Any], pull: Pull) -> Any:
        if "table" in config:
            schema, _, name = config["table"].rpartition(".")
            src: Any = sa.table(name, schema=schema or None)
            stmt = sa.select(sa.text("*")).select_from(src)
        else:
            src = sa.text(config["query"]).columns().subquery("src")
            stmt = sa.select(sa.text("*")).select_from(src)
        if pull.mode == "incremental" and pull.watermark_column:
            col = sa.column(pull.watermark_column)
            if pull.watermark is not None:
                stmt = stmt.where(col > sa.bindparam("wm", pull.watermark))
            stmt = stmt.order_by(col)
        return stmt

    def open(self, config: dict[str, Any], ctx: ConnectorContext, pull: Pull) -> TabularReader:
        engine = sa.create_engine(config["url"], poolclass=sa.pool.NullPool)
        try:
            conn = engine.connect().execution_options(stream_results=True)
            result = conn.execute(self._statement(config, pull))
        except SQLAlchemyError as e:
            engine.dispose()
            raise ValidationFailed(f"无法读取来源数据库：{_short(e)}", code="source_error") from e
        columns = list(result.keys())
        if pull.watermark_column and pull.watermark_column not in columns:
            conn.close()
            engine.dispose()
            raise ValidationFailed(
                f"来源中没有水位列“{pull.watermark_column}”", code="bad_watermark"
            )

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                while True:
                    rows = result.fetchmany(FETCH_ROWS)
                    if not rows:
                        break
                    cols = list(zip(*rows, strict=True))
                    yield pa.record_batch([to_arrow_column(c) for c in cols], names=columns)
            except SQLAlchemyError as e:
                raise ValidationFailed(
                    f"读取来源数据库出错：{_short(e)}", code="source_error"
                ) from e
            finally:
                conn.close()
                engine.dispose()

        return ArrowReader(columns, batches(), "sql")


def _short(e: Exception) -> str:
    return str(getattr(e, "orig", None) or e).splitlines()[0][:300]
