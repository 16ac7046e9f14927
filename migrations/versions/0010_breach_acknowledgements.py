"""the duty console's acknowledgements of breaches and near-breaches; alerts closed by a person

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 17:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'breach_acknowledgements',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('clock', sa.String(length=16), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('ticket_version', sa.Integer(), nullable=False),
        sa.Column('lapses_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name='fk_breach_acknowledgements_ticket_id_tickets'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_breach_acknowledgements_user_id_users'),
        sa.PrimaryKeyConstraint('id', name='pk_breach_acknowledgements'),
    )
    op.create_index('ix_breach_acknowledgements_ticket_id', 'breach_acknowledgements', ['ticket_id'])
    with op.batch_alter_table('alerts') as batch:
        batch.add_column(sa.Column('closed_by_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('closing_note', sa.Text(), nullable=True))
        batch.create_foreign_key('fk_alerts_closed_by_id_users', 'users', ['closed_by_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('alerts') as batch:
        batch.drop_constraint('fk_alerts_closed_by_id_users', type_='foreignkey')
        batch.drop_column('closing_note')
        batch.drop_column('closed_by_id')
    op.drop_index('ix_breach_acknowledgements_ticket_id', table_name='breach_acknowledgements')
    op.drop_table('breach_acknowledgements')
