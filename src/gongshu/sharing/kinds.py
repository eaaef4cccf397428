"""Interface kinds: how a published interface reads its resource through the gateway.

Registered in the entry-point group ``gongshu.interface_kinds`` (built-ins through our
pyproject). A kind is a class with ``name``, ``title``, ``methods``, an async
``prepare(ctx)`` (parse and validate parameters; runs before rate limit and quota so a
malformed call costs nothing), an async ``run(ctx) -> dict`` (the JSON answer) and
``openapi(iface, spec) -> dict`` (its OpenAPI operations). ``ctx`` is a
:class:`gongshu.sharing.gateway.CallContext`: the interface, the caller's grant and
helpers that enforce it (``fields``, ``require_items``, ``key_value``, ``lookup``,
``grant.shape``). Whatever a kind returns has passed ``grant.shape`` or carries no data.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from gongshu.plugins import Registry
from gongshu.sharing import warehouse_access
from gongshu.sharing.gateway import CallContext, GatewayError
from gongshu.sharing.warehouse_access import Rows

interface_kinds: Registry[Any] = Registry("interface_kinds")

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
ERRORS = {
    "400": "参数不合法（如身份证号校验位错误）",
    "401": "缺少、伪造、吊销或过期的接口密钥",
    "403": "未获授权（资源、数据项或授权已过期）",
    "404": "接口不存在或已下线",
    "429": "超过速率限制或当日配额",
}


def _responses(ok: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "200": {"description": "成功", "content": {"application/json": {"schema": ok}}}
    }
    for code, text in ERRORS.items():
        out[code] = {
            "description": text,
            "content": {"application/json": {"schema": ERROR_SCHEMA}},
        }
    return out


def _record_schema(spec: Any, columns: list[str] | None = None) -> dict[str, Any]:
    props = {}
    for item in spec.items:
        if columns is None or item.column in columns:
            props[item.column] = {"type": "string", "description": item.name}
    return {"type": "object", "properties": props}


def _key_params(iface: Any, spec: Any) -> list[dict[str, Any]]:
    out = []
    for col in iface.key_columns:
        item = spec.item(col)
        out.append(
            {
                "name": col,
                "in": "query",
                "required": True,
                "description": item.name if item else col,
                "schema": {"type": "string"},
            }
        )
    return out


FIELDS_PARAM = {
    "name": "fields",
    "in": "query",
    "required": False,
    "description": "返回的数据项，逗号分隔；默认全部已授权数据项",
    "schema": {"type": "string"},
}


class Kind:
    name: ClassVar[str]
    title: ClassVar[str]
    methods: ClassVar[tuple[str, ...]]

    async def prepare(self, ctx: CallContext) -> None:
        raise NotImplementedError

    async def run(self, ctx: CallContext) -> dict[str, Any]:
        raise NotImplementedError

    def openapi(self, iface: Any, spec: Any) -> dict[str, Any]:
        raise NotImplementedError


def _keys(ctx: CallContext) -> dict[str, str]:
    return {c: ctx.key_value(c, ctx.query.get(c)) for c in ctx.iface.key_columns}


async def _key_rows(
    ctx: CallContext, keys: dict[str, str], columns: tuple[str, ...] | None = None
) -> Rows:
    """Rows matching every key item: the first through the index, the rest here."""
    first, *rest = keys
    rows = await ctx.lookup_rows(first, [keys[first]], columns)
    for col in rest:
        i = rows.columns.index(col)
        if rows.types[i] == pa.string():
            rows = rows.with_rows([r for r in rows.rows if r[i] == keys[col]])
        else:  # let Arrow decide how the text compares to another type
            table = rows.to_arrow()
            rows = Rows.from_arrow(table.filter(pc.equal(table.column(col), keys[col])))
    return rows


async def _rows_for(ctx: CallContext, keys: dict[str, str]) -> pa.Table:
    return (await _key_rows(ctx, keys)).to_arrow()


class QueryKind(Kind):
    """查询: key items → records (granted items, rows and masking applied)."""

    name = "query"
    title = "查询"
    methods = ("GET",)

    async def prepare(self, ctx: CallContext) -> None:
        ctx.extra["keys"] = _keys(ctx)
        ctx.extra["fields"] = ctx.fields()

    async def run(self, ctx: CallContext) -> dict[str, Any]:
        # Only the grant's columns: each string column fetched costs a decode per row.
        rows = await _key_rows(ctx, ctx.extra["keys"], ctx.grant_columns())
        data = ctx.grant.shape_rows(rows, ctx.extra["fields"])
        ctx.rows = len(data)
        return {"data": data, "count": len(data)}

    def openapi(self, iface: Any, spec: Any) -> dict[str, Any]:
        ok = {
            "type": "object",
            "properties": {
                "data": {"type": "array", "items": _record_schema(spec)},
                "count": {"type": "integer"},
            },
        }
        return {
            "get": {
                "summary": f"{iface.name}（查询）",
                "parameters": [*_key_params(iface, spec), FIELDS_PARAM],
                "responses": _responses(ok),
            }
        }


class VerifyKind(Kind):
    """核验: key + claimed values → match yes/no per item; never returns data."""

    name = "verify"
    title = "核验"
    methods = ("GET", "POST")

    async def prepare(self, ctx: CallContext) -> None:
        if ctx.method == "POST":
            body = await ctx.body_json()
            if not isinstance(body, dict) or not isinstance(body.get("claims"), dict):
                raise GatewayError(400, "bad_body", '请求体须为 {"key": {...}, "claims": {...}}')
            key = body.get("key") or {}
            ctx.query = {**{str(k): str(v) for k, v in key.items()}}
            claims = {str(k): None if v is None else str(v) for k, v in body["claims"].items()}
        else:
            claims = {k: v for k, v in ctx.query.items() if k not in ctx.iface.key_columns}
        ctx.extra["keys"] = _keys(ctx)
        if not claims:
            raise GatewayError(400, "missing_claims", "请提供需要核验的数据项及其值")
        unknown = [c for c in claims if c not in ctx.iface.items]
        if unknown:
            raise GatewayError(400, "unknown_field", f"数据项不存在：{'、'.join(unknown)}")
        ctx.require_items(list(claims))
        ctx.extra["claims"] = claims

    async def run(self, ctx: CallContext) -> dict[str, Any]:
        table = ctx.grant.keep_rows(await _rows_for(ctx, ctx.extra["keys"]))
        match = {}
        for col, claimed in ctx.extra["claims"].items():
            values = table.column(col).to_pylist() if table.num_rows else []
            match[col] = claimed is not None and any(
                v is not None and str(v) == claimed for v in values
            )
        ctx.rows = 0  # no data leaves
        return {"match": match, "all_match": bool(match) and all(match.values())}

    def openapi(self, iface: Any, spec: Any) -> dict[str, Any]:
        ok = {
            "type": "object",
            "properties": {
                "match": {"type": "object", "additionalProperties": {"type": "boolean"}},
                "all_match": {"type": "boolean"},
            },
        }
        return {
            "get": {
                "summary": f"{iface.name}（核验）",
                "description": "查询参数中除查询键外的数据项为待核验的值；只返回是否一致，不返回数据",
                "parameters": _key_params(iface, spec),
                "responses": _responses(ok),
            },
            "post": {
                "summary": f"{iface.name}（核验，JSON）",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "key": {"type": "object"},
                                    "claims": {"type": "object"},
                                },
                            }
                        }
                    }
                },
                "responses": _responses(ok),
            },
        }


class BatchKind(Kind):
    """批量: up to ``batch_max`` keys (of the first key item) per call."""

    name = "batch"
    title = "批量查询"
    methods = ("POST",)

    async def prepare(self, ctx: CallContext) -> None:
        body = await ctx.body_json()
        if not isinstance(body, dict) or not isinstance(body.get("keys"), list):
            raise GatewayError(400, "bad_body", '请求体须为 {"keys": [...]}')
        raw = body["keys"]
        if not raw:
            raise GatewayError(400, "missing_param", "keys 不能为空")
        if len(raw) > ctx.iface.batch_max:
            raise GatewayError(
                400, "too_many_keys", f"单次最多 {ctx.iface.batch_max} 个查询键，实际 {len(raw)} 个"
            )
        col = ctx.iface.key_columns[0]
        keys = []
        for i, value in enumerate(raw):
            try:
                keys.append(ctx.key_value(col, value if isinstance(value, str) else None))
            except GatewayError as exc:
                raise GatewayError(400, exc.code, f"第 {i + 1} 个查询键：{exc.message}") from None
        if isinstance(body.get("fields"), list):
            ctx.query = ctx.query | {"fields": ",".join(map(str, body["fields"]))}
        ctx.extra["keys"] = list(dict.fromkeys(keys))
        ctx.extra["fields"] = ctx.fields()

    async def run(self, ctx: CallContext) -> dict[str, Any]:
        col = ctx.iface.key_columns[0]
        table = ctx.grant.keep_rows(await ctx.lookup(col, ctx.extra["keys"]))
        owners = table.column(col).to_pylist()
        shaped = ctx.grant.shape(table, ctx.extra["fields"]).to_pylist()
        data: dict[str, list[dict[str, Any]]] = {}
        for k, row in zip(owners, shaped, strict=True):
            data.setdefault(k, []).append(row)
        ctx.rows = len(shaped)
        missing = [k for k in ctx.extra["keys"] if k not in data]
        return {"data": data, "missing": missing, "count": len(shaped)}

    def openapi(self, iface: Any, spec: Any) -> dict[str, Any]:
        ok = {
            "type": "object",
            "properties": {
                "data": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": _record_schema(spec)},
                },
                "missing": {"type": "array", "items": {"type": "string"}},
                "count": {"type": "integer"},
            },
        }
        key = iface.key_columns[0] if iface.key_columns else "key"
        return {
            "post": {
                "summary": f"{iface.name}（批量，最多 {iface.batch_max} 个{key}）",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["keys"],
                                "properties": {
                                    "keys": {
                                        "type": "array",
                                        "maxItems": iface.batch_max,
                                        "items": {"type": "string"},
                                    },
                                    "fields": {"type": "array", "items": {"type": "string"}},
                                },
                            }
                        }
                    }
                },
                "responses": _responses(ok),
            }
        }


def encode_cursor(since: Any, offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([since, offset], default=str)).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[Any, int]:
    try:
        since, offset = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if not isinstance(offset, int) or offset < 0:
            raise ValueError
        return since, offset
    except Exception:
        raise GatewayError(400, "bad_cursor", "游标无效") from None


class ExportKind(Kind):
    """增量导出: pages ordered by the cursor item (e.g. update time) then the key.

    The cursor is ``(cursor item value, rows already read at that value)`` — it never
    carries a key value, so a masked key is not revealed through it. Without a cursor
    item, pages are ordered by the key and the cursor is an offset.
    """

    name = "export"
    title = "增量导出"
    methods = ("GET",)

    async def prepare(self, ctx: CallContext) -> None:
        raw_limit = ctx.query.get("limit") or str(ctx.iface.page_size)
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= ctx.iface.page_size:
            raise GatewayError(400, "bad_param", f"limit 须为 1–{ctx.iface.page_size}")
        ctx.extra["limit"] = int(raw_limit)
        cursor = ctx.query.get("cursor")
        ctx.extra["cursor"] = decode_cursor(cursor) if cursor else (None, 0)
        ctx.extra["fields"] = ctx.fields()

    async def run(self, ctx: CallContext) -> dict[str, Any]:
        iface, grant = ctx.iface, ctx.grant
        since, offset = ctx.extra["cursor"]
        order = list(
            dict.fromkeys([c for c in [iface.cursor_column, *iface.key_columns] if c])
        ) or [iface.columns[0]]
        if iface.cursor_column is None:
            since = None
        limit = ctx.extra["limit"]
        rf = (
            (grant.filter_column, grant.filter_values.to_pylist())
            if grant.filter_column and grant.filter_values is not None
            else None
        )
        rf_cols = [grant.filter_column] if grant.filter_column else []
        wh = ctx.runtime.warehouse()
        try:
            table = await ctx.runtime.run_blocking(
                warehouse_access.page,
                wh,
                iface.table,
                # The filter column too: shape() re-checks the grant's rows on it.
                list(dict.fromkeys([*ctx.extra["fields"], *order, *rf_cols])),
                order,
                since,
                offset,
                limit + 1,
                rf,
            )
        except Exception as exc:
            raise GatewayError(503, "warehouse_unavailable", "数据暂不可用，请稍后重试") from exc
        has_more = table.num_rows > limit
        table = table.slice(0, limit)
        next_cursor = None
        if iface.cursor_column and table.num_rows:
            values = table.column(iface.cursor_column).to_pylist()
            last = values[-1]
            same = sum(1 for v in values if v == last)
            next_offset = same + (offset if last == since else 0)
            next_cursor = encode_cursor(last, next_offset)
        elif table.num_rows:
            next_cursor = encode_cursor(None, offset + table.num_rows)
        elif ctx.query.get("cursor"):
            next_cursor = ctx.query["cursor"]  # nothing new yet: ask again later with it
        rows = grant.shape(table, ctx.extra["fields"]).to_pylist()
        ctx.rows = len(rows)
        return {"data": rows, "count": len(rows), "next_cursor": next_cursor, "has_more": has_more}

    def openapi(self, iface: Any, spec: Any) -> dict[str, Any]:
        ok = {
            "type": "object",
            "properties": {
                "data": {"type": "array", "items": _record_schema(spec)},
                "count": {"type": "integer"},
                "next_cursor": {"type": "string", "nullable": True},
                "has_more": {"type": "boolean"},
            },
        }
        return {
            "get": {
                "summary": f"{iface.name}（增量导出）",
                "parameters": [
                    {
                        "name": "cursor",
                        "in": "query",
                        "required": False,
                        "description": "上次返回的 next_cursor；首次不填",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "description": f"每页条数，最多 {iface.page_size}",
                        "schema": {"type": "integer", "maximum": iface.page_size},
                    },
                    FIELDS_PARAM,
                ],
                "responses": _responses(ok),
            }
        }


def openapi_document(iface: Any, spec: Any, server: str = "/") -> dict[str, Any]:
    """The OpenAPI 3.1 description of one interface (served and shown in its console)."""
    kind = interface_kinds.get(iface.kind)()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{iface.name}（{kind.title}）",
            "version": str(spec.revision),
            "description": f"数据资源 {spec.code} {spec.name}。{iface.description or ''}",
        },
        "servers": [{"url": server}],
        "paths": {f"/gw/{iface.code}": kind.openapi(iface, spec)},
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "gs_ 开头的接口密钥"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            }
        },
        "security": [{"bearer": []}, {"apiKey": []}],
    }
