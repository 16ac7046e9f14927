"""Predicted breaches (tickets/prediction.py) and their replay (tickets/prediction_eval.py):
a slow unit's ticket with little time left is listed with the reason, a fast unit's with
time to spare is not, amber tickets and other units' are left out, and neither the
prediction nor the replay uses anything that happened after the instant it judges."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.helpers import MONDAY_9, NEW_YORK, TZ, plant, ticket_row, unit_ids
from tickets import sla
from tickets.models import Ticket, TicketEvent, Unit
from tickets.prediction import PredictionRules, WorkClock, predict_open
from tickets.prediction_eval import Rule, load, replay, score

SERVICE_HOURS = 7.5  # a service ticket's resolve time under the shipped policy
NOW = MONDAY_9 + timedelta(hours=1, minutes=17)  # Monday 2026-11-23 10:17, Beijing time
FRIDAY_3PM = datetime(2026, 11, 20, 15, 0, tzinfo=TZ)  # by NOW 4.3 of 7.5 working hours gone: not amber yet
FRIDAY_NOON = datetime(2026, 11, 20, 11, 50, tzinfo=TZ)  # by NOW 5.9 gone: amber (5.625), not due


def rules(**values: Any) -> PredictionRules:
    """The rules with a history small enough for these tests' forty-ticket units."""
    return PredictionRules(**{"min_history": 20, "threshold": 0.5, **values})


@pytest.fixture
def units(empty_session: Session, fresh_sla_state: None) -> dict[str, int]:
    city = Unit(code="JN", name="济南市公安局", level=1, kind="bureau", topics=[])
    empty_session.add_all([city, Unit(code="SLOW", name="慢所", level=3, kind="station", parent=city, topics=[]),
                           Unit(code="FAST", name="快所", level=3, kind="station", parent=city, topics=[])])
    empty_session.commit()
    return unit_ids(empty_session)


def _at(start: datetime, working_hours: float) -> datetime:
    return sla.add_working_hours(start, working_hours, TZ).astimezone(timezone.utc)


def row(unit_id: int, dispatched: datetime, *, closed_after: float | None = None, late_by: float | None = None,
        topic: str = "noise", closed_at: datetime | None = None) -> dict[str, Any]:
    """A service ticket dispatched at ``dispatched``; closed ``closed_after`` working hours in, or
    ``late_by`` working hours after its deadline, or at ``closed_at``; else open."""
    due, warn = _at(dispatched, SERVICE_HOURS), _at(dispatched, SERVICE_HOURS * 0.75)
    if closed_after is not None:
        closed_at = _at(dispatched, closed_after)
    elif late_by is not None:
        closed_at = _at(due, late_by)
    r = ticket_row(dispatched, None, None, topic, unit_id=unit_id, status="closed" if closed_at else "contacted")
    r.update(dispatched_at=dispatched, resolve_due_at=due, resolve_warn_at=warn, closed_at=closed_at)
    return r


def history(units: dict[str, int], *, slow_late: int = 30, slow_on_time: int = 10, fast: int = 40) -> list[dict]:
    """Three weeks before NOW: the slow unit misses most deadlines (its on-time closes come
    with an hour to spare), the fast unit closes every ticket within the first working hour."""
    rng = random.Random(5)
    rows = []
    first = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)
    for n in range(slow_late + slow_on_time + fast):
        dispatched = first + timedelta(days=rng.randrange(0, 14), minutes=rng.randrange(0, 420))
        if n < slow_late:
            rows.append(row(units["SLOW"], dispatched, late_by=rng.uniform(0.5, 6)))
        elif n < slow_late + slow_on_time:
            rows.append(row(units["SLOW"], dispatched, closed_after=rng.uniform(6.2, 7.0)))
        else:
            rows.append(row(units["FAST"], dispatched, closed_after=rng.uniform(0.3, 1.0)))
    return rows


def numbers(predictions: list[Any]) -> dict[str, Any]:
    return {p.number: p for p in predictions}


