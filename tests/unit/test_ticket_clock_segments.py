"""The resolve clock's stretches on the ticket page, read from the ticket's events."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from dashboard.read_models.ticket import resolve_segments

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)


def events(*kinds: str) -> list[Any]:
    return [SimpleNamespace(kind=k, at=T0 + timedelta(hours=i)) for i, k in enumerate(kinds)]


def at(hours: int) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def test_a_pending_extension_pauses_the_clock_only_where_the_policy_says_so() -> None:
    kinds = ("received", "dispatched", "accept", "request_extension", "extension_decided", "report")
    assert resolve_segments(events(*kinds), True, None) == [
        {"state": "running", "from": at(1), "to": at(3)},
        {"state": "paused", "from": at(3), "to": at(4)},
        {"state": "running", "from": at(4), "to": None},
    ]
    assert resolve_segments(events(*kinds), False, None) == [{"state": "running", "from": at(1), "to": None}]


def test_a_redo_counts_afresh_and_a_close_ends_the_last_stretch() -> None:
    closed = T0 + timedelta(hours=9)
    got = resolve_segments(events("received", "dispatched", "dispatched", "reply", "redo", "report"), False, closed)
    assert got == [{"state": "running", "from": at(1), "to": at(4)},  # a second dispatch is no new stretch
                   {"state": "restarted", "from": at(4), "to": closed.isoformat()}]
    assert resolve_segments(events("received"), True, None) == []  # not dispatched: no clock yet
