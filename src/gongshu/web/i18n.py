"""Chinese messages for request-validation errors (pydantic error types)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_TEMPLATES: dict[str, str] = {
    "missing": "为必填项",
    "string_too_short": "长度不能少于 {min_length} 个字符",
    "string_too_long": "长度不能超过 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "string_type": "应为文本",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "bool_parsing": "应为是/否（true/false）",
    "bool_type": "应为是/否（true/false）",
    "enum": "取值应为：{expected}",
    "literal_error": "取值应为：{expected}",
    "extra_forbidden": "是未知字段",
    "json_invalid": "不是合法的 JSON",
    "json_type": "不是合法的 JSON",
    "model_attributes_type": "应为对象",
    "dict_type": "应为对象",
    "list_type": "应为列表",
    "datetime_parsing": "日期时间格式不正确，应为 ISO 8601（如 2026-01-31T08:00:00+08:00）",
    "datetime_from_date_parsing": "日期时间格式不正确",
    "date_parsing": "日期格式不正确，应为 YYYY-MM-DD",
    "date_from_datetime_parsing": "日期格式不正确，应为 YYYY-MM-DD",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "不能小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "不能大于 {le}",
    "value_error": "取值不合法：{error}",
    "too_long": "元素个数不能超过 {max_length}",
    "too_short": "元素个数不能少于 {min_length}",
}

_LOCATIONS = {"body": "请求体", "query": "查询参数", "path": "路径参数", "header": "请求头"}


def _field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in _LOCATIONS]
    return ".".join(parts) if parts else _LOCATIONS.get(str(loc[0]), "请求") if loc else "请求"


def message_for(error: dict[str, Any]) -> str:
    ctx = error.get("ctx") or {}
    kind = error.get("type", "")
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        text = "不能为空"
    else:
        try:
            text = _TEMPLATES[kind].format(**ctx)
        except (KeyError, IndexError):
            text = "取值不合法"
    return f"字段 {_field(error.get('loc', ()))} {text}"


def validation_message(errors: Sequence[dict[str, Any]]) -> str:
    msgs = [message_for(e) for e in errors[:5]]
    more = f"（另有 {len(errors) - 5} 处错误）" if len(errors) > 5 else ""
    return "请求参数不合法：" + "；".join(msgs) + more
