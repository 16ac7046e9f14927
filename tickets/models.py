"""Storage model: the database is the source of truth; the live state is rebuilt from it.

Names follow the domain's words (the glossary in docs/ARCHITECTURE.md). Every timestamp is stored as UTC
and comes back time-zone aware, on SQLite as on PostgreSQL.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from datetime import date

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Double,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy import false as sa_false
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive input is refused.

    SQLite has no zone-aware type, so without this a naive local time could
    slip in and be read back as if it were UTC, shifting every figure by 8 h.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: every timestamp must carry its zone")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# What no text column can hold: a NUL (PostgreSQL refuses it) or a lone surrogate (JSON can say
# "\ud800"; no database encodes it).
NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


def could_be(value: str, column: Any) -> bool:
    """Could ``value`` stand in ``column``? Not if too long, nor with a NUL (PostgreSQL refuses
    those outright): such a value names nothing, and the database need not be asked."""
    return len(value) <= column.type.length and NOT_TEXT.search(value) is None


# Partial indexes' predicates, word for word as the queries they serve say them.
OPEN_PREDICATE = "status NOT IN ('closed', 'merged')"
HANDLING_UNKNOWN = "status = 'closed' AND handling_hours IS NULL"
# A ticket whose share of the figures can no longer change (``tickets.rollups``), and the
# others that a period's figures still scan.
SETTLED_PREDICATE = ("status = 'closed' AND handling_hours IS NOT NULL AND "
                     "(contact_due_at IS NULL OR (contacted_at IS NOT NULL AND accepted_at IS NOT NULL))")
UNSETTLED_PREDICATE = f"status <> 'merged' AND NOT ({SETTLED_PREDICATE})"
RETURN_PREDICATE = "kind = 'return'"


class Unit(Base):
    """A unit of the three-level structure (三级架构): 1 city, 2 branch/division, 3 station."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str | None] = mapped_column(String(128))
    level: Mapped[int] = mapped_column(Integer)
    # bureau | branch | county_bureau | division | station | team | section
    kind: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    district: Mapped[str | None] = mapped_column(String(32))
    # Topics a division is responsible for (routing by topic), e.g. ["exit_entry"].
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped[Unit | None] = relationship(remote_side="Unit.id", back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent")


class User(Base):
    """A real-name account; roles and their checks arrive with the lifecycle."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    real_name: Mapped[str] = mapped_column(String(64))
    police_number: Mapped[str | None] = mapped_column(String(16))
    # A mobile number for SMS escalations (tickets/official_sms.py); personal: never on a shared screen.
    phone: Mapped[str | None] = mapped_column(String(32))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    unit: Mapped[Unit] = relationship()


class Ticket(Base):
    """工单: one citizen request after de-duplication."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_received_at", "received_at"),
        Index("ix_tickets_closed_at", "closed_at"),
        Index("ix_tickets_status", "status"),
        Index("ix_tickets_unit_status", "unit_id", "status"),
        # The repeat-complaint check (supervision): a caller's complaints, a unit's on a topic near a point.
        Index("ix_tickets_phone", "citizen_phone", "received_at"),
        Index("ix_tickets_unit_topic_lat", "unit_id", "topic", "lat"),
        # Open tickets only (a few days' worth among years of closed ones): breaches now, the
        # bulletin's overdue list, the live state's rebuild. Queries say the same predicate.
        Index("ix_tickets_open", "unit_id", postgresql_where=text(OPEN_PREDICATE), sqlite_where=text(OPEN_PREDICATE)),
        Index("ix_tickets_unsettled", "received_at", postgresql_where=text(UNSETTLED_PREDICATE),
              sqlite_where=text(UNSETTLED_PREDICATE)),
        # Closed tickets whose handling hours the housekeeping sweep has yet to fill (migration 0016).
        Index("ix_tickets_handling_unknown", "id", postgresql_where=text(HANDLING_UNKNOWN),
              sqlite_where=text(HANDLING_UNKNOWN)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    sla_class: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    district: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(200))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    # Personal data: masked on every shared screen (张** 138****5678), shown only to the handling unit.
    citizen_name: Mapped[str | None] = mapped_column(String(64))
    citizen_phone: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    direct_dispatch: Mapped[bool | None]
    received_at: Mapped[datetime]
    dispatched_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    contacted_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    contact_due_at: Mapped[datetime | None]
    resolve_due_at: Mapped[datetime | None]
    # 75% of the allowed time (amber), computed with the deadline it belongs to.
    contact_warn_at: Mapped[datetime | None]
    resolve_warn_at: Mapped[datetime | None]
    reported_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    # 三级回访: 1 normal; 2 after one unsatisfied follow-up; 3 city-level review.
    escalation_level: Mapped[int] = mapped_column(Integer, default=1)
    redo_count: Mapped[int] = mapped_column(Integer, default=0)
    # The latest follow-up answer: satisfied | basically_satisfied | unsatisfied.
    satisfaction: Mapped[str | None] = mapped_column(String(24))
    extension_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    # The working calendar its deadlines and handling time count on (``tickets.calendars`` key):
    # NULL, the bureau's (official Chinese calendar, the SLA policy's hours); imported history
    # from elsewhere keeps its source's.
    calendar: Mapped[str | None] = mapped_column(String(64))
    # Imported from another system's history: the sweeps issue it no supervision order or
    # reminder letter unless the import asked them to (docs/IMPORT.md).
    history: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # What the figures count, kept by the steps that change it so a period's figures are one scan
    # of its tickets (docs/PERFORMANCE.md): received → closed in working hours on the ticket's
    # calendar as it stood at the close (``figures.handling_time``); 退单 at least once; follow-ups
    # answered, and of them 满意 or 基本满意.
    handling_hours: Mapped[float | None]
    returned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    follow_ups_answered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    follow_ups_satisfied: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Raised by every change the ORM writes (an UPDATE … WHERE version = the one read), so two
    # people acting on one ticket at once cannot both win; the API checks the caller's copy.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    unit: Mapped[Unit | None] = relationship()
    intake_records: Mapped[list[IntakeRecord]] = relationship(back_populates="ticket")
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id"
    )

    __mapper_args__ = {"version_id_col": version}


