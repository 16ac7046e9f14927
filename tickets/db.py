"""Engines, bulk writing, and the commit listeners of the live path.

Sessions come from ``tickets.bootstrap`` (each one a ``tickets.uow.UnitOfWork``).
After a commit that wrote outbox rows, listeners in this process are told, and on
PostgreSQL the transaction sends a NOTIFY (``OUTBOX_CHANNEL``) for relays in other
processes, so the relay moves them at once instead of waiting for its next poll.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from tickets import jsontext

# PostgreSQL: every transaction that wrote outbox rows sends a NOTIFY on this channel, delivered
# when it commits, so a relay in any process (dashboard/live/relay.py LISTENs) wakes at once
# instead of polling the outbox.
OUTBOX_CHANNEL = "ms_outbox"

_commit_listeners: list[Callable[[], None]] = []
_listeners_lock = threading.Lock()


def on_outbox_commit(callback: Callable[[], None]) -> None:
    """Call ``callback`` after every commit in this process that wrote outbox rows."""
    with _listeners_lock:
        _commit_listeners.append(callback)


def remove_outbox_listener(callback: Callable[[], None]) -> None:
    with _listeners_lock:
        if callback in _commit_listeners:
            _commit_listeners.remove(callback)


def make_engine(url: str, *, lock_timeout_seconds: float = 10.0, statement_timeout_seconds: float = 120.0,
                **kwargs: Any) -> Engine:
    """An engine for ``url``. On PostgreSQL every connection waits at most ``lock_timeout_seconds``
    for a lock and runs a statement at most ``statement_timeout_seconds`` (0: no limit, for
    migrations), and a transaction left idle is ended after 5 minutes: a stuck writer fails
    and lets go instead of draining the pool."""
    # JSON columns through orjson: the outbox payloads alone are two per ticket taken in.
    kwargs.setdefault("json_serializer", jsontext.dumps)
    kwargs.setdefault("json_deserializer", jsontext.loads)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL + NORMAL: no fsync per commit (5k commits/s instead of 800), and
            # readers never block the writer.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    kwargs.setdefault("pool_pre_ping", True)
    options = (f"-c lock_timeout={int(lock_timeout_seconds * 1000)} "
               f"-c statement_timeout={int(statement_timeout_seconds * 1000)} "
               "-c idle_in_transaction_session_timeout=300000 "
               # The figures' aggregates over a month of tickets: JIT compiling them cost ~110 ms of a
               # ~300 ms query, and a 4 MB work_mem sorted a month's intake records on disk rather than
               # hashing them (docs/PERFORMANCE.md).
               "-c jit=off -c work_mem=16MB")
    kwargs.setdefault("connect_args", {"options": options})
    return create_engine(url, **kwargs)


def tell_outbox_listeners(factory: sessionmaker[Any]) -> None:
    """Wire ``factory``'s sessions to call the :func:`on_outbox_commit` listeners after a commit
    that wrote outbox rows."""

    @event.listens_for(factory, "before_commit")
    def _notify_relays(session: Session) -> None:
        # In the transaction that wrote the rows: PostgreSQL delivers it at the commit, after the
        # rows are visible, and not at all on a rollback.
        if session.info.get("wrote_outbox") and session.get_bind().dialect.name == "postgresql":
            session.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))

    @event.listens_for(factory, "after_commit")
    def _notify(session: Session) -> None:
        if session.info.pop("wrote_outbox", False):
            with _listeners_lock:
                listeners = list(_commit_listeners)
            for callback in listeners:
                callback()

    @event.listens_for(factory, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop("wrote_outbox", None)


def read_snapshot(session: Session) -> None:
    """Make ``session``'s reads, from here to its end, one snapshot of the database. Call it
    before the session's first statement. PostgreSQL: REPEATABLE READ. SQLite: an explicit
    BEGIN, since its driver begins a transaction only for a write, so each SELECT alone saw
    whatever had been committed by then (in WAL mode a read transaction keeps its snapshot
    from its first read and never blocks the writer)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        session.connection().exec_driver_sql("BEGIN")


