"""Deadlines: contact on the wall clock, resolve in working time.

The rules come from a policy file (``tickets/sla_policy.yaml`` by default,
setting ``sla_policy_file`` / env ``MINSHENG_SLA_POLICY``): contact hours,
resolve time per ``sla_class`` in working days, the working hours of a day,
the amber share and whether the clock pauses while an extension is pending,
with overrides per channel and per topic (a topic's value wins over a
channel's, which wins over the defaults; see the file's own comments).

The rules are versioned (``sla_rule_versions``, made on ``/admin/rules`` through
``tickets.sla_versions``): each version applies to tickets dispatched from its
instant on, and a ticket keeps the version in force at its first dispatch
(a redo or an extension too), recorded with its deadlines as ``v3 (e44e04a3)``.
While no version is stored the policy file is version 1.

Working time follows the official Chinese calendar (``workcalendar``): a year
an admin loaded, else ``chinesecalendar``, else Monday–Friday with a warning.

Arithmetic is done on the wall clock of ``tz`` (Asia/Shanghai has no DST).
"""
from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from tickets import workcalendar
from tickets.calendars import Calendar
from tickets.models import SlaRuleVersion
from tickets.vocabulary import CHANNELS, SLA_CLASSES, TOPICS
from tickets.workcalendar import (  # noqa: F401  (re-exported: the calendar is part of the SLA API)
    calendar_warnings,
    clear_calendar_overrides,
    is_working_day,
    load_calendar_overrides,
    unknown_years,
)

log = logging.getLogger(__name__)


# ------------------------------------------------------------------- policy
@dataclass(frozen=True)
class Policy:
    """The effective rules for one ticket (after channel and topic overrides)."""

    contact_hours: float = 1.0
    # Time allowed to resolve, per sla_class, in working days.
    resolve_working_days: tuple[tuple[str, float], ...] = (
        ("consultation", 0.5),
        ("enforcement", 1.0),
        ("service", 1.0),
    )
    working_periods: tuple[tuple[time, time], ...] = (
        (time(8, 30), time(12, 0)),
        (time(13, 30), time(17, 30)),
    )
    amber_share: float = 0.75
    pause_while_extension_pending: bool = False

    @property
    def working_day_hours(self) -> float:
        """Working hours in one working day (7.5 by default)."""
        return sum((_minutes(end) - _minutes(begin)) for begin, end in self.working_periods) / 60

    @property
    def version(self) -> str:
        """A short fingerprint of these rules, recorded with every deadline they set, so a
        timeline can say which rules a deadline came from (the same rules, the same version)."""
        return hashlib.sha256(repr(self).encode()).hexdigest()[:8]

    def resolve_hours(self, sla_class: str) -> float:
        days = dict(self.resolve_working_days)
        if sla_class not in days:
            raise ValueError(f"no resolve time for sla_class {sla_class!r}; known: {sorted(days)}")
        return days[sla_class] * self.working_day_hours


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


#: The built-in defaults; the shipped ``sla_policy.yaml`` says the same (a test checks).
DEFAULT_POLICY = Policy()
DEFAULT_POLICY_FILE = Path(__file__).resolve().parent / "sla_policy.yaml"


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class PolicyBook:
    """A loaded policy file: the defaults and the per-channel / per-topic overrides."""

    default: Policy = DEFAULT_POLICY
    channels: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    topics: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = "<built-in>"
    _cache: dict[tuple[str | None, str | None], Policy] = field(default_factory=dict, compare=False, repr=False)

    def for_ticket(self, topic: str | None = None, channel: str | None = None) -> Policy:
        """Defaults, then the channel's override, then the topic's (the topic wins)."""
        key = (topic, channel)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        policy = self.default
        for override in (self.channels.get(channel or ""), self.topics.get(topic or "")):
            if override:
                changes = dict(override)
                if "resolve_working_days" in changes:
                    changes["resolve_working_days"] = tuple(
                        {**dict(policy.resolve_working_days), **changes["resolve_working_days"]}.items())
                policy = replace(policy, **changes)
        self._cache[key] = policy
        return policy

    @property
    def fingerprint(self) -> str:
        """The bureau's rules as one fingerprint: the default policy's ``Policy.version`` and a
        fingerprint of the overrides if there are any (``3f2a9c1e``, ``3f2a9c1e+5b0d77``)."""
        overrides = repr((sorted((k, sorted(v.items())) for k, v in self.channels.items()),
                          sorted((k, sorted(v.items())) for k, v in self.topics.items())))
        extra = "+" + hashlib.sha256(overrides.encode()).hexdigest()[:6] if self.channels or self.topics else ""
        return f"{self.default.version}{extra}"

    @property
    def version(self) -> str:
        """The fingerprint and the file's name (``3f2a9c1e@sla_policy.yaml``, ``3f2a9c1e+5b0d77@jinan.yaml``)."""
        return f"{self.fingerprint}@{Path(self.source).name[:40]}"


