"""CSV import on the production database: reserved ids, COPY, resume after a crash."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from feeds.importer import SimulatedCrash, run_import
from feeds.mapping import Mapping
from tests.helpers import (
    BOSTON_MAPPING, BOSTON_SAMPLE, HOTLINE_MAPPING, NEW_YORK, TZ, bureau_database, hotline_row, new_request,
    outbox_events, write_csv,
)
from tickets import services
from tickets.models import DeadLetter, DuplicateSuggestion, IntakeRecord, Ticket, TicketEvent
from tickets.uow import unit_of_work

NY = NEW_YORK  # the Boston bureau's zone
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def test_on_postgresql_crash_resume_idempotency_and_live_intake_after(pg_url: str) -> None:
    """The bulk path on the production database: reserved ids, COPY, resume; live intake goes on after it."""
    factory = bureau_database(pg_url, "boston_bureau.yaml", tz=NY)
    with pytest.raises(SimulatedCrash):
        run_import(factory, BOSTON_SAMPLE, BOSTON_MAPPING, NY, now=NOW, batch=400, crash_after_batches=2)
    resumed = run_import(factory, BOSTON_SAMPLE, BOSTON_MAPPING, NY, now=NOW, batch=400)
    assert resumed.resumed_from == 800 and resumed.reconciles
    again = run_import(factory, BOSTON_SAMPLE, BOSTON_MAPPING, NY, now=NOW, batch=400)
    assert again.counts["duplicate"] == resumed.counts["imported"] and again.counts["imported"] == 0
    # The refused rows are refused again, and already kept: not stored twice.
    assert again.counts["rejected"] == again.counts["rejected_known"] == resumed.counts["rejected"] > 0
    with factory() as s:
        tickets = s.scalar(select(func.count()).select_from(Ticket))
        distinct_ids = s.scalar(select(func.count(IntakeRecord.external_id.distinct())))
        assert tickets == distinct_ids == resumed.counts["imported"]
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == resumed.counts["rejected"]
        suggestions = s.scalar(select(func.count()).select_from(DuplicateSuggestion))
        assert suggestions >= resumed.suggestions > 0  # the report counts this run's; the table all runs'
        # Every open imported ticket is announced on the outbox, with its event's id.
        outbox = outbox_events(s)
        event_ids = {e.id for e in s.scalars(select(TicketEvent).where(TicketEvent.kind == "dispatched"))}
        assert outbox and {e["event_id"] for e in outbox if e["event"] == "dispatched"} == event_ids
    # The sequences moved past the imported ids: live intake keeps working.
    with unit_of_work(factory) as s:
        ticket = services.receive_one(s, new_request(NOW, external_id="LIVE-1", lat=42.35, lon=-71.06,
                                                     district="Back Bay"), now=NOW)
        assert ticket.id > 0
    factory.kw["bind"].dispose()


def test_on_postgresql_where_every_reason_in_chinese_and_dead_letters_kept_once(pg_url: str, tmp_path: Path) -> None:
    """The mapping's filter, coded reasons (JSON params) and the dead letters' fingerprints on the production
    database: a file run again, even in the other language, stores no dead letter twice."""
    factory = bureau_database(pg_url)
    many = hotline_row(3, at="2026/11/18", status="7", phone="1" * 40, content="长" * 20_001)
    rows = [hotline_row(1), hotline_row(2, closed="2026-11-17 08:00:00", status="2"), many,
            hotline_row(4, district="槐荫区"), hotline_row(5, content="长" * 6_999, phone="13700000005")]
    path = write_csv(tmp_path / "pg.csv", rows)
    mapping = Mapping.from_dict({**HOTLINE_MAPPING, "where": [{"column": "区县", "not_equals": "槐荫区"}]})
    first = run_import(factory, path, mapping, TZ, now=NOW, lang="zh-CN", batch=2)
    assert {o: first.counts[o] for o in ("imported", "rejected", "filtered")} == {"imported": 2, "rejected": 2,
                                                                                   "filtered": 1}
    again = run_import(factory, path, mapping, TZ, now=NOW, lang="en", batch=2)
    assert (again.counts["rejected"], again.counts["rejected_known"], again.counts["duplicate"]) == (2, 2, 2)
    with factory() as s:
        letters = {d.external_id: d for d in s.scalars(select(DeadLetter))}
        long_text = s.scalar(select(Ticket.content).join(IntakeRecord).where(
            IntakeRecord.external_id == "jn12345:GS20261118000005"))
    assert set(letters) == {"jn12345:GS20261118000002", "jn12345:GS20261118000003"}
    assert [(e["code"], e["message"][:6]) for e in letters["jn12345:GS20261118000003"].errors] == [
        ("bad_date", "日期有误：“"), ("unknown_status", "未知状态“7"), ("oversize", "文本过长：2"),
        ("not_a_phone", "不是电话号码")]
    assert letters["jn12345:GS20261118000003"].errors[1]["params"] == {"value": "7", "closed": ["2"],
                                                                       "open": ["0", "1"]}
    assert letters["jn12345:GS20261118000003"].errors[2]["params"] == {"length": 20_001, "max": 20_000}
    assert long_text == "长" * 6_999  # a real 12345 order's length, taken whole
    factory.kw["bind"].dispose()
