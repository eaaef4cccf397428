"""The quality gate: the resource's blocking rules decide whether a load publishes.

Registered in ingest's blocking-rule group (``gongshu.blocking_rules``, see
:mod:`gongshu.ingest.gate`). For every load it runs the resource's whole active rule set
on the staged rows (one run, recorded with ``trigger="load"``, so problems are found
and re-checked after every load), and blocks publication when a ``blocking`` rule fails
beyond its threshold. Warning rules never block.

The gate context carries no database session, so the quality domain binds the
warehouse to a session factory: the server does it at startup
(:func:`gongshu.quality.runtime.startup`), scripts and tests call :func:`bind`. A CLI
load on the configured warehouse falls back to the configured control-plane database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongshu.auth.principal import Principal
from gongshu.ingest.gate import GateContext, GateFinding
from gongshu.warehouse import Warehouse

log = logging.getLogger("gongshu.quality")
# warehouse URL -> session factory (a URL, not the object: the demo and the CLI open
# their own connection to the same warehouse)
_BOUND: dict[str, Callable[[], Session]] = {}
_FALLBACK: dict[str, Callable[[], Session]] = {}


def bind(warehouse_url: str, sessions: Callable[[], Session]) -> None:
    """Let the gate record runs for loads into that warehouse with ``sessions``."""
    _BOUND[warehouse_url] = sessions


def unbind(warehouse_url: str) -> None:
    _BOUND.pop(warehouse_url, None)


def _sessions(wh: Warehouse) -> Callable[[], Session] | None:
    found = _BOUND.get(wh.url)
    if found is not None:
        return found
    from gongshu.config import get_settings

    settings = get_settings()
    if wh.url != settings.warehouse_url:
        return None
    if settings.database_url not in _FALLBACK:
        from gongshu.db import make_engine, make_sessionmaker

        _FALLBACK[settings.database_url] = make_sessionmaker(make_engine(settings.database_url))
    return _FALLBACK[settings.database_url]


def blocking_rules(ctx: GateContext) -> Iterable[GateFinding]:
    from gongshu.quality import service
    from gongshu.quality.models import Rule

    factory = _sessions(ctx.warehouse)
    if factory is None:
        log.warning(
            "quality gate: warehouse %s not bound to a database; skipped", ctx.warehouse.url
        )
        return []
    session = factory()
    try:
        has_rules = session.scalar(
            select(Rule.id)
            .where(Rule.resource_id == ctx.resource.id, Rule.status == "active")
            .limit(1)
        )
        if has_rules is None:
            return []
        run = service.run_table(
            session,
            Principal.system("quality-gate"),
            ctx.resource,
            ctx.staged,
            wh=ctx.warehouse,
            trigger="load",
            load_id=ctx.load_id,
            incremental=ctx.mode == "incremental",
        )
        if run.status == "error":
            return [GateFinding("quality", f"质量检查出错：{run.error}")]
        return [
            GateFinding(
                f"quality:{r.rule_id}",
                f"{r.rule_name}：{r.rows_failed} 行不合格（{r.failure_rate:.2%}），"
                f"超过允许的 {r.threshold:.2%}",
                r.rows_failed,
            )
            for r in service.run_results(session, run)
            if not r.passed and r.severity == "blocking"
        ]
    finally:
        session.close()


def findings_of(verdict: Any) -> list[GateFinding]:  # convenience for tests and pages
    return [f for f in verdict.findings if f.rule.startswith("quality")]
