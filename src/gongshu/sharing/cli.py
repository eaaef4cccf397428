"""CLI: ``gongshu sharing ...``."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console()
app = typer.Typer()
sharing = typer.Typer(help="数据共享", no_args_is_help=True)
app.add_typer(sharing, name="sharing")
