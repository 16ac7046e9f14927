"""Alembic environment: the URL comes from the caller or from settings.py."""
from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import event

import settings
from tickets.db import make_engine
from tickets.models import Base

config = context.config
url = config.attributes.get("database_url") or settings.load().database_url


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(url, statement_timeout_seconds=0)  # a migration may rewrite a large table
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _no_foreign_keys(dbapi_conn: Any, _record: Any) -> None:
            # A batch ALTER copies the table and drops the old one, which rows of other tables
            # refer to: with the check on, a migration of a database that has tickets fails.
            dbapi_conn.execute("PRAGMA foreign_keys=OFF")
    with engine.connect() as connection:
        # render_as_batch: SQLite can only ALTER tables by copying them.
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
