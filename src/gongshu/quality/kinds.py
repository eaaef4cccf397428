"""Rule kinds (规则类型): the plugins the engine compiles.

Every kind is one :class:`Kind` object registered under the entry-point group
``gongshu.rule_kinds`` (the built-ins below register through ``pyproject.toml`` exactly as
a third-party package would)::

    [project.entry-points."gongshu.rule_kinds"]
    plate = "my_bureau.quality:PLATE"      # e.g. RowKind("plate", "车牌号码", ...)

Three levels, which decide how the engine runs a rule:

* ``row``: a predicate over one row, True where the row FAILS (:class:`RowKind`). All
  row rules of a table become one aggregate query with one filtered count each.
* ``group``: needs the rows grouped by a key (:class:`GroupKind`: unique, referential,
  cross-source). One grouped query per distinct key set.
* ``table``: a fact about the table or its loads (:class:`TableKind`: freshness, row
  count change). No query beyond the row count of the scan.

Parameters are validated by ``kind.check(params, columns)`` when a rule is saved (a
``ValueError`` with a Chinese message) so a bad rule never reaches the engine.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from gongshu.plugins import Registry
from gongshu.quality import validators as v

# The seven dimensions of GB/T 36344-2018 as this platform names them.
DIMENSIONS: dict[str, str] = {
    "completeness": "完整性",
    "accuracy": "准确性",
    "conformity": "规范性",
    "consistency": "一致性",
    "uniqueness": "唯一性",
    "integrity": "关联性",
    "timeliness": "时效性",
}
DIMENSION_NAMES = tuple(DIMENSIONS.values())

# Days a resource's latest load may be old, per catalog update cycle (as ingest's
# 应归未归 ledger uses them).
CYCLE_DAYS: dict[str, float] = {
    "实时": 1,
    "每日": 2,
    "每周": 8,
    "每旬": 11,
    "每月": 32,
    "每季度": 93,
    "每年": 367,
}

# Code tables an enum rule may name instead of listing values.
SEX_CODES = ("0", "1", "2", "9")  # GB/T 2261.1


@functools.lru_cache(maxsize=1)
def region_codes() -> tuple[str, ...]:
    """GB/T 2260 county-level codes (python-stdnum's table) plus province/city codes."""
    codes = {r.code for r in v.stdnum_regions()}
    codes |= {c[:2] + "0000" for c in codes} | {c[:4] + "00" for c in codes}
    return tuple(sorted(codes))


CODE_TABLES: dict[str, tuple[str, Callable[[], tuple[str, ...]]]] = {
    "gb2260": ("行政区划代码 GB/T 2260", region_codes),
    "gb2261": ("性别代码 GB/T 2261.1", lambda: SEX_CODES),
}


@dataclass(frozen=True)
class EvalContext:
    """What the engine knows while compiling: the other tables and the clock."""

    today: dt.date
    other_table: Callable[[str], ir.Table] | None = None  # resource code -> published table
    previous_rows: int | None = None  # rows at the previous run
    last_load_at: dt.datetime | None = None  # latest successful load (UTC)
    update_cycle: str = "每日"
    now: dt.datetime | None = None
    # region codes the bureau added locally (orgs' region table), valid besides GB/T 2260
    local_regions: tuple[str, ...] = ()

    def region_codes(self) -> tuple[str, ...]:
        return _with_local(tuple(self.local_regions))


@functools.lru_cache(maxsize=16)
def _with_local(local: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({*region_codes(), *local}))


class Kind:
    name: str
    label: str
    level: str
    dimension: str
    needs_column: bool = True

    def check(self, params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
        """Validated params (``columns``: column -> Ibis type name of the resource)."""
        return params

    def describe(self, params: dict[str, Any]) -> str:
        return ""


def _require_column(params: dict[str, Any], key: str, columns: Mapping[str, str]) -> str:
    col = params.get(key)
    if not isinstance(col, str) or col not in columns:
        raise ValueError(f"参数 {key} 必须是本资源的一个数据项")
    return col


@dataclass(frozen=True)
class RowKind(Kind):
    """A row-level kind: ``build(col, params, ctx, table)`` -> (fails, reason) expressions."""

    name: str
    label: str
    dimension: str
    build: Callable[[ir.Table, str, dict[str, Any], EvalContext], tuple[Any, Any]]
    checker: Callable[[dict[str, Any], Mapping[str, str]], dict[str, Any]] | None = None
    extra_columns: Callable[[dict[str, Any]], list[str]] = field(default=lambda p: [])
    level: str = "row"
    # Shared parses this rule reads (v.Need); the engine computes each once per scan
    # (v.prepare) and ``build`` finds them in its table (v.prepared_ric / prepared_date).
    needs: Callable[[ir.Table, str, dict[str, Any]], tuple[v.Need, ...]] = field(
        default=lambda t, c, p: ()
    )
    # The verdict depends on the column's value alone (not on other columns): the
    # engine may check each distinct value once, weighted by its rows.
    value_only: bool = False
    # Checking a value costs more than grouping by it (string functions, lookups): a
    # repetitive string column with such a rule is checked per distinct value.
    costly: bool = False

    def check(self, params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
        return self.checker(params, columns) if self.checker else {}


@dataclass(frozen=True)
class GroupKind(Kind):
    """A kind evaluated on rows grouped by ``keys(column, params)``."""

    name: str
    label: str
    dimension: str
    keys: Callable[[str, dict[str, Any]], tuple[str, ...]]
    checker: Callable[[dict[str, Any], Mapping[str, str]], dict[str, Any]] | None = None
    level: str = "group"

    def check(self, params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
        return self.checker(params, columns) if self.checker else {}


@dataclass(frozen=True)
class TableKind(Kind):
    """A table-level kind: ``evaluate(rows, params, ctx)`` -> (failed: bool, message)."""

    name: str
    label: str
    dimension: str
    evaluate: Callable[[int, dict[str, Any], EvalContext], tuple[bool, str]]
    checker: Callable[[dict[str, Any], Mapping[str, str]], dict[str, Any]] | None = None
    needs_column: bool = False
    level: str = "table"

    def check(self, params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
        return self.checker(params, columns) if self.checker else {}


# --- row kinds over the shared validators ---------------------------------------------


def _simple(fn: Callable[..., Any], code: str) -> Callable[..., tuple[Any, Any]]:
    def build(t: ir.Table, col: str, params: dict[str, Any], ctx: EvalContext) -> tuple[Any, Any]:
        fails = fn(t[col], **params)
        return fails, ibis.ifelse(fails, code, ibis.null("string"))

    return build


def _with_reason(kind: str) -> Callable[..., tuple[Any, Any]]:
    rk = v.RULE_KINDS[kind]

    def build(t: ir.Table, col: str, params: dict[str, Any], ctx: EvalContext) -> tuple[Any, Any]:
        return rk.fails(t[col], **params), rk.reason_of(t[col], **params)

    return build


def _no_params(params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    if params:
        raise ValueError("该规则类型没有参数")
    return {}


def _int_or_none(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"参数 {name} 必须是整数") from None
    if out < 0:
        raise ValueError(f"参数 {name} 不能为负数")
    return out


def _num_or_none(value: Any, name: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"参数 {name} 必须是数字") from None


def _date_or_none(value: Any, name: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ValueError(f"参数 {name} 必须是 YYYY-MM-DD 格式的日期") from None


def _check_length(params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    lo = _int_or_none(params.get("min_length"), "min_length")
    hi = _int_or_none(params.get("max_length"), "max_length")
    if lo is None and hi is None:
        raise ValueError("长度规则至少需要最小长度或最大长度")
    if lo is not None and hi is not None and lo > hi:
        raise ValueError("最小长度不能大于最大长度")
    return {"min_length": lo, "max_length": hi}


def _check_regex(params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    pattern = params.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise ValueError("正则规则需要 pattern")
    if re.search(r"\(\?[=!<]|\\[1-9]", pattern):
        raise ValueError("正则表达式不能使用前后断言或反向引用（DuckDB 与 Spark 不一致）")
    try:  # Python's re lacks RE2/Java's \x{hhhh}; any other syntax error is caught here
        re.compile(re.sub(r"\\x\{[0-9A-Fa-f]+\}", ".", pattern))
    except re.error as exc:
        raise ValueError(f"正则表达式无效：{exc}") from None
    return {"pattern": pattern}


def _check_enum(params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    table = params.get("code_table")
    if table:
        if table not in CODE_TABLES:
            raise ValueError(f"未知代码表 {table}，可选：{'、'.join(CODE_TABLES)}")
        return {"code_table": table}
    values = params.get("values")
    if isinstance(values, str):
        values = [x.strip() for x in re.split(r"[,，\s]+", values) if x.strip()]
    if not isinstance(values, list) or not values or len(values) > 10_000:
        raise ValueError("代码表规则需要允许值列表（1 至 10000 个）或代码表名称")
    return {"values": [str(x) if not isinstance(x, int | float) else x for x in values]}


def _enum_build(t: ir.Table, col: str, params: dict[str, Any], ctx: EvalContext) -> Any:
    if params.get("code_table") == "gb2260":
        values: Any = ctx.region_codes()
    elif params.get("code_table"):
        values = list(CODE_TABLES[params["code_table"]][1]())
    else:
        values = params["values"]
    c = t[col]
    if c.type().is_string():
        values = [str(x) for x in values]
    elif c.type().is_numeric():
        values = [x for x in (_as_number(x) for x in values) if x is not None]
    fails = v.enum_fails(c, values=values)
    return fails, ibis.ifelse(fails, "enum", ibis.null("string"))


def _as_number(x: Any) -> float | int | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return int(f) if f.is_integer() else f


def _check_range(params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    lo, hi = _num_or_none(params.get("min"), "min"), _num_or_none(params.get("max"), "max")
    if lo is None and hi is None:
        raise ValueError("数值范围规则至少需要最小值或最大值")
    if lo is not None and hi is not None and lo > hi:
        raise ValueError("最小值不能大于最大值")
    return {"min": lo, "max": hi}


def _check_date_range(params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    out = {
        "min": _date_or_none(params.get("min"), "min"),
        "max": _date_or_none(params.get("max"), "max"),
        "not_future": bool(params.get("not_future", False)),
    }
    if out["min"] is None and out["max"] is None and not out["not_future"]:
        raise ValueError("日期范围规则需要最早日期、最晚日期或“不晚于今天”")
    if params.get("format"):
        out["format"] = _check_format(params["format"])
    return out


def _check_format(fmt: Any) -> str:
    try:
        v.date_format_fails(ibis.literal("2000-01-01"), format=str(fmt))
    except ValueError:
        raise ValueError("日期格式须含 YYYY、MM、DD 各一次，如 YYYY-MM-DD") from None
    return str(fmt)


def _date_range_build(t: ir.Table, col: str, params: dict[str, Any], ctx: EvalContext) -> Any:
    c = t[col]
    fmt = params.get("format") or ("YYYY-MM-DD" if c.type().is_string() else None)
    fails = v.date_range_fails(
        c,
        min=dt.date.fromisoformat(params["min"]) if params.get("min") else None,
        max=dt.date.fromisoformat(params["max"]) if params.get("max") else None,
        not_future=bool(params.get("not_future")),
        today=ctx.today,
        format=fmt,
        parts=_date_parts(t, col, fmt) if fmt else None,
    )
    return fails, ibis.ifelse(fails, "date_range", ibis.null("string"))


def _date_format_of(t: ir.Table, col: str, params: dict[str, Any]) -> str | None:
    if not t[col].type().is_string():
        return None
    return params.get("format") or "YYYY-MM-DD"


def _date_needs(t: ir.Table, col: str, params: dict[str, Any]) -> tuple[v.Need, ...]:
    fmt = _date_format_of(t, col, params)
    return (v.Need("date", col, fmt),) if fmt else ()


def _date_format_build(t: ir.Table, col: str, params: dict[str, Any], ctx: EvalContext) -> Any:
    fmt = params.get("format") or "YYYY-MM-DD"
    parts = _date_parts(t, col, fmt)
    return (
        v.date_format_fails(t[col], format=fmt, parts=parts),
        v.date_format_reason(t[col], format=fmt),
    )


def _check_date_format(params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    return {"format": _check_format(params.get("format") or "YYYY-MM-DD")}


def _check_ric(params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    region = params.get("region_check", "codes")
    if region not in ("none", "codes", "years"):
        raise ValueError("region_check 只能是 none、codes 或 years")
    return {"region_check": region, "allow_legacy15": bool(params.get("allow_legacy15", False))}


@functools.lru_cache(maxsize=4)
def _region_year_keys(last_year: int) -> tuple[int, ...]:
    return tuple(v.region_year_keys(v.stdnum_regions(), last_year=last_year))


def _ric_args(params: dict[str, Any], ctx: EvalContext) -> dict[str, Any]:
    region = params.get("region_check", "codes")
    args: dict[str, Any] = {
        "regions": None,
        "today": ctx.today,
        "allow_legacy15": bool(params.get("allow_legacy15", False)),
    }
    if region == "codes":
        args["regions"] = ctx.region_codes()
    elif region == "years":
        args["region_years"] = list(_region_year_keys(ctx.today.year))
    return args


def _ric_build(t: ir.Table, col: str, params: dict[str, Any], ctx: EvalContext) -> Any:
    args = _ric_args(params, ctx)
    parts = v.prepared_ric(t, col)
    return (
        v.ric_fails(t[col], **args, parts=parts or v.reference_ric(t[col])),
        v.ric_reason(t[col], **args, parts=parts),
    )


def _ric_parts(t: ir.Table, col: str) -> v.RicParts:
    """The scan's shared parse; outside a prepared scan (the few rows of the sample
    queries) the reference checks alone, the smaller expression."""
    return v.prepared_ric(t, col) or v.reference_ric(t[col])


def _date_parts(t: ir.Table, col: str, fmt: str) -> v.DateParts | None:
    return v.prepared_date(t, col, fmt) or v.reference_date(t[col], fmt)


def _ric_needs(t: ir.Table, col: str, params: dict[str, Any]) -> tuple[v.Need, ...]:
    return (v.Need("ric", col),)


def _id_needs(t: ir.Table, col: str, params: dict[str, Any]) -> tuple[v.Need, ...]:
    return (v.Need("ric", params["id_column"]),)


def _check_uscc(params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    return {
        "letter_authority": bool(params.get("letter_authority", False)),
        "check_org_code": bool(params.get("check_org_code", False)),
    }


def _check_mobile(params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    return {"allow_country_code": bool(params.get("allow_country_code", False))}


def _mobile_build(t: ir.Table, col: str, params: dict[str, Any], ctx: EvalContext) -> Any:
    fails = v.mobile_fails(t[col], **params, number=v.prepared_int(t, col))
    return fails, ibis.ifelse(fails, "mobile", ibis.null("string"))


def _mobile_needs(t: ir.Table, col: str, params: dict[str, Any]) -> tuple[v.Need, ...]:
    # the fast path reads the number twice: cast once per scan
    if params.get("allow_country_code") or not t[col].type().is_string():
        return ()
    return (v.Need("int", col),)


def _check_name(params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    return {
        "min_length": _int_or_none(params.get("min_length"), "min_length") or 2,
        "max_length": _int_or_none(params.get("max_length"), "max_length") or 30,
    }


def _check_id_birth(params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    out = {"id_column": _require_column(params, "id_column", columns)}
    out["format"] = _check_format(params.get("format") or "YYYY-MM-DD")
    return out


def _id_birth_build(t: ir.Table, col: str, params: dict[str, Any], ctx: EvalContext) -> Any:
    id_col, fmt = params["id_column"], params["format"]
    fails = v.ric_birth_date_mismatch(
        t[id_col],
        t[col],
        format=fmt,
        id_parts=_ric_parts(t, id_col),
        birth_parts=_date_parts(t, col, fmt) if t[col].type().is_string() else None,
    )
    return fails, ibis.ifelse(fails, "birthdate_mismatch", ibis.null("string"))


def _id_birth_needs(t: ir.Table, col: str, params: dict[str, Any]) -> tuple[v.Need, ...]:
    return _id_needs(t, col, params) + _date_needs(t, col, params)


def _check_id_sex(params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    return {
        "id_column": _require_column(params, "id_column", columns),
        "male": params.get("male", "1"),
        "female": params.get("female", "2"),
    }


def _id_sex_build(t: ir.Table, col: str, params: dict[str, Any], ctx: EvalContext) -> Any:
    c = t[col]
    male, female = params.get("male", "1"), params.get("female", "2")
    if c.type().is_integer():
        male, female = int(male), int(female)
    id_col = params["id_column"]
    fails = v.ric_sex_mismatch(
        t[id_col], c, male=male, female=female, id_parts=_ric_parts(t, id_col)
    )
    return fails, ibis.ifelse(fails, "sex_mismatch", ibis.null("string"))


def _id_column(params: dict[str, Any]) -> list[str]:
    return [params["id_column"]] if params.get("id_column") else []


NOT_NULL = RowKind(
    "not_null", "非空", "完整性", _simple(v.not_null_fails, "null"), _no_params, value_only=True
)
NOT_BLANK = RowKind(
    "not_blank",
    "非空白",
    "完整性",
    _simple(v.not_blank_fails, "blank"),
    _no_params,
    value_only=True,
    costly=True,
)
LENGTH = RowKind(
    "length",
    "长度范围",
    "规范性",
    _simple(v.length_fails, "length"),
    _check_length,
    value_only=True,
)
REGEX = RowKind(
    "regex",
    "正则表达式",
    "规范性",
    _simple(v.regex_fails, "pattern"),
    _check_regex,
    value_only=True,
    costly=True,
)
ENUM = RowKind(
    "enum", "代码表/枚举值", "规范性", _enum_build, _check_enum, value_only=True, costly=True
)
RANGE = RowKind(
    "range", "数值范围", "准确性", _simple(v.range_fails, "range"), _check_range, value_only=True
)
DATE_RANGE = RowKind(
    "date_range",
    "日期范围",
    "准确性",
    _date_range_build,
    _check_date_range,
    needs=_date_needs,
    value_only=True,
    costly=True,
)
DATE_FORMAT = RowKind(
    "date_format",
    "日期格式",
    "规范性",
    _date_format_build,
    _check_date_format,
    needs=_date_needs,
    value_only=True,
    costly=True,
)
RIC = RowKind(
    "ric",
    "居民身份证号码（GB 11643）",
    "准确性",
    _ric_build,
    _check_ric,
    needs=_ric_needs,
    value_only=True,
    costly=True,
)
USCC = RowKind(
    "uscc",
    "统一社会信用代码（GB 32100）",
    "准确性",
    _with_reason("uscc"),
    _check_uscc,
    value_only=True,
    costly=True,
)
MOBILE = RowKind(
    "mobile",
    "手机号码",
    "规范性",
    _mobile_build,
    _check_mobile,
    needs=_mobile_needs,
    value_only=True,
    costly=True,
)
LANDLINE = RowKind(
    "landline",
    "固定电话号码",
    "规范性",
    _simple(v.landline_fails, "landline"),
    _no_params,
    value_only=True,
    costly=True,
)
EMAIL = RowKind(
    "email",
    "电子邮箱",
    "规范性",
    _simple(v.email_fails, "email"),
    _no_params,
    value_only=True,
    costly=True,
)
CHINESE_NAME = RowKind(
    "chinese_name",
    "中文姓名",
    "规范性",
    _simple(v.chinese_name_fails, "chinese_name"),
    _check_name,
    value_only=True,
    costly=True,
)
ID_BIRTH = RowKind(
    "id_birth_match",
    "出生日期与身份证号码一致",
    "一致性",
    _id_birth_build,
    _check_id_birth,
    _id_column,
    needs=_id_birth_needs,
)
ID_SEX = RowKind(
    "id_sex_match",
    "性别与身份证号码一致",
    "一致性",
    _id_sex_build,
    _check_id_sex,
    _id_column,
    needs=_id_needs,
)


# --- group kinds -------------------------------------------------------------------------


def _check_unique(params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    extra = params.get("columns") or []
    if isinstance(extra, str):
        extra = [c.strip() for c in extra.split(",") if c.strip()]
    for c in extra:
        if c not in columns:
            raise ValueError(f"联合主键中的 {c} 不是本资源的数据项")
    return {"columns": list(extra)} if extra else {}


def _unique_keys(column: str, params: dict[str, Any]) -> tuple[str, ...]:
    extra = [c for c in params.get("columns") or [] if c != column]
    return (column, *extra)


def _check_other(params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    res = params.get("resource")
    col = params.get("column")
    if not isinstance(res, str) or not res:
        raise ValueError("需要指定被参照的资源代码 resource")
    if not isinstance(col, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", col):
        raise ValueError("需要指定被参照资源的数据项 column")
    out = {"resource": res, "column": col}
    if "value_column" in params or "other_value_column" in params:
        out["value_column"] = _require_column(params, "value_column", columns)
        other = params.get("other_value_column") or ""
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", other):
            raise ValueError("需要指定对方资源中待比对的数据项 other_value_column")
        out["other_value_column"] = other
    return out


def _check_cross_source(params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    p = dict(params)
    p.setdefault("value_column", None)
    p.setdefault("other_value_column", None)
    out = _check_other(p, columns)
    if "value_column" not in out:
        raise ValueError("一数一源比对需要 value_column 与 other_value_column")
    return out


UNIQUE = GroupKind("unique", "唯一（单列或联合主键）", "唯一性", _unique_keys, _check_unique)
REFERENTIAL = GroupKind(
    "referential", "参照完整性（值存在于另一资源）", "关联性", lambda c, p: (c,), _check_other
)
CROSS_SOURCE = GroupKind(
    "cross_source", "一数一源（跨资源一致）", "一致性", lambda c, p: (c,), _check_cross_source
)


# --- table kinds -------------------------------------------------------------------------


def _check_freshness(params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    days = _num_or_none(params.get("max_days"), "max_days")
    if days is not None and days <= 0:
        raise ValueError("max_days 必须大于 0")
    return {"max_days": days} if days is not None else {}


def _freshness(rows: int, params: dict[str, Any], ctx: EvalContext) -> tuple[bool, str]:
    limit = params.get("max_days") or CYCLE_DAYS.get(ctx.update_cycle, 2)
    if ctx.last_load_at is None:
        return True, "尚无成功的归集批次"
    now = ctx.now or dt.datetime.now(dt.UTC)
    age = (now - ctx.last_load_at).total_seconds() / 86400
    if age > limit:
        return True, f"最近一次归集在 {age:.1f} 天前，超过更新周期允许的 {limit:g} 天"
    return False, f"最近一次归集在 {age:.1f} 天前（允许 {limit:g} 天）"


def _check_row_count(params: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    change = _num_or_none(params.get("max_change"), "max_change")
    if change is None or change <= 0:
        raise ValueError("max_change 必须是大于 0 的比例，如 0.3 表示 ±30%")
    lo = _int_or_none(params.get("min_rows"), "min_rows")
    return {"max_change": change, "min_rows": lo}


def _row_count(rows: int, params: dict[str, Any], ctx: EvalContext) -> tuple[bool, str]:
    if params.get("min_rows") is not None and rows < params["min_rows"]:
        return True, f"数据量 {rows} 行，少于下限 {params['min_rows']} 行"
    prev = ctx.previous_rows
    if not prev:
        return False, f"数据量 {rows} 行（无上次质检可比）"
    change = (rows - prev) / prev
    text = f"数据量 {rows} 行，较上次 {prev} 行变化 {change:+.1%}"
    if abs(change) > params["max_change"]:
        return True, f"{text}，超过允许的 ±{params['max_change']:.0%}"
    return False, text


FRESHNESS = TableKind("freshness", "更新及时（按更新周期）", "时效性", _freshness, _check_freshness)
ROW_COUNT = TableKind("row_count", "数据量变化幅度", "完整性", _row_count, _check_row_count)

BUILTIN: tuple[Kind, ...] = (
    NOT_NULL,
    NOT_BLANK,
    LENGTH,
    REGEX,
    ENUM,
    RANGE,
    DATE_RANGE,
    DATE_FORMAT,
    RIC,
    USCC,
    MOBILE,
    LANDLINE,
    EMAIL,
    CHINESE_NAME,
    ID_BIRTH,
    ID_SEX,
    UNIQUE,
    REFERENTIAL,
    CROSS_SOURCE,
    FRESHNESS,
    ROW_COUNT,
)

kinds: Registry[Kind] = Registry("rule_kinds")


def get(name: str) -> Kind:
    try:
        return kinds.get(name)
    except KeyError:
        raise ValueError(f"未知的规则类型 {name}") from None


def labels() -> dict[str, str]:
    return {name: k.label for name, k in kinds.items()}