class IntakeRecord(Base):
    """One record from one channel, as it arrived; several can point to one ticket."""

    __tablename__ = "intake_records"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_intake_records_received_at", "received_at"),  # a period's records (duplicate rate)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    # True when this record was merged into a ticket another record created.
    merged: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)

    ticket: Mapped[Ticket] = relationship(back_populates="intake_records")


class TicketEvent(Base):
    """One step of a ticket's timeline (流程跟踪): who did what, when."""

    __tablename__ = "ticket_events"
    __table_args__ = (
        # The return rate (退单率) asks of each ticket whether it was ever returned: a probe into
        # this small index instead of into every step of its timeline.
        Index("ix_ticket_events_returns", "ticket_id", postgresql_where=text(RETURN_PREDICATE),
              sqlite_where=text(RETURN_PREDICATE)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(64), default="system")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class OutboxMessage(Base):
    """Transactional outbox: written with the change, relayed to Redis after commit."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "relayed_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    relayed_at: Mapped[datetime | None]


class ApiToken(Base):
    """A bearer token for the JSON API, or a read-only kiosk token for a wall screen.

    Only a hash is stored: a leaked database does not leak usable tokens.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # api | kiosk
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    # A kiosk link's screen: the path and query it opens (/wall?playlist=overview,map, /map); None: /wall.
    screen: Mapped[str | None] = mapped_column(String(200))

    # A kiosk token's scope: this unit's subtree (a branch bureau's wall); None: the whole city.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))

    user: Mapped[User | None] = relationship()


class LoginSession(Base):
    """A browser's login. The session cookie names it by a random key (only its hash is kept);
    logging out, deactivation or an admin ends it, so a copied cookie dies with it."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    address: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


class LoginAttempt(Base):
    """Every login try, kept for the inspectors and read to throttle guessing: an account or an
    address with too many recent failures is locked out for a while (dashboard/login.py)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    succeeded: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(32), default="")  # ok | wrong_password | locked_out