def test_a_slow_unit_with_little_time_is_listed_with_its_reason_a_fast_one_is_not(
        empty_session: Session, units: dict[str, int]) -> None:
    plant(empty_session, history(units))
    slow = row(units["SLOW"], FRIDAY_3PM)
    fast = row(units["FAST"], NOW - timedelta(minutes=20))
    plant(empty_session, [slow, fast])

    listed = numbers(predict_open(empty_session, NOW, TZ, rules=rules(threshold=0.01)))

    assert fast["number"] not in listed  # no fast-unit ticket was ever late: probability 0
    p = listed[slow["number"]]
    # Of the slow unit's 40 tickets, all 40 were still open with this little time left; 30 were late.
    assert p.probability == pytest.approx(30 / 40)
    assert p.unit_id == units["SLOW"] and p.resolve_due_at == slow["resolve_due_at"]
    r = p.reason
    assert r["code"] == "slow_unit" and r["basis"] == "unit_topic"
    assert (r["history"], r["late"]) == (40, 30)
    left = sla.working_hours_between(NOW, slow["resolve_due_at"], TZ)
    assert r["left_hours"] == pytest.approx(left, abs=0.01) and 0.25 < r["left_share"] < 0.6
    assert r["group_late_share"] == 0.75 and r["every_unit_late_share"] == pytest.approx(30 / 80, abs=0.001)
    assert all(isinstance(v, (int, float)) or k in ("code", "basis") for k, v in r.items())


def test_more_time_left_means_a_lower_probability(empty_session: Session, units: dict[str, int]) -> None:
    plant(empty_session, history(units))
    # The slow unit's on-time tickets closed with 0.5–1.3 h of 7.5 to spare: a ticket with
    # nearly all its time left is judged on all 40 as well, one with half left too; the
    # probability never rises with more time.
    early = row(units["SLOW"], NOW - timedelta(minutes=10))
    late = row(units["SLOW"], FRIDAY_3PM)
    plant(empty_session, [early, late])
    listed = numbers(predict_open(empty_session, NOW, TZ, rules=rules(threshold=0.01)))
    assert listed[early["number"]].probability <= listed[late["number"]].probability
    assert listed[early["number"]].reason["left_share"] > 0.9


def test_the_threshold_and_amber_tickets(empty_session: Session, units: dict[str, int]) -> None:
    plant(empty_session, history(units))
    before_amber = row(units["SLOW"], FRIDAY_3PM)
    amber = row(units["SLOW"], FRIDAY_NOON)
    assert amber["resolve_warn_at"] <= NOW < amber["resolve_due_at"]
    plant(empty_session, [before_amber, amber])
    listed = numbers(predict_open(empty_session, NOW, TZ, rules=rules(threshold=0.5)))
    assert before_amber["number"] in listed and amber["number"] not in listed
    assert not predict_open(empty_session, NOW, TZ, rules=rules(threshold=0.8))


def test_scope(empty_session: Session, units: dict[str, int]) -> None:
    plant(empty_session, history(units))
    slow = row(units["SLOW"], FRIDAY_3PM)
    plant(empty_session, [slow])
    scoped = numbers(predict_open(empty_session, NOW, TZ, unit_ids=frozenset({units["SLOW"]}), rules=rules()))
    assert slow["number"] in scoped
    assert not predict_open(empty_session, NOW, TZ, unit_ids=frozenset({units["FAST"]}), rules=rules())
    assert not predict_open(empty_session, NOW, TZ, unit_ids=frozenset(), rules=rules())


def test_a_backlog_above_the_usual_raises_the_probability_when_weighed(
        empty_session: Session, units: dict[str, int]) -> None:
    # An even unit: half late, half on time with 0.4–0.6 of the time to spare.
    rng = random.Random(9)
    rows = []
    for n in range(40):
        dispatched = datetime(2026, 11, 2, 9, 0, tzinfo=TZ) + timedelta(days=rng.randrange(0, 14))
        rows.append(row(units["SLOW"], dispatched, late_by=1.0) if n % 2 else
                    row(units["SLOW"], dispatched, closed_after=rng.uniform(3.0, 4.5)))
    plant(empty_session, rows)
    ticket = row(units["SLOW"], NOW - timedelta(minutes=30))  # 7 of 7.5 h left
    plant(empty_session, [ticket])
    usual = numbers(predict_open(empty_session, NOW, TZ, rules=rules(threshold=0.01, backlog_weight=1)))
    assert usual[ticket["number"]].probability == pytest.approx(0.5)
    # Twelve more open tickets than its usual backlog (about one): the time left counts as a
    # quarter (the factor's bound), below most on-time closes' spare time.
    plant(empty_session, [row(units["SLOW"], NOW - timedelta(minutes=5 + n)) for n in range(12)])
    crowded = numbers(predict_open(empty_session, NOW, TZ, rules=rules(threshold=0.01, backlog_weight=1)))
    p = crowded[ticket["number"]]
    assert p.probability > 0.6 and p.reason["code"] == "backlog"
    assert p.reason["backlog"] == 13 and p.reason["usual_backlog"] < 2 and p.reason["backlog_factor"] == 4.0
    # Weight 0 (the default) leaves the backlog out.
    plain = numbers(predict_open(empty_session, NOW, TZ, rules=rules(threshold=0.01)))
    assert plain[ticket["number"]].probability == pytest.approx(0.5)


