"""HTTP JSON API sources with paging (page number, offset or cursor)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pyarrow as pa

from gongshu.errors import ValidationFailed
from gongshu.ingest.connectors import ConnectorContext, Pull
from gongshu.ingest.readers import ArrowReader, TabularReader, _to_text_columns

PAGINGS = {"none": "不分页", "page": "页码", "offset": "偏移量", "cursor": "游标"}


def dig(data: Any, path: str) -> Any:
    """``data.items`` style lookup; an empty path is the document itself."""
    for part in [p for p in path.split(".") if p]:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """JSON records -> Arrow; keys whose values change type between records become text."""
    try:
        return _to_text_columns(pa.Table.from_pylist(rows))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        text = [
            {
                k: v if v is None or isinstance(v, str) else orjson.dumps(v).decode()
                for k, v in row.items()
            }
            for row in rows
        ]
        return pa.Table.from_pylist(text)


class HttpConnector:
    name = "http"
    title = "HTTP JSON 接口"

    def check(self, config: dict[str, Any], ctx: ConnectorContext) -> dict[str, Any]:
        url = str(config.get("url") or "").strip()
        if not url.startswith(("http://", "https://")):
            raise ValidationFailed(
                "接口地址须以 http:// 或 https:// 开头", code="bad_url", field="url"
            )
        paging = str(config.get("paging") or "none")
        if paging not in PAGINGS:
            raise ValidationFailed("分页方式只能是不分页、页码、偏移量或游标", code="bad_paging")
        try:
            size = int(config.get("page_size") or 100)
            max_pages = int(config.get("max_pages") or 100_000)
            start = int(
                config.get("start_page") if config.get("start_page") not in (None, "") else 1
            )
        except (TypeError, ValueError):
            raise ValidationFailed(
                "每页条数、起始页和最大页数须为整数", code="bad_number"
            ) from None
        if not 1 <= size <= 10_000:
            raise ValidationFailed("每页条数须在 1 到 10000 之间", code="bad_page_size")
        headers = config.get("headers") or {}
        if not isinstance(headers, dict):
            raise ValidationFailed("请求头须为键值对", code="bad_headers")
        return {
            "url": url,
            "records_path": str(config.get("records_path") or ""),
            "paging": paging,
            "page_param": str(config.get("page_param") or "page"),
            "size_param": str(config.get("size_param") or "size"),
            "offset_param": str(config.get("offset_param") or "offset"),
            "cursor_param": str(config.get("cursor_param") or "cursor"),
            "cursor_path": str(config.get("cursor_path") or "next"),
            "since_param": str(config.get("since_param") or ""),
            "page_size": size,
            "start_page": start,
            "max_pages": max_pages,
            "headers": {str(k): str(v) for k, v in headers.items()},
        }

    def _pages(self, config: dict[str, Any], pull: Pull) -> Iterator[list[dict[str, Any]]]:
        paging, size = config["paging"], config["page_size"]
        params: dict[str, Any] = {}
        if paging != "none":
            params[config["size_param"]] = size
        if pull.mode == "incremental" and config["since_param"] and pull.watermark is not None:
            params[config["since_param"]] = str(pull.watermark)
        page, offset, cursor = config["start_page"], 0, None
        with httpx.Client(timeout=60, headers=config["headers"], follow_redirects=False) as client:
            for _ in range(config["max_pages"]):
                query = dict(params)
                if paging == "page":
                    query[config["page_param"]] = page
                elif paging == "offset":
                    query[config["offset_param"]] = offset
                elif paging == "cursor" and cursor is not None:
                    query[config["cursor_param"]] = cursor
                try:
                    resp = client.get(config["url"], params=query)
                    resp.raise_for_status()
                    doc = resp.json()
                except httpx.HTTPStatusError as e:
                    raise ValidationFailed(
                        f"接口返回错误状态 {e.response.status_code}", code="source_error"
                    ) from e
                except (httpx.HTTPError, ValueError) as e:
                    raise ValidationFailed(
                        f"调用接口失败：{str(e)[:200]}", code="source_error"
                    ) from e
                records = dig(doc, config["records_path"])
                if not isinstance(records, list):
                    raise ValidationFailed(
                        f"接口响应中“{config['records_path'] or '根'}”不是记录列表",
                        code="bad_records_path",
                    )
                rows = [r for r in records if isinstance(r, dict)]
                if rows:
                    yield rows
                if paging == "none":
                    return
                if paging == "cursor":
                    cursor = dig(doc, config["cursor_path"])
                    if not cursor or not records:
                        return
                elif len(records) < size:
                    return
                page += 1
                offset += len(records)

    def open(self, config: dict[str, Any], ctx: ConnectorContext, pull: Pull) -> TabularReader:
        pages = self._pages(config, pull)
        first = next(pages, [])
        columns: list[str] = []
        for row in first[:1000]:
            for key in row:
                if key not in columns:
                    columns.append(key)

        def batches() -> Iterator[pa.RecordBatch]:
            if not first:
                return
            for rows in itertools.chain([first], pages):
                yield from rows_to_table(rows).to_batches()

        if not columns:
            columns = ["_"]
        return ArrowReader(columns, batches(), "http")
