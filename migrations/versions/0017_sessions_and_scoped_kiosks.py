"""server-side login sessions, login attempts (throttling and audit), a kiosk token's unit scope
(issue 17: sessions that logout ends, lockout after repeated failures, a branch wall's kiosk)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 07:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'login_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key_hash'),
    )
    op.create_index('ix_login_sessions_user_id', 'login_sessions', ['user_id'])
    op.create_table(
        'login_attempts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('succeeded', sa.Boolean(), nullable=False),
        sa.Column('reason', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_login_attempts_username_at', 'login_attempts', ['username', 'at'])
    op.create_index('ix_login_attempts_address_at', 'login_attempts', ['address', 'at'])
    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('unit_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_api_tokens_unit_id_units', 'units', ['unit_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_constraint('fk_api_tokens_unit_id_units', type_='foreignkey')
        batch.drop_column('unit_id')
    op.drop_index('ix_login_attempts_address_at', table_name='login_attempts')
    op.drop_index('ix_login_attempts_username_at', table_name='login_attempts')
    op.drop_table('login_attempts')
    op.drop_index('ix_login_sessions_user_id', table_name='login_sessions')
    op.drop_table('login_sessions')
