"""CLI: ``gongshu sharing stats|kpis|generate-calls``."""

from __future__ import annotations

import json
from datetime import date

import typer
from rich.console import Console
from rich.table import Table

from gongshu.config import get_settings
from gongshu.db import cli_session

console = Console()
app = typer.Typer()
sharing = typer.Typer(help="数据共享", no_args_is_help=True)
app.add_typer(sharing, name="sharing")


@sharing.command("kpis")
def kpis_cmd(
    since: str = typer.Option(None, help="起始日期 YYYY-MM-DD（默认近 30 天）"),
) -> None:
    """驾驶舱指标：调用量、调用成功率、共享满足率、回流量（JSON）。"""
    from gongshu.sharing import stats

    with cli_session(get_settings().database_url) as s:
        out = stats.kpis(s, since=date.fromisoformat(since) if since else None)
    console.print_json(json.dumps(out, default=str, ensure_ascii=False))


@sharing.command("stats")
def stats_cmd(days: int = typer.Option(30, help="统计最近多少天")) -> None:
    """按接口的调用量、成功率与时延。"""
    from datetime import timedelta

    from gongshu.sharing import stats
    from gongshu.sharing.service import local_today

    with cli_session(get_settings().database_url) as s:
        out = stats.call_stats(s, None, since=local_today() - timedelta(days=days - 1))
    table = Table("接口", "调用量", "成功率", "p50 ms", "p95 ms")
    for r in out["by_interface"]:
        rate = f"{100 * r['success_rate']:.2f}%" if r["success_rate"] is not None else "—"
        table.add_row(str(r["key"]), str(r["calls"]), rate, str(r["p50_ms"]), str(r["p95_ms"]))
    console.print(table)


@sharing.command("generate-calls")
def generate_calls(
    days: int = typer.Option(365, help="生成多少天"),
    per_day: int = typer.Option(12_000, help="日均调用量"),
    seed: int = typer.Option(20260101),
) -> None:
    """为现有接口与授权生成历史调用（按日汇总），让统计页面有纵深。"""
    from gongshu.auth.principal import Principal
    from gongshu.sharing import service
    from gongshu.sharing.demo import generate_history, interface_ids

    admin = Principal.system("cli")
    with cli_session(get_settings().database_url) as s:
        grants = service.list_grants(s, admin, status="active", limit=500)[0]
        n = generate_history(
            s,
            interfaces=interface_ids(s),
            consumers=[(g.consumer_org_id, g.id) for g in grants],
            days=days,
            calls_per_day=per_day,
            seed=seed,
        )
    console.print(f"[green]已生成 {n} 次调用（{days} 天）[/green]")
