"""the weekly bulletin (每周通报): frozen versions of an ISO week's figures, rankings and exceptions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 09:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'bulletins',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('week', sa.String(length=8), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('policy_version', sa.String(length=64), nullable=False),
        sa.Column('content', sa.JSON(), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_bulletins'),
        sa.UniqueConstraint('week', 'version', name='uq_bulletins_week'),
    )
    op.create_index('ix_bulletins_week', 'bulletins', ['week'])


def downgrade() -> None:
    op.drop_index('ix_bulletins_week', table_name='bulletins')
    op.drop_table('bulletins')
