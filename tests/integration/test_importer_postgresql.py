"""CSV import on the production database: reserved ids, COPY, resume after a crash."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from feeds.importer import SimulatedCrash, run_import
from tests.helpers import BOSTON_MAPPING, BOSTON_SAMPLE, NEW_YORK, bureau_database, new_request, outbox_events
from tickets import services
from tickets.models import DuplicateSuggestion, IntakeRecord, Ticket, TicketEvent
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
    with factory() as s:
        tickets = s.scalar(select(func.count()).select_from(Ticket))
        distinct_ids = s.scalar(select(func.count(IntakeRecord.external_id.distinct())))
        assert tickets == distinct_ids == resumed.counts["imported"]
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
