"""indexes for the weekly bulletin over years of tickets: open tickets, returns, a period's intake
records and follow-up answers (docs/PERFORMANCE.md, bench/bulletin.py)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 12:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status NOT IN ('closed', 'merged')"
RETURN = "kind = 'return'"


def upgrade() -> None:
    op.create_index('ix_tickets_open', 'tickets', ['unit_id'], postgresql_where=sa.text(OPEN),
                    sqlite_where=sa.text(OPEN))
    op.create_index('ix_ticket_events_returns', 'ticket_events', ['ticket_id'], postgresql_where=sa.text(RETURN),
                    sqlite_where=sa.text(RETURN))
    op.create_index('ix_intake_records_received_at', 'intake_records', ['received_at'])
    op.create_index('ix_follow_ups_answered_at', 'follow_ups', ['answered_at'])


def downgrade() -> None:
    op.drop_index('ix_follow_ups_answered_at', table_name='follow_ups')
    op.drop_index('ix_intake_records_received_at', table_name='intake_records')
    op.drop_index('ix_ticket_events_returns', table_name='ticket_events')
    op.drop_index('ix_tickets_open', table_name='tickets')
