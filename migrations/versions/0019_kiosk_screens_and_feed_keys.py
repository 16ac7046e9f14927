"""kiosk links name their screen; feed keys (12345 secrets, Open311 api_keys) in the database,
rotated with an overlap (issue 19: /admin's walls and feeds)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 09:45:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('screen', sa.String(length=200), nullable=True))
    op.create_table(
        'feed_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('secret', sa.String(length=128), nullable=True),
        sa.Column('key_hash', sa.String(length=64), nullable=True),
        sa.Column('seeded', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key_hash'),
    )
    op.create_index('ix_feed_keys_channel_source', 'feed_keys', ['channel', 'source'])


def downgrade() -> None:
    op.drop_index('ix_feed_keys_channel_source', table_name='feed_keys')
    op.drop_table('feed_keys')
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_column('screen')
