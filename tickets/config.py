"""The domain's configuration: one object, built once from the settings at start-up.

``bootstrap`` builds a :class:`DomainConfig` and hands it to every unit of work
(``uow.config``); nothing in ``tickets/`` keeps configuration in a module
global. Tests build their own with :meth:`DomainConfig.from_settings` and
keyword overrides (``follow_up=FollowUpRules(gateway=...)``).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import time
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from tickets import numbers
from tickets.dedup import Params as DedupParams
from tickets.figures import RankingPolicy
from tickets.sms import SandboxGateway, SmsGateway, gateway_from_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class SupervisionRules:
    """督办单 and 提醒函 (``tickets.supervision``)."""

    order_working_hours: float = 4.0  # an order's own deadline, in working hours after it is issued
    window_days: float = 7.0  # automatic orders only for deadlines passed within this many days
    # This many complaints to one unit from the same phone, or on the same topic within the
    # radius, within the days: a reminder letter.
    repeat_count: int = 3
    repeat_days: float = 30.0
    repeat_radius_m: float = 200.0


@dataclass(frozen=True)
class FollowUpRules:
    """三级回访 (``tickets.followup``)."""

    gateway: SmsGateway = field(default_factory=SandboxGateway)
    no_answer_hours: float = 48.0  # no answer to the SMS: a phone follow-up task
    re_asks: int = 1  # polite re-asks before a person takes over


@dataclass(frozen=True)
class DutyRules:
    """The duty console (``tickets.duty``)."""

    # An acknowledgement lapses after this long unless the ticket moved meanwhile.
    acknowledgement_minutes: float = 30.0
    # A unit with at least this many new breaches at once: one digest, not one notice each.
    digest_threshold: int = 3


# The notices that may be texted to the officials they name (tickets/notify.py's kinds).
TEXTABLE = frozenset({"escalated", "supervision_order", "supervision_digest", "reminder_letter", "findings_due",
                      "follow_up_phone_task", "follow_up_needs_person"})


def _words(value: str | Iterable[str]) -> frozenset[str]:
    """A comma-separated setting (or a collection) as a set of its words."""
    items = value.split(",") if isinstance(value, str) else value
    return frozenset(w.strip() for w in items if w.strip())


@dataclass(frozen=True)
class OfficialSmsRules:
    """SMS to officials (``tickets.official_sms``): which notices are texted, and when.

    Outside working time a text waits for the next working period, unless the ticket is
    urgent: from an urgent channel, of an urgent topic, or an escalation (三级回访) that
    reached ``urgent_level``. ``hours="any"`` texts at once at any hour."""

    kinds: frozenset[str] = frozenset({"escalated", "supervision_order", "supervision_digest", "reminder_letter",
                                       "findings_due"})
    hours: str = "working"  # working | any
    urgent_channels: frozenset[str] = frozenset({"cad_110"})
    urgent_topics: frozenset[str] = frozenset()
    urgent_level: int = 3

    def __post_init__(self) -> None:
        from tickets.vocabulary import CHANNELS, TOPICS

        for name, given, known in (("kinds", self.kinds, TEXTABLE), ("urgent_channels", self.urgent_channels, CHANNELS),
                                   ("urgent_topics", self.urgent_topics, TOPICS)):
            unknown = set(given) - set(known)
            if unknown:
                raise ValueError(f"official_sms_{name}: unknown {sorted(unknown)}; known: {sorted(known)}")
        if self.hours not in ("working", "any"):
            raise ValueError(f"official_sms_hours must be working or any, not {self.hours!r}")

    @classmethod
    def from_settings(cls, settings: Any) -> OfficialSmsRules:
        return cls(kinds=_words(settings.official_sms_kinds), hours=settings.official_sms_hours.strip().lower(),
                   urgent_channels=_words(settings.official_sms_urgent_channels),
                   urgent_topics=_words(settings.official_sms_urgent_topics),
                   urgent_level=settings.official_sms_urgent_level)


@dataclass(frozen=True)
class PredictionRules:
    """How predictions are made and which are listed (configuration)."""

    threshold: float = 0.7  # listed at or above this probability (docs/PREDICTION.md: why 0.7)
    window_days: int = 28  # history: tickets settled in this many days before now
    min_history: int = 200  # settled tickets a group needs before its own share is used
    backlog_weight: float = 0.0  # 0: the backlog is left out (see docs/PREDICTION.md)
    max_backlog_factor: float = 4.0

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], not {self.threshold}")
        if self.window_days < 1 or self.min_history < 1 or self.max_backlog_factor < 1 or self.backlog_weight < 0:
            raise ValueError(f"invalid prediction rules: {self}")


@dataclass(frozen=True)
class BulletinRules:
    """The weekly bulletin (``tickets.bulletin``, docs/FIGURES.md)."""

    ranking: RankingPolicy = field(default_factory=RankingPolicy)
    top_n: int = 5  # 红黑榜: the best and the worst this many of each group
    satisfaction_threshold: float = 0.85  # a ranked unit below it is named for rectification
    hotspots: int = 10  # the week's busiest H3 cells listed
    hotspot_resolution: int = 8
    trend_weeks: int = 4  # the bureau's figures of this many weeks before, beside the week's
    # The leader makes last week's bulletin from this ISO weekday (1 = Monday) and local time on.
    make_weekday: int = 1
    make_at: time = time(7, 0)

    def __post_init__(self) -> None:
        if self.top_n < 1 or not 0 <= self.satisfaction_threshold <= 1 or not 1 <= self.make_weekday <= 7 \
                or self.hotspots < 0 or not 5 <= self.hotspot_resolution <= 10 or self.trend_weeks < 1:
            raise ValueError(f"invalid bulletin rules: {self}")

    @classmethod
    def from_settings(cls, settings: Any) -> BulletinRules:
        try:
            hours, minutes = (int(part) for part in str(settings.bulletin_make_time).split(":"))
            at = time(hours, minutes)
        except ValueError:
            raise ValueError(f"bulletin_make_time must be HH:MM, not {settings.bulletin_make_time!r}") from None
        return cls(ranking=RankingPolicy.from_settings(settings), top_n=settings.bulletin_top_n,
                   satisfaction_threshold=settings.bulletin_satisfaction_threshold,
                   hotspots=settings.bulletin_hotspots, make_weekday=settings.bulletin_make_weekday, make_at=at)


@dataclass(frozen=True)
class DomainConfig:
    tz: Any = SHANGHAI
    supervision: SupervisionRules = field(default_factory=SupervisionRules)
    follow_up: FollowUpRules = field(default_factory=FollowUpRules)
    dedup: DedupParams = field(default_factory=DedupParams)
    duty: DutyRules = field(default_factory=DutyRules)
    prediction: PredictionRules = field(default_factory=PredictionRules)
    bulletin: BulletinRules = field(default_factory=BulletinRules)
    official_sms: OfficialSmsRules = field(default_factory=OfficialSmsRules)
    ticket_prefix: str = numbers.TICKET

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> DomainConfig:
        """From ``settings.Settings``; a bad value (an unknown SMS gateway, dedup mode) raises here,
        so it stops the start."""
        config = cls(
            tz=settings.tz,
            supervision=SupervisionRules(
                order_working_hours=settings.supervision_order_working_hours,
                window_days=settings.supervision_window_days,
                repeat_count=settings.repeat_complaint_count,
                repeat_days=settings.repeat_complaint_days,
                repeat_radius_m=settings.repeat_complaint_radius_m,
            ),
            follow_up=FollowUpRules(gateway=overrides.pop("gateway", None) or gateway_from_settings(settings),
                                    no_answer_hours=settings.follow_up_no_answer_hours),
            dedup=DedupParams(mode=settings.dedup_mode),
            duty=DutyRules(acknowledgement_minutes=settings.duty_acknowledgement_minutes,
                           digest_threshold=settings.duty_digest_threshold),
            prediction=PredictionRules(threshold=settings.prediction_threshold,
                                       window_days=settings.prediction_window_days),
            bulletin=BulletinRules.from_settings(settings),
            official_sms=OfficialSmsRules.from_settings(settings),
            ticket_prefix=numbers.DRILL_TICKET if getattr(settings, "drill", False) else numbers.TICKET,
        )
        return replace(config, **overrides)


__all__ = ["BulletinRules", "DomainConfig", "DutyRules", "FollowUpRules", "OfficialSmsRules", "PredictionRules",
           "SupervisionRules"]
