"""Import: rows filtered out by a mapping's where: are counted in the run

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 10:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('import_runs') as batch:
        batch.add_column(sa.Column('rows_filtered', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('import_runs') as batch:
        batch.drop_column('rows_filtered')
