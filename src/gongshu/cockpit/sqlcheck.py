"""Restricted SQL indicator definitions: validate with sqlglot, run with a time limit.

A definition is accepted only when it is one read-only query (SELECT, or a set operation
of SELECTs, with optional CTEs) that reads nothing but the warehouse tables the indicator
declares as its sources, calls no function that touches files, the network, settings or
sequences, and returns ``period`` and ``value`` (or ``num`` and ``den``) columns. What runs
is sqlglot's re-rendering of the validated tree, never the submitted text, so a quoted
file name cannot turn into a file scan. On DuckDB a timer interrupts the query after the
time limit.
"""

from __future__ import annotations

import threading
from typing import Any

import pandas as pd
import sqlglot
from sqlglot import exp

from gongshu.errors import ValidationFailed

DIALECT = "duckdb"
DEFAULT_TIMEOUT_S = 30.0
MAX_SQL_CHARS = 20_000

_FORBIDDEN_NODES = tuple(
    getattr(exp, name)
    for name in (
        "Insert",
        "Update",
        "Delete",
        "Merge",
        "Create",
        "Drop",
        "Alter",
        "Command",
        "Pragma",
        "Attach",
        "Detach",
        "Copy",
        "Set",
        "Use",
        "Install",
        "Into",
        "Transaction",
        "Commit",
        "Rollback",
        "LoadData",
        "Export",
        "Describe",
        "Summarize",
        "Kill",
        "TruncateTable",
        "Grant",
        "Revoke",
        "Refresh",
        "Cache",
        "Uncache",
        "Analyze",
    )
    if hasattr(exp, name)
)
_FORBIDDEN_FUNCTIONS = frozenset(
    {
        "glob",
        "query",
        "query_table",
        "sniff_csv",
        "getenv",
        "current_setting",
        "set_config",
        "nextval",
        "currval",
        "setseed",
        "load",
        "install",
        "checkpoint",
        "force_checkpoint",
        "file_search_path",
        "which_secret",
        "summary",
        "range_files",
    }
)
_FORBIDDEN_PREFIXES = (
    "read_",
    "pragma_",
    "duckdb_",
    "sqlite_",
    "postgres_",
    "mysql_",
    "iceberg_",
    "delta_",
    "http",
    "parquet_",
    "json_execute",
    "arrow_",
    "from_csv",
    "ducklake_",
)


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def validate_sql(sql: str, allowed_tables: list[str] | tuple[str, ...]) -> str:
    """Return the query to run, or raise ValidationFailed (Chinese message)."""
    if not sql or not sql.strip():
        raise ValidationFailed("指标定义 SQL 不能为空")
    if len(sql) > MAX_SQL_CHARS:
        raise ValidationFailed(f"指标定义 SQL 过长（上限 {MAX_SQL_CHARS} 字符）")
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise ValidationFailed(f"SQL 语法错误：{str(exc).splitlines()[0][:200]}") from None
    if len(statements) != 1:
        raise ValidationFailed("指标定义只能是一条 SELECT 查询")
    tree = statements[0]
    if not isinstance(tree, exp.Select | exp.SetOperation):
        raise ValidationFailed(f"指标定义只能是只读的 SELECT 查询，不允许 {tree.key.upper()}")
    allowed = set(allowed_tables)
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise ValidationFailed(f"指标定义不允许 {node.key.upper()} 语句，只能只读查询")
        if isinstance(node, exp.Func):
            name = _function_name(node)
            if name in _FORBIDDEN_FUNCTIONS or name.startswith(_FORBIDDEN_PREFIXES):
                raise ValidationFailed(f"指标定义不允许调用函数 {name}")
        if isinstance(node, exp.Table):
            if not isinstance(node.this, exp.Identifier):
                raise ValidationFailed("指标定义不允许表函数，只能读取声明的数仓表")
            if node.args.get("catalog") or (node.db and node.db.lower() != "main"):
                raise ValidationFailed(f"指标定义不允许跨库读取：{node.sql(dialect=DIALECT)}")
            name = node.name
            if name in ctes and not node.db:
                continue
            if name not in allowed:
                raise ValidationFailed(
                    f"指标定义读取了未声明的表 {name}（来源只能是已声明的数仓表）"
                )
    columns = {c.lower() for c in _output_names(tree)}
    if "period" not in columns or not ({"value"} <= columns or {"num", "den"} <= columns):
        raise ValidationFailed("指标定义的结果必须包含 period 列和 value 列（或 num、den 列）")
    return tree.sql(dialect=DIALECT)


def _output_names(tree: exp.Expression) -> list[str]:
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return []
    return [e.alias_or_name for e in select.expressions]


def run_sql(warehouse: Any, sql: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Run a validated query on the warehouse; DuckDB queries are interrupted at the limit."""
    if getattr(warehouse, "engine", "") != "duckdb":
        # Spark: ibis transpiles the DuckDB-dialect query; the job's own timeouts apply.
        expr = warehouse._ibis.sql(sql, dialect=DIALECT)
        return warehouse.execute(expr)
    con = warehouse.native_cursor()
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.start()
    try:
        table = con.sql(sql).to_arrow_table()
        return table.to_pandas(date_as_object=False)
    except Exception as exc:
        if "interrupt" in str(exc).lower():
            raise ValidationFailed(f"指标计算超时（{timeout_s:g} 秒）", code="timeout") from None
        raise ValidationFailed(f"指标 SQL 执行失败：{str(exc).splitlines()[0][:300]}") from None
    finally:
        timer.cancel()