_TOP_ONLY = {"channels", "topics"}
_RULE_KEYS = {f.name for f in fields(Policy)} - {"working_periods", "resolve_working_days"} | {
    "working_hours", "resolve_working_days"}
_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")


def _number(value: Any, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PolicyError(f"{where}: {value!r} is not a number ({what})")
    return float(value)


def _positive(value: Any, where: str, what: str) -> float:
    number = _number(value, where, what)
    if number <= 0:
        raise PolicyError(f"{where}: must be positive ({what}), not {value!r}")
    return number


def _clock(hours: str, minutes: str, where: str, text: str) -> time:
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise PolicyError(f"{where}: {text!r}: {hours}:{minutes} is not a time of day (00:00–23:59)")
    return time(h, m)


def _periods(value: Any, where: str) -> tuple[tuple[time, time], ...]:
    if not isinstance(value, list) or not value:
        raise PolicyError(f"{where}: must be a non-empty list of periods like \"08:30-12:00\"")
    periods = []
    for i, text in enumerate(value):
        spot = f"{where}[{i}]"
        match = _PERIOD.match(text) if isinstance(text, str) else None
        if not match:
            raise PolicyError(f"{spot}: {text!r} is not a period HH:MM-HH:MM (quote it in YAML)")
        begin = _clock(match[1], match[2], spot, text)
        end = _clock(match[3], match[4], spot, text)
        if end <= begin:
            raise PolicyError(f"{spot}: {text!r} ends before it starts")
        periods.append((begin, end))
    periods.sort()
    for (b1, e1), (b2, e2) in zip(periods, periods[1:]):
        if b2 < e1:
            raise PolicyError(f"{where}: periods {b1:%H:%M}-{e1:%H:%M} and {b2:%H:%M}-{e2:%H:%M} overlap")
    return tuple(periods)


def _rules(data: Any, source: str, prefix: str = "") -> dict[str, Any]:
    """Validate one block of rules (the top level, or one override at ``prefix``) into Policy fields."""
    top = not prefix

    def key(name: str) -> str:
        return f"{source}: {prefix}{name}"

    if not isinstance(data, dict):
        raise PolicyError(f"{source}: {prefix.rstrip('.') or 'top level'}: expected a mapping of rules")
    allowed = _RULE_KEYS | (_TOP_ONLY if top else set())
    unknown = set(data) - allowed
    if unknown:
        where = f"{source}: {prefix.rstrip('.')}" if prefix else source
        raise PolicyError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(allowed)}")
    out: dict[str, Any] = {}
    if "contact_hours" in data:
        out["contact_hours"] = _positive(data["contact_hours"], key("contact_hours"), "wall-clock hours")
    if "amber_share" in data:
        share = _number(data["amber_share"], key("amber_share"), "a share of the allowed time")
        if not 0 < share < 1:
            raise PolicyError(f"{key('amber_share')}: must be between 0 and 1 (0.75 = 75%), not {share!r}")
        out["amber_share"] = share
    if "pause_while_extension_pending" in data:
        pause = data["pause_while_extension_pending"]
        if not isinstance(pause, bool):
            raise PolicyError(f"{key('pause_while_extension_pending')}: must be true or false, not {pause!r}")
        out["pause_while_extension_pending"] = pause
    if "working_hours" in data:
        out["working_periods"] = _periods(data["working_hours"], key("working_hours"))
    if "resolve_working_days" in data:
        days = data["resolve_working_days"]
        if not isinstance(days, dict) or not days:
            raise PolicyError(f"{key('resolve_working_days')}: expected a mapping sla_class: working days")
        unknown = set(days) - set(SLA_CLASSES)
        if unknown:
            raise PolicyError(f"{key('resolve_working_days')}: unknown sla_class {sorted(unknown)}; "
                              f"known: {sorted(SLA_CLASSES)}")
        out["resolve_working_days"] = {
            name: _positive(value, key(f"resolve_working_days.{name}"), "working days")
            for name, value in days.items()
        }
    return out