class ExtensionRequest(Base):
    """延期: a unit asks for more time before the deadline; the platform office decides."""

    __tablename__ = "extension_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime]
    working_hours: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | rejected
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)


class SupervisionOrder(Base):
    """督办单: sent point-to-point to a unit for an overdue or unresolved ticket."""

    __tablename__ = "supervision_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    addressee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(32))  # overdue | returned_unresolved | manual
    issued_at: Mapped[datetime]
    issued_by: Mapped[str] = mapped_column(String(64), default="system")
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | answered | closed
    answered_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)

    ticket: Mapped[Ticket] = relationship()
    unit: Mapped[Unit] = relationship()


class ReminderLetter(Base):
    """提醒函: for an unsatisfied follow-up, a repeated complaint or a leader's instruction."""

    __tablename__ = "reminder_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32))  # unsatisfied | repeated | leader_instruction
    issued_at: Mapped[datetime]
    issued_by: Mapped[str] = mapped_column(String(64), default="system")
    text: Mapped[str] = mapped_column(Text)
    acknowledged_at: Mapped[datetime | None]


class FollowUp(Base):
    """回访: asking the citizen whether they are satisfied (SMS first, then phone)."""

    __tablename__ = "follow_ups"
    __table_args__ = (Index("ix_follow_ups_answered_at", "answered_at"),)  # a week's answers (不满意 list)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(8))  # sms | phone
    # waiting | answered | no_answer (became a phone task) | needs_person | cancelled
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    asked_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(String(24))
    raw_reply: Mapped[str | None] = mapped_column(Text)
    re_asked: Mapped[int] = mapped_column(Integer, default=0)

    ticket: Mapped[Ticket] = relationship()


