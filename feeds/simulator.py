"""A realistic simulated feed: citizens' requests for Jinan, live or backfilled.

The feed is a non-homogeneous Poisson process with a day–night rhythm in
local time, a channel mix led by the 12345 hotline, topics that follow the
clock (noise at night, household registration in office hours), places in the
real districts and Chinese texts that read like hotline work orders.

Everything is derived from (seed, minute): minute ``m`` always holds the same
arrivals, whichever interval asked for it, so ``[a, c)`` equals ``[a, b) +
[b, c)`` and external ids (``SIM-{seed}-{yyyymmddHHMM}-{i}``, the minute in
UTC) are stable. A runner that crashes and re-runs an interval submits the same
ids again, and intake's idempotency on (channel, external_id) drops them.

:func:`run` is the loop behind ``make run``: it receives the requests as the
clock passes their arrival times and plays each ticket's :class:`HandlingPlan`
(contact, then report, review and reply) through the service layer
(``tickets.services``), as every other caller does. The reply's follow-up SMS
goes out through the configured gateway (the sandbox by default), and the
citizen answers it through ``services.answer_sms``, as a real SMS would arrive (:func:`follow_up_plan`: ~85% 满意, ~10% 基本满意, ~5%
不满意, which redoes the ticket at level 2 and asks again later).
"""
from __future__ import annotations

import heapq
import logging
import math
import random
import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from feeds import texts
from feeds.common import sla_class_for
from geo.districts import random_point_in, weighted_point_in
from tickets import followup, services
from tickets.errors import DomainError, IllegalStep
from tickets.intake import NewRequest
from tickets.models import IntakeRecord, Ticket
from tickets.roles import SYSTEM, Actor
from tickets.uow import UnitOfWork, unit_of_work
from tickets.vocabulary import OPEN_STATUSES

log = logging.getLogger(__name__)

ID_PREFIX = "SIM-"

# --- rhythm -------------------------------------------------------------------

# Relative arrivals per local hour (value at the middle of the hour). Quiet at
# 4 a.m., peaks mid-morning and in the evening; rest days start later and stay
# busy later. Each profile is scaled to mean 1, so rate_per_hour is the daily mean.
_WORKDAY_RAW = (0.50, 0.32, 0.21, 0.14, 0.11, 0.15, 0.35, 0.70, 1.25, 1.70, 1.80, 1.65,
                1.20, 1.20, 1.40, 1.45, 1.40, 1.25, 1.30, 1.55, 1.65, 1.50, 1.05, 0.72)
_RESTDAY_RAW = (0.62, 0.42, 0.26, 0.16, 0.12, 0.13, 0.26, 0.45, 0.85, 1.25, 1.55, 1.55,
                1.30, 1.25, 1.35, 1.40, 1.40, 1.35, 1.40, 1.65, 1.75, 1.65, 1.25, 0.90)


def _normalised(raw: tuple[float, ...]) -> tuple[float, ...]:
    mean = sum(raw) / len(raw)
    return tuple(v / mean for v in raw)


WORKDAY_PROFILE = _normalised(_WORKDAY_RAW)
RESTDAY_PROFILE = _normalised(_RESTDAY_RAW)


@lru_cache(maxsize=4096)
def is_rest_day(day: date) -> bool:
    """Weekends and statutory holidays (调休 included) where the calendar knows the year."""
    try:
        import chinese_calendar

        return not chinese_calendar.is_workday(day)
    except (ImportError, NotImplementedError):
        return day.weekday() >= 5


@dataclass(frozen=True)
class Moment:
    """What the clock means for who calls about what."""

    hour: float  # local, 0 <= hour < 24
    rest_day: bool

    @property
    def office(self) -> bool:  # windows and desks are open (08:30–17:30 on working days)
        return not self.rest_day and 8.5 <= self.hour < 17.5

    @property
    def daytime(self) -> bool:
        return 8 <= self.hour < 18

    @property
    def late_evening(self) -> bool:  # when noise complaints pile up (20:00–02:00)
        return self.hour >= 20 or self.hour < 2

    @property
    def night(self) -> bool:
        return self.hour >= 22 or self.hour < 6

    @property
    def rush(self) -> bool:
        return 7 <= self.hour < 9 or 17 <= self.hour < 19


# --- mixes ------------------------------------------------------------------------

# Base channel weights (percent of all requests, measured over a week: see the
# tests). Office-only channels carry a higher weight while open so that their
# share of the whole day comes out near the target.
CHANNEL_WEIGHTS: dict[str, float] = {
    "hotline_12345": 52, "cad_110": 12, "call": 8, "service_window": 21, "director_mailbox": 5,
    "visit": 5.5, "letter": 2, "discipline_hotline": 3.2, "open311": 5,
}


