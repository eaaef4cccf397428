"""The quality gate: blocking rules that run on a load's staged rows before it publishes.

This is the hook the quality domain fills. A blocking rule is a function

    rule(ctx: GateContext) -> Iterable[GateFinding]

registered under the entry-point group ``gongshu.blocking_rules`` (or with
:func:`register` at import time). ``ctx.staged`` is the staged rows as an Ibis table
(the warehouse schema of the resource plus ``_load_id``); run expressions on it with
``ctx.warehouse.execute(...)`` so they work on DuckDB and Spark alike. Any finding
blocks the load: it is aborted, the published table stays as it was, and the load is
marked failed with the findings' Chinese messages.

Built in (until the quality domain adds its rules): the staged schema is exactly the
resource's, a full load is not empty, and rejected rows stay under the source's
``max_reject_ratio`` (a file with most rows bad usually has a wrong mapping or encoding).
Row-level type and schema checks already happened in :mod:`gongshu.ingest.transform`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gongshu.ingest.spec import ResourceSpec
from gongshu.plugins import Registry
from gongshu.warehouse import LOAD_ID_COLUMN, Warehouse


@dataclass(frozen=True)
class GateContext:
    resource: ResourceSpec
    staged: Any  # ibis.Table of the staged rows
    warehouse: Warehouse
    load_id: int
    mode: str  # "full" | "incremental"
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    max_reject_ratio: float = 0.5


@dataclass(frozen=True)
class GateFinding:
    rule: str
    message: str  # Chinese, shown to the department
    rows: int | None = None


@dataclass
class Verdict:
    findings: list[GateFinding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.findings

    def message(self) -> str:
        return "；".join(f.message for f in self.findings)


BlockingRule = Callable[[GateContext], Iterable[GateFinding]]
rules: Registry[BlockingRule] = Registry("blocking_rules")


def register(name: str, rule: BlockingRule) -> BlockingRule:
    return rules.register(name, rule)


def evaluate(ctx: GateContext) -> Verdict:
    verdict = Verdict()
    for _name, rule in rules.items():
        verdict.findings.extend(rule(ctx))
    return verdict


# ---- built-in rules -------------------------------------------------------------------


def schema_rule(ctx: GateContext) -> Iterable[GateFinding]:
    staged = ctx.staged.schema().to_pyarrow()
    staged = staged.remove(staged.get_field_index(LOAD_ID_COLUMN))
    if staged != ctx.resource.arrow_schema:
        yield GateFinding("schema", "暂存数据的结构与资源目录不一致")
        return
    if ctx.mode == "incremental" and ctx.warehouse.exists(ctx.resource.table):
        published = ctx.warehouse.schema(ctx.resource.table)
        if published.remove(published.get_field_index(LOAD_ID_COLUMN)) != staged:
            yield GateFinding("schema", "资源数据项已变更，请先做一次全量归集")


def not_empty_rule(ctx: GateContext) -> Iterable[GateFinding]:
    if ctx.mode == "full" and ctx.rows_accepted == 0:
        yield GateFinding("not_empty", "全量归集没有任何有效数据行，已保留原有数据")


def reject_ratio_rule(ctx: GateContext) -> Iterable[GateFinding]:
    if ctx.rows_read and ctx.rows_rejected / ctx.rows_read > ctx.max_reject_ratio:
        share = ctx.rows_rejected / ctx.rows_read
        yield GateFinding(
            "reject_ratio",
            f"问题数据占 {share:.0%}，超过允许的 {ctx.max_reject_ratio:.0%}，"
            "请检查列映射和文件编码",
            ctx.rows_rejected,
        )
