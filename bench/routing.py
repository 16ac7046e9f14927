"""Benchmark: routing a point to the station whose jurisdiction contains it.

    .venv/bin/python bench/routing.py                    # 100,000 points
    .venv/bin/python bench/routing.py --points 20000 --seed 3

Points are uniform over Jinan's area (all 12 districts). Measured:

1. ``station_at``: one call per point, as dispatch makes per ticket;
2. ``stations_at``: all points in one vectorised call (imports, hotspot and
   alert jobs that attribute many points at once);
3. ``dispatch.route`` for a noise ticket (no topic owner, so the place
   decides): topic owners, jurisdiction lookup, code → unit, against SQLite
   with the Jinan demo bureau loaded, in one session, as intake calls it;
4. for comparison, the same ``route`` with no jurisdiction data: the old
   nearest-station rule (one query per ticket for the district's branch).

Exactness is checked on every point: 1 and 2 agree, and 3 routes to the
unit 1 names.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import shapely  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from geo import jurisdictions  # noqa: E402
from geo.districts import district_at, load_districts  # noqa: E402
from tickets.dispatch import route  # noqa: E402
from tickets.models import Base, Ticket  # noqa: E402
from tickets.units import load_bureau  # noqa: E402


def points_in_jinan(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n (lat, lon) uniform over the city's area (rejection sampling in its bounding box)."""
    city = shapely.union_all([d.geometry for d in load_districts().values()])
    shapely.prepare(city)
    min_lon, min_lat, max_lon, max_lat = city.bounds
    rng = np.random.default_rng(seed)
    lats: list[np.ndarray] = []
    lons: list[np.ndarray] = []
    have = 0
    while have < n:
        lon = rng.uniform(min_lon, max_lon, n)
        lat = rng.uniform(min_lat, max_lat, n)
        inside = shapely.intersects_xy(city, lon, lat)
        lats.append(lat[inside])
        lons.append(lon[inside])
        have += int(inside.sum())
    return np.concatenate(lats)[:n], np.concatenate(lons)[:n]


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f} /s   ({seconds * 1e6 / n:6.2f} µs each, {n:,} points, {seconds:.2f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--old-points", type=int, default=10_000, help="points for the old rule (slow)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    t = time.perf_counter()
    js = jurisdictions.routing_jurisdictions()
    loaded = time.perf_counter() - t
    js.station_at(36.66, 117.02)  # the first lookup builds the grid index
    print(f"load {len(js)} jurisdictions: {loaded:.3f} s; build the lookup grid: "
          f"{time.perf_counter() - t - loaded:.3f} s (once per process)")
    lat, lon = points_in_jinan(args.points, args.seed)
    lat_l, lon_l = lat.tolist(), lon.tolist()

    t = time.perf_counter()
    one = [js.station_at(a, b) for a, b in zip(lat_l, lon_l)]
    print("station_at (one call a point)  " + rate(len(one), time.perf_counter() - t))

    t = time.perf_counter()
    many = js.stations_at(lat, lon)
    print("stations_at (vectorised)       " + rate(len(many), time.perf_counter() - t))
    assert many == one, "vectorised and scalar lookups disagree"
    assert None not in one, "a point inside Jinan fell outside every jurisdiction"

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        load_bureau(session, ROOT / "examples" / "jinan_bureau.yaml")
        session.commit()
        tickets = [Ticket(topic="noise", district=None, lat=a, lon=b) for a, b in zip(lat_l, lon_l)]
        route(session, tickets[0])  # warm the unit caches
        t = time.perf_counter()
        units = [route(session, ticket) for ticket in tickets]
        print("dispatch.route (jurisdiction)  " + rate(len(units), time.perf_counter() - t))
        wrong = sum(u.code != c for u, c in zip(units, one))
        assert wrong == 0, f"{wrong} tickets routed elsewhere than station_at says"

        m = min(args.old_points, len(tickets))
        old = [Ticket(topic="noise", district=district_at(a, b), lat=a, lon=b)
               for a, b in zip(lat_l[:m], lon_l[:m])]
        jurisdictions.configure_routing([])  # no polygons: the nearest-station fallback
        try:
            route(session, old[0])
            t = time.perf_counter()
            old_units = [route(session, ticket) for ticket in old]
            print("dispatch.route (old nearest)   " + rate(len(old_units), time.perf_counter() - t))
        finally:
            jurisdictions.configure_routing(None)
        same = sum(u.code == c for u, c in zip(old_units, one))
        print(f"old rule agrees with the jurisdictions on {same:,} of {m:,} points "
              "(the demo cells are nearest-station cells, so all but ties)")
    rng = random.Random(args.seed)
    sample = rng.sample(range(len(one)), 3)
    print("e.g. " + "; ".join(f"({lat_l[i]:.5f}, {lon_l[i]:.5f}) → {one[i]}" for i in sample))


if __name__ == "__main__":
    main()
