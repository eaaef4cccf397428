"""catalog search on PostgreSQL: index-driven matching, stored name vector

Revision ID: 0008_catalog_search
Revises: 0002_catalog
Create Date: 2026-11-22 14:10:00

A common word matches ~45% of the catalog. With statistics on ``tsv`` PostgreSQL's
planner then prefers a sequential scan of ``catalog_search``, which de-TOASTs and
decompresses every resource's document vector — most of a search's time — where a
bitmap scan of the GIN index never touches the vectors (``@@`` without weights needs no
recheck). So:

- ``tsv`` is re-created without statistics (``SET STATISTICS 0``; dropping the column
  drops the old ones): the planner falls back to the fixed full-text selectivity and
  always reads the GIN index, whatever the word. Positions are stripped: searches use
  neither phrases nor ``ts_rank``, and the vectors shrink to a fraction.
- ``name_tsv`` (GIN-indexed, also without statistics) answers "does the name match"
  for ranking name hits first, instead of parsing each matching name again.

SQLite (FTS5) needs nothing here.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008_catalog_search"
down_revision: str | Sequence[str] | None = "0002_catalog"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_TSV = (
    "setweight(to_tsvector('simple', name), 'A') || "
    "setweight(to_tsvector('simple', summary), 'B') || "
    "setweight(to_tsvector('simple', items), 'C')"
)
NEW_TSV = "strip(to_tsvector('simple', name || ' ' || summary || ' ' || items))"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE catalog_search DROP COLUMN tsv")  # its index and statistics too
    op.execute(
        f"ALTER TABLE catalog_search ADD COLUMN tsv tsvector GENERATED ALWAYS AS ({NEW_TSV}) STORED"
    )
    op.execute(
        "ALTER TABLE catalog_search ADD COLUMN name_tsv tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple', name)) STORED"
    )
    for col in ("tsv", "name_tsv"):
        op.execute(f"ALTER TABLE catalog_search ALTER COLUMN {col} SET STATISTICS 0")
    op.execute("CREATE INDEX ix_catalog_search_tsv ON catalog_search USING gin (tsv)")
    op.execute("CREATE INDEX ix_catalog_search_name_tsv ON catalog_search USING gin (name_tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE catalog_search DROP COLUMN name_tsv")
    op.execute("ALTER TABLE catalog_search DROP COLUMN tsv")
    op.execute(
        f"ALTER TABLE catalog_search ADD COLUMN tsv tsvector GENERATED ALWAYS AS ({OLD_TSV}) STORED"
    )
    op.execute("CREATE INDEX ix_catalog_search_tsv ON catalog_search USING gin (tsv)")
