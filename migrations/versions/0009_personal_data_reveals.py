"""the audit of a citizen's details seen in full

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 15:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'personal_data_reveals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('remote_addr', sa.String(length=64), nullable=True),
        sa.Column('user_agent', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name='fk_personal_data_reveals_ticket_id_tickets'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_personal_data_reveals_user_id_users'),
        sa.PrimaryKeyConstraint('id', name='pk_personal_data_reveals'),
    )
    op.create_index('ix_personal_data_reveals_ticket_id', 'personal_data_reveals', ['ticket_id'])


def downgrade() -> None:
    op.drop_index('ix_personal_data_reveals_ticket_id', table_name='personal_data_reveals')
    op.drop_table('personal_data_reveals')
