"""Imported history judged by its own time and calendar (tickets/calendars.py, tickets/batch.py,
feeds/mapping.py): per-source calendars, fixed-offset deadlines, no phantom contact deadline,
open records past their deadline refused until confirmed, the day of import changes nothing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from feeds.importer import PastDueRefused, run_import
from feeds.mapping import Mapping, MappingError
from tests.helpers import HOTLINE_MAPPING, TZ, bureau_database, hotline_row, write_csv
from tickets import calendars, sla
from tickets.models import Ticket

NEW_YORK = ZoneInfo("America/New_York")
US = calendars.make("holidays", "US", None, "08:00-17:00")


# ------------------------------------------------------------ calendars
def test_a_chinese_holiday_is_a_working_day_on_another_countrys_calendar() -> None:
    may_day = datetime(2026, 5, 1, 0, 0, tzinfo=NEW_YORK)  # Friday: China's Labour Day holiday (1–5 May)
    assert sla.add_working_hours(may_day, 8, NEW_YORK, calendar=US) == datetime(2026, 5, 1, 16, 0, tzinfo=NEW_YORK)
    on_china = sla.add_working_hours(may_day, 8, NEW_YORK)  # the official calendar: after the holiday
    assert on_china.astimezone(TZ).date() >= datetime(2026, 5, 6).date()
    # The US's own holidays stop its clock: Thanksgiving 2026 is Thursday 26 November.
    thanksgiving_eve = datetime(2026, 11, 25, 16, 0, tzinfo=NEW_YORK)
    assert sla.add_working_hours(thanksgiving_eve, 2, NEW_YORK, calendar=US) == \
        datetime(2026, 11, 27, 9, 0, tzinfo=NEW_YORK)
    # Handling time on a Sunday-to-Monday request counts Monday's hours, not zero.
    sunday = datetime(2026, 11, 29, 10, 0, tzinfo=NEW_YORK)
    assert sla.working_hours_between(sunday, sunday + timedelta(days=1), NEW_YORK, calendar=US) == 2.0
    weekdays = calendars.make("weekdays")
    assert weekdays.is_working_day(datetime(2026, 5, 1).date()) and not weekdays.is_working_day(
        datetime(2026, 5, 2).date())


def test_calendar_keys_and_their_mistakes() -> None:
    ma = calendars.make("holidays", "us", "ma", "08:30-12:00,13:00-17:00")
    assert ma.key == "holidays:US-MA|08:30-12:00,13:00-17:00" and calendars.from_key(ma.key) == ma
    assert calendars.from_key(None) is calendars.OFFICIAL and calendars.OFFICIAL.is_official
    assert not ma.is_working_day(datetime(2026, 4, 20).date())  # Patriots' Day, Massachusetts only
    assert US.is_working_day(datetime(2026, 4, 20).date())
    for bad, words in ((("holidays", "XX"), "not a country"), (("holidays", "US", "ZZ"), "not one of"),
                       (("weekdays", "US"), "belong to days: holidays"), (("sometimes",), "one of official"),
                       (("weekdays", None, None, "17:00-08:00"), "must end after"),
                       (("weekdays", None, None, "8am-5pm"), "not HH:MM-HH:MM")):
        with pytest.raises(calendars.CalendarError, match=words):
            calendars.make(*bad)


# ------------------------------------------------------------ the mapping
def test_mapping_due_offset_calendar_and_open_are_checked() -> None:
    good = Mapping.from_dict({**HOTLINE_MAPPING, "due": {"missing": "offset", "offset": {"hours": 8, "clock": "working"}},
                              "calendar": {"days": "holidays", "country": "US", "hours": "08:00-17:00"},
                              "open": {"past_due": "exclude", "supervise": True}})
    assert (good.offset_hours, good.offset_clock, good.calendar, good.past_due, good.supervise) == (
        8.0, "working", US, "exclude", True)
    with pytest.raises(MappingError) as bad:
        Mapping.from_dict({**HOTLINE_MAPPING, "due": {"missing": "offset", "offset": {"hours": -1, "clock": "moon"}},
                           "calendar": {"days": "holidays", "country": "Atlantis"}, "open": {"past_due": "maybe"}})
    text = str(bad.value)
    for words in ("due.offset.hours", "due.offset.clock", "calendar.country", "open.past_due"):
        assert words in text, words


# ------------------------------------------------------------ an import
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)


def import_open(factory: sessionmaker[Session], tmp_path: Path, now: datetime, **mapping: object) -> Ticket:
    rows = [hotline_row(1, at="2026-11-18 09:00:00")]  # open, no due date of its own
    data = {**HOTLINE_MAPPING, "due": {"missing": "sla"}, **mapping}
    run_import(factory, write_csv(tmp_path / f"{now:%Y%m%d}.csv", rows), Mapping.from_dict(data), TZ, now=now)
    with factory() as s:
        ticket = s.scalars(select(Ticket)).one()
        s.expunge(ticket)
        return ticket


def test_open_history_gets_its_deadlines_from_its_own_time_whatever_the_day(tmp_path: Path) -> None:
    first = import_open(bureau_database(f"sqlite:///{tmp_path / 'a.db'}"), tmp_path, NOW)
    later = import_open(bureau_database(f"sqlite:///{tmp_path / 'b.db'}"), tmp_path, NOW + timedelta(days=200))
    assert first.resolve_due_at == later.resolve_due_at == sla.schedule(
        "service", first.received_at, TZ).resolve_due
    assert first.dispatched_at == later.dispatched_at == first.received_at
    assert first.contact_due_at is None and later.contact_due_at is None  # the source had no contact deadline


def test_a_fixed_offset_on_the_wall_clock_or_on_the_sources_calendar(tmp_path: Path) -> None:
    wall = import_open(bureau_database(f"sqlite:///{tmp_path / 'w.db'}"), tmp_path, NOW,
                       due={"missing": "offset", "offset": {"hours": 8}})
    assert wall.resolve_due_at == wall.received_at + timedelta(hours=8)
    working = import_open(bureau_database(f"sqlite:///{tmp_path / 'k.db'}"), tmp_path, NOW,
                          due={"missing": "offset", "offset": {"hours": 8, "clock": "working"}},
                          calendar={"days": "weekdays", "hours": "09:00-17:00"})
    # received Wednesday 18 November 09:00 (Shanghai): 8 working hours are that day's 09:00–17:00
    assert working.resolve_due_at == datetime(2026, 11, 18, 17, 0, tzinfo=TZ)
    assert working.calendar == "weekdays|09:00-17:00"


def test_open_records_past_due_are_refused_until_confirmed(tmp_path: Path) -> None:
    factory = bureau_database(f"sqlite:///{tmp_path / 'r.db'}")
    rows = [hotline_row(1, at="2026-11-02 09:00:00", due="2026-11-03 12:00:00"),  # open, long past due
            hotline_row(2, at="2026-11-19 09:00:00", due="2026-11-25 12:00:00", phone="13700000002",
                        title="盗窃", content="电动车被盗"),  # open, within its deadline
            hotline_row(3, at="2026-11-02 08:00:00", closed="2026-11-03 10:00:00", status="2", phone="13700000003",
                        title="咨询户口", content="咨询户口迁移")]  # closed
    path = write_csv(tmp_path / "r.csv", rows)
    mapping = Mapping.from_dict({**HOTLINE_MAPPING, "open": {"past_due": "ask"}})
    with pytest.raises(PastDueRefused) as refused:
        run_import(factory, path, mapping, TZ, now=NOW)
    assert (refused.value.count, refused.value.total_open) == (1, 2)
    with factory() as s:
        assert s.scalars(select(Ticket)).all() == []
    report = run_import(factory, path, mapping, TZ, now=NOW, dry_run=True)  # a dry run says, and writes nothing
    assert report.past_due == 1 and report.counts["imported"] == 3
    report = run_import(factory, path, mapping, TZ, now=NOW, confirm_past_due=True)
    assert report.past_due == 1 and report.counts["imported"] == 3 and report.reconciles


# ------------------------------------------------------------ a live feed's own rules
def test_a_12345_source_may_keep_its_own_deadline_and_calendar(tmp_path: Path) -> None:
    """``deadline: source`` keeps the order's 办理时限 as the resolve deadline (the contact deadline
    stays the bureau's); ``calendar`` is the source's; without them, today's behaviour."""
    import yaml

    from feeds import hotline
    from tickets import services
    from tickets.uow import unit_of_work

    data = yaml.safe_load((Path(hotline.__file__).parent / "sources" / "hotline_12345.yaml").read_text("utf-8"))
    order = {"工单编号": "GS20261118000777", "派单时间": "2026-11-18 09:00:00", "办理时限": "2026-11-20 18:00:00",
             "诉求类型": "投诉", "标题": "噪音", "诉求内容": "楼下烧烤店噪音扰民，每晚到凌晨。", "联系电话": "13700000777"}
    plain = hotline.parse_order(hotline.parse_source(data, "plain"), order)
    own = hotline.parse_source({**data, "deadline": "source", "calendar": {"days": "weekdays"}}, "own")
    kept = hotline.parse_order(own, {**order, "工单编号": "GS20261118000778"})
    assert plain.due_at is None and plain.calendar is None
    assert kept.due_at == datetime(2026, 11, 20, 18, 0, tzinfo=TZ) and kept.calendar == "weekdays"
    with pytest.raises(hotline.SourceError, match="deadline"):
        hotline.parse_source({**data, "deadline": "whenever"}, "bad")
    with pytest.raises(hotline.SourceError, match="calendar"):
        hotline.parse_source({**data, "calendar": {"days": "holidays", "country": "Atlantis"}}, "bad")

    factory = bureau_database(f"sqlite:///{tmp_path / 'live.db'}")
    at = datetime(2026, 11, 18, 9, 5, tzinfo=TZ)
    with unit_of_work(factory) as s:
        a = services.receive_one(s, plain, now=at)
        b = services.receive_one(s, kept, now=at)
        assert b.resolve_due_at == kept.due_at and b.calendar == "weekdays" and not b.history
        assert a.resolve_due_at == sla.schedule(a.sla_class, at, TZ, topic=a.topic, channel=a.channel).resolve_due
        assert a.contact_due_at == b.contact_due_at == at + timedelta(hours=1)  # the bureau's contact rule
