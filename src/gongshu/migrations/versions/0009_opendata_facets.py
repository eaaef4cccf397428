"""opendata: covering index for portal search facets

Revision ID: 0009_opendata_facets
Revises: 0006_opendata
Create Date: 2026-11-22 14:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009_opendata_facets"
down_revision: str | Sequence[str] | None = "0006_opendata"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Facet counts, totals and the newest-first page read this narrow index instead of
    # thousands of wide rows; it also serves every (status, org_id) lookup the old index did.
    with op.batch_alter_table("open_dataset", schema=None) as batch_op:
        batch_op.drop_index("ix_open_dataset_status_org")
        batch_op.create_index(
            "ix_open_dataset_facets",
            ["status", "org_id", "domain", "open_type", "update_cycle", "licence", "published_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("open_dataset", schema=None) as batch_op:
        batch_op.drop_index("ix_open_dataset_facets")
        batch_op.create_index("ix_open_dataset_status_org", ["status", "org_id"], unique=False)
