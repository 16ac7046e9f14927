"""The periodic sweeps: follow-ups without an answer, overdue tickets, texts held overnight, queued messages.

:func:`run_sweeps` runs each sweep in its own transaction, so one failing does
not hold back the others, and never raises (errors are logged and reported in
its result). Deliveries (queued SMS, the replies owed to 12345 platforms) are
plain callables ``deliver(now) -> counts`` handed in by whoever starts the
loop, since sending is the business of the adapters, not of the domain.
:func:`run` is the loop the platform's leader process runs in a background
thread (only one process sweeps, like the relay and aggregator).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.orm import sessionmaker

from tickets import followup, official_sms, rollups, supervision
from tickets.uow import UnitOfWork, unit_of_work

log = logging.getLogger(__name__)

Deliver = Callable[[datetime], dict[str, Any]]
MAX_BATCHES = 1000  # a sweep's batches in one round at most (a guard: each batch makes progress)
SWEEPS: tuple[tuple[str, Callable[[UnitOfWork, datetime], dict[str, int]]], ...] = (
    ("follow_up", followup.sweep),
    ("supervision", supervision.sweep),
    ("official_sms", official_sms.release),  # texts held overnight, before the deliveries send them
    ("handling_hours", rollups.fill_handling_hours),  # closed before migration 0016 stored them
    ("figure_rollups", rollups.ensure),  # the figures' rows, if missing or cut by another time zone
)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def deliveries(factory: sessionmaker[UnitOfWork], **more: Deliver) -> dict[str, Deliver]:
    """The domain's own delivery (queued SMS) and ``more`` (e.g. ``results=`` the 12345 replies)."""
    return {"sms": lambda now: followup.deliver_queued(factory, now), **more}


def run_sweeps(factory: sessionmaker[UnitOfWork], now: datetime,
               deliver: Mapping[str, Deliver] | None = None) -> dict[str, Any]:
    """Run every sweep, then every delivery, at ``now``; returns what each did, or
    ``{"error": ...}`` for one that failed."""
    out: dict[str, Any] = {}
    for name, sweep in SWEEPS:
        try:
            total: dict[str, int] = {}
            more, rounds = True, 0
            while more and rounds < MAX_BATCHES:  # more than one batch: on in a new transaction each
                rounds += 1
                with unit_of_work(factory) as uow:
                    done = sweep(uow, now)
                more = bool(done.pop("more", 0))
                for key, value in done.items():
                    total[key] = total.get(key, 0) + value
            out[name] = total
        except Exception as exc:  # noqa: BLE001 - a sweep must never take the loop down
            log.exception("%s sweep failed; next round tries again", name)
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    out.update(_deliver(deliver if deliver is not None else deliveries(factory), now))
    return out


def _deliver(deliver: Mapping[str, Deliver], now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, send in deliver.items():
        try:
            out[name] = send(now)
        except Exception as exc:  # noqa: BLE001
            log.exception("%s delivery failed; next round tries again", name)
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def run(factory: sessionmaker[UnitOfWork], stop: threading.Event, is_leader: Callable[[], bool], *,
        deliver: Mapping[str, Deliver] | None = None, interval: float = 30.0, sms_interval: float = 5.0,
        clock: Callable[[], datetime] = _now) -> None:
    """Sweep every ``interval`` seconds (deliver every ``sms_interval``) while leading."""
    deliver = deliver if deliver is not None else deliveries(factory)
    last_sweep = float("-inf")
    while not stop.is_set():
        try:
            if is_leader():
                now = clock()
                if time.monotonic() - last_sweep >= interval:
                    last_sweep = time.monotonic()
                    result = run_sweeps(factory, now, deliver)
                    if any(v for part in result.values() if isinstance(part, dict) for v in part.values()):
                        log.info("housekeeping: %s", result)
                else:
                    _deliver(deliver, now)
        except Exception:  # noqa: BLE001 - e.g. Redis away while asking for leadership
            log.exception("housekeeping round failed")
        stop.wait(min(interval, sms_interval))
