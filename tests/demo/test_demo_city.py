"""The demo city: realistic, deterministic, and with an intact audit chain."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from sqlalchemy import func, select

from gongshu import db
from gongshu.audit import service as audit
from gongshu.auth.models import User
from gongshu.auth.principal import Role
from gongshu.config import Settings
from gongshu.demo import build_demo
from gongshu.orgs.models import Org, System


def _snapshot(settings: Settings) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    engine = db.make_engine(settings.database_url)
    with db.session_scope(db.make_sessionmaker(engine)) as s:
        orgs = [
            tuple(map(str, r))
            for r in s.execute(
                select(
                    Org.code,
                    Org.name,
                    Org.level,
                    Org.region_code,
                    Org.contact_name,
                    Org.contact_phone,
                ).order_by(Org.code)
            )
        ]
        systems = [
            tuple(map(str, r))
            for r in s.execute(
                select(System.name, System.builder, System.on_gov_cloud).order_by(System.name)
            )
        ]
    engine.dispose()
    return orgs, systems


def test_demo_city_is_realistic_and_deterministic(settings: Settings, tmp_path: Path) -> None:
    quiet = Console(file=open("/dev/null", "w"))  # noqa: SIM115
    accounts = build_demo(settings, console=quiet)
    assert ("admin", "Admin@2026", "数据局管理员（示例市数据局）") in accounts
    engine = db.make_engine(settings.database_url)
    with db.session_scope(db.make_sessionmaker(engine)) as s:
        levels = dict(s.execute(select(Org.level, func.count()).group_by(Org.level)).all())
        assert levels == {"市本级": 14, "区县": 6}
        assert 28 <= (s.scalar(select(func.count()).select_from(System)) or 0) <= 36
        roles = {r for (r,) in s.execute(select(User.role).distinct())}
        assert roles == {r.value for r in Role}
        assert s.scalar(select(Org.name).where(Org.code == "GAJ")) == "示例市公安局"
        district = s.scalar(select(Org).where(Org.code == "LJX"))
        assert district is not None and district.region_code == "339921"
        assert audit.verify(s).ok
    engine.dispose()
    first = _snapshot(settings)
    # Building again without --reset keeps the city as it is ...
    build_demo(settings, console=quiet)
    assert _snapshot(settings) == first
    # ... and a rebuild into another database yields the identical city.
    other = Settings(data_dir=tmp_path / "other", secret_key="x")
    build_demo(other, console=quiet)
    assert _snapshot(other) == first
