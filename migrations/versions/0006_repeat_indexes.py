"""indexes for the repeat-complaint check: by caller, and by unit, topic and place

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 13:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_tickets_phone', 'tickets', ['citizen_phone', 'received_at'])
    op.create_index('ix_tickets_unit_topic_lat', 'tickets', ['unit_id', 'topic', 'lat'])


def downgrade() -> None:
    op.drop_index('ix_tickets_unit_topic_lat', table_name='tickets')
    op.drop_index('ix_tickets_phone', table_name='tickets')
