"""CLI: ``gongshu cockpit refresh|deliver`` and ``gongshu report daily --date``.

These open the warehouse themselves: run them while the server is stopped, or use the
API (``POST /api/v1/cockpit/refresh``) when it runs, because the server owns the DuckDB
file. ``report daily`` reads only the control plane and works either way.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Annotated

import typer
from rich.console import Console

from gongshu.config import get_settings
from gongshu.db import cli_session

console = Console()
app = typer.Typer()
cockpit = typer.Typer(help="城市驾驶舱：指标计算、预测、预警通知", no_args_is_help=True)
report_app = typer.Typer(help="城市运行日志", no_args_is_help=True)
app.add_typer(cockpit, name="cockpit")
app.add_typer(report_app, name="report")


@cockpit.command("refresh")
def refresh(
    full: Annotated[bool, typer.Option("--full", help="全量重算（默认只算新的期）")] = False,
    code: Annotated[list[str] | None, typer.Option("--code", help="只算这些指标")] = None,
    until: Annotated[str | None, typer.Option(help="计算到哪一天（YYYY-MM-DD，默认今天）")] = None,
    workers: Annotated[int, typer.Option(help="预测并行进程数")] = min(2, os.cpu_count() or 1),
) -> None:
    """计算指标、评估预警、更新预测。"""
    from gongshu.cockpit import service
    from gongshu.warehouse import connect

    settings = get_settings()
    wh = connect(settings.warehouse_url)
    try:
        with cli_session(settings.database_url) as session, console.status("正在计算指标……"):
            result = service.refresh(
                session,
                wh,
                codes=code or None,
                full=full,
                until=dt.date.fromisoformat(until) if until else None,
                workers=workers,
            )
    finally:
        wh.close()
    console.print(
        f"[green]完成[/green]：指标 {result.computed} 项（写入 {result.values} 个值，"
        f"{result.compute_s:.1f} 秒），预测 {result.forecasts} 项（{result.forecast_s:.1f} 秒），"
        f"新预警 {result.alerts_opened} 条，待发通知 {result.notifications} 条"
    )
    for code_, error in result.failed.items():
        console.print(f"[red]{code_}[/red]：{error}")
    if result.failed:
        raise typer.Exit(1)


@cockpit.command("deliver")
def deliver() -> None:
    """立即发送到期的预警通知（含失败重试）。"""
    from gongshu.cockpit import alerts

    with cli_session(get_settings().database_url) as session:
        stats = alerts.deliver_due(session)
    console.print(f"已发送 {stats['sent']}，待重试 {stats['retry']}，放弃 {stats['failed']}")


@report_app.command("daily")
def daily(
    date: Annotated[
        str | None, typer.Option("--date", help="日志日期 YYYY-MM-DD，默认昨天")
    ] = None,
) -> None:
    """生成（或重新生成）某一天的城市运行日志。"""
    from gongshu.cockpit import report, service

    try:
        day = dt.date.fromisoformat(date) if date else service.local_today() - dt.timedelta(days=1)
    except ValueError:
        console.print("[red]日期格式应为 YYYY-MM-DD[/red]")
        raise typer.Exit(2) from None
    with cli_session(get_settings().database_url) as session:
        r = report.generate(session, day)
        content = r.content
    console.print(f"[bold]{content['title']}[/bold]\n{content['summary']}")
    console.print(f"页面：/cockpit/reports/{day.isoformat()}")
