"""CLI: ``gongshu quality run RESOURCE`` (with progress), ``suggest``, ``run-due``.

Like ``gongshu ingest``, the CLI opens the warehouse itself: for batch hosts and
maintenance windows. While the server runs (it owns the DuckDB file) use the API
(``POST /api/v1/quality/resources/{id}/runs``) or the resource's quality page.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gongshu.auth.principal import Principal
from gongshu.config import get_settings
from gongshu.db import cli_session

console = Console()
app = typer.Typer()
quality = typer.Typer(help="数据质量", no_args_is_help=True)
app.add_typer(quality, name="quality")


def _open_warehouse(url: str):  # type: ignore[no-untyped-def]
    from gongshu.warehouse import connect

    try:
        return connect(url)
    except Exception as e:
        if "lock" in str(e).lower():
            console.print("[red]数仓文件正被服务进程占用；服务运行时请通过页面或 API 质检[/red]")
            raise typer.Exit(2) from None
        raise


@quality.command("run")
def run_cmd(
    resource: Annotated[str, typer.Argument(help="资源代码")],
    force: Annotated[bool, typer.Option("--force", help="忽略缓存，重新计算")] = False,
) -> None:
    """对一个资源执行全部启用的质量规则，显示进度与结果；有规则未通过时退出码为 1。"""
    from gongshu.errors import AppError
    from gongshu.quality import service

    settings = get_settings()
    wh = _open_warehouse(settings.warehouse_url)
    actor = Principal.system("cli")
    try:
        with cli_session(settings.database_url) as session:
            with console.status("质检中…") as status:

                def progress(message: str) -> None:
                    status.update(message)
                    console.log(message)

                try:
                    spec = service.resource_by_code(session, actor, resource)
                    run = service.run_resource(
                        session, actor, spec.id, wh=wh, force=force, progress=progress
                    )
                except AppError as e:
                    console.print(f"[red]{e.message}[/red]")
                    raise typer.Exit(1) from None
            results = service.run_results(session, run)
    finally:
        wh.close()
    table = Table(title=f"{run.resource_name}（{run.resource_code}）第 {run.id} 次质检")
    for col in ("规则", "维度", "检查行数", "不合格行数", "失败率", "结论"):
        table.add_column(col)
    for r in results:
        table.add_row(
            r.rule_name,
            r.dimension,
            f"{r.rows_checked:,}",
            f"{r.rows_failed:,}",
            f"{r.failure_rate:.2%}",
            "[green]通过[/green]" if r.passed else "[red]未通过[/red]",
        )
    console.print(table)
    cached = f"（沿用第 {run.cached_from} 次结果）" if run.cached_from else ""
    console.print(
        f"得分 {run.score if run.score is not None else '-'}，{run.rows:,} 行，"
        f"{run.queries} 次查询，用时 {run.duration_s:.2f} 秒{cached}"
    )
    if run.status == "error":
        console.print(f"[red]{run.error}[/red]")
        raise typer.Exit(1)
    if run.status != "passed":
        raise typer.Exit(1)


@quality.command("suggest")
def suggest_cmd(resource: Annotated[str, typer.Argument(help="资源代码")]) -> None:
    """根据数据元和数据画像生成建议规则（待确认）。"""
    from gongshu.quality import service

    settings = get_settings()
    wh = _open_warehouse(settings.warehouse_url)
    actor = Principal.system("cli")
    try:
        with cli_session(settings.database_url) as session:
            spec = service.resource_by_code(session, actor, resource)
            rules = service.suggest_rules(session, actor, spec.id, wh)
    finally:
        wh.close()
    for r in rules:
        console.print(f"#{r.id} {r.name}（{r.dimension}）— {r.reason}")
    console.print(f"共 {len(rules)} 条建议规则，请在规则编辑页确认")


@quality.command("run-due")
def run_due_cmd() -> None:
    """定时质检：所有有启用规则的资源（未变化的沿用结果），并提示逾期问题。"""
    from gongshu.quality import service

    settings = get_settings()
    wh = _open_warehouse(settings.warehouse_url)
    try:
        with cli_session(settings.database_url) as session:
            runs = service.run_due(session, wh=wh)
    finally:
        wh.close()
    for run in runs:
        console.print(f"{run.resource_code} {run.status} {run.score}")
