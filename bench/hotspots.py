"""Hotspots and early warnings on a database of simulated tickets: how long the
hotspots answer takes raw (point by point) and aggregated in SQL, and one
detector round.

    python bench/hotspots.py [--days 7] [--rate 600] [--database-url URL]

Plants ``days`` of the simulator's tickets (places and topics as the live
feed makes them) into a fresh database (SQLite in a temporary directory by
default; give a PostgreSQL URL to measure it), then times the API's work.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.simulator import Simulator  # noqa: E402
from tickets import points as ticket_points  # noqa: E402
from geo.jurisdictions import routing_jurisdictions  # noqa: E402
from tests.helpers import plant, ticket_row, unit_ids  # noqa: E402
from tickets import alerts  # noqa: E402
from tickets.bootstrap import session_factory  # noqa: E402
from tickets.uow import unit_of_work  # noqa: E402
from tickets.schema import upgrade  # noqa: E402
from tickets.units import load_bureau  # noqa: E402

import settings as settings_module  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--rate", type=float, default=600.0)
    ap.add_argument("--database-url")
    args = ap.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    tz = settings_module.load().tz
    upgrade(url)
    factory = session_factory(url)
    with unit_of_work(factory) as s:
        load_bureau(s, ROOT / "examples" / "jinan_bureau.yaml")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    t0 = time.perf_counter()
    requests = Simulator(seed=3, rate_per_hour=args.rate, tz=tz).requests_between(now - timedelta(days=args.days), now)
    codes = routing_jurisdictions().stations_at([r.lat for r in requests], [r.lon for r in requests])
    with unit_of_work(factory) as s:
        ids = unit_ids(s)
        plant(s, [ticket_row(r.received_at, r.lat, r.lon, r.topic, district=r.district, unit_id=ids.get(c or ""))
                  for r, c in zip(requests, codes)])
    print(f"{len(requests):,} tickets planted in {time.perf_counter() - t0:.1f} s ({url.split(':')[0]})")

    from dashboard.read_models.hotspots import hotspots

    for window in (timedelta(hours=24), timedelta(days=7)):
        for label, cap in (("raw", 10**9), ("aggregated", 0)):
            ticket_points.CAP = cap
            with factory() as s:
                t = time.perf_counter()
                body = hotspots(s, now - window, now, None, None)
                took = time.perf_counter() - t
            print(f"hotspots {window.days or 1}d {label:10}: {took * 1000:7.0f} ms  "
                  f"({body['total']:,} tickets, {len(body['cells']):,} cells; both windows)")
        with factory() as s:
            t = time.perf_counter()
            points = list(ticket_points.grouped_points(s, now - window, now))
            print(f"  grouped rows read for the {window.days or 1}d window: {len(points):,} "
                  f"({time.perf_counter() - t:.2f} s)")
    with unit_of_work(factory) as s:
        t = time.perf_counter()
        summary = alerts.detect(s, now, tz).summary()
        print(f"one detector round: {time.perf_counter() - t:.2f} s, {summary}")


if __name__ == "__main__":
    main()
