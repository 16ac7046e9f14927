"""Benchmark: the 12345 push intake rate (records/s), validation to commit.

    .venv/bin/python bench/intake_push.py                       # both paths, defaults below
    .venv/bin/python bench/intake_push.py --path inprocess --orders 3000 --batch 100
    .venv/bin/python bench/intake_push.py --path server --orders 3000 --batch 100
    .venv/bin/python bench/intake_push.py --path inprocess --profile   # where the time goes (cProfile)

Each order is a realistic 12345 work order (the simulated feed's Chinese texts,
places in Jinan's districts with GCJ-02 coordinates, caller, phone, appeal
type), signed with HMAC-SHA256, pushed to ``POST /api/v1/intake/hotline``:
signature check, JSON parse, field validation, coordinate conversion,
district lookup, topic rules, de-duplication, routing to the station, ticket
number, deadlines, timeline + outbox rows, commit. SQLite (the embedded
default) on a fresh file with the Jinan demo bureau and its jurisdictions.

Paths: ``inprocess`` is Flask's test client (no sockets); ``server`` is the
real platform process (``python app.py run``) over HTTP/1.1 keep-alive from
this process. ``--batch 1`` is one order per request (one transaction each);
``--batch N`` sends arrays of N orders (one transaction per request).
Every order is checked afterwards: as many intake records as orders sent,
nothing refused.
"""
from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import os
import pstats
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select

import app
import settings as settings_module
from feeds.simulator import Simulator
from geo import coords
from tickets.models import DeadLetter, IntakeRecord
from tests.helpers import signed_headers, together
from tickets.vocabulary import KINDS

TZ = ZoneInfo("Asia/Shanghai")
SECRET = "bench-secret"


