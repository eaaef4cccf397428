"""The migrations produce exactly the schema the models describe, on each backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gongshu import db
from gongshu.migrations.env_filters import include_object


def test_models_match_migrations(db_url: str) -> None:
    db.import_all_models()
    engine = db.make_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": include_object}
            )
            diff = compare_metadata(ctx, db.Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models differ from migrations; run `gongshu db revision`: {diff}"


def test_upgrade_is_idempotent(db_url: str) -> None:
    db.upgrade(db_url)
    db.upgrade(db_url)
