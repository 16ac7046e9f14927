"""Random sequences of steps by random users through the lifecycle (hypothesis).

Whatever is tried, no ticket reaches a state the state machine does not
allow, a refused step changes nothing, and every figure stays within its
definition (rates in 0..1, numerators within denominators).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import select

from tests.helpers import TZ, add_small_bureau, new_request
from tickets import lifecycle, services
from tickets.db import make_engine
from tickets.bootstrap import session_factory
from tickets.uow import unit_of_work
from tickets.figures import figures, tally_sql
from tickets.errors import IllegalStep, Invalid, NotAllowed
from tickets.models import Base, ExtensionRequest, Ticket, Unit, User
from tickets.roles import SYSTEM, actor_for
from tickets.vocabulary import STATUSES

START = datetime(2026, 11, 23, 8, 0, tzinfo=TZ)
STEPS = ["dispatch", "return", "accept", "contact", "report", "approve", "send_back", "reply", "close",
         "redo", "request_extension", "decide_extension", "merge"]
USERS = [
    ("admin", "JN-PTB"), ("dispatcher", "JN-PTB"), ("leader", "JN"), ("supervisor", "JN"),
    ("duty_officer", "JN"), ("viewer", "JN"), ("handler", "JN-LX-01"), ("handler", "JN-LX-02"),
    ("handler", "JN-LX"),
]


class Lifecycle(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        engine = make_engine("sqlite://")
        Base.metadata.create_all(engine)
        self.factory = session_factory(engine)
        add_small_bureau(self.factory)
        with unit_of_work(self.factory) as s:
            for n, (role, code) in enumerate(USERS):
                unit = s.scalar(select(Unit).where(Unit.code == code))
                s.add(User(username=f"u{n}", real_name=f"用户{n}", unit_id=unit.id, role=role))
        self.now = START
        self.tickets: list[int] = []

    @rule(minutes=st.integers(min_value=0, max_value=600))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(lat=st.floats(36.64, 36.69), lon=st.floats(117.0, 117.08))
    def a_citizen_calls(self, lat: float, lon: float) -> None:
        with unit_of_work(self.factory) as s:
            ticket = services.receive_one(s, new_request(self.now, lat=lat, lon=lon), now=self.now)
            self.tickets.append(ticket.id)

    @rule(data=st.data(), step=st.sampled_from(STEPS), user=st.integers(0, len(USERS)))
    def someone_acts(self, data: st.DataObject, step: str, user: int) -> None:
        if not self.tickets:
            return
        tid = data.draw(st.sampled_from(self.tickets))
        with self.factory() as s:
            before = s.get(Ticket, tid).status
        try:
            with unit_of_work(self.factory) as s:
                ticket = s.get(Ticket, tid)
                actor = SYSTEM if user == len(USERS) else actor_for(s, s.scalar(select(User).where(User.username == f"u{user}")))
                self._take(s, ticket, step, actor, data)
                after = ticket.status
        except (IllegalStep, NotAllowed, Invalid):  # every kind of refusal
            with self.factory() as s:
                assert s.get(Ticket, tid).status == before, "a refused step changed the ticket"
            return
        allowed_from, to = lifecycle.TRANSITIONS[step]
        assert before in allowed_from, f"{step} succeeded from {before}"
        assert after == (to or before), f"{step} from {before} led to {after}"

    def _take(self, s, ticket: Ticket, step: str, actor, data: st.DataObject) -> None:  # type: ignore[no-untyped-def]
        at = self.now
        if step == "dispatch":
            code = data.draw(st.sampled_from(["JN-LX-01", "JN-LX-02", "JN-LX"]))
            lifecycle.dispatch(s, ticket, s.scalar(select(Unit).where(Unit.code == code)), at, actor)
        elif step == "return":
            lifecycle.return_ticket(s, ticket, at, actor, "不属于本单位管辖")
        elif step == "send_back":
            lifecycle.send_back(s, ticket, at, actor, "办理结果不完整")
        elif step == "redo":
            lifecycle.redo(s, ticket, at, min((ticket.escalation_level or 1) + 1, 3), actor)
        elif step == "request_extension":
            lifecycle.request_extension(s, ticket, at, actor, data.draw(st.sampled_from([2.0, 7.5])), "需要调查取证")
        elif step == "decide_extension":
            request = s.scalar(select(ExtensionRequest).where(
                ExtensionRequest.ticket_id == ticket.id, ExtensionRequest.status == "pending"))
            if request is None:
                raise IllegalStep("no_extension_pending")
            lifecycle.decide_extension(s, request, at, actor, data.draw(st.booleans()))
        elif step == "merge":
            others = [t for t in self.tickets if t != ticket.id]
            if not others:
                raise IllegalStep("nothing_to_merge_into")
            lifecycle.merge(s, ticket, s.get(Ticket, data.draw(st.sampled_from(others))), at, actor)
        else:
            getattr(lifecycle, step)(s, ticket, at, actor)

    @invariant()
    def states_are_consistent(self) -> None:
        if not hasattr(self, "factory"):
            return
        with self.factory() as s:
            for t in s.scalars(select(Ticket)):
                assert t.status in STATUSES
                assert (t.status == "closed") == (t.closed_at is not None)
                assert t.status != "merged" or t.merged_into_id is not None
                if t.status in ("accepted", "contacted", "reported", "approved", "replied", "closed"):
                    assert t.accepted_at is not None and t.accepted_at <= (t.contacted_at or t.accepted_at)
                if t.status in ("contacted", "reported", "approved", "replied", "closed"):
                    assert t.contacted_at is not None
                if t.status in ("reported", "approved", "replied", "closed"):
                    assert t.reported_at is not None
                if t.dispatched_at is not None:
                    assert t.direct_dispatch is not None and t.resolve_due_at is not None
                    assert t.contact_due_at == t.dispatched_at + timedelta(hours=1)
                assert t.escalation_level in (1, 2, 3)

    @invariant()
    def figures_stay_within_their_definitions(self) -> None:
        if not hasattr(self, "factory"):
            return
        with self.factory() as s:
            tally = tally_sql(s, START - timedelta(days=1), self.now + timedelta(days=1), self.now, TZ)
            opened = sum(1 for t in s.scalars(select(Ticket)) if t.status not in ("closed", "merged"))
        out = figures(tally)
        for name, value in out.items():
            if name.endswith("_rate") or name == "composite_score":
                assert value is None or 0.0 <= value <= 1.0, (name, value)
        assert tally.responded_on_time <= tally.response_due <= tally.received
        assert tally.closed_on_time <= tally.closed <= tally.due <= tally.received
        assert tally.direct <= tally.dispatched <= tally.received
        assert tally.merged_records <= tally.intake_records
        assert tally.breaches_now <= opened
        assert all(h >= 0 for h in tally.handling_hours)


TestLifecycle = Lifecycle.TestCase
TestLifecycle.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
