"""tickets: what the figures count, kept on the ticket (handling hours, returned, follow-ups answered
and satisfied), so a period's figures are one scan of its tickets (docs/PERFORMANCE.md)

Returned and the follow-up counts are filled here from the timeline and the follow-ups. Handling
hours need the platform's time zone and calendars: the housekeeping sweep ``handling_hours``
fills them in batches (``ix_tickets_handling_unknown`` finds the rest), and until then the
figures compute the missing ones as before.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 03:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNKNOWN = "status = 'closed' AND handling_hours IS NULL"
ANSWERED = "f.ticket_id = tickets.id AND f.status = 'answered' AND f.answer IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table('tickets') as batch:
        batch.add_column(sa.Column('handling_hours', sa.Double(), nullable=True))
        batch.add_column(sa.Column('returned', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('follow_ups_answered', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('follow_ups_satisfied', sa.Integer(), nullable=False, server_default='0'))
    op.create_index('ix_tickets_handling_unknown', 'tickets', ['id'], postgresql_where=sa.text(UNKNOWN),
                    sqlite_where=sa.text(UNKNOWN))
    op.execute("UPDATE tickets SET returned = true WHERE id IN "
               "(SELECT ticket_id FROM ticket_events WHERE kind = 'return')")
    op.execute(
        f"UPDATE tickets SET follow_ups_answered = (SELECT count(*) FROM follow_ups f WHERE {ANSWERED}), "
        f"follow_ups_satisfied = (SELECT count(*) FROM follow_ups f WHERE {ANSWERED} "
        "AND f.answer IN ('satisfied', 'basically_satisfied')) "
        "WHERE id IN (SELECT ticket_id FROM follow_ups WHERE status = 'answered')")


def downgrade() -> None:
    op.drop_index('ix_tickets_handling_unknown', table_name='tickets')
    with op.batch_alter_table('tickets') as batch:
        batch.drop_column('follow_ups_satisfied')
        batch.drop_column('follow_ups_answered')
        batch.drop_column('returned')
        batch.drop_column('handling_hours')
