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
from sqlalchemy.dialects import postgresql

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNKNOWN = "status = 'closed' AND handling_hours IS NULL"
SETTLED = ("status = 'closed' AND handling_hours IS NOT NULL AND "
           "(contact_due_at IS NULL OR (contacted_at IS NOT NULL AND accepted_at IS NOT NULL))")
UNSETTLED = f"status <> 'merged' AND NOT ({SETTLED})"
COUNTS = ("received", "dispatched", "direct", "response_due", "responded_on_time", "due", "closed", "closed_on_time",
          "follow_ups_answered", "follow_ups_satisfied", "accept_due", "accepted_on_time", "sub_dispatched",
          "returned", "replied", "redone", "records", "merged_records")
ANSWERED = "f.ticket_id = tickets.id AND f.status = 'answered' AND f.answer IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table('tickets') as batch:
        batch.add_column(sa.Column('handling_hours', sa.Double(), nullable=True))
        batch.add_column(sa.Column('returned', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('follow_ups_answered', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('follow_ups_satisfied', sa.Integer(), nullable=False, server_default='0'))
    op.create_index('ix_tickets_handling_unknown', 'tickets', ['id'], postgresql_where=sa.text(UNKNOWN),
                    sqlite_where=sa.text(UNKNOWN))
    op.create_index('ix_tickets_unsettled', 'tickets', ['received_at'], postgresql_where=sa.text(UNSETTLED),
                    sqlite_where=sa.text(UNSETTLED))
    # Filled by the housekeeping sweep ``figure_rollups`` (tickets.rollups), which needs the time zone.
    op.create_table(
        'figure_days',
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False, server_default='0') for name in COUNTS],
        sa.Column('hours', postgresql.ARRAY(sa.Double()).with_variant(sa.JSON(), 'sqlite'), nullable=False,
                  server_default=sa.text("'{}'")),
        sa.PrimaryKeyConstraint('unit_id', 'day', name=op.f('pk_figure_days')),
    )
    op.create_table(
        'figure_days_built',
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('timezone', name=op.f('pk_figure_days_built')),
    )
    op.execute("UPDATE tickets SET returned = true WHERE id IN "
               "(SELECT ticket_id FROM ticket_events WHERE kind = 'return')")
    op.execute(
        f"UPDATE tickets SET follow_ups_answered = (SELECT count(*) FROM follow_ups f WHERE {ANSWERED}), "
        f"follow_ups_satisfied = (SELECT count(*) FROM follow_ups f WHERE {ANSWERED} "
        "AND f.answer IN ('satisfied', 'basically_satisfied')) "
        "WHERE id IN (SELECT ticket_id FROM follow_ups WHERE status = 'answered')")


def downgrade() -> None:
    op.drop_table('figure_days_built')
    op.drop_table('figure_days')
    op.drop_index('ix_tickets_unsettled', table_name='tickets')
    op.drop_index('ix_tickets_handling_unknown', table_name='tickets')
    with op.batch_alter_table('tickets') as batch:
        batch.drop_column('follow_ups_satisfied')
        batch.drop_column('follow_ups_answered')
        batch.drop_column('returned')
        batch.drop_column('handling_hours')
