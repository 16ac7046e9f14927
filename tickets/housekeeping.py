"""The periodic sweeps: follow-ups without an answer, overdue tickets, queued SMS.

:func:`run_sweeps` runs each sweep in its own transaction, so one failing does
not hold back the others, and never raises (errors are logged and reported in
its result). :func:`run` is the loop the platform's leader process runs in a
background thread (only one process sweeps, like the relay and aggregator).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tickets import followup, supervision
from tickets.db import unit_of_work

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def run_sweeps(factory: sessionmaker[Session], now: datetime) -> dict[str, Any]:
    """Run every sweep at ``now``; returns what each did, or ``{"error": ...}`` for one that failed."""
    out: dict[str, Any] = {}
    sweeps: tuple[tuple[str, Callable[[Session, datetime], dict[str, int]]], ...] = (
        ("follow_up", followup.sweep),
        ("supervision", supervision.sweep),
    )
    for name, sweep in sweeps:
        try:
            with unit_of_work(factory) as session:
                out[name] = sweep(session, now)
        except Exception as exc:  # noqa: BLE001 - a sweep must never take the loop down
            log.exception("%s sweep failed; next round tries again", name)
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    out["sms"] = deliver(factory, now)
    out["results"] = deliver_results(factory, now)
    return out


def deliver_results(factory: sessionmaker[Session], now: datetime) -> dict[str, Any]:
    """Replies back to the 12345 platforms (feeds/connectors.py), retried with backoff."""
    try:
        from feeds import connectors

        return connectors.deliver_pending(factory, now)
    except Exception as exc:  # noqa: BLE001
        log.exception("result delivery failed; next round tries again")
        return {"error": f"{type(exc).__name__}: {exc}"}


def deliver(factory: sessionmaker[Session], now: datetime) -> dict[str, Any]:
    try:
        return followup.deliver_queued(factory, now)
    except Exception as exc:  # noqa: BLE001
        log.exception("SMS delivery failed; next round tries again")
        return {"error": f"{type(exc).__name__}: {exc}"}


def run(factory: sessionmaker[Session], stop: threading.Event, is_leader: Callable[[], bool], *,
        interval: float = 30.0, sms_interval: float = 5.0, clock: Callable[[], datetime] = _now) -> None:
    """Sweep every ``interval`` seconds (queued SMS every ``sms_interval``) while leading."""
    last_sweep = float("-inf")
    while not stop.is_set():
        try:
            if is_leader():
                now = clock()
                if time.monotonic() - last_sweep >= interval:
                    last_sweep = time.monotonic()
                    result = run_sweeps(factory, now)
                    if any(v for part in result.values() if isinstance(part, dict) for v in part.values()):
                        log.info("housekeeping: %s", result)
                else:
                    deliver(factory, now)
                    deliver_results(factory, now)
        except Exception:  # noqa: BLE001 - e.g. Redis away while asking for leadership
            log.exception("housekeeping round failed")
        stop.wait(min(interval, sms_interval))
