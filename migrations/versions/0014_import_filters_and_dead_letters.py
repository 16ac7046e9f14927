"""Import: rows filtered out by a mapping's where: and rows refused again are counted in the run;
a dead letter's fingerprint keeps a refusal once

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 10:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('import_runs') as batch:
        batch.add_column(sa.Column('rows_filtered', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('rows_rejected_known', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('dead_letters') as batch:
        batch.add_column(sa.Column('fingerprint', sa.String(length=64), nullable=True))
        batch.create_unique_constraint('uq_dead_letters_fingerprint', ['fingerprint'])


def downgrade() -> None:
    with op.batch_alter_table('dead_letters') as batch:
        batch.drop_constraint('uq_dead_letters_fingerprint', type_='unique')
        batch.drop_column('fingerprint')
    with op.batch_alter_table('import_runs') as batch:
        batch.drop_column('rows_rejected_known')
        batch.drop_column('rows_filtered')
