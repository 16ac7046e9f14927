"""The audit log (审计日志): who did what, append-only, chained so that tampering shows.

Every login try, every reveal of a citizen's details, every lifecycle step, every admin change
(accounts, tokens, the working calendar) and every export of a bulletin is one row of
``audit_log``, written by :func:`record` into the caller's transaction: it commits with the
change it describes, or not at all. Nothing in the platform updates or deletes a row.

Each row carries the hash of the row before it (``prev_hash``) and its own: ``hash =
sha256(prev_hash + canonical JSON of the row's id and content)``. Editing, deleting or
reordering a past row breaks the chain at that row, which :func:`verify` finds (``python app.py
audit verify``). (Cutting rows off the end is what a chain alone cannot show: compare the newest
row's hash with one kept elsewhere, e.g. printed with ``audit verify``.)

Rows are appended when the transaction commits (a ``before_commit`` hook), not when
:func:`record` is called: the chain's lock is so the last lock a transaction takes, held only
from then to the end of the commit, and no lock order with the intake locks
(``tickets.uow``) can deadlock on it. On PostgreSQL the lock is a transaction-level advisory
lock; on SQLite the database's one write lock. A savepoint rolled back drops what was recorded
inside it.
"""
from __future__ import annotations

import getpass
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session, SessionTransaction

from tickets.models import AuditEntry, utcnow

# PostgreSQL advisory lock key of the audit chain ("MSAU").
AUDIT_LOCK_KEY = 0x4D534155
GENESIS = "0" * 64  # the prev_hash of the first row
_PENDING = "audit_pending"  # session.info key: [(transaction recorded in, row values)]
_SQLITE_WRITER = text("DELETE FROM serials WHERE 0")  # a write that changes nothing: the write lock

# What the log records (``action``), for the filters and the documentation.
ACTIONS = (
    "login", "login_failed", "login_locked_out",
    "reveal",
    "intake", "dispatched", "return", "accept", "contact", "report", "approve", "send_back", "reply", "close", "redo",
    "request_extension", "extension_decided", "merge", "unmerge",
    "user_create", "user_set_phone", "user_deactivate",
    "user_edit", "user_reactivate", "user_password_reset", "user_access_ended", "feed_key_create", "feed_key_rotate",
    "feed_key_revoke",
    "token_create", "kiosk_create", "token_revoke",
    "calendar_load", "calendar_day",
    "unit_add", "unit_rename", "unit_move", "unit_deactivate", "unit_topics", "unit_rehome", "rehome",
    "jurisdictions_check", "jurisdictions_apply", "jurisdictions_discard",
    "bulletin_export",
    "sla_version_create", "sla_version_withdraw",
)


def cli_actor() -> str:
    """Who runs a command line: ``cli:<the operating system's user>``."""
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "cli"


def _plain(details: dict[str, Any] | None) -> dict[str, Any]:
    """``details`` as the JSON column gives it back (times as ISO text …), so the hash
    computed now is the hash computed from the stored row."""
    return json.loads(json.dumps(details or {}, ensure_ascii=False, default=str))


def record(session: Session, actor: str, action: str, *, ticket: str | None = None, target: str | None = None,
           details: dict[str, Any] | None = None, at: datetime | None = None) -> None:
    """Append an audit row in ``session``'s transaction (written when it commits).

    ``actor``: a username, ``system``, or ``cli:<user>``; ``ticket``: the ticket's number;
    ``target``: what else the change was about (an account, a token, a year, a week)."""
    values = {"at": (at or utcnow()).astimezone(UTC), "actor": (actor or "?")[:64], "action": action[:64],
              "ticket": ticket[:32] if ticket else None, "target": target[:200] if target else None,
              "details": _plain(details)}
    session.info.setdefault(_PENDING, []).append((_innermost(session), values))


def _innermost(session: Session) -> SessionTransaction | None:
    return session.get_nested_transaction() or session.get_transaction()


