"""A second, empty control-plane database for round-trip tests (export here, import there)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from gongshu import db


@pytest.fixture
def other_session(_db_template: str, db_kind: str, tmp_path: Path) -> Iterator[Session]:
    if db_kind == "sqlite":
        path = tmp_path / "other.db"
        shutil.copyfile(make_url(_db_template).database or "", path)
        url, drop = f"sqlite:///{path}", None
    else:
        template = make_url(_db_template)
        name = f"gongshu_o_{uuid.uuid4().hex[:12]}"
        admin = db.make_engine(
            template.set(database="postgres").render_as_string(hide_password=False),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
        url = template.set(database=name).render_as_string(hide_password=False)
        drop = (admin, name)
    engine = db.make_engine(url)
    session = db.make_sessionmaker(engine)()
    try:
        yield session
    finally:
        session.close()
        engine.dispose()
        if drop:
            admin, name = drop
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
