"""De-duplication between two platform processes at once, on SQLite and on PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from tests.helpers import DEDUP_DAY1 as DAY1
from tests.helpers import KTV_APP, KTV_CALL, KTV_LETTER, TZ, add_small_bureau
from tests.helpers import KTV_PLACE as PLACE
from tests.helpers import dedup_request as request
from tickets.db import make_engine, make_session_factory, unit_of_work
from tickets.intake import receive, receive_many
from tickets.models import IntakeRecord, Ticket
from tickets.schema import upgrade


def test_two_processes_taking_in_a_duplicate_pair_at_once_merge_it(database_url: str) -> None:
    """Two engines (as two platform processes, each with its own index) take in reports of
    one problem at the same moment: the second judges its batch while the first has not
    committed, waits for it to write, then sees its ticket and merges into it (and so does the
    report it had merged into its own new ticket), instead of both opening a ticket."""
    import threading

    upgrade(database_url)
    first_process = make_session_factory(make_engine(database_url))
    second_process = make_session_factory(make_engine(database_url))
    add_small_bureau(first_process)
    later = DAY1 + timedelta(minutes=5)
    outcome: dict[str, int] = {}
    try:
        with unit_of_work(first_process) as s:
            first = receive(s, request(DAY1, channel="hotline_12345", external_id="GS1", text=KTV_CALL,
                                       phone="13905310101", point=PLACE), DAY1, TZ)

            def second_report() -> None:
                with unit_of_work(second_process) as s2:  # two more reports, the second a duplicate of the first
                    done = receive_many(s2, [
                        request(later, channel="cad_110", external_id="110-9", text=KTV_APP,
                                phone="13905310101", point=PLACE),
                        request(later + timedelta(minutes=1), channel="director_mailbox", external_id="MB-3",
                                text=KTV_LETTER, phone="13905310101", point=None)], later, TZ)
                    outcome.update(ticket=done[0].ticket_id, also=done[1].ticket_id)

            other = threading.Thread(target=second_report)
            other.start()
            other.join(1.0)
            assert other.is_alive(), "the second process judged before the first committed"
        other.join(30)
        assert outcome == {"ticket": first.id, "also": first.id}
        with first_process() as s:
            assert s.scalar(select(func.count()).select_from(Ticket)) == 1
            assert s.scalar(select(func.count()).select_from(IntakeRecord).where(IntakeRecord.merged)) == 2
    finally:
        for f in (first_process, second_process):
            f.kw["bind"].dispose()