def content(row_id: int, values: dict[str, Any]) -> str:
    """The canonical JSON the hash covers: the row's id and everything it says."""
    at = values["at"]
    return json.dumps({"id": row_id, "at": at.astimezone(UTC).isoformat(), "actor": values["actor"],
                       "action": values["action"], "ticket": values["ticket"], "target": values["target"],
                       "details": values["details"]},
                      ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def chain_hash(prev_hash: str, row_id: int, values: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + content(row_id, values)).encode("utf-8")).hexdigest()


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    else:
        session.connection().execute(_SQLITE_WRITER)


def _append(session: Session) -> None:
    """Write the transaction's pending rows at the head of the chain (its lock held to the end)."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    _lock_chain(session)
    connection = session.connection()  # not a session query: that would flush first, for nothing
    head = connection.execute(select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).first()
    last_id, prev = (int(head[0]), str(head[1])) if head is not None else (0, GENESIS)
    if connection.dialect.name == "postgresql":
        ids = [int(i) for i in connection.execute(
            text("SELECT nextval(pg_get_serial_sequence('audit_log', 'id')) FROM generate_series(1, :n)"),
            {"n": len(pending)}).scalars()]
    else:
        ids = list(range(last_id + 1, last_id + 1 + len(pending)))
    for row_id, (_txn, values) in zip(ids, pending):
        digest = chain_hash(prev, row_id, values)
        session.add(AuditEntry(id=row_id, prev_hash=prev, hash=digest, **values))
        prev = digest


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its rows wait for the transaction's commit
    _append(session)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if not pending:
        return
    if not previous.nested:
        session.info.pop(_PENDING, None)
        return

    def inside(txn: SessionTransaction | None) -> bool:
        while txn is not None:
            if txn is previous:
                return True
            txn = txn.parent
        return False

    session.info[_PENDING] = [(txn, values) for txn, values in pending if not inside(txn)]


# ------------------------------------------------------------------- reading
@dataclass(frozen=True)
class Broken:
    """Where the chain breaks: the row, and what is wrong with it."""

    id: int
    reason: str  # "prev_hash" (a row before it was changed, removed or moved) | "hash" (this row was changed)


def rows(session: Session, batch: int = 1000, after: int = 0) -> Iterator[AuditEntry]:
    """Every row (after row ``after``) in chain order, a batch at a time."""
    last = after
    while True:
        found = list(session.scalars(select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id)
                                     .limit(batch)))
        yield from found
        if len(found) < batch:
            return
        last = found[-1].id
        session.expunge_all()


def verify(session: Session) -> tuple[int, Broken | None]:
    """Walk the chain: (rows checked, the first broken row or None)."""
    n, _last, broken = verify_from(session)
    return n, broken


def verify_from(session: Session, after: int = 0, prev: str = GENESIS) -> tuple[int, tuple[int, str], Broken | None]:
    """Walk the chain from the row after ``after``, whose ``prev_hash`` must be ``prev`` (the start:
    the whole chain): (rows checked, (id, hash) of the last row found intact, the first broken row
    or None). A walk from a row already verified checks only what was appended since."""
    n, last = 0, (after, prev)
    for row in rows(session, after=after):
        values = {"at": row.at, "actor": row.actor, "action": row.action, "ticket": row.ticket,
                  "target": row.target, "details": row.details}
        if row.prev_hash != prev:
            return n, last, Broken(row.id, "prev_hash")
        if chain_hash(prev, row.id, values) != row.hash:
            return n, last, Broken(row.id, "hash")
        prev, n, last = row.hash, n + 1, (row.id, row.hash)
    return n, last, None


def filtered(stmt: Any, *, actor: str | None = None, ticket: str | None = None, action: str | None = None,
             since: datetime | None = None, until: datetime | None = None) -> Any:
    """``stmt`` (over ``AuditEntry``) narrowed by person, ticket, action and time [since, until)."""
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if ticket:
        stmt = stmt.where(AuditEntry.ticket == ticket)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.at < until)
    return stmt


def head_hash_query() -> Any:
    """The newest row's hash (None: an empty log)."""
    return select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


__all__ = ["ACTIONS", "AUDIT_LOCK_KEY", "Broken", "chain_hash", "cli_actor", "filtered", "record", "verify"]
