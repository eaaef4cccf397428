"""cockpit: when each indicator's forecast model was last chosen by the full backtest

Revision ID: 0010_cockpit_forecast_selection
Revises: 0007_cockpit
Create Date: 2026-11-22 17:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gongshu.db import UTCDateTime

revision: str = "0010_cockpit_forecast_selection"
down_revision: str | Sequence[str] | None = "0007_cockpit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cockpit_indicator", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("forecast_selected_at", UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("cockpit_indicator", schema=None) as batch_op:
        batch_op.drop_column("forecast_selected_at")
