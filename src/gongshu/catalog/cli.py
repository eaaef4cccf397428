"""CLI: ``gongshu catalog import|export|reindex|release|generate``."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import select

from gongshu.auth import service as auth
from gongshu.auth.models import User
from gongshu.auth.principal import Principal
from gongshu.config import get_settings
from gongshu.db import cli_session

console = Console()
app = typer.Typer()
catalog = typer.Typer(help="公共数据资源目录", no_args_is_help=True)
app.add_typer(catalog, name="catalog")

UserOpt = Annotated[
    str | None, typer.Option("--user", help="以该用户身份操作（默认：系统，等同管理员）")
]


def _actor(session: object, username: str | None) -> Principal:
    if not username:
        return Principal.system("cli")
    user = session.scalar(select(User).where(User.username == username))  # type: ignore[attr-defined]
    if user is None or not user.is_active:
        console.print(f"[red]用户 {username} 不存在或已停用[/red]")
        raise typer.Exit(2)
    return auth.principal_for_user(user)


@catalog.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=".xlsx 或 .csv 文件")],
    user: UserOpt = None,
    publish: Annotated[bool, typer.Option(help="导入即发布（存量目录迁移，仅管理员）")] = False,
    dry_run: Annotated[bool, typer.Option(help="只校验，不写入")] = False,
) -> None:
    """导入目录模板：逐行校验，全部通过才在一个事务中写入。"""
    from gongshu.catalog.transfer import ImportFailed, import_catalog
    from gongshu.errors import AppError

    with cli_session(get_settings().database_url) as session:
        actor = _actor(session, user)
        try:
            with console.status("正在校验并导入……"):
                report = import_catalog(
                    session, actor, file.read_bytes(), file.name, publish=publish, dry_run=dry_run
                )
        except ImportFailed as exc:
            console.print(f"[red]导入失败，未写入任何数据（共 {exc.total} 处错误）：[/red]")
            for issue in exc.issues[:50]:
                console.print(f"  {issue.text()}")
            if exc.total > 50:
                console.print(f"  ……另有 {exc.total - 50} 处")
            raise typer.Exit(1) from None
        except AppError as exc:
            console.print(f"[red]{exc.message}[/red]")
            raise typer.Exit(1) from None
    verb = "校验通过（未写入）" if dry_run else "导入完成"
    console.print(
        f"[green]{verb}[/green]：新建 {report.created} 个资源，覆盖草稿 {report.updated} 个，数据项 {report.items} 个"
    )


@catalog.command("export")
def export(
    output: Annotated[Path, typer.Option("-o", "--output", help="输出文件（.xlsx/.csv/.jsonld）")],
    org: Annotated[str | None, typer.Option(help="只导出该部门（部门编码）")] = None,
    release: Annotated[str | None, typer.Option(help="导出某个目录版本（如 2026版）")] = None,
    base_url: Annotated[str, typer.Option(help="DCAT 中资源 IRI 的前缀")] = "http://127.0.0.1:8000",
) -> None:
    """导出目录：格式由扩展名决定（xlsx 模板 / CSV UTF-8 BOM / DCAT-AP 3 JSON-LD）。"""
    import orjson

    from gongshu.catalog import transfer
    from gongshu.catalog.models import CatalogRelease
    from gongshu.orgs.models import Org

    suffix = output.suffix.lower()
    if suffix not in (".xlsx", ".csv", ".jsonld", ".json"):
        console.print("[red]输出文件扩展名应为 .xlsx、.csv 或 .jsonld[/red]")
        raise typer.Exit(2)
    with cli_session(get_settings().database_url) as session:
        actor = Principal.system("cli")
        org_id = session.scalar(select(Org.id).where(Org.code == org.upper())) if org else None
        if org and org_id is None:
            console.print(f"[red]部门编码 {org} 不存在[/red]")
            raise typer.Exit(2)
        release_id = (
            session.scalar(select(CatalogRelease.id).where(CatalogRelease.name == release))
            if release
            else None
        )
        if release and release_id is None:
            console.print(f"[red]目录版本 {release} 不存在[/red]")
            raise typer.Exit(2)
        records = transfer.export_records(session, actor, org_id=org_id, release_id=release_id)
    if suffix == ".xlsx":
        output.write_bytes(transfer.to_xlsx(records))
    elif suffix == ".csv":
        output.write_bytes(transfer.to_csv(records))
    else:
        output.write_bytes(orjson.dumps(transfer.to_dcat(records, base_url, "公共数据资源目录")))
    console.print(f"[green]已导出 {len(records)} 个资源[/green] → {output}")


@catalog.command("reindex")
def reindex() -> None:
    """重建全文检索索引（jieba 分词）。"""
    from gongshu.catalog import search

    with cli_session(get_settings().database_url) as session, console.status("正在重建索引……"):
        n = search.rebuild(session)
        session.commit()
    console.print(f"[green]已重建 {n} 个资源的检索索引[/green]")


@catalog.command("release")
def release(
    name: Annotated[str, typer.Argument(help="版本名，如 2026版")],
    note: Annotated[str | None, typer.Option(help="说明")] = None,
) -> None:
    """把当前已发布目录冻结为一个版本。"""
    from gongshu.catalog.releases import create_release
    from gongshu.catalog.schemas import ReleaseCreate

    with cli_session(get_settings().database_url) as session:
        r = create_release(session, Principal.system("cli"), ReleaseCreate(name=name, note=note))
        console.print(
            f"[green]已生成目录版本 {r.name}[/green]：{r.resource_count} 个资源，{r.item_count} 个数据项"
        )


@catalog.command("generate")
def generate(
    resources: Annotated[int, typer.Option(help="目录总资源数（已有的也计入）")] = 6700,
    seed: Annotated[int, typer.Option(help="随机种子")] = 20260101,
) -> None:
    """为压测生成大规模已发布目录（约 18 个数据项/资源）；需先有部门（gongshu demo）。"""
    from gongshu.catalog.demo import generate_large
    from gongshu.orgs.models import Org

    with cli_session(get_settings().database_url) as session:
        orgs = dict(session.execute(select(Org.code, Org.id)).all())
        if not orgs:
            console.print("[red]还没有部门，请先运行 gongshu demo[/red]")
            raise typer.Exit(2)
        with console.status("正在生成……"):
            made = generate_large(
                session, Principal.system("cli"), orgs, target=resources, rng=random.Random(seed)
            )
    console.print(f"[green]已生成 {made} 个资源[/green]")