def test_nothing_after_now_is_used(empty_session: Session, units: dict[str, int]) -> None:
    plant(empty_session, history(units))
    slow = row(units["SLOW"], FRIDAY_3PM)
    plant(empty_session, [slow])
    low = rules(threshold=0.01)
    before = predict_open(empty_session, NOW, TZ, rules=low)
    # Later: the slow unit closes a hundred tickets that were open at NOW on time with little
    # to spare, and more arrive and close after NOW. Known at NOW, they would halve its late share.
    dispatched = NOW - timedelta(minutes=40)
    later = [row(units["SLOW"], dispatched, closed_at=_at(dispatched, 6.9)) for _ in range(100)]
    after_now = NOW + timedelta(hours=2)
    later += [row(units["SLOW"], after_now, closed_after=6.8) for _ in range(100)]
    plant(empty_session, later)
    again = numbers(predict_open(empty_session, NOW, TZ, rules=low))
    held = ("backlog", "usual_backlog")  # those tickets were open at NOW: the backlog is allowed to see them
    for p in before:
        assert again[p.number].probability == p.probability
        assert {k: v for k, v in again[p.number].reason.items() if k not in held} == {
            k: v for k, v in p.reason.items() if k not in held}
    # Judged at a later instant, the same closes are history and the slow ticket's chance falls.
    afterwards = numbers(predict_open(empty_session, after_now + timedelta(days=1, hours=8), TZ, rules=low))
    assert slow["number"] not in afterwards or afterwards[slow["number"]].probability < 0.75


# ------------------------------------------------------------------ the replay
def _replay(session: Session, **kwargs: Any) -> list[Any]:
    return replay(load(session), TZ, step=timedelta(hours=1), window_days=28, **kwargs)


def test_replay_judges_as_predict_open_does_at_each_instant(empty_session: Session, units: dict[str, int]) -> None:
    plant(empty_session, history(units))
    rng = random.Random(3)
    at = NOW.replace(minute=0) + timedelta(hours=1)
    # Open at ``at``; closed later (on time or not), so the replay knows how they ended.
    open_ones = [row(units[rng.choice(("SLOW", "FAST"))], NOW - timedelta(minutes=rng.randrange(10, 2000)),
                     topic=rng.choice(("noise", "theft")), closed_at=at + timedelta(minutes=rng.randrange(1, 3000)))
                 for _ in range(30)]
    plant(empty_session, open_ones)
    for weight in (0.0, 1.0):
        these = rules(threshold=0.3, backlog_weight=weight, min_history=5)
        outcomes = _replay(empty_session, rules=[Rule("m", rules=these)], begin=at, end=at)
        warned = {o.due for o in outcomes if "m" in o.warned}
        listed = predict_open(empty_session, at, TZ, rules=these)
        assert warned == {p.resolve_due_at for p in listed} and listed


def test_the_replay_uses_nothing_after_the_instant_it_judges(empty_session: Session, units: dict[str, int]) -> None:
    plant(empty_session, history(units))
    slow = [row(units["SLOW"], NOW + timedelta(hours=h)) for h in range(0, 40, 3)]
    plant(empty_session, slow)
    warn = [Rule("m", rules=rules(threshold=0.5))]
    cut = NOW + timedelta(hours=3)
    span = {"begin": NOW - timedelta(hours=1), "end": NOW + timedelta(days=4), "data_end": NOW + timedelta(days=4)}
    first = {o.ticket_id: o.warned.get("m") for o in _replay(empty_session, rules=warn, **span)}
    # What happens after the cut changes: the slow unit closes many tickets on time, with
    # little to spare (by Tuesday 11:00, Beijing time).
    dispatched = cut + timedelta(minutes=1)
    plant(empty_session, [row(units["SLOW"], dispatched, closed_after=6.5) for _ in range(300)])
    second = {o.ticket_id: o.warned.get("m") for o in _replay(empty_session, rules=warn, **span)}
    early = {tid: at for tid, at in first.items() if at is not None and at <= cut}
    assert early, "the slow unit's tickets are warned before the cut"
    assert all(second.get(tid) == at for tid, at in early.items())
    # …and after it, the new history shows: fewer of the same tickets warned.
    assert sum(second[tid] is not None for tid in first) < sum(at is not None for at in first.values())