def channel_weights(m: Moment) -> dict[str, float]:
    w = dict(CHANNEL_WEIGHTS)
    if not m.office:
        w["service_window"] = 0.0
        w["discipline_hotline"] *= 0.4
    if not m.daytime:
        w["visit"] = 0.0
        w["call"] *= 0.6
    if m.night:
        w["cad_110"] *= 2.2  # at night 110 is the number people know
    return w


# Topic weights by channel: each channel hears about different things.
TOPIC_WEIGHTS: dict[str, dict[str, float]] = {
    "hotline_12345": {"noise": 15, "theft": 6, "fraud": 6, "traffic": 14, "household": 14, "exit_entry": 6,
                      "vehicle": 10, "dispute": 7, "conduct": 5, "lost_property": 4, "other": 10},
    "cad_110": {"noise": 18, "theft": 22, "fraud": 12, "traffic": 14, "dispute": 20, "lost_property": 7, "other": 7},
    "call": {"noise": 14, "theft": 10, "fraud": 8, "traffic": 10, "household": 10, "exit_entry": 4, "vehicle": 8,
             "dispute": 12, "conduct": 6, "lost_property": 8, "other": 10},
    "service_window": {"household": 45, "exit_entry": 25, "vehicle": 25, "traffic": 3, "conduct": 2},
    "director_mailbox": {"conduct": 25, "household": 12, "traffic": 15, "noise": 10, "exit_entry": 5, "vehicle": 8,
                         "dispute": 8, "fraud": 5, "other": 12},
    "visit": {"household": 20, "dispute": 25, "conduct": 15, "fraud": 12, "theft": 10, "other": 8,
              "exit_entry": 5, "vehicle": 5},
    "letter": {"conduct": 30, "dispute": 25, "household": 10, "fraud": 10, "other": 15, "traffic": 10},
    "discipline_hotline": {"conduct": 75, "household": 8, "vehicle": 7, "traffic": 5, "other": 5},
    "open311": {"noise": 30, "traffic": 30, "other": 20, "lost_property": 10, "theft": 5, "conduct": 5},
}
_OFFICE_TOPICS = frozenset({"household", "exit_entry", "vehicle"})


def topic_weights(channel: str, m: Moment) -> dict[str, float]:
    w = dict(TOPIC_WEIGHTS[channel])
    for topic in w:
        if topic == "noise":
            w[topic] *= (3.0 if m.late_evening else 0.6 if m.daytime else 1.0) * (1.4 if m.rest_day else 1.0)
        elif topic in _OFFICE_TOPICS and not m.office and channel != "service_window":
            w[topic] *= 0.12  # people ask about papers while the offices are open
        elif topic == "traffic" and m.rush:
            w[topic] *= 1.5
        elif topic == "theft" and m.night:
            w[topic] *= 1.3
        elif topic == "dispute" and m.late_evening:
            w[topic] *= 1.3
        elif topic == "fraud" and m.night:
            w[topic] *= 0.6
    return w


# Kind of request per topic (the keys are exactly the kinds texts.TEMPLATES has).
KIND_WEIGHTS: dict[str, dict[str, float]] = {
    "noise": {"complaint": 80, "report": 12, "help": 5, "suggestion": 3},
    "theft": {"help": 55, "report": 35, "consultation": 7, "complaint": 3},
    "fraud": {"help": 45, "report": 40, "consultation": 15},
    "traffic": {"complaint": 35, "report": 25, "suggestion": 20, "help": 10, "consultation": 10},
    "household": {"consultation": 75, "help": 12, "complaint": 8, "suggestion": 3, "praise": 2},
    "exit_entry": {"consultation": 80, "help": 10, "complaint": 5, "praise": 5},
    "vehicle": {"consultation": 70, "help": 10, "complaint": 15, "praise": 5},
    "dispute": {"help": 65, "complaint": 20, "consultation": 15},
    "conduct": {"complaint": 60, "praise": 30, "suggestion": 5, "report": 5},
    "lost_property": {"help": 80, "consultation": 10, "praise": 10},
    "other": {"help": 30, "report": 25, "suggestion": 20, "consultation": 20, "complaint": 5},
}
_CHANNEL_KIND_BIAS: dict[str, dict[str, float]] = {
    "service_window": {"consultation": 2.0},
    "discipline_hotline": {"complaint": 2.0, "report": 2.0, "praise": 0.3},
    "director_mailbox": {"suggestion": 3.0},
    "cad_110": {"help": 1.5, "praise": 0.2, "suggestion": 0.1},
}
_DISTRICT_SHARES = {name: locale.share for name, locale in texts.LOCALES.items()}


