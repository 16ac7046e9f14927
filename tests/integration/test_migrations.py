"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from tickets.db import make_engine
from tickets.models import Base
from tickets.schema import downgrade, upgrade


def test_migrations_match_the_models_and_go_both_ways(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diffs == [], "models and migrations differ: add a migration"
    downgrade(database_url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(database_url)
    assert "tickets" in inspect(engine).get_table_names()
    engine.dispose()


def test_tickets_from_before_0007_start_at_version_1_and_take_changes(database_url: str) -> None:
    """0007 gives every ticket already stored version 1, which the ORM's check then raises."""
    from sqlalchemy import text

    from tickets.bootstrap import session_factory
    from tickets.models import Ticket
    from tickets.uow import unit_of_work

    upgrade(database_url, "0006")
    engine = make_engine(database_url)
    with engine.begin() as c:
        c.execute(text("INSERT INTO units (id, code, name, level, kind, topics, active) "
                       "VALUES (1, 'U1', '指挥中心', 1, 'command', '[]', :yes)"), {"yes": True})
        c.execute(text(
            "INSERT INTO tickets (id, number, channel, kind, sla_class, topic, title, content, status, "
            "received_at, escalation_level, redo_count, extension_pending) VALUES "
            "(1, 'MS20261122000001', 'call', 'complaint', 'service', 'noise', 't', 'c', 'received', "
            "'2026-11-22 01:00:00+00:00', 1, 0, :no)"), {"no": False})
    upgrade(database_url)
    factory = session_factory(engine)
    with unit_of_work(factory) as s:
        ticket = s.get(Ticket, 1)
        assert ticket.version == 1
        ticket.title = "楼下烧烤店噪音扰民"
    with factory() as s:
        assert s.get(Ticket, 1).version == 2
    downgrade(database_url, "0006")
    assert "version" not in {c["name"] for c in inspect(engine).get_columns("tickets")}
    engine.dispose()