def test_scores_count_precision_recall_and_lead_time() -> None:
    t0 = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)

    def outcome(late: bool, warned_hours_before: float | None) -> Any:
        from tickets.prediction_eval import Outcome

        o = Outcome(0, late, t0, t0 - timedelta(hours=1))
        if warned_hours_before is not None:
            o.warned["r"], o.warned_work_left["r"] = t0 - timedelta(hours=warned_hours_before), 1.0
        return o

    s = score([outcome(True, 5), outcome(True, 3), outcome(True, None), outcome(False, 2), outcome(False, None)], "r")
    assert (s.judged, s.late, s.warned, s.true) == (5, 3, 3, 2)
    assert s.precision == pytest.approx(2 / 3) and s.recall == pytest.approx(2 / 3)
    assert sorted(s.lead_hours) == [3, 5] and sorted(s.before_amber_hours) == [2, 4]


# ------------------------------------------------------------------ working time
@pytest.mark.parametrize("tz", [TZ, NEW_YORK])
def test_the_work_clock_counts_as_the_sla_does(tz: ZoneInfo, fresh_sla_state: None) -> None:
    clock = WorkClock(tz, sla.DEFAULT_POLICY.working_periods)
    rng = random.Random(2)
    base = datetime(2025, 9, 20, tzinfo=timezone.utc)  # the National Day holiday, a clock change in Boston
    for _ in range(400):
        a = base + timedelta(minutes=rng.randrange(0, 60 * 24 * 80))
        b = a + timedelta(minutes=rng.randrange(0, 60 * 24 * 20))
        # Asked in any order: days before the first one asked about must not shift the others.
        hours = (clock.hours(b) - clock.hours(a)) if rng.random() < 0.5 else -(clock.hours(a) - clock.hours(b))
        assert hours == pytest.approx(sla.working_hours_between(a, b, tz), abs=1e-6)


def test_history_loads_the_last_redo_as_the_rounds_start(empty_session: Session, units: dict[str, int]) -> None:
    r = row(units["SLOW"], NOW - timedelta(days=2))
    plant(empty_session, [r])
    tid = empty_session.scalar(select(Ticket.id))
    redo = NOW - timedelta(hours=5)
    empty_session.add(TicketEvent(ticket_id=tid, kind="redo", at=redo, data={}))
    empty_session.flush()
    (h,) = load(empty_session)
    assert h.start == redo and h.known_from == redo and h.opened == r["dispatched_at"]


def test_the_replay_judges_a_redone_ticket_only_from_its_redo(empty_session: Session, units: dict[str, int]) -> None:
    plant(empty_session, history(units))
    redo = NOW + timedelta(hours=2)
    r = row(units["SLOW"], redo)  # its deadline, as the 重办 set it
    r.update(dispatched_at=NOW - timedelta(days=2), received_at=NOW - timedelta(days=2), redo_count=1)
    plant(empty_session, [r])
    tid = empty_session.scalar(select(Ticket.id).where(Ticket.number == r["number"]))
    empty_session.add(TicketEvent(ticket_id=tid, kind="redo", at=redo, data={}))
    empty_session.flush()
    end = NOW + timedelta(days=3)
    outcomes = _replay(empty_session, rules=[Rule("m", rules=rules())], begin=NOW - timedelta(hours=1), end=end,
                       data_end=end)
    (o,) = [o for o in outcomes if o.ticket_id == tid]
    assert o.late and o.warned["m"] >= redo  # before the redo its deadline was another one


def test_an_open_redone_ticket_is_judged_from_its_redo(empty_session: Session, units: dict[str, int]) -> None:
    """The live path (predict_open), not only the replay: a 重办 starts the ticket's round."""
    plant(empty_session, history(units))
    r = row(units["SLOW"], NOW + timedelta(hours=3))
    r.update(dispatched_at=NOW - timedelta(days=3), received_at=NOW - timedelta(days=3), redo_count=1)
    plant(empty_session, [r])
    tid = empty_session.scalar(select(Ticket.id).where(Ticket.number == r["number"]))
    empty_session.add(TicketEvent(ticket_id=tid, kind="redo", at=NOW - timedelta(hours=1), data={}))
    empty_session.flush()
    found = [p for p in predict_open(empty_session, NOW, TZ, rules=rules(threshold=0.01)) if p.ticket_id == tid]
    assert found and found[0].reason["allowed_hours"] < 24  # its round: from the redo, not three days
