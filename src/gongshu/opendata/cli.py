"""CLI: ``gongshu opendata stats|kpis|reindex``."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from sqlalchemy import select

from gongshu.catalog.service import org_names
from gongshu.config import get_settings
from gongshu.db import cli_session
from gongshu.opendata import search, service
from gongshu.opendata.models import OpenDataset

console = Console()
app = typer.Typer()
opendata = typer.Typer(help="数据开放", no_args_is_help=True)
app.add_typer(opendata, name="opendata")


@opendata.command("stats")
def stats(days: int = typer.Option(30, help="统计最近多少天")) -> None:
    """开放数据集、数据项、数据量与下载/调用统计（JSON）。"""
    with cli_session(get_settings().database_url) as session:
        console.print_json(json.dumps(service.stats(session, days), ensure_ascii=False))


@opendata.command("kpis")
def kpis() -> None:
    """驾驶舱读取的开放指标（JSON）。"""
    with cli_session(get_settings().database_url) as session:
        console.print_json(json.dumps(service.kpis(session), ensure_ascii=False))


@opendata.command("reindex")
def reindex() -> None:
    """重建开放数据集全文索引。"""
    with cli_session(get_settings().database_url) as session:
        rows = list(session.scalars(select(OpenDataset).where(OpenDataset.status == "published")))
        search.unindex(session, [d.id for d in session.scalars(select(OpenDataset))])
        search.index(session, rows, org_names(session))
        session.commit()
    console.print(f"[green]已重建 {len(rows)} 个开放数据集的索引[/green]")
