"""Weeks of simulated history in a database, for measuring what needs closed tickets
(the breach prediction: ``tickets.prediction_eval``).

    python -m feeds.history sqlite:///sim.db --seed 7 --rate 30 --from 2025-03-03 --days 56

The simulator's own runner (:class:`feeds.simulator.SimulationRunner`) plays the
requests and their handling plans through the service layer with a clock that
jumps ahead, so every ticket has its real lifecycle (dispatch, contact, reply,
follow-up, redo) and its close time. The database is migrated and the Jinan demo
bureau loaded if it has no units. Re-running the same command adds nothing.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from feeds.simulator import SimulationRunner, Simulator
from tickets.bootstrap import session_factory
from tickets.models import Ticket, Unit
from tickets.schema import upgrade
from tickets.units import load_bureau
from tickets.uow import unit_of_work

JINAN_BUREAU = Path(__file__).resolve().parent.parent / "examples" / "jinan_bureau.yaml"
TZ = ZoneInfo("Asia/Shanghai")


def simulate_history(url: str, *, seed: int, rate_per_hour: float, first: date, days: int,
                     tick: timedelta = timedelta(minutes=30)) -> int:
    """Play ``days`` of simulated requests from local midnight of ``first``; returns the tickets."""
    upgrade(url)
    factory = session_factory(url, tz=TZ)
    with unit_of_work(factory) as session:
        if not session.scalar(select(func.count()).select_from(Unit)):
            load_bureau(session, JINAN_BUREAU)
    start = datetime.combine(first, datetime.min.time(), TZ)
    end = start + timedelta(days=days)
    runner = SimulationRunner(factory, TZ, start=start,
                              simulator=Simulator(seed=seed, rate_per_hour=rate_per_hour, tz=TZ))
    now = start
    while now < end:
        now = min(now + tick, end)
        runner.tick(now)
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Ticket)) or 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m feeds.history", description=__doc__.split("\n\n")[0])
    parser.add_argument("database_url")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=30.0, help="requests per hour at the daily mean")
    parser.add_argument("--from", dest="first", type=date.fromisoformat, default=date(2025, 3, 3))
    parser.add_argument("--days", type=int, default=56)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    began = time.perf_counter()
    tickets = simulate_history(args.database_url, seed=args.seed, rate_per_hour=args.rate,
                               first=args.first, days=args.days)
    print(f"{tickets} tickets in {args.database_url} ({time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
