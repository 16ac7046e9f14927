"""Benchmark: ``tickets.prediction.predict_open`` over a big open queue.

N open tickets (10,000 by default) and H tickets due in the last four weeks (40,000),
spread over the Jinan demo bureau's stations, topics and deadline classes, with their
deadlines from the SLA policy; then the time of ``predict_open`` for every unit and for
one station's scope (the median of 5 calls; the first, with a cold cache, apart).

    python bench/prediction.py                       # SQLite file
    python bench/prediction.py --backend postgresql  # a throwaway PostgreSQL (tests/servers.py)
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from tickets import sla  # noqa: E402
from tickets.bootstrap import session_factory  # noqa: E402
from tickets.models import Ticket, Unit  # noqa: E402
from tickets.prediction import PredictionRules, predict_open  # noqa: E402
from tickets.schema import upgrade  # noqa: E402
from tickets.units import load_bureau  # noqa: E402
from tickets.uow import unit_of_work  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
TOPICS = ("noise", "theft", "fraud", "traffic", "household", "dispute", "other")


def plant(url: str, open_n: int, history_n: int, now: datetime, seed: int = 1) -> None:
    upgrade(url)
    factory = session_factory(url, tz=TZ)
    with unit_of_work(factory) as s:
        load_bureau(s, ROOT / "examples" / "jinan_bureau.yaml")
    rng = random.Random(seed)
    with unit_of_work(factory) as s:
        stations = list(s.scalars(select(Unit.id).where(Unit.level == 3)))
        slow = set(rng.sample(stations, len(stations) // 5))
        rows: list[dict[str, Any]] = []
        for n in range(open_n + history_n):
            unit_id = rng.choice(stations)
            sla_class = "consultation" if rng.random() < 0.3 else "service"
            if n < open_n:  # open: dispatched in the last two working days
                dispatched = now - timedelta(minutes=rng.randrange(1, 60 * 48))
            else:  # due in the last 28 days
                dispatched = now - timedelta(days=29) + timedelta(minutes=rng.randrange(0, 60 * 24 * 28))
            plan = sla.schedule(sla_class, dispatched, TZ)
            closed = None
            if n >= open_n:
                allowed = sla.working_hours_between(dispatched, plan.resolve_due, TZ)
                late = rng.random() < (0.4 if unit_id in slow else 0.08)
                closed = (plan.resolve_due + timedelta(hours=rng.uniform(0.2, 30)) if late else
                          sla.add_working_hours(dispatched, allowed * rng.uniform(0.05, 0.95), TZ))
                if closed > now:
                    closed = None
            rows.append({
                "number": f"BP{n:010d}", "channel": "hotline_12345", "kind": "help", "sla_class": sla_class,
                "topic": rng.choice(TOPICS), "title": "基准", "content": "基准",
                "status": "closed" if closed else "contacted",
                "unit_id": unit_id, "received_at": dispatched, "dispatched_at": dispatched,
                "resolve_due_at": plan.resolve_due, "resolve_warn_at": plan.resolve_warn, "closed_at": closed,
                "contact_due_at": plan.contact_due, "escalation_level": 1, "redo_count": 0,
                "extension_pending": False,
            })
            if len(rows) == 5000:
                s.execute(insert(Ticket), rows)
                rows = []
        if rows:
            s.execute(insert(Ticket), rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--open", type=int, default=10_000)
    ap.add_argument("--history", type=int, default=40_000)
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = ap.parse_args()
    now = datetime(2026, 11, 25, 15, 0, tzinfo=TZ).astimezone(timezone.utc)  # a Wednesday afternoon
    server = None
    if args.backend == "postgresql":
        from tests.servers import PostgresServer

        server = PostgresServer().start()
        url = server.create_database("prediction_bench")
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'prediction.db'}"
    try:
        t0 = time.perf_counter()
        plant(url, args.open, args.history, now)
        print(f"{args.open:,} open + {args.history:,} history tickets planted in {time.perf_counter() - t0:.0f} s "
              f"({args.backend})")
        factory = session_factory(url, tz=TZ)
        with factory() as s:
            one = s.scalar(select(Ticket.unit_id).where(Ticket.closed_at.is_(None)).limit(1))
            for label, scope in (("every unit", None), ("one station", frozenset({one}))):
                times, listed = [], 0
                for _ in range(6):
                    t = time.perf_counter()
                    listed = len(predict_open(s, now, TZ, unit_ids=scope, rules=PredictionRules()))
                    times.append(time.perf_counter() - t)
                median = statistics.median(times[1:])
                print(f"predict_open, {label}: first {times[0] * 1000:.0f} ms, then median {median * 1000:.0f} ms; "
                      f"{listed:,} listed at p >= {PredictionRules().threshold}")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
