"""CLI: ``gongshu users ...`` and ``gongshu keys ...``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from gongshu.auth import service
from gongshu.auth.principal import ROLE_LABELS, Principal, Role
from gongshu.auth.schemas import ApiKeyCreate, UserCreate
from gongshu.config import get_settings
from gongshu.db import cli_session
from gongshu.errors import AppError
from gongshu.orgs.models import Org

console = Console()
app = typer.Typer()
users = typer.Typer(help="用户账号", no_args_is_help=True)
keys = typer.Typer(help="接口密钥", no_args_is_help=True)
app.add_typer(users, name="users")
app.add_typer(keys, name="keys")


def _org_id(session: object, code: str | None) -> int | None:
    if code is None:
        return None
    org_id = session.scalar(select(Org.id).where(Org.code == code.upper()))  # type: ignore[attr-defined]
    if org_id is None:
        console.print(f"[red]部门编码 {code} 不存在[/red]")
        raise typer.Exit(2)
    return org_id


def _fail(exc: AppError) -> None:
    console.print(f"[red]{exc.message}[/red]")
    raise typer.Exit(2)


@users.command("create")
def create_user(
    username: str,
    role: Annotated[Role, typer.Option(help="角色")],
    name: Annotated[str | None, typer.Option(help="显示名")] = None,
    org: Annotated[str | None, typer.Option(help="所属部门编码")] = None,
    password: Annotated[
        str | None,
        typer.Option(help="密码；不给则交互输入或从标准输入读一行", envvar="GONGSHU_NEW_PASSWORD"),
    ] = None,
) -> None:
    """创建用户。"""
    from gongshu.cli import _read_password

    secret = password or _read_password()
    with cli_session(get_settings().database_url) as session:
        try:
            data = UserCreate(
                username=username,
                display_name=name or username,
                password=secret,
                role=role,
                org_id=_org_id(session, org),
            )
            user = service.create_user(session, Principal.system("cli"), data)
        except AppError as exc:
            _fail(exc)
        except ValueError as exc:
            console.print(f"[red]参数不合法：{exc}[/red]")
            raise typer.Exit(2) from None
        console.print(f"[green]已创建用户[/green] {user.username}（{ROLE_LABELS[user.role]}）")


@users.command("list")
def list_users() -> None:
    """列出用户。"""
    with cli_session(get_settings().database_url) as session:
        table = Table("ID", "用户名", "姓名", "角色", "部门ID", "状态")
        for u in service.list_users(session, Principal.system("cli")):
            table.add_row(
                str(u.id),
                u.username,
                u.display_name,
                ROLE_LABELS[u.role],
                str(u.org_id or ""),
                "启用" if u.is_active else "停用",
            )
        console.print(table)


@keys.command("create")
def create_key(
    name: str,
    org: Annotated[str, typer.Option(help="所属部门编码")],
    system: Annotated[int | None, typer.Option(help="信息系统 ID")] = None,
    role: Annotated[Role, typer.Option(help="角色")] = Role.consumer,
) -> None:
    """创建接口密钥；完整密钥只显示这一次。"""
    with cli_session(get_settings().database_url) as session:
        try:
            data = ApiKeyCreate(
                name=name, org_id=_org_id(session, org), system_id=system, role=role
            )
            key, plaintext = service.create_api_key(session, Principal.system("cli"), data)
        except AppError as exc:
            _fail(exc)
        console.print(f"[green]已创建密钥[/green] #{key.id} {key.name}（仅显示一次，请妥善保存）：")
        print(plaintext)


@keys.command("revoke")
def revoke_key(key_id: int) -> None:
    """吊销接口密钥（下一次调用即失效）。"""
    with cli_session(get_settings().database_url) as session:
        try:
            key = service.revoke_api_key(session, Principal.system("cli"), key_id)
        except AppError as exc:
            _fail(exc)
        console.print(f"[green]已吊销[/green] #{key.id} {key.name}")


@keys.command("list")
def list_keys() -> None:
    """列出接口密钥（不含密钥本身）。"""
    with cli_session(get_settings().database_url) as session:
        table = Table("ID", "前缀", "名称", "部门ID", "角色", "状态", "最近使用")
        for k in service.list_api_keys(session, Principal.system("cli")):
            table.add_row(
                str(k.id),
                k.prefix,
                k.name,
                str(k.org_id),
                k.role,
                k.status,
                str(k.last_used_at or ""),
            )
        console.print(table)
