"""serials: one counter row per document prefix and day

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 11:20:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Numbers are prefix (2 letters) + yyyymmdd + 6-digit serial: the counters start
# where the numbers already written end.
_BACKFILL = """
INSERT INTO serials (key, last)
SELECT substr(number, 1, 10), max(CAST(substr(number, 11) AS INTEGER))
FROM {table} WHERE length(number) = 16 GROUP BY substr(number, 1, 10)
"""


def upgrade() -> None:
    op.create_table('serials',
    sa.Column('key', sa.String(length=16), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_serials'))
    )
    for table in ('tickets', 'supervision_orders', 'reminder_letters'):
        op.execute(_BACKFILL.format(table=table))


def downgrade() -> None:
    op.drop_table('serials')
