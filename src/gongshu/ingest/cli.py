"""CLI: ``gongshu ingest run SOURCE``, ``gongshu ingest file RESOURCE PATH``, ``run-due``.

The CLI opens the warehouse itself, so it is for batch hosts and maintenance windows;
while the server runs (it owns the DuckDB file) use the API or the pages instead.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from gongshu.auth.principal import Principal
from gongshu.config import get_settings
from gongshu.db import cli_session

console = Console()
app = typer.Typer()
ingest = typer.Typer(help="数据归集", no_args_is_help=True)
app.add_typer(ingest, name="ingest")


class RowsColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        rows = task.fields.get("rows", 0)
        return Text(f"{rows:,} 行", style="cyan")


class SpeedColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0
        if not elapsed:
            return Text("-- MB/s")
        return Text(f"{task.completed / elapsed / 1e6:6.1f} MB/s", style="green")


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        RowsColumn(),
        SpeedColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def _open_warehouse(url: str):  # type: ignore[no-untyped-def]
    from gongshu.warehouse import connect

    try:
        return connect(url)
    except Exception as e:  # DuckDB's lock error names the owning process
        if "lock" in str(e).lower():
            console.print(
                "[red]数仓文件正被服务进程占用；服务运行时请通过页面或 API "
                "（POST /api/v1/ingest/sources/{id}/run）归集[/red]"
            )
            raise typer.Exit(2) from None
        raise


def _report(load) -> None:  # type: ignore[no-untyped-def]
    style = "green" if load.status == "succeeded" else "red"
    console.print(
        f"[{style}]批次 {load.id}：{'成功' if load.status == 'succeeded' else '失败'}[/{style}]  "
        f"读取 {load.rows_read:,} 行，入库 {load.rows_accepted:,} 行，问题 {load.rows_rejected:,} 行，"
        f"{load.bytes_read / 1e6:.1f} MB，用时 {load.duration_s or 0:.1f} 秒"
    )
    if load.error:
        console.print(f"[red]{load.error}[/red]")
    if load.status != "succeeded":
        raise typer.Exit(1)


@ingest.command("file")
def file_cmd(
    resource: Annotated[str, typer.Argument(help="资源代码")],
    path: Annotated[Path, typer.Argument(help="CSV/TSV/XLSX/JSON Lines/Parquet 文件")],
    mode: Annotated[
        str, typer.Option(help="full（全量替换）或 incremental（按主键更新）")
    ] = "full",
    encoding: Annotated[str | None, typer.Option(help="字符编码；默认自动识别")] = None,
) -> None:
    """把一个文件归集到资源（列按名称自动映射），显示进度；失败时退出码非 0。"""
    from gongshu.errors import AppError
    from gongshu.ingest import service

    settings = get_settings()
    settings.ensure_dirs()
    wh = _open_warehouse(settings.warehouse_url)
    actor = Principal.system("cli")
    total = path.stat().st_size if path.is_file() else None
    try:
        with cli_session(settings.database_url) as session, _progress() as bar:
            task = bar.add_task(path.name, total=total, rows=0)

            def progress(rows: int, nbytes: int) -> None:
                bar.update(task, completed=nbytes, rows=rows)

            try:
                load = service.ingest_file(
                    session,
                    actor,
                    resource,
                    path,
                    wh=wh,
                    settings=settings,
                    mode=mode,
                    encoding=encoding,
                    progress=progress,
                )
            except AppError as e:
                console.print(f"[red]{e.message}[/red]")
                raise typer.Exit(1) from None
            if load.status == "succeeded" and total:
                bar.update(task, completed=total)
    finally:
        wh.close()
    _report(load)


@ingest.command("run")
def run_cmd(source: Annotated[int, typer.Argument(help="来源编号")]) -> None:
    """按来源的配置立即归集一次；失败时退出码非 0。"""
    from gongshu.errors import AppError
    from gongshu.ingest import service

    settings = get_settings()
    wh = _open_warehouse(settings.warehouse_url)
    actor = Principal.system("cli")
    try:
        with cli_session(settings.database_url) as session, _progress() as bar:
            task = bar.add_task(f"来源 {source}", total=None, rows=0)

            def progress(rows: int, nbytes: int) -> None:
                bar.update(task, completed=nbytes, rows=rows)

            try:
                load = service.run_source(
                    session, actor, source, wh=wh, settings=settings, progress=progress
                )
            except AppError as e:
                console.print(f"[red]{e.message}[/red]")
                raise typer.Exit(1) from None
    finally:
        wh.close()
    _report(load)


@ingest.command("run-due")
def run_due_cmd(
    loop: Annotated[bool, typer.Option(help="持续运行，每分钟检查一次")] = False,
) -> None:
    """执行所有到期的定时来源（供系统 cron 调用；服务进程内也有同样的调度）。"""
    from gongshu.ingest import service

    settings = get_settings()
    failed = 0
    while True:
        wh = _open_warehouse(settings.warehouse_url)
        try:
            with cli_session(settings.database_url) as session:
                loads = service.run_due(session, wh=wh, settings=settings)
        finally:
            wh.close()
        for load in loads:
            ok = load.status == "succeeded"
            failed += not ok
            console.print(
                f"来源 {load.source_id} → 批次 {load.id}：{'成功' if ok else '失败'} "
                f"{load.rows_accepted:,} 行 {load.error or ''}"
            )
        if not loop:
            break
        time.sleep(60)
    if not loads:
        console.print("没有到期的来源")
    if failed:
        raise typer.Exit(1)