class SmsMessage(Base):
    """Every SMS in and out, as the gateway saw it (the sandbox gateway's record too)."""

    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(4))  # out | in
    phone: Mapped[str] = mapped_column(String(32), index=True)
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    gateway: Mapped[str] = mapped_column(String(32))
    # queued | sent | failed | held (an official's, until ``not_before``: outside working time)
    status: Mapped[str] = mapped_column(String(16), default="sent", index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    follow_up_id: Mapped[int | None] = mapped_column(ForeignKey("follow_ups.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # to an official, not a citizen
    not_before: Mapped[datetime | None]


class Notification(Base):
    """Something pushed to a person or a role in a unit: escalations, orders, letters."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class CalendarDay(Base):
    """An official working-calendar day loaded by an admin, for years the package does not know."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlaRuleVersion(Base):
    """One version of the deadline rules (``tickets.sla``): the policy file's schema, in force for
    tickets dispatched from ``effective_from`` (NULL: from the beginning; version 1 only).
    Never edited: a change is a new version; one not yet in force may be withdrawn
    (``tickets.sla_versions``)."""

    __tablename__ = "sla_rule_versions"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    effective_from: Mapped[datetime | None]
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    # A version withdrawn before it took effect (the only change a version takes): it never applied.
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by: Mapped[str | None] = mapped_column(String(64))


class Serial(Base):
    """The last serial handed out for one prefix and local day (``tickets.numbers``)."""

    __tablename__ = "serials"

    key: Mapped[str] = mapped_column(String(16), primary_key=True)  # MS20261122
    last: Mapped[int] = mapped_column(Integer)


class DeadLetter(Base):
    """A record a feed refused: kept as it arrived, with the specific reasons, for inspection."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(200))  # endpoint, file and row, …
    external_id: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[str] = mapped_column(Text)  # raw, exactly as sent
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{"field": ..., "message": ...}]
    status: Mapped[str] = mapped_column(String(16), default="new")  # new | reprocessed | dismissed
    resolved_at: Mapped[datetime | None]
    # What makes a refusal the same one (the import's: feeds.importer._fingerprint): kept once.
    fingerprint: Mapped[str | None] = mapped_column(String(64), unique=True)


class ImportRun(Base):
    """One CSV/Excel import: progress, counts and where to resume after a crash."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(300))
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    mapping_name: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)  # resume after this many rows
    rows_imported: Mapped[int] = mapped_column(Integer, default=0)
    rows_merged: Mapped[int] = mapped_column(Integer, default=0)
    rows_duplicate: Mapped[int] = mapped_column(Integer, default=0)  # same external id seen before
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    # Open records past their own deadline, left out (the mapping's ``open.past_due: exclude``).
    rows_excluded: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rows_filtered: Mapped[int] = mapped_column(Integer, default=0)  # not the mapping's (its where:)
    rows_rejected_known: Mapped[int] = mapped_column(Integer, default=0)  # refused again: not stored again
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | done | failed
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)


class DuplicateSuggestion(Base):
    """A likely duplicate for the dispatcher to confirm or reject, with the reasons."""

    __tablename__ = "duplicate_suggestions"
    __table_args__ = (UniqueConstraint("ticket_id", "candidate_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | merged | rejected
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ConnectorDelivery(Base):
    """A result sent back to a source system (e.g. the 12345 platform), retried until it lands."""

    __tablename__ = "connector_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    connector: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class FigureDay(Base):
    """One unit's figures for one local day (``tickets.rollups``, PostgreSQL only): the settled
    tickets received that day (counts as ``figures.TALLY_COLUMNS`` + ``SUB_COLUMNS``, and their
    handling hours) and the intake records received that day, under their ticket's unit now."""

    __tablename__ = "figure_days"

    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0: no unit
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    received: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    dispatched: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    direct: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    response_due: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    responded_on_time: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    due: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    closed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    closed_on_time: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    follow_ups_answered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    follow_ups_satisfied: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    accept_due: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    accepted_on_time: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sub_dispatched: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    returned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    replied: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    redone: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    records: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    merged_records: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    hours: Mapped[list[float]] = mapped_column(
        ARRAY(Double()).with_variant(JSON(), "sqlite"), default=list, server_default=text("'{}'"))


class FigureDaysBuilt(Base):
    """The rows of ``figure_days`` are complete, cut by this time zone's local days."""

    __tablename__ = "figure_days_built"

    timezone: Mapped[str] = mapped_column(String(64), primary_key=True)
    built_at: Mapped[datetime]


class Alert(Base):
    """预警: a surge (突增) of one topic in one area, or a recurring issue (多发诉求) in one small cell.

    One row per episode: the periodic detector updates it while the condition
    holds (``key`` makes it idempotent) and closes it when it no longer does.
    """

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_status_last_seen", "status", "last_seen_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # surge | recurring
    topic: Mapped[str] = mapped_column(String(32))
    area_kind: Mapped[str] = mapped_column(String(16))  # district | cell (H3)
    area: Mapped[str] = mapped_column(String(64))
    area_name: Mapped[str] = mapped_column(String(64))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    day: Mapped[date | None] = mapped_column(Date)  # a surge's local day
    window_days: Mapped[int | None] = mapped_column(Integer)  # a recurring issue's window
    count: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[float | None] = mapped_column(Float)  # expected count for the day / window
    threshold: Mapped[int | None] = mapped_column(Integer)
    p_value: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    ticket_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    # 已阅: a person has seen it and taken it on (the alert stays open while its condition holds).
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledgement: Mapped[str | None] = mapped_column(Text)
    # Closed by a person (with a note) rather than by the detector: it stays closed unless
    # the count grows past what it was when they closed it.
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closing_note: Mapped[str | None] = mapped_column(Text)

    unit: Mapped[Unit | None] = relationship()


class IdempotencyKey(Base):
    """One change per key: a write sent again with the same ``Idempotency-Key`` answers as the
    first did, and changes nothing. Kept with the change, in its transaction."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_key", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Whose key: "user:<id>" or "token:<id>" (two callers' keys never meet).
    user_key: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of method, path and body
    status: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class BreachAcknowledgement(Base):
    """A duty officer has seen one state (amber or breached) of one clock of a ticket and
    taken it. It holds until ``lapses_at`` or, if the ticket moved meanwhile (its version
    is past ``ticket_version``), for good; it never stops the deadline (``tickets.duty``)."""

    __tablename__ = "breach_acknowledgements"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    clock: Mapped[str] = mapped_column(String(16))  # contact | resolve
    state: Mapped[str] = mapped_column(String(16))  # amber | breached
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)
    ticket_version: Mapped[int] = mapped_column(Integer)
    lapses_at: Mapped[datetime]


class PersonalDataReveal(Base):
    """Someone saw a citizen's name and phone number in full: who, which ticket, when, from where."""

    __tablename__ = "personal_data_reveals"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class Bulletin(Base):
    """每周通报: one frozen version of one ISO week's bulletin (``tickets.bulletin``).

    ``content`` is everything the screen, the PDF and the spreadsheet show, computed once;
    later changes to tickets do not touch it. A corrected re-issue is a new row (the next
    ``version``) whose ``changes`` list what differs from the version before. The running
    week's provisional bulletin is computed on the fly and never stored."""

    __tablename__ = "bulletins"
    __table_args__ = (UniqueConstraint("week", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(8), index=True)  # ISO week, "2026-W48"
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[str] = mapped_column(String(64))  # the SLA rules the deadlines came from
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # vs. the version before


class AuditEntry(Base):
    """One row of the audit log (``tickets.audit``): who did what, when, to which ticket or thing.
    Append-only, each row chained to the one before by its hash; nothing updates or deletes one."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_actor_at", "actor", "at"),
        Index("ix_audit_log_ticket_at", "ticket", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64))  # a username, "system", "cli:<os user>"
    action: Mapped[str] = mapped_column(String(64))  # tickets.audit.ACTIONS
    ticket: Mapped[str | None] = mapped_column(String(32))  # the ticket's number
    target: Mapped[str | None] = mapped_column(String(200))  # an account, a token, a year, a week …
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class JurisdictionUpload(Base):
    """A station jurisdiction file (GeoJSON) an admin uploaded on /admin/units: checked first
    (``geo check``'s report kept with it), then applied (routing uses it from then on, in every
    process) or discarded. The latest applied one wins over the configured files."""

    __tablename__ = "jurisdiction_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    geojson: Mapped[str] = mapped_column(Text)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    # checked | applied | discarded | superseded (an applied one, after the next is applied)
    status: Mapped[str] = mapped_column(String(16), default="checked", index=True)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    checked_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))


class FeedKey(Base):
    """A key a feed presents (``tickets.feedkeys``): a 12345 source's HMAC secret, kept as itself
    (an HMAC is checked by computing it again, so a hash would not do), or an Open311 client's
    api_key, kept as its SHA-256 only. A rotation gives the old key a ``valid_until`` (the end of
    the overlap); until then both are accepted. A source without any row uses its file's (or the
    settings') secret: the files and settings seed the table."""

    __tablename__ = "feed_keys"
    __table_args__ = (Index("ix_feed_keys_channel_source", "channel", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # hotline | open311
    source: Mapped[str] = mapped_column(String(64))  # a 12345 source's name | an Open311 key's label
    secret: Mapped[str | None] = mapped_column(String(128))  # hotline: the shared secret itself
    key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # open311: SHA-256 of the key
    seeded: Mapped[bool] = mapped_column(Boolean, default=False)  # copied from a file or the settings
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    valid_until: Mapped[datetime | None]  # rotated out: accepted until then
    revoked_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]  # the last request it vouched for (to the minute)
