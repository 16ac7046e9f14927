"""The simulator closes tickets through the real follow-up path: SMS out, the citizen's answer in."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from feeds.simulator import ANSWER_TEXTS, SimulationRunner, follow_up_plan
from tests.helpers import bureau_database
from tickets import followup
from tickets.models import FollowUp, IntakeRecord, SmsMessage, Ticket, TicketEvent
from tickets.sms import SandboxGateway

TZ = ZoneInfo("Asia/Shanghai")
TUESDAY_9 = datetime(2025, 3, 4, 9, 0, tzinfo=TZ)


def test_answers_are_mostly_satisfied_deterministic_and_parse() -> None:
    ids = [f"SIM-1-202503041000-{i}" for i in range(20_000)]
    shares = Counter(follow_up_plan(i, 1).answer for i in ids)
    assert 0.83 <= shares["satisfied"] / len(ids) <= 0.87
    assert 0.085 <= shares["basically_satisfied"] / len(ids) <= 0.115
    assert 0.04 <= shares["unsatisfied"] / len(ids) <= 0.06
    assert follow_up_plan(ids[7], 1) == follow_up_plan(ids[7], 1)
    assert any(follow_up_plan(i, 1) != follow_up_plan(i, 2) for i in ids[:5])  # each level its own draw
    for answer, texts in ANSWER_TEXTS.items():
        for text in texts:
            assert followup.parse_answer(text) == answer, text
    for i in ids[:2000]:
        plan = follow_up_plan(i, 1)
        assert followup.parse_answer(plan.text) == plan.answer
        assert timedelta(minutes=1) <= plan.answer_after <= timedelta(minutes=601)


def test_runner_replies_asks_by_sms_and_takes_the_citizens_answers(tmp_path: Path) -> None:
    factory = bureau_database(f"sqlite:///{tmp_path / 'jinan.db'}", gateway=SandboxGateway())
    runner = SimulationRunner(factory, TZ, start=TUESDAY_9, seed=17, rate_per_hour=250)
    runner.tick(TUESDAY_9 + timedelta(hours=1))
    runner.simulator.rate_per_hour = 0  # type: ignore[union-attr]  # no more arrivals: let the plans play out
    for hours in range(2, 30):
        runner.tick(TUESDAY_9 + timedelta(hours=hours))
    with factory() as s:
        tickets = s.scalars(select(Ticket)).all()
        closed = [t for t in tickets if t.status == "closed"]
        assert len(tickets) > 150 and len(closed) / len(tickets) > 0.85
        # Every close went through the follow-up: an SMS out, an answer in, recorded as such.
        asked = s.scalar(select(func.count()).select_from(SmsMessage).where(SmsMessage.direction == "out"))
        answered_in = s.scalars(select(SmsMessage).where(SmsMessage.direction == "in")).all()
        assert asked >= len(closed) and len(answered_in) >= len(closed)
        assert {m.gateway for m in s.scalars(select(SmsMessage))} == {"sandbox"}
        assert all(t.satisfaction is not None for t in closed)
        answers = Counter(s.scalars(select(FollowUp.answer).where(FollowUp.status == "answered")))
        assert answers["satisfied"] > answers["basically_satisfied"] > 0 and answers["unsatisfied"] > 0
        events = Counter(s.scalars(select(TicketEvent.kind)))
        assert events["follow_up_answered"] == sum(answers.values())
        # 不满意 → redone at level 2 and asked again: some of those closed at level 2.
        redone = [t for t in tickets if (t.escalation_level or 1) >= 2]
        assert redone and any(t.status == "closed" for t in redone)
        assert events["redo"] == sum(t.redo_count for t in tickets) and events["escalated"] == events["redo"]
        # The answers are the ones the plans say, per external id.
        for t in closed[:200]:
            ext = s.scalar(select(IntakeRecord.external_id).where(IntakeRecord.ticket_id == t.id))
            if (t.escalation_level or 1) == 1:
                assert t.satisfaction == follow_up_plan(ext, 1).answer
