"""CLI: ``gongshu audit verify``."""

from __future__ import annotations

import typer
from rich.console import Console

from gongshu.audit import service
from gongshu.config import get_settings
from gongshu.db import cli_session

console = Console()
app = typer.Typer()
audit = typer.Typer(help="审计日志", no_args_is_help=True)
app.add_typer(audit, name="audit")


@audit.command("verify")
def verify() -> None:
    """逐条重算哈希链，报告第一处断开的记录；完整时退出码为 0。"""
    with cli_session(get_settings().database_url) as session:
        result = service.verify(session)
    if result.ok:
        console.print(f"[green]{result.message()}[/green]")
        return
    console.print(f"[red]{result.message()}[/red]")
    raise typer.Exit(1)
