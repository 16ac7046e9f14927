"""The live state's clock, watched: a step of the process clock, and its distance from the
database's clock (issue 17: a backward step across midnight once zeroed the wall's day counters
until someone ran ``app.py live rebuild``).

- A **step** shows as a change of wall-clock minus monotonic time (the monotonic clock is never
  set); more than ``STEP_SECONDS`` between two looks is a step, and the aggregator rebuilds its
  state from the database instead of trusting counters kept under the old time.
- **The database's time** decides the live day: every ``CHECK_SECONDS`` it is read, and when the
  process clock is more than ``STEP_SECONDS`` away from it, the day is taken from the database's
  time (every ticket's received time was written by some process; the database is the one
  clock they share).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from tickets.uow import UnitOfWork

log = logging.getLogger(__name__)

STEP_SECONDS = 5.0
CHECK_SECONDS = 30.0


def database_now(factory: sessionmaker[UnitOfWork]) -> datetime:
    """The database server's current time (UTC)."""
    with factory() as session:
        value = session.execute(text("SELECT CURRENT_TIMESTAMP")).scalar_one()
    if isinstance(value, str):  # SQLite: 'YYYY-MM-DD HH:MM:SS' in UTC
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


class ClockWatch:
    """Notices steps of the process clock and how far it is from the database's."""

    def __init__(self, factory: sessionmaker[UnitOfWork], *, wall: Callable[[], float] = time.time,
                 mono: Callable[[], float] = time.monotonic,
                 database: Callable[[], datetime] | None = None) -> None:
        self.wall, self.mono = wall, mono
        self.database = database or (lambda: database_now(factory))
        self._base = wall() - mono()
        self._checked = float("-inf")
        self.offset = timedelta(0)  # database time minus process time, when they disagree

    def stepped(self) -> float | None:
        """The size of a step (seconds, negative: backwards) since the last look, or None."""
        base = self.wall() - self.mono()
        step, self._base = base - self._base, base
        return step if abs(step) > STEP_SECONDS else None  # logged by the aggregator, which acts on it

    def now(self, process_now: datetime) -> datetime:
        """``process_now`` as the database's clock has it (checked every ``CHECK_SECONDS``)."""
        if self.mono() - self._checked >= CHECK_SECONDS:
            self._checked = self.mono()
            try:
                gap = self.database() - datetime.fromtimestamp(self.wall(), timezone.utc)
            except Exception:  # the database briefly away: keep the last answer
                log.debug("database time not read", exc_info=True)
            else:
                offset = gap if abs(gap.total_seconds()) > STEP_SECONDS else timedelta(0)
                if offset != self.offset and offset:
                    log.warning("the process clock is %+.1f s from the database's: the live day follows the "
                                "database", -gap.total_seconds())
                self.offset = offset
        return process_now + self.offset
