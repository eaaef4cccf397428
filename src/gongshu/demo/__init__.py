"""The demo city 示例市: every domain adds its own part, in ``demo_order``.

A domain registers ``demo="gongshu.<domain>.demo:build"``; ``build(ctx)`` receives a
:class:`DemoContext` and must be deterministic (seeded from ``ctx.seed``).
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from gongshu import db
from gongshu.config import Settings
from gongshu.plugins import domains

DEMO_SEED = 20260101
CITY_NAME = "示例市"


@dataclass
class DemoContext:
    session: Session
    settings: Settings
    console: Console
    scale: float = 1.0
    seed: int = DEMO_SEED
    accounts: list[tuple[str, str, str]] = field(default_factory=list)
    shared: dict[str, Any] = field(default_factory=dict)

    def rng(self, salt: str) -> random.Random:
        """A generator per demo part, so adding one part never shifts another's data."""
        return random.Random(f"{self.seed}:{salt}")


def reset_data(settings: Settings) -> None:
    """Remove the control-plane database and the warehouse of this data directory."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database:
            for suffix in ("", "-wal", "-shm"):
                Path(url.database + suffix).unlink(missing_ok=True)
    else:
        engine = db.make_engine(settings.database_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    if settings.warehouse_url.startswith("duckdb:///"):
        path = Path(settings.warehouse_url.removeprefix("duckdb:///"))
        for p in (path, Path(str(path) + ".wal")):
            p.unlink(missing_ok=True)
    elif "warehouse_dir=" in settings.warehouse_url:
        wdir = settings.warehouse_url.split("warehouse_dir=", 1)[1].split("&", 1)[0]
        shutil.rmtree(wdir, ignore_errors=True)


def already_built(session: Session) -> bool:
    from gongshu.orgs.models import Org

    return bool(session.scalar(select(func.count()).select_from(Org)))


def build_demo(
    settings: Settings, *, reset: bool = False, scale: float = 1.0, console: Console | None = None
) -> list[tuple[str, str, str]]:
    console = console or Console()
    settings.ensure_dirs()
    if reset:
        reset_data(settings)
    db.upgrade(settings.database_url)
    engine = db.make_engine(settings.database_url)
    try:
        with db.session_scope(db.make_sessionmaker(engine)) as session:
            ctx = DemoContext(session=session, settings=settings, console=console, scale=scale)
            if already_built(session):
                console.print("[yellow]示例市已存在；如需重建请加 --reset[/yellow]")
                ctx.shared["skip"] = True
            steps = sorted((d for d in domains() if d.demo), key=lambda d: (d.demo_order, d.name))
            for domain in steps:
                if ctx.shared.get("skip"):
                    break
                console.print(f"[cyan]示例市[/cyan] · {domain.title}")
                domain.load("demo")(ctx)
                session.commit()
            return ctx.accounts or list(DEMO_ACCOUNTS)
    finally:
        engine.dispose()


# Printed after every demo build; passwords are fixed so the demo is reproducible.
DEMO_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("admin", "Admin@2026", "数据局管理员（示例市数据局）"),
    ("gaj_officer", "Officer@2026", "部门数据专员（市公安局；其他部门为“部门编码小写_officer”）"),
    ("zwfw_app", "Consumer@2026", "调用方（市政务服务管理办公室）"),
    ("operator", "Operator@2026", "授权运营单位（示例市大数据集团）"),
    ("leader", "Leader@2026", "领导"),
    ("citizen", "Public@2026", "社会公众 / 开发者"),
)
