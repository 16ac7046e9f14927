"""Deadlines on the official Chinese working calendar (tickets/sla.py, tickets/workcalendar.py)."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import settings as settings_module
from tests.helpers import ROOT, TZ, new_request, submit, write
from tests.helpers import SLA_OVERRIDES as OVERRIDES
from tests.helpers import TEST_2027_CALENDAR as TEST_2027
from tickets import lifecycle, sla, sla_cli, workcalendar
from tickets.models import CalendarDay, ExtensionRequest, Ticket
from tickets.roles import SYSTEM
from tickets.uow import unit_of_work
from tickets.sla import add_working_hours

pytestmark = pytest.mark.usefixtures("fresh_sla_state")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ------------------------------------------------------------- the calendar
def test_national_day_holiday_is_skipped() -> None:
    # 1.5 working hours on 30 Sep, the holiday 1–7 Oct, then 2.25 h on 8 Oct.
    plan = sla.schedule("consultation", at("2026-09-30T16:00:00+08:00"), TZ)
    assert plan.resolve_due == at("2026-10-08T10:45:00+08:00")
    assert plan.contact_due == at("2026-09-30T17:00:00+08:00")  # contact runs on the wall clock


def test_make_up_saturday_counts_as_a_working_day() -> None:
    # Dispatched on Friday 9 Oct evening: Saturday 10 Oct 2026 is a make-up working day.
    resolve = sla.schedule("service", at("2026-10-09T20:00:00+08:00"), TZ).resolve_due
    assert resolve == at("2026-10-10T17:30:00+08:00")


def test_spring_festival_make_up_saturday() -> None:
    # Friday 13 Feb 2026, 16:00: 1.5 h that day, Saturday 14 Feb (调休) counts, 6 h more there.
    assert sla.is_working_day(date(2026, 2, 14)) and not sla.is_working_day(date(2026, 2, 21))
    resolve = sla.schedule("service", at("2026-02-13T16:00:00+08:00"), TZ).resolve_due
    assert resolve == at("2026-02-14T16:00:00+08:00")
    assert sla.working_hours_between(at("2026-02-14T00:00:00+08:00"), at("2026-02-15T00:00:00+08:00"), TZ) == 7.5


def test_half_day_across_lunch() -> None:
    assert add_working_hours(at("2026-11-23T11:00:00+08:00"), 3.75, TZ) == at("2026-11-23T16:15:00+08:00")
    # A consultation dispatched at 10:00: 2 h before lunch, 1.75 h after.
    resolve = sla.schedule("consultation", at("2026-11-23T10:00:00+08:00"), TZ).resolve_due
    assert resolve == at("2026-11-23T15:15:00+08:00")


def test_dispatch_during_lunch_starts_at_13_30() -> None:
    assert add_working_hours(at("2026-11-23T12:40:00+08:00"), 1, TZ) == at("2026-11-23T14:30:00+08:00")


def test_night_dispatch_starts_next_morning() -> None:
    resolve = sla.schedule("consultation", at("2026-11-23T23:10:00+08:00"), TZ).resolve_due
    assert resolve == at("2026-11-24T13:45:00+08:00")
    plan = sla.schedule("consultation", at("2026-11-24T03:00:00+08:00"), TZ)
    assert plan.contact_due == at("2026-11-24T04:00:00+08:00")  # the wall clock does not sleep
    assert plan.resolve_due == at("2026-11-24T13:45:00+08:00")


def test_weekend_dispatch_waits_for_monday() -> None:
    plan = sla.schedule("service", at("2026-11-28T10:00:00+08:00"), TZ)  # Saturday
    assert plan.contact_due == at("2026-11-28T11:00:00+08:00")
    assert plan.resolve_due == at("2026-11-30T17:30:00+08:00")


def test_holiday_dispatch_waits_for_the_first_working_day() -> None:
    plan = sla.schedule("consultation", at("2026-10-03T10:00:00+08:00"), TZ)  # National Day
    assert plan.contact_due == at("2026-10-03T11:00:00+08:00")
    assert plan.resolve_due == at("2026-10-08T13:45:00+08:00")


def test_amber_at_three_quarters() -> None:
    plan = sla.schedule("service", at("2026-11-23T08:30:00+08:00"), TZ)
    assert plan.contact_warn == at("2026-11-23T09:15:00+08:00")
    assert plan.resolve_warn == at("2026-11-23T15:37:30+08:00")  # 3.5 h + 2.125 h = 5.625 working hours


def test_unknown_year_warns_and_assumes_monday_to_friday() -> None:
    assert sla.calendar_warnings() == []
    resolve = sla.schedule("consultation", at("2026-12-31T16:00:00+08:00"), TZ).resolve_due
    assert resolve == at("2027-01-01T10:45:00+08:00")  # Friday 1 Jan assumed a working day
    assert sla.calendar_warnings() == [{"code": "calendar_year_unknown", "year": 2027}]
    # Never every day: the weekend of 2–3 Jan 2027 is not working time.
    assert add_working_hours(at("2027-01-01T17:00:00+08:00"), 1, TZ) == at("2027-01-04T09:00:00+08:00")


def test_an_unknown_year_is_said_to_have_started_only_from_its_first_day() -> None:
    sla.schedule("consultation", at("2026-12-31T16:00:00+08:00"), TZ)  # reaches into 2027
    assert sla.calendar_warnings(date(2026, 12, 31)) == [{"code": "calendar_year_unknown", "year": 2027,
                                                          "started": False}]
    assert sla.calendar_warnings(date(2027, 1, 1))[0]["started"] is True
    assert sla.calendar_warnings() == [{"code": "calendar_year_unknown", "year": 2027}]


def test_next_years_warning_goes_out_from_november_and_to_nobody_before() -> None:
    workcalendar.probe_ahead(date(2026, 10, 31))
    assert sla.calendar_warnings(date(2026, 10, 31)) == []  # nothing asked about 2027 yet
    sla.schedule("consultation", at("2026-10-30T16:00:00+08:00"), TZ, extra_working_hours=600)  # reaches 2027
    assert sla.calendar_warnings(date(2026, 10, 31)) == []  # known to be unknown, but not a concern in October
    assert sla.calendar_warnings(date(2026, 11, 1))[0]["year"] == 2027
    sla.clear_calendar_overrides()
    workcalendar.probe_ahead(date(2026, 11, 1))  # November: next year is asked about, a month ahead or not
    assert sla.calendar_warnings(date(2026, 11, 1)) == [{"code": "calendar_year_unknown", "year": 2027,
                                                         "started": False}]


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        sla.schedule("service", datetime(2026, 11, 23, 9, 0), TZ)


# ----------------------------------------------------- loading a year's schedule


def test_a_loaded_year_wins_and_silences_the_warning(small_bureau_db: sessionmaker[Session], tmp_path: Path) -> None:
    sla.schedule("consultation", at("2026-12-31T16:00:00+08:00"), TZ)
    assert sla.calendar_warnings()
    year = workcalendar.read_calendar_file(write(tmp_path / "y2027.yaml", TEST_2027))
    with unit_of_work(small_bureau_db) as s:
        assert workcalendar.store_calendar_year(s, year) == 11
    with small_bureau_db() as s:
        assert sla.load_calendar_overrides(s) == [2027]
    # Friday 1 Jan holiday, the weekend, Monday 4 Jan holiday: 2.25 h on Tuesday 5 Jan.
    resolve = sla.schedule("consultation", at("2026-12-31T16:00:00+08:00"), TZ).resolve_due
    assert resolve == at("2027-01-05T10:45:00+08:00")
    assert sla.is_working_day(date(2027, 2, 14))  # make-up Sunday
    assert not sla.is_working_day(date(2027, 2, 8))  # a listed holiday on a Monday
    assert sla.is_working_day(date(2027, 3, 1)) and not sla.is_working_day(date(2027, 3, 6))  # unlisted: Mon–Fri
    assert sla.calendar_warnings() == []


def test_loading_a_year_again_replaces_it(small_bureau_db: sessionmaker[Session], tmp_path: Path) -> None:
    first = workcalendar.read_calendar_file(write(tmp_path / "a.yaml", TEST_2027))
    second = workcalendar.read_calendar_file(write(tmp_path / "b.yaml", "year: 2027\nholidays: [2027-01-01]\n"))
    for year in (first, first, second):
        with unit_of_work(small_bureau_db) as s:
            workcalendar.store_calendar_year(s, year)
    with small_bureau_db() as s:
        assert s.scalar(select(func.count()).select_from(CalendarDay)) == 1
        sla.load_calendar_overrides(s)
    assert sla.is_working_day(date(2027, 1, 4))  # no longer a holiday


def test_a_running_process_picks_up_a_newly_loaded_year(small_bureau_db: sessionmaker[Session], tmp_path: Path) -> None:
    assert sla.refresh_if_stale(small_bureau_db) is True  # startup: read (nothing loaded yet)
    assert sla.is_working_day(date(2027, 1, 4))
    year = workcalendar.read_calendar_file(write(tmp_path / "y.yaml", TEST_2027))
    with unit_of_work(small_bureau_db) as s:  # the command line, in another process
        workcalendar.store_calendar_year(s, year)
    assert sla.refresh_if_stale(small_bureau_db) is False  # read less than 5 minutes ago
    assert sla.is_working_day(date(2027, 1, 4))
    assert sla.refresh_if_stale(small_bureau_db, max_age_seconds=0) is True
    assert not sla.is_working_day(date(2027, 1, 4))


def test_dispatch_reads_a_loaded_year(small_bureau_db: sessionmaker[Session], tmp_path: Path) -> None:
    year = workcalendar.read_calendar_file(write(tmp_path / "y.yaml", TEST_2027))
    with unit_of_work(small_bureau_db) as s:
        workcalendar.store_calendar_year(s, year)
    ticket = submit(small_bureau_db, new_request(at("2026-12-31T16:00:00+08:00")))  # service: 7.5 h
    # 1.5 h on 31 Dec; 1 Jan, the weekend and Monday 4 Jan off; 6 h on Tuesday 5 Jan.
    assert ticket.resolve_due_at == at("2027-01-05T16:00:00+08:00")


@pytest.mark.parametrize("text, expected", [
    ("year: 2027\nholidays: [2026-12-31]\n", "holidays[0]: 2026-12-31 is not in 2027"),
    ("year: 2027\nholidays: [2027-01-01]\nworkdays: [2027-01-01]\n", "2027-01-01 listed both"),
    ("year: 2027\nholidays: [2027-01-01]\nworkdays: [2027-02-10]\n", "2027-02-10 is a Wednesday"),
    ("year: 2027\nholidays: [2027-01-01]\nholiday: [2027-01-02]\n", "unknown keys ['holiday']"),
    ("year: 2027\nholidays: [2027-13-01]\n", "holidays[0]: '2027-13-01' is not a date"),
    ("year: 2027\nholidays: ['2027-02-13..2027-02-06']\n", "ends before it starts"),
    ("year: 2027\nholidays: []\n", "no holidays"),
    ("year: twenty\nholidays: [2027-01-01]\n", "year: 'twenty' is not a year"),
])
def test_calendar_file_errors_name_the_file_and_the_entry(tmp_path: Path, text: str, expected: str) -> None:
    refused(write(tmp_path / "bad.yaml", text), workcalendar.read_calendar_file, workcalendar.CalendarFileError,
            expected)


def refused(path: Path, read: Callable[[Path], object], error: type[Exception], expected: str) -> None:
    """``read(path)`` refuses the file with ``error``, whose message names the file, then says ``expected``."""
    with pytest.raises(error) as caught:
        read(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


def test_the_shipped_2027_example_is_a_marked_placeholder(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "examples" / "calendar_2027.yaml"
    example = workcalendar.read_calendar_file(path)
    assert example.placeholder and example.year == 2027
    assert set(example.holidays) == {date(2027, 1, 1)} and not example.workdays
    assert "NOT THE OFFICIAL" in path.read_text(encoding="utf-8")
    assert sla_cli.cmd_calendar_load(argparse.Namespace(file=path)) == 1
    assert "placeholder" in capsys.readouterr().err


# ---------------------------------------------------------------- the policy
def test_the_shipped_policy_is_the_bureaus_rules() -> None:
    book = sla.load_policy(sla.DEFAULT_POLICY_FILE)
    assert book.default == sla.DEFAULT_POLICY
    rules = book.default
    assert rules.contact_hours == 1 and rules.amber_share == 0.75 and not rules.pause_while_extension_pending
    assert rules.working_day_hours == 7.5
    assert [rules.resolve_hours(c) for c in ("consultation", "enforcement", "service")] == [3.75, 7.5, 7.5]
    assert Path(settings_module.load(environ={}).sla_policy_file) == sla.DEFAULT_POLICY_FILE
    assert settings_module.load(environ={"MINSHENG_SLA_POLICY": "/x/p.yaml"}).sla_policy_file == "/x/p.yaml"




def test_overrides_per_channel_and_topic_topic_wins(tmp_path: Path) -> None:
    book = sla.load_policy(write(tmp_path / "p.yaml", OVERRIDES))
    t0 = at("2026-11-23T08:30:00+08:00")  # Monday

    def plan(topic: str | None, channel: str | None) -> sla.Schedule:
        return sla.schedule("consultation", t0, TZ, topic=topic, channel=channel, policy=book)

    assert plan(None, None).resolve_due == at("2026-11-23T13:45:00+08:00")  # 3.75 h
    by_channel = plan("noise", "cad_110")
    assert by_channel.contact_due == at("2026-11-23T09:00:00+08:00")
    assert by_channel.resolve_due == at("2026-11-23T17:30:00+08:00")  # 1 day
    both = plan("fraud", "cad_110")
    assert both.resolve_due == at("2026-11-24T17:30:00+08:00")  # the topic's 2 days win
    assert both.contact_due == at("2026-11-23T09:00:00+08:00")  # the channel's contact time stays
    assert both.contact_warn == at("2026-11-23T08:45:00+08:00")  # the topic's amber share: 50%
    assert both.resolve_warn == at("2026-11-23T17:30:00+08:00")
    # Other classes keep the defaults under a per-class override.
    assert sla.schedule("service", t0, TZ, topic="fraud", channel="cad_110", policy=book).resolve_due == \
        at("2026-11-23T17:30:00+08:00")


def test_the_loaded_policy_is_used_by_default_and_can_be_reloaded(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yaml", OVERRIDES)
    t0 = at("2026-11-23T08:30:00+08:00")
    sla.use_policy_file(path)
    assert sla.schedule("consultation", t0, TZ, topic="fraud").resolve_due == at("2026-11-24T17:30:00+08:00")
    write(path, "resolve_working_days: {consultation: 1}\nworking_hours: ['09:00-17:00']\n")
    assert sla.schedule("consultation", t0, TZ, topic="fraud").resolve_due == \
        at("2026-11-24T17:30:00+08:00")  # cached until reloaded
    sla.use_policy_file(path)
    assert sla.schedule("consultation", t0, TZ, topic="fraud").resolve_due == at("2026-11-23T17:00:00+08:00")


@pytest.mark.parametrize("text, expected", [
    ("contact_hour: 1\n", "unknown keys ['contact_hour']"),
    ("topics:\n  noise:\n    channels: {}\n", "topics.noise: unknown keys ['channels']"),
    ("topics:\n  nosie: {contact_hours: 2}\n", "topics: unknown topic ['nosie']"),
    ("channels:\n  fax: {contact_hours: 2}\n", "channels: unknown channel ['fax']"),
    ("working_hours: ['08:30-12:00', '25:00-26:00']\n", "working_hours[1]: '25:00-26:00'"),
    ("working_hours: ['08:30-12:00', 'lunch']\n", "working_hours[1]: 'lunch' is not a period"),
    ("working_hours: ['13:30-12:00']\n", "working_hours[0]: '13:30-12:00' ends before it starts"),
    ("working_hours: ['08:30-12:00', '11:00-14:00']\n", "periods 08:30-12:00 and 11:00-14:00 overlap"),
    ("working_hours: []\n", "working_hours: must be a non-empty list"),
    ("contact_hours: 0\n", "contact_hours: must be positive"),
    ("resolve_working_days: {service: -1}\n", "resolve_working_days.service: must be positive"),
    ("channels:\n  cad_110: {resolve_working_days: {consultation: 0}}\n",
     "channels.cad_110.resolve_working_days.consultation: must be positive"),
    ("resolve_working_days: {urgent: 1}\n", "unknown sla_class ['urgent']"),
    ("amber_share: 75\n", "amber_share: must be between 0 and 1"),
    ("pause_while_extension_pending: maybe\n", "pause_while_extension_pending: must be true or false"),
    ("contact_hours: [1\n", "not valid YAML"),
])
def test_policy_errors_name_the_file_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    refused(write(tmp_path / "policy.yaml", text), sla.load_policy, sla.PolicyError, expected)


# ---------------------------------------------------------------- extensions
def _ticket_with_extension(small_bureau_db: sessionmaker[Session]) -> tuple[int, int, datetime]:
    """A service ticket dispatched Monday 23 Nov 09:00 (due Tuesday 09:00), 4 h asked at 10:00."""
    ticket = submit(small_bureau_db, new_request(at("2026-11-23T09:00:00+08:00")))
    assert ticket.resolve_due_at == at("2026-11-24T09:00:00+08:00")
    with unit_of_work(small_bureau_db) as s:
        t = s.get(Ticket, ticket.id)
        request = lifecycle.request_extension(s, t, at("2026-11-23T10:00:00+08:00"), SYSTEM, 4, "需要调取监控")
        s.flush()
        return ticket.id, request.id, ticket.resolve_due_at


def _decide(small_bureau_db: sessionmaker[Session], request_id: int, when: str, approve: bool) -> Ticket:
    with unit_of_work(small_bureau_db) as s:
        request = s.get(ExtensionRequest, request_id)
        lifecycle.decide_extension(s, request, at(when), SYSTEM, approve)
        return s.get(Ticket, request.ticket_id)


def test_an_approved_extension_moves_the_deadline_by_its_working_hours(small_bureau_db: sessionmaker[Session]) -> None:
    _, request_id, due = _ticket_with_extension(small_bureau_db)
    ticket = _decide(small_bureau_db, request_id, "2026-11-23T15:00:00+08:00", approve=True)
    assert ticket.resolve_due_at == at("2026-11-24T14:30:00+08:00")
    assert sla.working_hours_between(due, ticket.resolve_due_at, TZ) == 4


def test_a_rejected_extension_leaves_the_deadline(small_bureau_db: sessionmaker[Session]) -> None:
    _, request_id, due = _ticket_with_extension(small_bureau_db)
    assert _decide(small_bureau_db, request_id, "2026-11-23T15:00:00+08:00", approve=False).resolve_due_at == due


@pytest.mark.parametrize("approve, expected", [
    (True, "2026-11-25T09:00:00+08:00"),   # 4 h granted + 3.5 h paused (10:00–12:00, 13:30–15:00)
    (False, "2026-11-24T14:00:00+08:00"),  # 3.5 h paused only
])
def test_with_pause_on_the_pending_working_hours_are_added(
    small_bureau_db: sessionmaker[Session], tmp_path: Path, approve: bool, expected: str,
) -> None:
    sla.use_policy_file(write(tmp_path / "p.yaml", "pause_while_extension_pending: true\n"))
    _, request_id, _ = _ticket_with_extension(small_bureau_db)
    assert _decide(small_bureau_db, request_id, "2026-11-23T15:00:00+08:00", approve).resolve_due_at == at(expected)


def test_an_extension_after_a_redo_counts_from_the_redo(small_bureau_db: sessionmaker[Session]) -> None:
    ticket = submit(small_bureau_db, new_request(at("2026-11-23T09:00:00+08:00")))
    with unit_of_work(small_bureau_db) as s:
        t = s.get(Ticket, ticket.id)
        for step, when in [(lifecycle.contact, "2026-11-23T09:30"), (lifecycle.report, "2026-11-23T11:00"),
                           (lifecycle.approve, "2026-11-23T11:10"), (lifecycle.reply, "2026-11-23T11:20")]:
            step(s, t, at(when + ":00+08:00"), SYSTEM)
        lifecycle.redo(s, t, at("2026-11-25T09:00:00+08:00"), level=2)
        assert t.resolve_due_at == at("2026-11-26T09:00:00+08:00")
        request = lifecycle.request_extension(s, t, at("2026-11-25T10:00:00+08:00"), SYSTEM, 2, "再次核实")
        s.flush()
        lifecycle.decide_extension(s, request, at("2026-11-25T11:00:00+08:00"), SYSTEM, True)
        assert t.resolve_due_at == at("2026-11-26T11:00:00+08:00")


# ------------------------------------------------- working_hours_between
starts = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 20),
                      timezones=st.just(TZ))
hours = st.floats(min_value=0, max_value=60, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(start=starts, h=hours)
def test_working_hours_between_inverts_add_working_hours(start: datetime, h: float) -> None:
    end = add_working_hours(start, h, TZ)
    assert abs(sla.working_hours_between(start, end, TZ) - h) * 3600 <= 1
    assert end >= start


@settings(max_examples=100, deadline=None)
@given(start=starts, h=hours)
def test_working_hours_between_inverts_under_odd_working_hours(start: datetime, h: float) -> None:
    odd = sla.Policy(working_periods=((time(0, 0), time(0, 45)), (time(9, 5), time(9, 6)), (time(22, 0), time(23, 59))))
    end = add_working_hours(start, h, TZ, odd)
    assert abs(sla.working_hours_between(start, end, TZ, odd) - h) * 3600 <= 1


def test_working_hours_between_over_a_holiday() -> None:
    assert sla.working_hours_between(at("2026-09-30T16:00:00+08:00"), at("2026-10-08T10:45:00+08:00"), TZ) == 3.75
    assert sla.working_hours_between(at("2026-10-08T10:45:00+08:00"), at("2026-09-30T16:00:00+08:00"), TZ) == 0
