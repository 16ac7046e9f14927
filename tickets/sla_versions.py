"""Versions of the deadline rules (/admin/rules): make one, and see what a draft would have done.

A version is never edited: a change is a new version, in force for tickets dispatched from its
instant on (``tickets.sla.version_at``). The instant must lie at least ``sla_version_lead_minutes``
ahead, so every process has re-read the versions before it applies, and after every version
already made: history is not re-judged (no past instant, no version slipped in before another).
A version not yet in force may be withdrawn, as long as the same lead is left before its instant.
The first version made also stores version 1, the policy file's rules until then, so the past
keeps its rules when the file changes.

:func:`rejudge` re-computes a past week's tickets under a draft, from the tickets themselves, so
an admin sees before saving how many more or fewer would have been late, per branch.
"""
from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from tickets import audit, bulletin, calendars, sla
from tickets.administration import require_admin
from tickets.errors import IllegalStep, Invalid, NotFound
from tickets.models import ExtensionRequest, SlaRuleVersion, Ticket, utcnow
from tickets.roles import Actor

# PostgreSQL advisory lock key of the versions' numbering ("MSSV").
VERSIONS_LOCK_KEY = 0x4D535356
MAX_NOTE = 500


# Bounds a version's rules keep within (the policy file's own check is only "positive"): deadlines
# that can be computed, and no typo of 1000 working days saved by a click.
MOST_CONTACT_HOURS = 24 * 30
MOST_WORKING_DAYS = 60


def parse_draft(document: Any) -> sla.PolicyBook:
    """A draft's rules validated as the policy file is, and within bounds (:class:`Invalid`
    naming the key)."""
    try:
        book = sla.parse_policy(document, "rules")
    except sla.PolicyError as exc:
        raise Invalid("sla_rules_invalid", reason=str(exc).removeprefix("rules: ")) from None
    for topic in [None, *book.topics]:
        for channel in [None, *book.channels]:
            rules = book.for_ticket(topic, channel)
            where = ".".join(f"{kind}.{name}" for kind, name in (("topics", topic), ("channels", channel)) if name)
            if rules.contact_hours > MOST_CONTACT_HOURS:
                raise Invalid("sla_rules_invalid", reason=f"{where or 'contact_hours'}: contact within at most "
                                                          f"{MOST_CONTACT_HOURS} hours, not {rules.contact_hours:g}")
            for sla_class, days in rules.resolve_working_days:
                if days > MOST_WORKING_DAYS:
                    raise Invalid("sla_rules_invalid", reason=f"{where or 'resolve_working_days'}: {sla_class} "
                                                              f"within at most {MOST_WORKING_DAYS} working days, "
                                                              f"not {days:g}")
    return book


# The form's fields (/admin/rules): resolve_<sla_class>, contact_hours, working_hours, amber_percent,
# pause_while_extension_pending, overrides (YAML text), from_form (the whole form was sent).
RESOLVE_FIELD = "resolve_"
_PERIODS_SPLIT = re.compile(r"[,，;；\s]+")


def _form_number(raw: Any) -> Any:
    """A number as a form sends it ("1.5"); anything else as it is, for the rules to refuse by name."""
    if isinstance(raw, str):
        try:
            return float(raw.strip())
        except ValueError:
            return raw
    return raw