def _overrides(data: Any, source: str, kind: str, known: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: {kind}: expected a mapping of {kind[:-1]} name to rules")
    unknown = set(data) - set(known)
    if unknown:
        raise PolicyError(f"{source}: {kind}: unknown {kind[:-1]} {sorted(unknown)}; known: {sorted(known)}")
    return {name: _rules({} if rules is None else rules, source, f"{kind}.{name}.") for name, rules in data.items()}


def parse_policy(data: Any, source: str = "<policy>") -> PolicyBook:
    """Validate a policy document (``source`` names the file in every error)."""
    if data is None:
        data = {}
    top = _rules(data, source)
    if "resolve_working_days" in top:
        top["resolve_working_days"] = tuple({**dict(DEFAULT_POLICY.resolve_working_days),
                                             **top["resolve_working_days"]}.items())
    book = PolicyBook(
        default=replace(DEFAULT_POLICY, **top),
        channels=_overrides(data.get("channels"), source, "channels", CHANNELS),
        topics=_overrides(data.get("topics"), source, "topics", TOPICS),
        source=source,
    )
    # Every combination must be usable: check them all now, not at the first ticket.
    for topic in [None, *book.topics]:
        for channel in [None, *book.channels]:
            book.for_ticket(topic, channel)
    return book


def load_policy(path: str | Path) -> PolicyBook:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the SLA policy: {exc.strerror or exc}") from exc
    except (yaml.YAMLError, ValueError) as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from exc
    return parse_policy(data, str(path))


# The policy file in use in this process: loaded on first use, reloadable. It is version 1 of the
# rules while the table of versions is empty; once an admin stores a version (``tickets.sla_versions``)
# the table holds every version, version 1 included, and the file is no longer read for deadlines.
_policy_lock = threading.Lock()
_book: PolicyBook | None = None
_book_path: Path | None = None  # set by use_policy_file; else the setting
_book_mtime: float | None = None


def _configured_path() -> Path:
    if _book_path is not None:
        return _book_path
    import settings

    return Path(settings.load().sla_policy_file)


def policy_path() -> Path:
    """The policy file in use (or the configured one, before any is loaded)."""
    return _configured_path()


def use_policy_file(path: str | Path) -> PolicyBook:
    """Load, validate and use ``path`` from now on (raises :class:`PolicyError`)."""
    global _book, _book_path, _book_mtime
    path = Path(path)
    book = load_policy(path)
    with _policy_lock:
        _book, _book_path, _book_mtime = book, path, _mtime(path)
    log.debug("SLA policy from %s", path)
    return book


def reset_policy() -> None:
    """Forget the loaded policy file and versions; the next use reads the setting's file again."""
    global _book, _book_path, _book_mtime, _versions
    with _policy_lock:
        _book, _book_path, _book_mtime = None, None, None
        _versions = ()


def file_policy() -> PolicyBook:
    """The policy file's rules (version 1 while no version is stored)."""
    book = _book
    if book is None:
        book = use_policy_file(_configured_path())
    return book


# ----------------------------------------------------------------- versions
@dataclass(frozen=True)
class RulesVersion:
    """One version of the bureau's rules. It applies to tickets dispatched from ``effective_from``
    (None: from the beginning) until the next version's instant; a ticket keeps it for good."""

    number: int
    effective_from: datetime | None
    book: PolicyBook
    created_by: str = ""
    created_at: datetime | None = None
    note: str = ""
    stored: bool = True  # False: version 1 as the policy file says it, no version stored yet

    @property
    def label(self) -> str:
        """What a bulletin records it was judged by: ``v3 (e44e04a3)``."""
        return f"v{self.number} ({self.book.fingerprint})"

    def label_for(self, rules: Policy) -> str:
        """What a deadline event records: the version and its effective rules' fingerprint."""
        return f"v{self.number} ({rules.version})"


# The stored versions, oldest instant first; replaced as a whole (one assignment) on reload.
_versions: tuple[RulesVersion, ...] = ()
_file_version: RulesVersion | None = None


def rule_versions() -> tuple[RulesVersion, ...]:
    """Every version, in the order they take effect: while none is stored, the policy file as version 1."""
    global _file_version
    stored = _versions
    if stored:
        return stored
    book = file_policy()
    cached = _file_version
    if cached is None or cached.book is not book:
        cached = _file_version = RulesVersion(1, None, book, note=Path(book.source).name, stored=False)
    return (cached,)


def version_at(at: datetime | None = None) -> RulesVersion:
    """The version in force at ``at`` (default now): the last whose instant is not after it.
    A few versions, kept in memory: no query per ticket."""
    versions = rule_versions()
    when = at if at is not None else datetime.now(timezone.utc)
    chosen = versions[0]
    for version in versions[1:]:
        if version.effective_from is None or version.effective_from > when:
            break
        chosen = version
    return chosen


def load_rule_versions(session: Session) -> int:
    """Read the stored versions into this process (as the calendar is read); returns how many.
    A version that no longer validates is logged and the versions in use are kept."""
    global _versions
    versions = []
    for row in session.scalars(select(SlaRuleVersion).where(SlaRuleVersion.withdrawn_at.is_(None))
                               .order_by(SlaRuleVersion.number)):
        try:
            book = parse_policy(row.rules, f"v{row.number}")
        except PolicyError as exc:
            log.error("SLA rule versions not reloaded, keeping the ones in use: %s", exc)
            return len(_versions)
        versions.append(RulesVersion(row.number, row.effective_from, book, row.created_by, row.created_at,
                                     row.note or ""))
    versions.sort(key=lambda v: (v.effective_from is not None, v.effective_from or _BEGINNING, v.number))
    _versions = tuple(versions)
    return len(versions)


_BEGINNING = datetime(1970, 1, 1, tzinfo=timezone.utc)


def forget_rule_versions() -> None:
    """Forget the stored versions read into this process (the policy file is version 1 again
    until they are read): tests, whose databases come and go under one process."""
    global _versions
    _versions = ()


def versions_between(start: datetime, end: datetime) -> list[RulesVersion]:
    """The versions in force at some instant of ``[start, end)``, in order."""
    versions = rule_versions()
    out = []
    for i, version in enumerate(versions):
        until = versions[i + 1].effective_from if i + 1 < len(versions) else None
        if (version.effective_from is None or version.effective_from < end) and (until is None or until > start):
            out.append(version)
    return out


def label_between(start: datetime, end: datetime) -> str:
    """What a bulletin of ``[start, end)`` records it was judged by: ``v2 (3f2a9c1e)``, or each
    version in force during the period (``v2 (3f2a9c1e), v3 (e44e04a3)``)."""
    return ", ".join(v.label for v in versions_between(start, end))[:64]


def current_policy() -> PolicyBook:
    """The rules in force now."""
    return version_at().book


def policy_for(topic: str | None = None, channel: str | None = None, at: datetime | None = None) -> Policy:
    """The effective rules for a ticket of ``topic`` arriving by ``channel`` and dispatched at
    ``at`` (default now: the version in force then)."""
    return version_at(at).book.for_ticket(topic, channel)


def _document_rules(rules: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in rules.items():
        if name == "working_periods":
            out["working_hours"] = [f"{begin:%H:%M}-{end:%H:%M}" for begin, end in value]
        elif name == "resolve_working_days":
            out[name] = dict(value)
        else:
            out[name] = value
    return out


def to_document(book: PolicyBook) -> dict[str, Any]:
    """The rules in the policy file's own schema: ``parse_policy`` reads it back to the same rules."""
    out = _document_rules({f.name: getattr(book.default, f.name) for f in fields(Policy)})
    out["channels"] = {name: _document_rules(rules) for name, rules in sorted(book.channels.items())}
    out["topics"] = {name: _document_rules(rules) for name, rules in sorted(book.topics.items())}
    return out


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _effective(policy: Policy | PolicyBook | None, topic: str | None = None, channel: str | None = None) -> Policy:
    if policy is None:
        return policy_for(topic, channel)
    if isinstance(policy, PolicyBook):
        return policy.for_ticket(topic, channel)
    return policy


# --------------------------------------------------------------- arithmetic
def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} {value!r} has no time zone")


def _calendar(policy: Policy | PolicyBook | None, calendar: Calendar | None,
              topic: str | None = None, channel: str | None = None) -> tuple[Callable[[date], bool], Any]:
    """(is a working day, the working periods): the calendar's, else the official calendar and the policy's."""
    rules = _effective(policy, topic, channel)
    if calendar is None or calendar.is_official:
        return is_working_day, rules.working_periods
    return calendar.is_working_day, calendar.hours or rules.working_periods


def add_working_hours(start: datetime, hours: float, tz: Any, policy: Policy | PolicyBook | None = None,
                      calendar: Calendar | None = None) -> datetime:
    """The instant ``hours`` of working time after ``start`` (aware), in ``tz``; on ``calendar``
    (``tickets.calendars``) if given, else the official calendar and the policy's hours."""
    _aware(start, "start")
    if hours < 0:
        raise ValueError(f"working hours must not be negative, not {hours}")
    working_day, periods = _calendar(policy, calendar)
    remaining = timedelta(hours=hours)
    local = start.astimezone(tz)
    if not remaining:
        return local
    day = local.date()
    for _ in range(366 * 2):
        if working_day(day):
            for begin, end in periods:
                p_start = datetime.combine(day, begin, tz)
                p_end = datetime.combine(day, end, tz)
                if p_end <= local:
                    continue
                available = p_end - max(p_start, local)
                if remaining <= available:
                    return max(p_start, local) + remaining
                remaining -= available
        day += timedelta(days=1)
        local = datetime.combine(day, time(0, 0), tz)
    raise ValueError(f"no working time found within two years after {start.isoformat()}")


def working_intervals(start: datetime, end: datetime, tz: Any, policy: Policy | PolicyBook | None = None,
                      calendar: Calendar | None = None) -> list[tuple[datetime, datetime]]:
    """The working time between ``start`` and ``end`` as intervals in ``tz``, in order: what a
    screen needs to count a deadline down in working time without asking the server each second."""
    _aware(start, "start")
    _aware(end, "end")
    working_day, periods = _calendar(policy, calendar)
    s, e = start.astimezone(tz), end.astimezone(tz)
    out = []
    day = s.date()
    while day <= e.date():
        if working_day(day):
            for begin, finish in periods:
                lo = max(datetime.combine(day, begin, tz), s)
                hi = min(datetime.combine(day, finish, tz), e)
                if hi > lo:
                    out.append((lo, hi))
        day += timedelta(days=1)
    return out


def working_hours_between(start: datetime, end: datetime, tz: Any, policy: Policy | PolicyBook | None = None,
                          calendar: Calendar | None = None) -> float:
    """Working hours from ``start`` to ``end`` (0 if ``end`` is not after ``start``).

    The inverse of :func:`add_working_hours`:
    ``working_hours_between(s, add_working_hours(s, h)) == h``.
    """
    if end <= start:
        _aware(start, "start")
        _aware(end, "end")
        return 0.0
    return sum(((hi - lo) for lo, hi in working_intervals(start, end, tz, policy, calendar)),
               timedelta(0)).total_seconds() / 3600


# ---------------------------------------------------------------- deadlines
@dataclass(frozen=True)
class Schedule:
    """A ticket's deadlines and their amber warnings."""

    contact_due: datetime
    contact_warn: datetime
    resolve_due: datetime
    resolve_warn: datetime
    policy: str = ""  # the rules that set them: ``v3 (e44e04a3)``, the version and its fingerprint

    def recorded(self, basis: str, contact: bool = True) -> dict[str, Any]:
        """The deadlines as a timeline event keeps them: what was set, why (``basis``: dispatch,
        redo, extension), by which rules. ``contact``: False where only the resolve clock moved."""
        out: dict[str, Any] = {"basis": basis, "policy": self.policy, "resolve_due_at": self.resolve_due.isoformat()}
        if contact:
            out["contact_due_at"] = self.contact_due.isoformat()
        return out


def schedule(
    sla_class: str, dispatched_at: datetime, tz: Any, *, topic: str | None = None, channel: str | None = None,
    extra_working_hours: float = 0.0, policy: Policy | PolicyBook | None = None, calendar: Calendar | None = None,
    rules_at: datetime | None = None,
) -> Schedule:
    """Deadlines counted from ``dispatched_at``; approved extensions add working hours.

    ``policy``: None uses the rules version in force at ``rules_at`` (default ``dispatched_at``:
    a redo or an extension passes the ticket's first dispatch, so the ticket keeps its version),
    for ``topic`` and ``channel``; a :class:`PolicyBook` is resolved the same way; a
    :class:`Policy` is used as is.
    ``calendar``: the source's working calendar (``tickets.calendars``), else the official one.
    """
    _aware(dispatched_at, "dispatched_at")
    if policy is None:
        version = version_at(rules_at or dispatched_at)
        rules = version.book.for_ticket(topic, channel)
        label = version.label_for(rules)
    else:
        rules = _effective(policy, topic, channel)
        label = rules.version
    contact = timedelta(hours=rules.contact_hours)
    resolve_hours = rules.resolve_hours(sla_class) + extra_working_hours
    return Schedule(
        contact_due=dispatched_at + contact,
        contact_warn=dispatched_at + contact * rules.amber_share,
        resolve_due=add_working_hours(dispatched_at, resolve_hours, tz, rules, calendar),
        resolve_warn=add_working_hours(dispatched_at, resolve_hours * rules.amber_share, tz, rules, calendar),
        policy=label,
    )


# ------------------------------------------------------------------ refresh
def refresh_if_stale(source: Callable[[], Session] | Session, max_age_seconds: float = 300.0) -> bool:
    """Re-read the loaded calendar, the SLA rule versions (and a changed policy file) if older
    than ``max_age_seconds``. A new version takes effect no sooner than ``sla_version_lead_minutes``
    after it is stored, longer than this, so every process knows it before it applies.

    ``source`` is a session factory (the live loop) or an open session (the
    lifecycle, inside its own transaction). Returns whether it re-read.
    With a factory, a failure is logged and retried on the next call.
    """
    age = workcalendar.overrides_age_seconds()
    if age is not None and age < max_age_seconds and not _calendar_changed(source):
        return False
    if isinstance(source, Session):
        load_calendar_overrides(source)
        load_rule_versions(source)
    else:
        try:
            with source() as session:
                load_calendar_overrides(session)
                load_rule_versions(session)
        except Exception:
            log.exception("could not read the loaded calendar or the SLA rule versions; will retry")
            return False
    _reload_policy_if_changed()
    workcalendar.probe_ahead(datetime.now(timezone.utc).date())
    return True


def _calendar_changed(source: Callable[[], Session] | Session) -> bool:
    """An admin changed the calendar table since this process read it (checked every few seconds)."""
    if isinstance(source, Session):  # inside the caller's transaction: a failure is theirs
        return workcalendar.table_changed(source)
    try:
        with source() as session:
            return workcalendar.table_changed(session)
    except Exception:
        log.exception("could not check the loaded calendar (calendar_days); will retry")
        return False


def _reload_policy_if_changed() -> None:
    path = _book_path
    if _book is None or path is None or _mtime(path) == _book_mtime:
        return
    try:
        use_policy_file(path)
    except PolicyError as exc:
        log.error("SLA policy not reloaded, keeping the one in use: %s", exc)


def refresh_loop(factory: Callable[[], Session], stop: threading.Event,
                 max_age_seconds: float = 300.0, check_seconds: float = 30.0) -> None:
    """Background thread body: refresh now, then whenever stale, until ``stop``."""
    while True:
        refresh_if_stale(factory, max_age_seconds)
        if stop.wait(check_seconds):
            return
