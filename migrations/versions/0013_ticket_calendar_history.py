"""tickets: the working calendar their deadlines and figures count on; whether they are imported history;
import runs: the open records past their deadline left out

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 21:30:00
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
    with op.batch_alter_table('tickets') as batch:
        batch.add_column(sa.Column('calendar', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('history', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('import_runs') as batch:
        batch.add_column(sa.Column('rows_excluded', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('import_runs') as batch:
        batch.drop_column('rows_excluded')
    with op.batch_alter_table('tickets') as batch:
        batch.drop_column('history')
        batch.drop_column('calendar')