def draft_from_fields(fields: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """The rules a form describes, over ``base`` (the rules it was filled from): numbers as text,
    the amber share in percent, the working hours as "08:30-12:00, 13:30-17:30", the overrides
    as YAML (``channels:`` and ``topics:``; empty: none). Validation is :func:`parse_draft`'s."""
    out = {key: value for key, value in base.items()}
    if "contact_hours" in fields:
        out["contact_hours"] = _form_number(fields["contact_hours"])
    days = dict(out.get("resolve_working_days") or {})
    for key, raw in fields.items():
        if key.startswith(RESOLVE_FIELD):
            days[key.removeprefix(RESOLVE_FIELD)] = _form_number(raw)
    out["resolve_working_days"] = days
    if "working_hours" in fields:
        text = str(fields["working_hours"] or "")
        out["working_hours"] = [p for p in _PERIODS_SPLIT.split(text.replace(" - ", "-")) if p]
    if "amber_percent" in fields:
        share = _form_number(fields["amber_percent"])
        out["amber_share"] = share / 100 if isinstance(share, float) else share
    out["pause_while_extension_pending"] = fields.get("pause_while_extension_pending") in (True, "true", "on", "1")
    if "overrides" in fields or fields.get("from_form"):  # the whole form: no overrides text is none
        try:
            overrides = yaml.safe_load(str(fields.get("overrides") or "")) or {}
        except yaml.YAMLError as exc:
            raise Invalid("sla_rules_invalid", reason=f"overrides: not valid YAML: {exc}") from None
        if not isinstance(overrides, dict) or set(overrides) - {"channels", "topics"}:
            raise Invalid("sla_rules_invalid", reason="overrides: only channels: and topics: may be given here")
        out["channels"] = overrides.get("channels") or {}
        out["topics"] = overrides.get("topics") or {}
    return out


def overrides_text(document: Mapping[str, Any]) -> str:
    """A version's overrides as the form's YAML ("" when there are none)."""
    overrides = {k: document[k] for k in ("channels", "topics") if document.get(k)}
    return yaml.safe_dump(overrides, allow_unicode=True, sort_keys=True) if overrides else ""


def _flat(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = ", ".join(value) if isinstance(value, list) else value
    return out


def differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What changes from one rules document to another, rule by rule (dotted names)."""
    old, new = _flat(before), _flat(after)
    return [{"rule": key, "from": old.get(key), "to": new.get(key)}
            for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": VERSIONS_LOCK_KEY})


def create_version(session: Session, actor: Actor, rules: Any, effective_from: datetime, note: str | None, *,
                   lead: timedelta, now: datetime | None = None) -> SlaRuleVersion:
    """Store a new version of the rules, in force from ``effective_from``; audited.

    Admins only. Refused (:class:`Invalid`): rules that do not validate, a naive or too early
    instant (sooner than ``now + lead``, or not after every version already made), no note, or
    rules that are those of the version they would follow."""
    require_admin(actor, "sla_version_create")
    book = parse_draft(rules)
    if effective_from.tzinfo is None or effective_from.utcoffset() is None:
        raise Invalid("naive_time", what="effective_from")
    note = (note or "").strip()
    if not note:
        raise Invalid("text_required", what="note")
    if len(note) > MAX_NOTE:
        raise Invalid("sla_note_too_long", most=MAX_NOTE)
    now = now or utcnow()
    earliest = now + lead
    if effective_from < earliest:
        raise Invalid("sla_version_too_soon", at=effective_from.isoformat(), earliest=earliest.isoformat())
    _lock(session)
    made = list(session.scalars(select(SlaRuleVersion).order_by(SlaRuleVersion.number)))
    rows = [r for r in made if r.withdrawn_at is None]
    if not made:  # version 1 is the policy file's rules: store them, so the past keeps them
        first = sla.file_policy()
        rows.append(SlaRuleVersion(number=1, effective_from=None, rules=sla.to_document(first),
                                   fingerprint=first.fingerprint, created_by="system", created_at=now,
                                   note=Path(first.source).name))
        session.add(rows[0])
    last = max(rows, key=lambda r: (r.effective_from is not None, r.effective_from or now, r.number))
    if last.effective_from is not None and effective_from <= last.effective_from:
        raise Invalid("sla_version_not_after", number=last.number, at=last.effective_from.isoformat())
    document = sla.to_document(book)
    changed = differences(last.rules, document)
    if not changed:
        raise Invalid("sla_version_unchanged", number=last.number)
    row = SlaRuleVersion(number=max(r.number for r in made + rows) + 1, effective_from=effective_from, rules=document,
                         fingerprint=book.fingerprint, created_by=actor.name[:64], created_at=now, note=note)
    session.add(row)
    session.flush()
    audit.record(session, actor.name, "sla_version_create", target=f"v{row.number}", at=now,
                 details={"effective_from": effective_from.isoformat(), "fingerprint": row.fingerprint,
                          "note": note, "changes": changed})
    return row


def withdraw_version(session: Session, actor: Actor, number: int, *, lead: timedelta,
                     now: datetime | None = None) -> SlaRuleVersion:
    """Withdraw version ``number`` before it takes effect (a mistake found in time); audited.
    Admins only. Refused: an unknown version (:class:`NotFound`), one already withdrawn
    (:class:`IllegalStep`), one in force or due within ``lead`` (:class:`Invalid`: every process
    may already apply it, so it stays, and a new version corrects it)."""
    require_admin(actor, "sla_version_withdraw")
    now = now or utcnow()
    _lock(session)
    row = session.get(SlaRuleVersion, number)
    if row is None:
        raise NotFound("unknown_sla_version", number=number)
    if row.withdrawn_at is not None:
        raise IllegalStep("sla_version_withdrawn", number=number, at=row.withdrawn_at.isoformat())
    latest = now + lead
    if row.effective_from is None or row.effective_from < latest:
        raise Invalid("sla_version_too_late", number=number,
                      at=row.effective_from.isoformat() if row.effective_from else "", earliest=latest.isoformat())
    row.withdrawn_at, row.withdrawn_by = now, actor.name[:64]
    session.flush()
    audit.record(session, actor.name, "sla_version_withdraw", target=f"v{number}", at=now,
                 details={"effective_from": row.effective_from.isoformat(), "fingerprint": row.fingerprint})
    return row


# ------------------------------------------------------------------ re-judging
@dataclass
class Figures:
    """Deadline figures of a set of tickets under one set of rules (DESIGN §4's definitions)."""

    tickets: int = 0
    contact_breaches: int = 0  # contacted late, or not yet and past the contact deadline
    resolve_breaches: int = 0  # closed late, or open past the resolve deadline
    due: int = 0  # closed, or past the resolve deadline
    on_time: int = 0  # closed by the resolve deadline

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.due if self.due else None

    def count(self, ticket: _Judged, contact_due: datetime, resolve_due: datetime, now: datetime) -> None:
        self.tickets += 1
        contacted = ticket.contacted_at
        if (contacted is None and contact_due <= now) or (contacted is not None and contacted > contact_due):
            self.contact_breaches += 1
        closed = ticket.closed_at
        if closed is not None or resolve_due <= now:
            self.due += 1
            if closed is not None and closed <= resolve_due:
                self.on_time += 1
            else:
                self.resolve_breaches += 1


@dataclass
class Row:
    code: str
    name: str
    before: Figures = field(default_factory=Figures)
    after: Figures = field(default_factory=Figures)


@dataclass
class Rejudged:
    """A week's tickets judged by the rules they had (``before``) and by a draft (``after``)."""

    week: str
    as_of: datetime
    total: Row
    branches: list[Row]


@dataclass(frozen=True)
class _Judged:
    sla_class: str
    topic: str
    channel: str
    calendar: str | None
    dispatched_at: datetime
    contacted_at: datetime | None
    closed_at: datetime | None
    unit_id: int | None
    extra_hours: float


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND


class _WorkingClock:
    """``sla.add_working_hours`` for many starts on one calendar and one set of working hours: the
    working intervals of the span read once, then a binary search per ticket, in whole
    microseconds (exact, as ``timedelta`` is): a week's tickets in well under a second, where a
    day-by-day walk each would take seconds."""

    def __init__(self, start: datetime, end: datetime, tz: Any, rules: sla.Policy,
                 calendar: calendars.Calendar | None) -> None:
        self.tz, self.rules, self.calendar, self.end = tz, rules, calendar, _micros(end)
        self.intervals = [(_micros(lo), _micros(hi))
                          for lo, hi in sla.working_intervals(start, end, tz, rules, calendar)]
        self.starts = [lo for lo, _ in self.intervals]
        self.before: list[int] = []  # working microseconds before each interval
        total = 0
        for lo, hi in self.intervals:
            self.before.append(total)
            total += hi - lo
        self.total = total

    def add(self, start: datetime, hours: float) -> datetime:
        at = _micros(start)
        i = bisect.bisect_right(self.starts, at) - 1
        target = 0
        if i >= 0 and at < self.end:
            lo, hi = self.intervals[i]
            target = self.before[i] + min(at, hi) - lo + round(hours * 3_600_000_000)
        if i < 0 or at >= self.end or hours <= 0 or target > self.total:  # outside the span: walk as sla does
            return sla.add_working_hours(start, hours, self.tz, self.rules, self.calendar)
        # The last interval that starts with less worked than the target (a deadline exactly at a
        # period's end is that end, as sla says, not the next period's start).
        j = bisect.bisect_left(self.before, target) - 1
        return (_EPOCH + timedelta(microseconds=self.intervals[j][0] + target - self.before[j])).astimezone(self.tz)


def _judged(session: Session, start: datetime, end: datetime) -> list[_Judged]:
    """The week's tickets (by received time, as the figures count) whose deadlines the rules set:
    dispatched, not merged, not imported history (those keep their source's deadlines)."""
    extra = (select(ExtensionRequest.ticket_id, func.sum(ExtensionRequest.working_hours).label("hours"))
             .where(ExtensionRequest.status == "approved").group_by(ExtensionRequest.ticket_id).subquery())
    rows = session.execute(
        select(Ticket.sla_class, Ticket.topic, Ticket.channel, Ticket.calendar, Ticket.dispatched_at,
               Ticket.contacted_at, Ticket.closed_at, Ticket.unit_id, func.coalesce(extra.c.hours, 0.0))
        .outerjoin(extra, extra.c.ticket_id == Ticket.id)
        .where(Ticket.received_at >= start, Ticket.received_at < end, Ticket.dispatched_at.is_not(None),
               Ticket.status != "merged", Ticket.history.is_(False)))
    return [_Judged(sla_class, topic, channel, calendar, dispatched_at, contacted_at, closed_at, unit_id, float(hours))
            for sla_class, topic, channel, calendar, dispatched_at, contacted_at, closed_at, unit_id, hours in rows]


def rejudge(session: Session, draft: sla.PolicyBook, week: str, now: datetime, tz: Any) -> Rejudged:
    """``week``'s tickets under the rules each was judged by, and under ``draft``, per branch.
    Both sides are computed the same way (from the first dispatch, with approved extensions), so
    the difference is the rules' alone."""
    _, _, start, end = bulletin.week_bounds(week, tz)
    tickets = _judged(session, start, end)
    tree = bulletin.Tree(session)
    clocks: dict[tuple[Any, ...], _WorkingClock] = {}
    horizon = min(now, end) + timedelta(days=60)

    allowed: dict[tuple[sla.Policy, str], float] = {}

    def due(rules: sla.Policy, ticket: _Judged) -> tuple[datetime, datetime]:
        key = (rules.working_periods, ticket.calendar)
        clock = clocks.get(key)
        if clock is None:
            calendar = calendars.from_key(ticket.calendar)
            clock = clocks[key] = _WorkingClock(start - timedelta(days=1), horizon, tz, rules, calendar)
        hours = allowed.get((rules, ticket.sla_class))
        if hours is None:
            hours = allowed[(rules, ticket.sla_class)] = rules.resolve_hours(ticket.sla_class)
        hours += ticket.extra_hours
        return (ticket.dispatched_at + timedelta(hours=rules.contact_hours),
                clock.add(ticket.dispatched_at, hours))

    total = Row("", "")
    rows: dict[str, Row] = {}
    for ticket in tickets:
        branch = tree.branch_of(ticket.unit_id)
        code, name = (branch.code, branch.name) if branch is not None else ("", "")
        row = rows.get(code)
        if row is None:
            row = rows[code] = Row(code, name)
        before = sla.version_at(ticket.dispatched_at).book.for_ticket(ticket.topic, ticket.channel)
        after = draft.for_ticket(ticket.topic, ticket.channel)
        for side, rules in (("before", before), ("after", after)):
            contact_due, resolve_due = due(rules, ticket)
            for target in (row, total):
                figures: Figures = getattr(target, side)
                figures.count(ticket, contact_due, resolve_due, now)
    order = sorted(rows.values(), key=lambda r: (r.code == "", r.code))
    return Rejudged(week=week, as_of=now, total=total, branches=order)


def last_week(now: datetime, tz: Any) -> str:
    """The ISO week before the one ``now`` falls in (local time)."""
    return bulletin.shift(bulletin.week_of(now.astimezone(tz).date()), -1)


__all__ = ["Figures", "Rejudged", "Row", "create_version", "differences", "draft_from_fields", "last_week",
           "overrides_text", "parse_draft", "rejudge", "withdraw_version"]
