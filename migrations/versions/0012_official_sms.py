"""SMS to officials: a user's mobile number; an SMS's addressee and the instant it is held until

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 21:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('phone', sa.String(length=32), nullable=True))
    with op.batch_alter_table('sms_messages') as batch:
        batch.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('not_before', sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key('fk_sms_messages_user_id_users', 'users', ['user_id'], ['id'])
        batch.create_index('ix_sms_messages_status', ['status'])


def downgrade() -> None:
    with op.batch_alter_table('sms_messages') as batch:
        batch.drop_index('ix_sms_messages_status')
        batch.drop_constraint('fk_sms_messages_user_id_users', type_='foreignkey')
        batch.drop_column('not_before')
        batch.drop_column('user_id')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('phone')
