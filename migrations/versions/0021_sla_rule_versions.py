"""the deadline rules as versioned data (issue 19: /admin/rules): each version in force for tickets
dispatched from its instant; none stored means the policy file is version 1

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 09:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'sla_rule_versions',
        sa.Column('number', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('effective_from', sa.DateTime(timezone=True), nullable=True),
        sa.Column('rules', sa.JSON(), nullable=False),
        sa.Column('fingerprint', sa.String(length=32), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('withdrawn_by', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('number', name=op.f('pk_sla_rule_versions')),
    )


def downgrade() -> None:
    op.drop_table('sla_rule_versions')