def json_list(dialect: str, param: str, sql_type: str = "text") -> str:
    """A subquery of the values of a JSON array bound to ``:param`` (column ``value``).

    A list of any length as one parameter: the statement stays the same, prepared once,
    where an IN list of bound parameters is rendered and compiled anew for each length,
    and PostgreSQL's planner, on stale statistics, may not drive the lookup from it."""
    if dialect == "postgresql":
        return f"SELECT CAST(value AS {sql_type}) AS value FROM json_array_elements_text(CAST(:{param} AS json)) AS value"
    return f"SELECT value FROM json_each(:{param})"


def sequence_ids(session: Session, table: Any, n: int) -> list[int | None]:
    """``n`` ids for new rows of ``table`` drawn from its sequence on PostgreSQL, where that
    is safe at any moment; elsewhere ``None`` each (the database assigns them on insert).
    ORM objects given their ids are flushed with one prepared executemany; without, each
    flush of many sends one long INSERT … RETURNING that the driver parses anew."""
    if n <= 0 or session.get_bind().dialect.name != "postgresql":
        return [None] * max(n, 0)
    # On the connection: a session query would flush what is pending first, for nothing.
    return list(session.connection().execute(_NEXT_IDS, {"t": table.name, "n": n}).scalars())


_NEXT_IDS = text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)")


def reserve_ids(session: Session, table: Any, n: int) -> list[int]:
    """``n`` ids for rows a bulk writer inserts with their ids: from the sequence on PostgreSQL;
    on SQLite above the largest, which is safe under the intake lock (``UnitOfWork.lock_intake``)."""
    if n <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return [int(i) for i in sequence_ids(session, table, n) if i is not None]
    top = session.execute(select(func.max(table.c.id))).scalar() or 0
    return list(range(top + 1, top + n + 1))


def stored_form(type_: Any, dialect: Any) -> Any:
    """The bind processor SQLAlchemy itself applies to a value of ``type_`` on ``dialect`` (None:
    the value goes to the driver as it is). The dialect's own type's: a ``TypeDecorator``'s
    ``bind_processor`` alone chains its generic ``impl``, so on SQLite a timestamp would reach
    the driver as a naive datetime and be stored as ``2026-11-23 01:00:00``, not as the ORM
    stores it, ``2026-11-23 01:00:00.000000``; text comparisons of the two then disagree."""
    return type_.dialect_impl(dialect).bind_processor(dialect)


def bulk_insert(session: Session, table: Any, rows: list[dict[str, Any]], without_id: bool = False) -> None:
    """Insert ``rows`` (dicts with the same keys) through the driver: COPY on PostgreSQL, an
    executemany on SQLite. Each value is prepared by its column type's bind processor, the
    conversion SQLAlchemy itself applies (UTC for timestamps, JSON text …); SQLAlchemy's
    per-row parameter handling, or RETURNING, cost more than everything else an import does."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    columns = [c for c in rows[0] if not (without_id and c == "id")]
    processors = [stored_form(table.c[c].type, dialect) for c in columns]
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    get = itemgetter(*columns)
    convert = [(i, proc) for i, proc in enumerate(processors) if proc is not None]
    params = []
    for row in rows:
        values: list[Any] = list(get(row)) if len(columns) > 1 else [get(row)]
        for i, proc in convert:
            if values[i] is not None:
                values[i] = proc(values[i])
        params.append(tuple(values))
    if dialect.name == "postgresql":
        # COPY: several times faster than even a pipelined executemany (docs/PERFORMANCE.md).
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
                for row_values in params:
                    copy.write_row(row_values)
        finally:
            cursor.close()
        return
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    connection.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join([marker] * len(columns))})",
                               params)
