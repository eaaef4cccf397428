"""The ``gongshu`` command line."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.console import Console

from gongshu.config import get_settings
from gongshu.plugins import domains

console = Console()
app = typer.Typer(
    help="公数 gongshu：一体化智能化公共数据平台命令行", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="控制面数据库", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """执行全部数据库迁移（建表或升级到最新结构）。"""
    from gongshu import db

    settings = get_settings()
    settings.ensure_dirs()
    db.upgrade(settings.database_url)
    console.print(f"[green]数据库已是最新结构[/green]：{_safe_url(settings.database_url)}")


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("-m", "--message", help="迁移说明（英文）")],
    head: Annotated[str, typer.Option(help="基于哪个迁移头")] = "head",
) -> None:
    """根据模型变化自动生成一个迁移脚本（开发用）。"""
    from alembic import command

    from gongshu import db

    settings = get_settings()
    command.revision(
        db.alembic_config(settings.database_url), message=message, autogenerate=True, head=head
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="监听地址")] = None,
    port: Annotated[int | None, typer.Option(help="监听端口")] = None,
    workers: Annotated[int, typer.Option(help="进程数")] = 1,
    upgrade: Annotated[bool, typer.Option(help="启动前执行数据库迁移")] = True,
) -> None:
    """启动 Web 服务（页面、JSON API、共享网关）。"""
    import uvicorn

    from gongshu import db

    settings = get_settings()
    settings.ensure_dirs()
    if upgrade:
        db.upgrade(settings.database_url)
    host = host or settings.host
    port = port or settings.port
    console.print(f"[bold green]公数已启动[/bold green]：http://{host}:{port}/")
    uvicorn.run(
        "gongshu.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=False,
    )


@app.command()
def demo(
    reset: Annotated[bool, typer.Option(help="先清空数据目录中的控制库与数仓")] = False,
    scale: Annotated[float, typer.Option(help="数据规模系数（1 为标准示例市）")] = 1.0,
) -> None:
    """生成示例市（部门、系统、各角色用户……），可重复执行。"""
    from gongshu.demo import build_demo

    settings = get_settings()
    accounts = build_demo(settings, reset=reset, scale=scale, console=console)
    console.print("\n[bold]示例账号[/bold]（用户名 / 密码 / 角色）：")
    for username, password, label in accounts:
        console.print(f"  {username:<16} {password:<16} {label}", soft_wrap=True)
    console.print(f"\n访问地址：http://{settings.host}:{settings.port}/")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _read_password(confirm: bool = True) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("密码：")
    if confirm and getpass.getpass("再次输入密码：") != password:
        console.print("[red]两次输入的密码不一致[/red]")
        raise typer.Exit(2)
    return password


for _domain in domains():
    _cli = _domain.load("cli")
    if _cli is not None:
        app.add_typer(_cli)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