def _choose(rng: random.Random, weights: Mapping[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _poisson(rng: random.Random, lam: float) -> int:
    """Poisson draw; large means are split so exp(-lam) never underflows."""
    n = 0
    while lam > 0:
        part = min(lam, 30.0)
        lam -= part
        limit, p = math.exp(-part), rng.random()
        while p > limit:
            n += 1
            p *= rng.random()
    return n


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t!r}: pass an aware time")
    return t.astimezone(timezone.utc)


def minute_index(t: datetime) -> int:
    """Whole minutes since the Unix epoch (UTC) of the minute containing ``t``."""
    return int(_utc(t).timestamp()) // 60


def minute_start(index: int) -> datetime:
    return datetime.fromtimestamp(index * 60, timezone.utc)


# --- the simulator -----------------------------------------------------------------


@dataclass(frozen=True)
class HandlingPlan:
    """How the simulated unit handles one ticket, as durations from its receipt.

    ``None`` means the step never happens (the ticket stays open and breaches).
    ``overdue_by`` marks a ticket closed late: it closes that long after its
    resolve deadline, which only the runner knows (deadlines are in working
    time); ``close_after`` then holds a nominal wall-clock equivalent.
    """

    contact_after: timedelta | None
    close_after: timedelta | None
    overdue_by: timedelta | None = None


def plan_for(external_id: str, sla_class: str) -> HandlingPlan:
    """The handling plan of a simulated request, derived from its id alone.

    About 94% are contacted within 5–50 minutes, ~5% after 1–3 hours, ~1%
    never (6% breach the 1-hour contact deadline). On-time closes stay below
    the allowance in wall-clock time (3.5 h for consultations, 7 h otherwise),
    which guarantees they are on time in working time too; ~8% close late.
    """
    rng = random.Random(f"plan:{external_id}")
    roll = rng.random()
    if roll < 0.01:
        return HandlingPlan(None, None)
    if roll < 0.06:
        contact = timedelta(minutes=rng.uniform(61, 180))
    else:
        contact = timedelta(minutes=5 + rng.triangular(0, 45, 10))
    if rng.random() < 0.01:
        return HandlingPlan(contact, None)
    consultation = sla_class == "consultation"
    if rng.random() < 0.08:
        overdue = timedelta(minutes=15 + min(2880.0, rng.expovariate(1 / 240)))
        nominal = timedelta(hours=3.75 if consultation else 7.5) + overdue
        return HandlingPlan(contact, max(nominal, contact + timedelta(minutes=10)), overdue)
    if consultation:
        work = timedelta(minutes=10 + min(180.0, rng.expovariate(1 / 40)))
        cap = timedelta(hours=3.5)
    else:
        work = timedelta(minutes=20 + min(360.0, rng.expovariate(1 / 110)))
        cap = timedelta(hours=7)
    # A late contact shortens the work, never pushes the close past the cap.
    close = min(contact + work, cap)
    return HandlingPlan(contact, max(close, contact + timedelta(minutes=5)))


# Follow-up answers per escalation level (cumulative shares of 满意, then 基本满意;
# the rest 不满意): a redone ticket satisfies less often than a first answer.
ANSWER_SHARES: dict[int, tuple[float, float]] = {1: (0.85, 0.95), 2: (0.70, 0.88), 3: (0.50, 0.70)}
# What citizens actually text back (every one parses to its answer).
ANSWER_TEXTS: dict[str, tuple[str, ...]] = {
    "satisfied": ("1", "1", "1", "1", "满意", "１", "1满意", "满意，谢谢"),
    "basically_satisfied": ("2", "2", "基本满意", "２", "2 基本满意"),
    "unsatisfied": ("3", "3", "不满意", "不满意！", "3 不满意"),
}
# Simulated staff: the platform office's phone follow-ups, and the supervisors' findings.
SIM_DISPATCHER = Actor(name="sim-dispatcher", role="dispatcher")
SIM_SUPERVISOR = Actor(name="sim-supervisor", role="supervisor")


@dataclass(frozen=True)
class FollowUpPlan:
    """How the citizen answers the follow-up of one level, from the reply on."""

    answer: str  # satisfied | basically_satisfied | unsatisfied
    text: str  # the SMS they send
    answer_after: timedelta  # after the reply
    redo_after: timedelta  # unsatisfied: the unit's redo, until its next reply
    findings_after: timedelta  # level 3: until the supervisors close it with findings


def follow_up_plan(external_id: str, level: int) -> FollowUpPlan:
    """Derived from the external id and the level alone (deterministic, like :func:`plan_for`)."""
    rng = random.Random(f"follow-up:{external_id}:{level}")
    satisfied, basically = ANSWER_SHARES[max(1, min(3, level))]
    roll = rng.random()
    answer = "satisfied" if roll < satisfied else "basically_satisfied" if roll < basically else "unsatisfied"
    return FollowUpPlan(
        answer=answer,
        text=rng.choice(ANSWER_TEXTS[answer]),
        answer_after=timedelta(minutes=1 + min(600.0, rng.expovariate(1 / 20))),
        redo_after=timedelta(minutes=rng.uniform(60, 360)),
        findings_after=timedelta(minutes=rng.uniform(60, 240)),
    )


class Simulator:
    """Deterministic simulated requests for Jinan (see the module docstring)."""

    def __init__(self, *, seed: int | None, rate_per_hour: float, tz: ZoneInfo) -> None:
        if rate_per_hour < 0:
            raise ValueError(f"rate_per_hour must be >= 0, not {rate_per_hour}")
        # One seed per simulator, so its ids stay stable for its whole life.
        self.seed: int = seed if seed is not None else random.SystemRandom().randrange(1, 1_000_000)
        self.rate_per_hour = float(rate_per_hour)
        self.tz = tz

    # rhythm
    def moment(self, t: datetime) -> Moment:
        local = _utc(t).astimezone(self.tz)
        return Moment(local.hour + local.minute / 60 + local.second / 3600, is_rest_day(local.date()))

    def rate_at(self, t: datetime) -> float:
        """Expected arrivals per hour at ``t``: the hourly profile, linearly
        interpolated between hour centres (no steps on the wall's curve)."""
        m = self.moment(t)
        profile = RESTDAY_PROFILE if m.rest_day else WORKDAY_PROFILE
        x = m.hour - 0.5
        i = math.floor(x)
        f = x - i
        return self.rate_per_hour * (profile[i % 24] * (1 - f) + profile[(i + 1) % 24] * f)

    # arrivals
    def _arrival_offsets(self, index: int) -> list[int]:
        rng = random.Random(f"{self.seed}:{index}")
        lam = self.rate_at(minute_start(index) + timedelta(seconds=30)) / 60
        return sorted(rng.randrange(60) for _ in range(_poisson(rng, lam)))

    def arrival_times(self, start: datetime, end: datetime) -> list[datetime]:
        """Arrival instants in [start, end), without building the requests."""
        out: list[datetime] = []
        for index in range(minute_index(start), minute_index(end - timedelta(microseconds=1)) + 1):
            base = minute_start(index)
            out.extend(t for t in (base + timedelta(seconds=s) for s in self._arrival_offsets(index)) if start <= t < end)
        return out

    def minute_requests(self, index: int) -> list[NewRequest]:
        """All arrivals of minute ``index`` (see :func:`minute_index`), in time order."""
        base = minute_start(index)
        return [self._request(index, i, base + timedelta(seconds=s)) for i, s in enumerate(self._arrival_offsets(index))]

    def requests_between(self, start: datetime, end: datetime) -> list[NewRequest]:
        """Requests received in [start, end), in time order."""
        start, end = _utc(start), _utc(end)
        if end <= start:
            return []
        out: list[NewRequest] = []
        for index in range(minute_index(start), minute_index(end - timedelta(microseconds=1)) + 1):
            out.extend(r for r in self.minute_requests(index) if start <= r.received_at < end)
        return out

    # one request
    def _request(self, index: int, i: int, at: datetime) -> NewRequest:
        # Its own generator: a request does not depend on how many random
        # numbers its neighbours in the minute used.
        rng = random.Random(f"{self.seed}:{index}:{i}")
        moment = self.moment(at)
        channel = _choose(rng, channel_weights(moment))
        topic = _choose(rng, topic_weights(channel, moment))
        bias = _CHANNEL_KIND_BIAS.get(channel, {})
        kind = _choose(rng, {k: w * bias.get(k, 1.0) for k, w in KIND_WEIGHTS[topic].items()})
        district, lat, lon, context, address = self._place(rng)
        title, content = texts.request_text(rng, topic, kind, channel, context)
        return NewRequest(
            channel=channel,
            external_id=f"{ID_PREFIX}{self.seed}-{at:%Y%m%d%H%M}-{i}",
            received_at=at,
            kind=kind,
            topic=topic,
            sla_class=sla_class_for(kind, topic),
            title=title,
            content=content,
            district=district,
            address=address,
            lat=round(lat, 6),
            lon=round(lon, 6),
            citizen_name=texts.person_name(rng),
            citizen_phone=texts.mobile(rng),
        )

    def _place(self, rng: random.Random) -> tuple[str, float, float, dict[str, str], str]:
        district = _choose(rng, _DISTRICT_SHARES)
        locale = texts.LOCALES[district]
        areas = locale.areas
        rural_share = 0.03 if locale.central else 0.15
        if rng.random() < rural_share:
            # Out in the villages: anywhere in the district; the nearest town's
            # station is the one the citizen knows.
            lat, lon = random_point_in(district, rng)
            area = min(areas, key=lambda a: (a.lat - lat) ** 2 + (a.lon - lon) ** 2)
            village = rng.choice(texts.VILLAGES)
            roads = list(area.roads)
            number = rng.randint(1, 120)
            context = {"place": f"{village}{number}号", "spot": village, "road": rng.choice(roads),
                       "road2": rng.choice(roads)}
            address = f"济南市{district}{area.name}{village}{number}号"
        else:
            area = rng.choices(areas, weights=[a.weight for a in areas])[0]
            spread = 1.0 if locale.central else 1.6
            lat, lon = weighted_point_in(district, rng, [(area.lat, area.lon)], spread)
            road = rng.choice(area.roads)
            others = [r for a in areas for r in a.roads if r != road]
            road2 = rng.choice([r for r in area.roads if r != road] or others or [road])
            estate = rng.choice(area.estates)
            form = rng.random()
            if form < 0.55:
                building, unit = rng.randint(1, 32), rng.randint(1, 4)
                context = {"place": f"{estate}{building}号楼", "spot": estate}
                address = f"济南市{district}{estate}{building}号楼{unit}单元"
            elif form < 0.85:
                number = rng.randint(1, 320)
                context = {"place": f"{road}{number}号", "spot": road}
                address = f"济南市{district}{road}{number}号"
            else:
                context = {"place": f"{road}与{road2}交叉口", "spot": road}
                address = f"济南市{district}{road}与{road2}交叉口"
            context.update(road=road, road2=road2)
        context.update(district=district, station=f"{area.name}派出所")
        return district, lat, lon, context, address


# --- the runner --------------------------------------------------------------------


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def seed_from_external_id(external_id: str) -> int | None:
    if not external_id.startswith(ID_PREFIX):
        return None
    try:
        return int(external_id[len(ID_PREFIX):].split("-", 1)[0])
    except ValueError:
        return None


def _created_by(ticket: Ticket, request: NewRequest) -> bool:
    """Whether ``request`` opened ``ticket`` rather than being merged into a
    ticket someone else opened: only the simulator's own tickets get plans."""
    for record in ticket.intake_records:
        if record.channel == request.channel and record.external_id == request.external_id:
            return not record.merged
    return False


@dataclass(order=True, frozen=True)
class _Action:
    at: datetime
    seq: int
    ticket_id: int
    step: str  # "contact" | "close" (report, review, reply) | "answer" (the citizen's) | "findings"
    external_id: str = ""


class SimulationRunner:
    """Feeds a simulator's requests into the database as a clock advances.

    Work is done in time order, a simulated minute at most at a time, cut into
    runs of arrivals and runs of planned steps, each run one transaction: a
    plan's first step is at least 5 minutes after receipt, so ordering by time
    inside a minute's batch is exact. A failed transaction changes nothing in
    memory, and its work (and what came after it) is tried again on the next tick.
    """

    BATCH_LIMIT = 2000

    def __init__(
        self,
        factory: sessionmaker[UnitOfWork],
        tz: ZoneInfo,
        *,
        start: datetime,
        simulator: Simulator | None = None,
        seed: int | None = None,
        rate_per_hour: float = 600.0,
        stop: threading.Event | None = None,
    ) -> None:
        self.factory = factory
        self.tz = tz
        self.start = _utc(start)
        self.simulator = simulator
        self._seed = seed
        self._rate = rate_per_hour
        self._stop = stop or threading.Event()
        self._queue: deque[NewRequest] = deque()
        self._generated_to: int | None = None  # next minute index to generate
        self._actions: list[_Action] = []
        self._planned: Counter[int] = Counter()  # ticket id -> pending actions
        self._seq = 0
        self._started = False
        self._stats: dict[int, Counter[str]] = {}  # minute index -> what was done
        self._logged_to: int | None = None  # next minute to summarise
        self._failure: tuple[str, str] | None = None
        self._failure_logged_at: datetime | None = None
        self._failures = 0

    # public
    @property
    def pending_plans(self) -> int:
        return len(self._planned)

    def tick(self, now: datetime) -> None:
        """Do everything due by ``now``; never raises (errors are logged, retried)."""
        now = _utc(now)
        try:
            if not self._started:
                self._begin()
            self._advance(now)
        except Exception as exc:  # noqa: BLE001 - the loop must survive anything
            self._report_failure(exc, now)
        else:
            if self._failure is not None:
                log.info("simulator: recovered after %d failed attempts", self._failures)
                self._failure, self._failures = None, 0
        self._log_minutes(now)

    # start: seed, and plans for tickets an earlier run left open
    def _begin(self) -> None:
        with unit_of_work(self.factory) as session:
            if self.simulator is None:
                seed = self._seed
                if seed is None:
                    # Continue the stream an earlier run used, so a restart's
                    # backfill hits the same ids instead of doubling the history.
                    last = session.scalar(
                        select(IntakeRecord.external_id).where(IntakeRecord.external_id.like(ID_PREFIX + "%"))
                        .order_by(IntakeRecord.id.desc()).limit(1)
                    )
                    seed = seed_from_external_id(last) if last else None
                self.simulator = Simulator(seed=seed, rate_per_hour=self._rate, tz=self.tz)
            rows = session.execute(
                select(Ticket, IntakeRecord.external_id)
                .join(IntakeRecord, IntakeRecord.ticket_id == Ticket.id)
                .where(
                    IntakeRecord.external_id.like(ID_PREFIX + "%"),
                    IntakeRecord.merged.is_(False),  # never touch a real ticket a simulated record joined
                    Ticket.status.in_(OPEN_STATUSES),
                )
            ).all()
            adopted = [a for ticket, ext in rows if ticket.id not in self._planned for a in self._plan(ticket, ext)]
        self._push(adopted)
        self._generated_to = self._logged_to = minute_index(self.start)
        self._started = True
        log.info(
            "simulator: seed %s, %.0f requests/h, from %s; %d open simulated tickets re-planned",
            self.simulator.seed, self.simulator.rate_per_hour, self.start.astimezone(self.tz).isoformat(),
            len({a.ticket_id for a in adopted}),
        )

    def _plan(self, ticket: Ticket, external_id: str) -> list[_Action]:
        level = ticket.escalation_level or 1
        if ticket.status == "replied":  # waiting for the citizen (or, at level 3, the findings)
            answer_at = (ticket.replied_at or ticket.received_at) + follow_up_plan(external_id, level).answer_after
            return [self._action(answer_at, ticket.id, "answer", external_id)]
        plan = plan_for(external_id, ticket.sla_class)
        actions: list[_Action] = []
        contact_at = None
        if plan.contact_after is not None and ticket.status in ("received", "dispatched", "accepted"):
            contact_at = ticket.received_at + plan.contact_after
            actions.append(self._action(contact_at, ticket.id, "contact", external_id))
        if plan.close_after is not None:
            close_at = ticket.received_at + plan.close_after
            if plan.overdue_by is not None and ticket.resolve_due_at is not None:
                close_at = ticket.resolve_due_at + plan.overdue_by
            if contact_at is not None:
                close_at = max(close_at, contact_at + timedelta(minutes=5))
            if level > 1 and ticket.replied_at is not None:
                # Redone after an unsatisfied answer to the reply of ``replied_at``.
                before = follow_up_plan(external_id, level - 1)
                close_at = max(close_at, ticket.replied_at + before.answer_after + before.redo_after)
            actions.append(self._action(close_at, ticket.id, "close", external_id))
        return actions

    def _action(self, at: datetime, ticket_id: int, step: str, external_id: str = "") -> _Action:
        self._seq += 1
        return _Action(at, self._seq, ticket_id, step, external_id)

    def _play(self, uow: UnitOfWork, ticket: Ticket, item: _Action, at: datetime) -> tuple[str | None, list[_Action]]:
        """One planned step; returns what to count and the steps it leads to."""
        level = ticket.escalation_level or 1
        if item.step == "contact":
            services.contact(uow, SYSTEM, ticket.number, note=CONTACT_NOTE, at=at)
            return "contacted", []
        if item.step == "close":
            _reply(uow, ticket, at)
            answer_at = at + follow_up_plan(item.external_id, level).answer_after
            return "replied", [self._action(answer_at, ticket.id, "answer", item.external_id)]
        if item.step == "findings":
            services.close(uow, SIM_SUPERVISOR, ticket.number, FINDINGS, at=at)
            return "closed", []
        # "answer": the citizen answers the follow-up SMS (or the platform office's phone call).
        if ticket.status != "replied":
            return None, []
        plan = follow_up_plan(item.external_id, level)
        waiting = followup.open_follow_ups(uow, ticket)
        if not waiting:
            if level >= followup.TOP_LEVEL:  # answered already: the supervisors conclude
                return None, [self._action(at + plan.findings_after, ticket.id, "findings", item.external_id)]
            return None, []
        if waiting[-1].method == "sms" and ticket.citizen_phone:
            outcome = services.answer_sms(uow, ticket.citizen_phone, plan.text, at=at)
        else:
            outcome = services.record_phone_answer(uow, SIM_DISPATCHER, ticket.number, plan.answer, at=at)
        if outcome == "closed":
            return "closed", []
        if outcome.startswith("escalated_to_"):
            return "redone", [self._action(at + plan.redo_after, ticket.id, "close", item.external_id)]
        if outcome == "findings_due":
            return "answered", [self._action(at + plan.findings_after, ticket.id, "findings", item.external_id)]
        return None, []

    def _push(self, actions: list[_Action]) -> None:
        for a in actions:
            heapq.heappush(self._actions, a)
            self._planned[a.ticket_id] += 1

    # the work
    def _generate(self, now: datetime) -> None:
        """Generate whole minutes up to the one ``now`` is in, as soon as it starts."""
        assert self.simulator is not None and self._generated_to is not None
        last = minute_index(now)
        while self._generated_to <= last:
            self._queue.extend(r for r in self.simulator.minute_requests(self._generated_to) if r.received_at >= self.start)
            self._generated_to += 1

    def _horizon(self, now: datetime) -> datetime | None:
        """The end (inclusive) of the next batch: due by ``now``, within one minute."""
        times = [t for t in (self._queue[0].received_at if self._queue else None,
                             self._actions[0].at if self._actions else None) if t is not None]
        if not times or min(times) > now:
            return None
        return min(now, minute_start(minute_index(min(times)) + 1) - timedelta(microseconds=1))

    def _advance(self, now: datetime) -> None:
        self._generate(now)
        while not self._stop.is_set():
            horizon = self._horizon(now)
            if horizon is None:
                return
            arrivals: list[NewRequest] = []
            while self._queue and self._queue[0].received_at <= horizon and len(arrivals) < self.BATCH_LIMIT:
                arrivals.append(self._queue.popleft())
            actions: list[_Action] = []
            while self._actions and self._actions[0].at <= horizon and len(actions) < self.BATCH_LIMIT:
                actions.append(heapq.heappop(self._actions))
            # In time order; at equal times arrivals first (a plan's steps are
            # minutes after its own receipt, so this only orders strangers).
            work: list[tuple[datetime, int, NewRequest | _Action]] = sorted(
                [(r.received_at, 0, r) for r in arrivals] + [(a.at, 1, a) for a in actions],
                key=lambda w: (w[0], w[1]),
            )
            runs = _runs(work)
            for n, run in enumerate(runs):
                try:
                    self._play_run(run, minute_index(work[0][0]))
                except BaseException:
                    # This run was not committed: put its work, and the rest, back for the next tick.
                    later = [w for r in runs[n:] for w in r]
                    self._queue.extendleft(reversed([r for _at, _, r in later if isinstance(r, NewRequest)]))
                    for _at, _, a in later:
                        if isinstance(a, _Action):
                            heapq.heappush(self._actions, a)
                    raise

    def _play_run(self, run: list[tuple[datetime, int, Any]], minute: int) -> None:
        """One run of arrivals (taken in as one batch, each dispatched at its own time) or of
        planned steps, in a transaction of its own: the intake locks are held for one batch only."""
        new_plans: list[_Action] = []
        stats: Counter[str] = Counter()
        actions = [a for _at, _, a in run if isinstance(a, _Action)]
        with unit_of_work(self.factory) as uow:
            if not actions:
                requests = [r for _at, _, r in run]
                received = services.receive(uow, requests, now=requests[0].received_at)
                stats["received"] += len(requests)
                fresh: set[int] = set()
                for request, outcome in zip(requests, received):
                    if outcome.status == "merged" or outcome.ticket_id in self._planned or outcome.ticket_id in fresh:
                        continue
                    ticket = uow.get(Ticket, outcome.ticket_id)
                    if ticket is not None and ticket.status in OPEN_STATUSES and _created_by(ticket, request):
                        fresh.add(ticket.id)
                        new_plans.extend(self._plan(ticket, request.external_id))
            for at, _, item in run:
                if not isinstance(item, _Action):
                    continue
                ticket = uow.get(Ticket, item.ticket_id)
                if ticket is None:
                    continue
                try:
                    with uow.begin_nested():
                        done, more = self._play(uow, ticket, item, at)
                except DomainError:
                    continue  # someone already moved it on; the plan just yields
                if done:
                    stats[done] += 1
                new_plans.extend(more)
        for a in actions:
            self._planned[a.ticket_id] -= 1
            if self._planned[a.ticket_id] <= 0:
                del self._planned[a.ticket_id]
        self._push(new_plans)
        self._stats.setdefault(minute, Counter()).update(stats)

    # logging
    def _log_minutes(self, now: datetime) -> None:
        """One line per finished minute; a catch-up (backfill, outage) is one line."""
        if self._logged_to is None:
            return
        current = minute_index(now)
        if current - self._logged_to > 2:
            total: Counter[str] = Counter()
            for m in [m for m in self._stats if m < current - 2]:
                total.update(self._stats.pop(m))
            log.info(
                "simulator caught up %s – %s: %d received, %d contacted, %d closed",
                minute_start(self._logged_to).astimezone(self.tz).strftime("%m-%d %H:%M"),
                minute_start(current - 2).astimezone(self.tz).strftime("%m-%d %H:%M"),
                total["received"], total["contacted"], total["closed"],
            )
            self._logged_to = current - 2
        for m in range(self._logged_to, current):
            c = self._stats.pop(m, Counter())
            log.info(
                "simulator %s: %d received, %d contacted, %d closed; %d tickets with pending plans, %d queued",
                minute_start(m).astimezone(self.tz).strftime("%H:%M"), c["received"], c["contacted"], c["closed"],
                len(self._planned), len(self._queue),
            )
        self._logged_to = current

    def _report_failure(self, exc: BaseException, now: datetime) -> None:
        key = (type(exc).__name__, str(exc))
        self._failures += 1
        if key != self._failure:
            self._failure, self._failure_logged_at = key, now
            if isinstance(exc, LookupError):
                log.error("simulator: cannot receive requests: %s; retrying every tick", exc)
            else:
                log.exception("simulator: tick failed, retrying next tick: %s", exc)
        elif self._failure_logged_at is None or now - self._failure_logged_at >= timedelta(minutes=5):
            self._failure_logged_at = now
            log.warning("simulator: still failing (%d attempts): %s", self._failures, exc)


def _runs(work: list[tuple[datetime, int, Any]]) -> list[list[tuple[datetime, int, Any]]]:
    """``work`` cut into runs of arrivals and runs of planned steps, in order."""
    runs: list[list[tuple[datetime, int, Any]]] = []
    for w in work:
        if runs and isinstance(runs[-1][0][2], NewRequest) == isinstance(w[2], NewRequest):
            runs[-1].append(w)
        else:
            runs.append([w])
    return runs


CONTACT_NOTE = "已电话联系群众，了解诉求详情。"
REPORT_TEXT = "已到现场核查处理，办理完毕。"
REPLY_TEXT = "您反映的问题已核查处理，感谢您的监督。"
FINDINGS = "经督察、法制、信访部门联合调查，办理单位已整改到位，诉求已依法依规处理。"


def _reply(uow: UnitOfWork, ticket: Ticket, at: datetime) -> None:
    """The rest of the unit's work at ``at``: report, review and reply (from wherever it stands).

    The reply sends the follow-up SMS (``tickets.followup``); the citizen's answer comes later.
    """
    if ticket.status not in ("contacted", "reported", "approved"):
        raise IllegalStep("status_forbids_step", number=ticket.number, step="reply", status=ticket.status,
                          allowed=["contacted", "reported", "approved"])
    if ticket.status == "contacted":
        services.report(uow, SYSTEM, ticket.number, REPORT_TEXT, at=at)
    if ticket.status == "reported":
        services.approve(uow, SYSTEM, ticket.number, at=at)
    services.reply(uow, SYSTEM, ticket.number, REPLY_TEXT, at=at)


def run(
    factory: sessionmaker[UnitOfWork],
    settings: Any,
    stop: threading.Event,
    *,
    clock: Callable[[], datetime] = now_utc,
    backfill: timedelta = timedelta(0),
    tick_seconds: float = 1.0,
) -> None:
    """The simulated feed's loop: backfill, then release requests as they arrive.

    ``settings`` supplies ``tz``, ``simulator_seed`` and
    ``simulator_rate_per_hour``. Returns when ``stop`` is set.
    """
    runner = SimulationRunner(
        factory,
        settings.tz,
        start=_utc(clock()) - backfill,
        seed=settings.simulator_seed,
        rate_per_hour=settings.simulator_rate_per_hour,
        stop=stop,
    )
    while not stop.is_set():
        runner.tick(clock())
        stop.wait(tick_seconds)