def make_orders(n: int, seed: int = 11, prefix: str = "GS", spread_hours: float | None = None,
                ) -> list[dict[str, Any]]:
    """``n`` work orders from the simulated feed (stable for a seed), received over the last
    half hour or so (the densest case: every order within every other's de-duplication
    window), or, with ``spread_hours``, spread evenly over that many hours before now."""
    rate = max(600.0, n * 2.0) if spread_hours is None else n / spread_hours * 1.25
    sim = Simulator(seed=seed, rate_per_hour=rate, tz=TZ)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    requests: list[Any] = []
    hours = 1.0 if spread_hours is None else spread_hours
    while len(requests) < n:
        requests = sim.requests_between(end - timedelta(hours=hours), end)
        hours *= 2
    # The latest n; spread: n taken evenly over the whole span.
    chosen = requests[-n:] if spread_hours is None else [requests[i * len(requests) // n] for i in range(n)]
    orders = []
    for i, r in enumerate(chosen):
        order = {
            "工单编号": f"{prefix}{r.received_at.astimezone(TZ):%Y%m%d}{i:06d}",
            "派单时间": r.received_at.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S"),
            "来电人": r.citizen_name, "联系电话": r.citizen_phone, "事发地址": r.address,
            "诉求类型": KINDS[r.kind],
            "标题": r.title, "诉求内容": r.content, "紧急程度": "普通", "工单状态": "0",
        }
        if r.lat is not None and r.lon is not None:
            lat, lon = coords.wgs84_to_gcj02(r.lat, r.lon)
            order["纬度"], order["经度"] = round(lat, 6), round(lon, 6)
        orders.append(order)
    return orders


def bodies(orders: list[dict[str, Any]], batch: int) -> list[bytes]:
    chunks = [orders[i:i + batch] for i in range(0, len(orders), batch)]
    return [json.dumps(c[0] if batch == 1 else c, ensure_ascii=False).encode("utf-8") for c in chunks]


def prepare_db(path: Path | str) -> str:
    """A fresh database (a SQLite file, or a PostgreSQL URL) with the Jinan demo bureau."""
    from tickets.bootstrap import session_factory
    from tickets.uow import unit_of_work
    from tickets.schema import upgrade
    from tickets.units import load_bureau

    url = path if isinstance(path, str) else f"sqlite:///{path}"
    upgrade(url)
    factory = session_factory(url)
    with unit_of_work(factory) as s:
        load_bureau(s, ROOT / "examples" / "jinan_bureau.yaml")
    return url


def check(url: str, sent: int) -> dict[str, int]:
    from tickets.bootstrap import session_factory

    factory = session_factory(url)
    with factory() as s:
        records = s.scalar(select(func.count()).select_from(IntakeRecord)) or 0
        merged = s.scalar(select(func.count()).select_from(IntakeRecord).where(IntakeRecord.merged.is_(True))) or 0
        dead = s.scalar(select(func.count()).select_from(DeadLetter)) or 0
    if records != sent or dead:
        raise SystemExit(f"LOST OR REFUSED: sent {sent}, intake records {records}, dead letters {dead}")
    return {"records": records, "merged": merged}


def run_inprocess(orders: list[dict[str, Any]], batch: int, profile: bool, backend: str = "embedded",
                  durable: bool = False, dedup_mode: str = "auto") -> dict[str, Any]:
    """Flask's test client in this process, no live path: SQLite, or PostgreSQL (``real``)."""
    import logging

    logging.disable(logging.WARNING)
    from dashboard import create_platform

    tmp = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    pg = None
    if backend == "real":
        from tests.servers import PostgresServer

        pg = PostgresServer(durable=durable).start()
        url = prepare_db(pg.create_database("bench_push"))
    else:
        url = prepare_db(tmp / "bench.db")
    cfg = settings_module.load(environ={}, database_url=url, hotline_secret=SECRET, demo_accounts_file="none",
                               dedup_mode=dedup_mode)
    platform = create_platform(cfg, live=False)
    app.tune_gc(freeze=True)  # as ``app.py run`` starts the platform
    client = platform.server.test_client()
    payloads = bodies(orders, batch)
    warm = bodies(make_orders(20, seed=99, prefix="WU"), 1)
    for body in warm[:5]:  # warm up: imports, routing grid, dedup index (not timed, not counted)
        client.post("/api/v1/intake/hotline", data=body, headers=signed_headers(body, SECRET))
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    for body in payloads:
        response = client.post("/api/v1/intake/hotline", data=body, headers=signed_headers(body, SECRET))
        if response.status_code not in (200, 201):
            raise SystemExit(f"push failed: {response.status_code} {response.get_data(as_text=True)[:300]}")
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - start
    platform.stop()
    try:
        counted = check(url, len(orders) + 5)
    finally:
        if pg is not None:
            pg.stop()
    out = {"path": "in-process (Flask test client), " + ("PostgreSQL" if pg else "SQLite"), "orders": len(orders), "batch": batch,
           "seconds": round(elapsed, 2), "per_second": round(len(orders) / elapsed), **counted}
    if profiler:
        profiler.dump_stats(os.environ.get("BENCH_PROFILE_FILE", str(tmp / "intake.prof")))
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(45)
        out["profile"] = stream.getvalue()
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(25)
        out["profile_self"] = stream.getvalue()
    return out


def run_server(orders: list[dict[str, Any]], batch: int, backend: str = "embedded",
               processes: int = 1, durable: bool = False) -> dict[str, Any]:
    """The real platform process, on the embedded default (SQLite + the in-process Redis
    stand-in) or on real servers (a throwaway PostgreSQL and Redis, tests/servers.py)."""
    from tests.servers import PlatformProcess

    tmp = Path(tempfile.mkdtemp(prefix="bench-intake-server-"))
    servers: list[Any] = []
    redis_url = None
    if backend == "real":
        from tests.servers import PostgresServer, RedisServer

        pg = PostgresServer(durable=durable).start()
        redis = RedisServer().start()
        servers = [pg, redis]
        url = prepare_db(pg.create_database("bench_push"))
        redis_url = redis.url
    else:
        url = prepare_db(tmp / "bench.db")
    # The demo accounts load too: the readiness check reads the live snapshot with the demo kiosk token.
    # ``processes`` > 1: the platform as a bureau would run it under load, several server
    # processes on one database and one Redis; one of them leads the live path (relay and
    # aggregator), and the client pushes to all of them at once, one connection each.
    procs = [PlatformProcess(url, redis_url=redis_url, env={"MINSHENG_HOTLINE_SECRET": SECRET})
             for _ in range(processes)]
    for process in procs:
        process.start()
    try:
        payloads = bodies(orders, batch)
        failures: list[str] = []

        def sender(port: int) -> Any:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

            def send(body: bytes) -> None:
                conn.request("POST", "/api/v1/intake/hotline", body=body, headers=signed_headers(body, SECRET))
                response = conn.getresponse()
                data = response.read()
                if response.status not in (200, 201):
                    failures.append(f"push failed: {response.status} {data[:300]!r}")

            return send

        senders = [sender(p.port) for p in procs]
        for body in bodies(make_orders(5, seed=99, prefix="WU"), 1):
            senders[0](body)
        shares = [payloads[i::processes] for i in range(processes)]
        workers = [threading.Thread(target=lambda send=send, share=share: [send(b) for b in share])
                   for send, share in zip(senders, shares)]
        elapsed = together(workers)
        pushed = time.perf_counter()
        if failures:
            raise SystemExit(failures[0])
        # How long after the last push the wall's live state holds every ticket (the relay
        # and the aggregator catching up with a burst).
        lag = None
        while time.perf_counter() - pushed < 300:
            if procs[0].get("/api/v1/live/snapshot")["counters"]["open_now"] >= len(orders) + 5:
                lag = time.perf_counter() - pushed
                break
            time.sleep(0.1)
        peak_mb = [_peak_rss_mb(process.proc.pid) for process in procs if process.proc is not None]
    finally:
        for process in procs:
            process.stop()
    try:
        counted = check(url, len(orders) + 5)
    finally:
        for server in servers:
            server.stop()
    where = "PostgreSQL + Redis" if backend == "real" else "SQLite + in-process Redis"
    label = "real server process" if processes == 1 else f"{processes} real server processes"
    return {"path": f"{label} (HTTP keep-alive), {where}", "orders": len(orders), "batch": batch,
            "seconds": round(elapsed, 2), "per_second": round(len(orders) / elapsed),
            "live_caught_up_s": None if lag is None else round(lag, 1), "peak_rss_mb": peak_mb, **counted}


def _peak_rss_mb(pid: int) -> int:
    """A process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", choices=["inprocess", "server", "both"], default="both")
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--backend", choices=["embedded", "real"], default="embedded",
                        help="server path: SQLite + in-process Redis, or PostgreSQL + Redis servers")
    parser.add_argument("--processes", type=int, default=1,
                        help="server path: platform processes sharing the database and Redis (needs --backend real)")
    parser.add_argument("--durable", action="store_true",
                        help="--backend real: PostgreSQL with fsync and synchronous commits on (the tests' server has them off)")
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process run")
    parser.add_argument("--spread-hours", type=float, default=None,
                        help="orders received over this many hours before now (default: all in the last half hour)")
    parser.add_argument("--dedup", choices=["auto", "off"], default="auto",
                        help="off: measure without de-duplication (diagnosis only; in-process path)")
    args = parser.parse_args(argv)
    orders = make_orders(args.orders, spread_hours=args.spread_hours)
    results = []
    for batch in args.batch:
        if args.path in ("inprocess", "both"):
            results.append(run_inprocess(orders, batch, args.profile, args.backend, args.durable, args.dedup))
            print({k: v for k, v in results[-1].items() if not k.startswith("profile")}, flush=True)
        if args.path in ("server", "both"):
            results.append(run_server(orders, batch, args.backend, args.processes, args.durable))
            print(results[-1], flush=True)
    print(f"machine: {os.cpu_count()} cores; {args.orders} orders per run")
    print("| path | orders/request | orders | seconds | orders/s | merged by de-duplication |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['path']} | {r['batch']} | {r['orders']:,} | {r['seconds']} | {r['per_second']:,} | {r['merged']} |"
              + (f" live state complete {r['live_caught_up_s']} s after the last push; peak memory {r['peak_rss_mb']} MB |" if "live_caught_up_s" in r else ""))
    for r in results:
        if "profile" in r:
            print(f"\n--- cProfile, batch {r['batch']}, by cumulative time ---\n{r['profile']}")
            print(f"\n--- by own time ---\n{r['profile_self']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
