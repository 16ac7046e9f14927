"""a ticket's version (optimistic concurrency), who acknowledged an alert

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('tickets') as batch:
        batch.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
    with op.batch_alter_table('alerts') as batch:
        batch.add_column(sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('acknowledged_by_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('acknowledgement', sa.Text(), nullable=True))
        batch.create_foreign_key('fk_alerts_acknowledged_by_id_users', 'users', ['acknowledged_by_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('alerts') as batch:
        batch.drop_constraint('fk_alerts_acknowledged_by_id_users', type_='foreignkey')
        batch.drop_column('acknowledgement')
        batch.drop_column('acknowledged_by_id')
        batch.drop_column('acknowledged_at')
    with op.batch_alter_table('tickets') as batch:
        batch.drop_column('version')
