"""Command line for deadlines and the working calendar (wired into ``app.py``).

    python app.py sla deadline --sla-class consultation --dispatched-at 2026-09-30T16:00:00+08:00
    python app.py calendar load FILE
    python app.py calendar show YEAR
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from tickets.vocabulary import CHANNELS, SLA_CLASSES, TOPICS

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _aware_datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time, e.g. 2026-09-30T16:00:00+08:00")
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no UTC offset; a deadline depends on it: write e.g. {text}+08:00")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of working hours")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: extra working hours cannot be negative")
    return value


def add_commands(sub: Any) -> None:
    """Add the ``sla`` and ``calendar`` commands to ``app.py``'s subparsers."""
    sla = sub.add_parser("sla", help="deadlines")
    sla_sub = sla.add_subparsers(dest="action", required=True)
    deadline = sla_sub.add_parser("deadline", help="print a ticket's resolve deadline (ISO 8601)")
    deadline.add_argument("--sla-class", required=True, choices=sorted(SLA_CLASSES))
    deadline.add_argument("--dispatched-at", required=True, type=_aware_datetime,
                          help="ISO 8601 with its UTC offset, e.g. 2026-09-30T16:00:00+08:00")
    deadline.add_argument("--topic", choices=sorted(TOPICS), help="apply the policy's override for this topic")
    deadline.add_argument("--channel", choices=sorted(CHANNELS), help="apply the policy's override for this channel")
    deadline.add_argument("--extra-hours", type=_non_negative, default=0.0,
                          help="working hours of approved extensions")
    deadline.add_argument("--all", action="store_true", help="print contact, amber and resolve instants")
    deadline.set_defaults(func=cmd_sla_deadline)

    calendar = sub.add_parser("calendar", help="the official working calendar")
    cal_sub = calendar.add_subparsers(dest="action", required=True)
    load = cal_sub.add_parser("load", help="load one year's holidays and make-up working days from YAML")
    load.add_argument("file", type=Path)
    load.set_defaults(func=cmd_calendar_load)
    show = cal_sub.add_parser("show", help="print a year's holidays and make-up working days")
    show.add_argument("year", type=int)
    show.set_defaults(func=cmd_calendar_show)


def _factory(database_url: str, *, must_exist: bool) -> Any:
    from tickets.bootstrap import session_factory

    if database_url.startswith("sqlite") and must_exist:
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:" and not Path(path).exists():
            return None
    return session_factory(database_url)


def _schema_hint(exc: Exception, table: str = "calendar_days") -> str:
    return (f"cannot use the {table} table ({exc.__class__.__name__}: {str(exc).splitlines()[0]}); "
            "is the schema up to date? run: python app.py db upgrade")


def cmd_sla_deadline(args: argparse.Namespace) -> int:
    import settings as settings_module
    from tickets import sla

    cfg = settings_module.load()
    try:
        sla.use_policy_file(cfg.sla_policy_file)
    except sla.PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    # A year an admin loaded must count here as in the platform.
    factory = _factory(cfg.database_url, must_exist=True)
    if factory is not None:
        try:
            with factory() as session:
                sla.load_calendar_overrides(session)
        except Exception as exc:  # the deadline can still be computed; say what was not used
            print(f"note: loaded calendar years not read: {_schema_hint(exc)}", file=sys.stderr)
        try:  # the rules are the version in force at --dispatched-at, as in the platform
            with factory() as session:
                stored = sla.load_rule_versions(session)
        except Exception as exc:
            print(f"note: the policy file used, versions of the rules not read: "
                  f"{_schema_hint(exc, 'sla_rule_versions')}", file=sys.stderr)
        else:
            if stored:
                print(f"note: rules {sla.version_at(args.dispatched_at).label}", file=sys.stderr)
    plan = sla.schedule(args.sla_class, args.dispatched_at, cfg.tz, topic=args.topic, channel=args.channel,
                        extra_working_hours=args.extra_hours)
    if args.all:
        rows = [("contact", plan.contact_due), ("contact_amber", plan.contact_warn),
                ("resolve_amber", plan.resolve_warn), ("resolve", plan.resolve_due)]
        for name, value in rows:
            print(f"{name:<14}{value.astimezone(cfg.tz).isoformat()}")
    else:
        print(plan.resolve_due.astimezone(cfg.tz).isoformat())
    return 0  # an assumed Monday–Friday year is logged as a warning (stderr) by the calendar


def cmd_calendar_load(args: argparse.Namespace) -> int:
    import settings as settings_module
    from tickets import workcalendar
    from tickets.audit import cli_actor
    from tickets.uow import unit_of_work

    try:
        year = workcalendar.read_calendar_file(args.file)
    except workcalendar.CalendarFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if year.placeholder:
        print(f"error: {args.file} is marked `placeholder: true`: it shows the format, it is not the official "
              f"schedule. Copy it, enter the State Council's published {year.year} schedule, remove the "
              "placeholder line, and load the copy.", file=sys.stderr)
        return 1
    cfg = settings_module.load()
    try:
        with unit_of_work(_factory(cfg.database_url, must_exist=False)) as session:
            rows = workcalendar.store_calendar_year(session, year, by=cli_actor())
    except Exception as exc:
        print(f"error: {_schema_hint(exc)}", file=sys.stderr)
        return 1
    print(f"{year.year}: {len(year.holidays)} holidays and {len(year.workdays)} make-up working days loaded "
          f"from {args.file} ({rows} rows; replaces any earlier load of {year.year}). Running platforms pick "
          "it up within 5 minutes.")
    if workcalendar.package_knows(year.year):
        print(f"note: chinesecalendar also knows {year.year}; the loaded schedule wins.")
    return 0


def cmd_calendar_show(args: argparse.Namespace) -> int:
    import settings as settings_module
    from tickets import workcalendar

    cfg = settings_module.load()
    factory = _factory(cfg.database_url, must_exist=True)
    try:
        if factory is None:
            view = workcalendar.year_view(None, args.year)
        else:
            with factory() as session:
                view = workcalendar.year_view(session, args.year)
    except Exception as exc:
        print(f"error: {_schema_hint(exc)}", file=sys.stderr)
        return 1
    if view.origin == "unknown":
        print(f"{args.year}: official calendar not loaded; Monday–Friday is assumed. "
              "Load it with: python app.py calendar load FILE")
        return 1
    origin = ("loaded by an admin" + (f" at {view.loaded_at:%Y-%m-%d %H:%M} UTC" if view.loaded_at else "")
              if view.origin == "loaded" else "from the chinesecalendar package")
    print(f"{args.year}: {origin}")
    for title, days in (("holidays", view.holidays), ("make-up working days (调休)", view.workdays)):
        print(f"{title}: {len(days)} days")
        for first, last, note in workcalendar.runs(days):
            span = (f"{first.isoformat()} ({WEEKDAYS[first.weekday()]})" if first == last else
                    f"{first.isoformat()}..{last.isoformat()} ({(last - first).days + 1} days)")
            print(f"  {span}" + (f"  {note}" if note else ""))
    return 0
