"""Benchmark: the deadline rules as versions (tickets/sla_versions.py, issue 19).

1. ``sla.schedule`` per ticket with the policy file alone and with five stored versions: what
   picking the version in force costs on the bulk paths (import, simulator), in memory.
2. ``sla_versions.rejudge``: a week of N tickets (20,000 by default) re-judged under a draft, as
   /admin/rules previews it before a save (the median of 3 calls).

    python bench/sla_versions.py                       # SQLite file
    python bench/sla_versions.py --backend postgresql  # a throwaway PostgreSQL (tests/servers.py)
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import timeit
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from tickets import sla, sla_versions  # noqa: E402
from tickets.bootstrap import session_factory  # noqa: E402
from tickets.models import Ticket, Unit  # noqa: E402
from tickets.roles import Actor  # noqa: E402
from tickets.schema import upgrade  # noqa: E402
from tickets.units import load_bureau  # noqa: E402
from tickets.uow import unit_of_work  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
WEEK = "2026-W47"  # 16–22 November 2026
MONDAY = datetime(2026, 11, 16, tzinfo=TZ)


def plant(url: str, n: int, seed: int = 1) -> Any:
    upgrade(url)
    factory = session_factory(url, tz=TZ)
    with unit_of_work(factory) as s:
        load_bureau(s, ROOT / "examples" / "jinan_bureau.yaml")
    rng = random.Random(seed)
    with unit_of_work(factory) as s:
        stations = list(s.scalars(select(Unit.id).where(Unit.level == 3)))
        rows = []
        for i in range(n):
            at = MONDAY + timedelta(minutes=rng.randrange(0, 7 * 24 * 60))
            sla_class = "consultation" if rng.random() < 0.3 else "service"
            plan = sla.schedule(sla_class, at, TZ)
            contacted = at + timedelta(minutes=rng.randrange(5, 90))
            closed = sla.add_working_hours(at, rng.uniform(1, 12), TZ) if rng.random() < 0.8 else None
            rows.append({"number": f"BS{i:010d}", "channel": "hotline_12345", "kind": "complaint",
                         "sla_class": sla_class, "topic": "noise", "title": "t", "content": "c",
                         "status": "closed" if closed else "contacted", "unit_id": rng.choice(stations),
                         "received_at": at, "dispatched_at": at, "contacted_at": contacted, "closed_at": closed,
                         "contact_due_at": plan.contact_due, "resolve_due_at": plan.resolve_due,
                         "escalation_level": 1, "redo_count": 0, "extension_pending": False})
        s.execute(insert(Ticket), rows)
    return factory


def per_ticket(factory: Any) -> dict[str, float]:
    at = MONDAY + timedelta(hours=10)

    def one() -> None:
        sla.schedule("service", at, TZ, topic="noise", channel="hotline_12345")

    out = {"file": min(timeit.repeat(one, number=2000, repeat=5)) / 2000 * 1e6}
    with unit_of_work(factory) as s:
        for k in range(5):
            sla_versions.create_version(s, Actor("bench", "admin"), {"contact_hours": 2 + k},
                                        MONDAY + timedelta(days=k), "bench", lead=timedelta(0),
                                        now=MONDAY - timedelta(days=1))
    with factory() as s:
        sla.load_rule_versions(s)
    out["five_versions"] = min(timeit.repeat(one, number=2000, repeat=5)) / 2000 * 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend == "postgresql":
            from tests.servers import PostgresServer

            server = PostgresServer().start()
            url = server.create_database("sla_versions_bench")
        else:
            url = f"sqlite:///{tmp}/bench.db"
        try:
            factory = plant(url, args.tickets)
            draft = sla_versions.parse_draft({"contact_hours": 0.5, "resolve_working_days": {"service": 2}})
            now = MONDAY + timedelta(days=10)
            times = []
            for _ in range(3):
                with factory() as s:
                    started = time.perf_counter()
                    result = sla_versions.rejudge(s, draft, WEEK, now, TZ)
                    times.append(time.perf_counter() - started)
            print(f"rejudge {args.tickets} tickets ({args.backend}): median {statistics.median(times):.2f} s, "
                  f"runs {', '.join(f'{t:.2f}' for t in times)}; on time {result.total.before.on_time_rate:.3f}"
                  f" -> {result.total.after.on_time_rate:.3f}")
            micro = per_ticket(factory)
            print(f"schedule() per ticket: policy file alone {micro['file']:.1f} µs, "
                  f"five stored versions {micro['five_versions']:.1f} µs")
        finally:
            sla.reset_policy()
            if args.backend == "postgresql":
                server.stop()


if __name__ == "__main__":
    main()
