"""The drill's day: what the training space receives, played by ``feeds.replay.Replayer``.

A simulated day (the simulated feed's arrivals for that date, ``feeds.simulator``: its
rhythm, channel mix, topics and places, at a rate of the trainer's choice), or a day of
real history: a CSV/Excel file with its import mapping, or the real database's tickets of
that day (read only). Real history comes in with made-up citizens: a trainee never sees a
real citizen's name or phone number, and no drill text could ever be meant for one.
"""
from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from feeds import texts
from feeds.replay import ReplayItem


def window(day: date, start: time, tz: Any, hours: float | None) -> tuple[datetime, datetime]:
    """[start, end) of the history to play: from ``start`` on ``day`` (local), for ``hours``
    or to the end of the day."""
    first = datetime.combine(day, start, tzinfo=tz)
    end_of_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    last = end_of_day if hours is None else min(end_of_day, first + timedelta(hours=hours))
    return first.astimezone(timezone.utc), last.astimezone(timezone.utc)


def simulated(first: datetime, last: datetime, tz: Any, *, rate_per_hour: float,
              seed: int) -> tuple[int, Iterator[ReplayItem]]:
    """How many records the simulated day has in [first, last), and the records, made minute
    by minute as they are played (a day's texts take seconds to write; a drill starts at once)."""
    from feeds.simulator import Simulator, minute_index

    simulator = Simulator(seed=seed, rate_per_hour=rate_per_hour, tz=tz)

    def records() -> Iterator[ReplayItem]:
        for index in range(minute_index(first), minute_index(last - timedelta(microseconds=1)) + 1):
            yield from (ReplayItem(r.received_at, r) for r in simulator.minute_requests(index)
                        if first <= r.received_at < last)

    return len(simulator.arrival_times(first, last)), records()


def within(items: Iterable[ReplayItem], first: datetime, last: datetime) -> list[ReplayItem]:
    return sorted((i for i in items if first <= i.at < last), key=lambda i: i.at)


def pseudonymised(items: Iterable[ReplayItem], seed: int) -> list[ReplayItem]:
    """Each record's citizen replaced by a made-up one (name and mobile number)."""
    rng = random.Random(seed)
    return [replace(i, request=replace(i.request, citizen_name=texts.person_name(rng),
                                       citizen_phone=texts.mobile(rng))) for i in items]
