"""Document numbers: prefix + local date + a 6-digit serial of that day.

Tickets are ``MS20261122000042`` (``YL…`` in a drill's training space), supervision orders
``DB…``, reminder letters ``TX…``. The serials live in one counter row per (prefix, day) in
``serials``, taken with an upsert that returns the new value: the row lock
(PostgreSQL) or the database write lock (SQLite) makes two writers queue for
it instead of both reading the same ``max(number)`` and one failing on the
unique index. The counter is part of the caller's transaction, so a rollback
gives its numbers back and the serials stay gap-free.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tickets.models import Serial

TICKET = "MS"
DRILL_TICKET = "YL"  # 演练 (yǎnliàn): a training space's tickets, never to be taken for real ones
SUPERVISION_ORDER = "DB"
REMINDER_LETTER = "TX"

_TAKE = text(
    "INSERT INTO serials (key, last) VALUES (:key, :n) "
    "ON CONFLICT (key) DO UPDATE SET last = serials.last + :n RETURNING last"
)


def day_key(prefix: str, at: datetime, tz: Any) -> str:
    return f"{prefix}{at.astimezone(tz):%Y%m%d}"


def take(session: Session, prefix: str, instants: Sequence[datetime], tz: Any) -> list[str]:
    """One new number per instant, in order; serials of a day rise in the order given."""
    keys = [day_key(prefix, at, tz) for at in instants]
    last: dict[str, int] = {}
    for key, n in sorted(Counter(keys).items()):  # a fixed order: two writers cannot deadlock
        top = session.execute(_TAKE, {"key": key, "n": n}).scalar_one()
        last[key] = top - n
    out = []
    for key in keys:
        last[key] += 1
        out.append(f"{key}{last[key]:06d}")
    return out


def peek(session: Session, prefix: str, instants: Sequence[datetime], tz: Any) -> list[str]:
    """The numbers :func:`take` would give now, taking none (an import's dry run)."""
    keys = [day_key(prefix, at, tz) for at in instants]
    last = {k: session.scalar(select(Serial.last).where(Serial.key == k)) or 0 for k in set(keys)}
    out = []
    for key in keys:
        last[key] += 1
        out.append(f"{key}{last[key]:06d}")
    return out


def next_number(session: Session, prefix: str, at: datetime, tz: Any) -> str:
    return take(session, prefix, [at], tz)[0]
