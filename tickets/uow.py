"""The unit of work: one transaction of the domain, with its configuration, its bus and its locks.

A :class:`UnitOfWork` is the SQLAlchemy session the bootstrapped session
factory hands out (``tickets.bootstrap``), so every query reads and writes in
its transaction; on top of a session it carries the domain's configuration
(``uow.config``) and message bus (``uow.bus``), and it takes the intake locks
in one order for every caller:

1. the process's intake lock (a ``threading.Lock``): one batch at a time per
   process, because a batch's new tickets sit in the shared de-duplication
   index under provisional ids until they are written;
2. the database's intake lock (a transaction-level advisory lock on
   PostgreSQL, the write lock on SQLite): one batch at a time across
   processes, so a batch can be judged again against what others committed.

Both are held until the transaction ends, whichever caller took them and
however many batches it takes in (the simulator takes several in one
transaction); the second is only ever taken while holding the first. The audit
log's lock (``tickets.audit``) comes after both: it is taken at commit, when
no other lock is asked for any more, and held to the end of that commit. Waiting
is bounded: the process lock by ``lock_timeout_seconds``, database locks by the
server's ``lock_timeout`` (``tickets.db.make_engine``); a wait that runs out is
:class:`tickets.errors.Busy`, and nothing was changed.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tickets.bus import MessageBus
from tickets.config import DomainConfig
from tickets.errors import Busy

# PostgreSQL advisory lock key of intake ("MSIN").
INTAKE_LOCK_KEY = 0x4D53494E
_intake_process_lock = threading.Lock()


@dataclass(frozen=True)
class Wiring:
    """What a unit of work carries besides its session: built once by ``bootstrap``."""

    config: DomainConfig
    bus: MessageBus
    lock_timeout_seconds: float = 10.0


class UnitOfWork(Session):
    """A session that knows the domain's configuration and bus, and holds the intake locks."""

    def __init__(self, *args: Any, wiring: Wiring | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wiring = wiring
        self._held: dict[str, Callable[[], None]] = {}  # lock name → how to let it go

    @property
    def config(self) -> DomainConfig:
        return self._wired().config

    @property
    def bus(self) -> MessageBus:
        return self._wired().bus

    def _wired(self) -> Wiring:
        if self.wiring is None:
            raise RuntimeError("this session factory was not built by tickets.bootstrap: no domain configuration")
        return self.wiring

    # ------------------------------------------------------------ intake locks
    def hold_intake(self) -> None:
        """The process's intake lock, until this transaction ends (taken once however often asked)."""
        if "process" in self._held:
            return
        timeout = self.wiring.lock_timeout_seconds if self.wiring else 10.0
        if not _intake_process_lock.acquire(timeout=timeout):
            raise Busy("intake_busy", seconds=timeout)
        self._held["process"] = _intake_process_lock.release

    def lock_intake(self) -> None:
        """Both intake locks, in their one order (the process's first), until this transaction ends."""
        self.hold_intake()
        if "database" in self._held:
            return
        if self.get_bind().dialect.name == "postgresql":
            self.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": INTAKE_LOCK_KEY})
        else:
            self.execute(text("DELETE FROM tickets WHERE 0"))  # a write that changes nothing: the write lock
        self._held["database"] = lambda: None  # the database lets it go at commit or rollback

    def release_locks(self) -> None:
        """Called when the transaction ends (``bootstrap`` wires it to commit and rollback)."""
        held, self._held = self._held, {}
        for release in reversed(held.values()):
            release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.release_locks()


# SQLSTATEs of a wait that ran out or was broken: lock_timeout, statement_timeout, deadlock.
_BUSY_STATES = frozenset({"55P03", "57014", "40P01", "40001"})


def _busy(exc: OperationalError) -> bool:
    state = getattr(exc.orig, "sqlstate", None)
    return state in _BUSY_STATES or "database is locked" in str(exc.orig)


# A write that changes nothing: on SQLite it makes the transaction a writer from its first
# statement. A transaction that reads first and writes later cannot wait for another writer
# (SQLite answers "database is locked" at once, since its snapshot is stale); a writer from
# the start waits for the lock like any other (the connection's busy timeout).
_SQLITE_WRITER = text("DELETE FROM serials WHERE 0")


@contextmanager
def unit_of_work(factory: sessionmaker[Any]) -> Iterator[UnitOfWork]:
    """One transaction: commit on success, roll back on any exception; a lock wait that ran
    out becomes :class:`Busy`."""
    with factory() as uow:
        try:
            with uow.begin():
                if uow.get_bind().dialect.name == "sqlite":
                    uow.execute(_SQLITE_WRITER)
                yield uow
        except OperationalError as exc:
            if _busy(exc):
                raise Busy("database_busy") from exc
            raise


def write_if_free(factory: sessionmaker[Any], statement: Executable, seconds: float = 0.05) -> bool:
    """Run ``statement`` in a transaction of its own if the database lets it write within
    ``seconds``; else change nothing and return False. For the bookkeeping a read does on the
    side (a token's last use): on SQLite a write waits for the one write lock, so without this
    a read would wait for whatever sweep holds it, up to the busy timeout, and then fail."""
    millis = max(int(seconds * 1000), 1)
    with factory.kw["bind"].connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        before = None
        if sqlite:  # the connection's busy timeout, shortened for this write only
            before = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
            conn.exec_driver_sql(f"PRAGMA busy_timeout={millis}")
            conn.commit()
        try:
            with conn.begin():
                if not sqlite:
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {millis}")
                conn.execute(statement)
            return True
        except OperationalError as exc:
            if not _busy(exc):
                raise
            return False
        finally:
            if before is not None:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={int(before)}")
                conn.commit()


__all__ = ["INTAKE_LOCK_KEY", "UnitOfWork", "Wiring", "unit_of_work", "write_if_free"]
