"""De-duplication between two platform processes at once, on SQLite and on PostgreSQL."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.helpers import DEDUP_DAY1 as DAY1
from tests.helpers import KTV_APP, KTV_CALL, KTV_LETTER, LockPerThread, add_small_bureau
from tests.helpers import KTV_PLACE as PLACE
from tests.helpers import dedup_request as request
from tickets import dedup, services
from tickets.bootstrap import session_factory
from tickets.models import IntakeRecord, Ticket
from tickets.schema import upgrade
from tickets.uow import unit_of_work


def test_two_processes_taking_in_a_duplicate_pair_at_once_merge_it(database_url: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Two engines (as two platform processes, each with its own index and process lock) take
    in reports of one problem at the same moment: on PostgreSQL the second judges its batch
    while the first has not committed, waits for it to write, then sees its ticket and merges
    into it (and so does the report it had merged into its own new ticket); on SQLite it waits
    for the first's write lock before judging at all. Never do both open a ticket."""
    from tickets import batch, uow

    monkeypatch.setattr(uow, "_intake_process_lock", LockPerThread())  # a thread is a process here
    judged_late: list[list[int | None]] = []  # the tickets the second found committed while it judged
    judge_late = batch._judge_late

    def spy(late: list[dedup.Record], *args: object) -> dict[int, int]:
        judged_late.append([r.ticket_id for r in late])
        return judge_late(late, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(batch, "_judge_late", spy)
    upgrade(database_url)
    first_process = session_factory(database_url)
    second_process = session_factory(database_url)
    add_small_bureau(first_process)
    later = DAY1 + timedelta(minutes=5)
    outcome: dict[str, int] = {}
    try:
        with unit_of_work(first_process) as s:
            first = services.receive_one(s, request(DAY1, channel="hotline_12345", external_id="GS1", text=KTV_CALL,
                                                    phone="13905310101", point=PLACE), now=DAY1)

            def second_report() -> None:
                with unit_of_work(second_process) as s2:  # two more reports, the second a duplicate of the first
                    done = services.receive(s2, [
                        request(later, channel="cad_110", external_id="110-9", text=KTV_APP,
                                phone="13905310101", point=PLACE),
                        request(later + timedelta(minutes=1), channel="director_mailbox", external_id="MB-3",
                                text=KTV_LETTER, phone="13905310101", point=None)], now=later)
                    outcome.update(ticket=done[0].ticket_id, also=done[1].ticket_id)

            other = threading.Thread(target=second_report)
            other.start()
            other.join(1.0)
            assert other.is_alive(), "the second process judged before the first committed"
        other.join(30)
        assert outcome == {"ticket": first.id, "also": first.id}
        if database_url.startswith("postgresql"):
            assert judged_late == [[first.id]]  # judged before the first committed, then again against it
        else:  # SQLite: a unit of work is a writer from its start, so the second waited, then judged once
            assert judged_late == []
        with first_process() as s:
            assert s.scalar(select(func.count()).select_from(Ticket)) == 1
            assert s.scalar(select(func.count()).select_from(IntakeRecord).where(IntakeRecord.merged)) == 2
    finally:
        for f in (first_process, second_process):
            f.kw["bind"].dispose()
