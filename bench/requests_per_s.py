"""Benchmark: requests per second through ``app.py serve`` while the wall is live (issue 18, item 1).

Starts ``app.py serve`` (the worker class given) + ``app.py worker`` on throwaway PostgreSQL and
Redis (bench/live_push.py's set-up), connects ``--screens`` light wall clients and commits
``--rate`` tickets a second from this process (the load), and meanwhile ``--clients`` HTTP clients,
in ``--processes`` processes of their own (one Python process alone would be the bottleneck),
each a keep-alive session, GET one path as fast as they can for ``--seconds``. Reports
requests/s, p50/p99 latency and failures per path.

    python bench/requests_per_s.py --worker-class gthread --workers 2 --threads 100
    python bench/requests_per_s.py --worker-class gevent --workers 2 --connections 1000
    python bench/requests_per_s.py --path /api/v1/health --path /login --clients 50 --seconds 20
    python bench/requests_per_s.py --worker-class gevent --env MINSHENG_DB_POOL_SIZE=30   # a setting changed

``/api/v1/health`` is an API GET with one database round trip (SELECT 1) and one Redis PING;
``/login`` a page rendered with no database.
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))



def _hammer(url: str, clients: int, seconds: float, ready: Any, go: Any, out: Any) -> None:
    """One process: ``clients`` threads, each a keep-alive session GETting ``url`` until the end."""
    import requests

    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()

    def client() -> None:
        session = requests.Session()
        mine: list[float] = []
        failed = 0
        go.wait()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t = time.perf_counter()
            try:
                ok = session.get(url, timeout=30).status_code == 200
            except requests.RequestException:
                ok = False
            if ok:
                mine.append(time.perf_counter() - t)
            else:
                failed += 1
        with lock:
            latencies.extend(mine)
            failures[0] += failed

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    ready.put(1)
    for thread in threads:
        thread.join()
    out.put((latencies, failures[0]))


def _feed(database_url: str, rate: float, stop: Any, fed: Any) -> None:
    """The wall's load: tickets committed at ``rate`` a second, each in its own transaction, as a feed would."""
    from tests.helpers import new_request, submit
    from tickets.bootstrap import session_factory

    factory = session_factory(database_url)
    started = time.perf_counter()
    i = 0
    while not stop.is_set():
        pause = started + i / rate - time.perf_counter()
        if pause > 0:
            stop.wait(pause)
        submit(factory, new_request())
        i += 1
        fed.value = i


def percentile(values: list[float], q: float) -> float:
    from bench.live_push import percentile as of

    return of(values, q)


def measure(base_url: str, path: str, clients: int, processes: int, seconds: float) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")  # no fork of this process's sockets and threads
    ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    share = [clients // processes + (1 if k < clients % processes else 0) for k in range(processes)]
    procs = [ctx.Process(target=_hammer, args=(base_url + path, n, seconds, ready, go, out)) for n in share if n]
    for proc in procs:
        proc.start()
    for _ in procs:  # every process imported and its threads waiting
        ready.get(timeout=60)
    go.set()
    latencies: list[float] = []
    failures = 0
    for _ in procs:
        got, failed = out.get(timeout=seconds + 120)
        latencies.extend(got)
        failures += failed
    for proc in procs:
        proc.join()
    return {
        "path": path,
        "requests_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99) * 1000, 1) if latencies else None,
        "failed": failures,
    }


def run(worker_class: str, workers: int, threads: int, connections: int, paths: list[str], clients: int,
        processes: int, seconds: float, screens: int, rate: float,
        env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    from bench.light_screens import ScreenProcess  # here: the clients' processes import this module
    from bench.live_push import _serve
    from bench.processes import cpu_seconds
    from tests.servers import PostgresServer, RedisServer, demo_kiosk_token

    pg, rs = PostgresServer().start(), RedisServer().start()
    web = worker = None
    try:
        web, worker = _serve(pg.create_database("bench"), rs.url, env or {}, workers, threads, worker_class, connections)
        screens_pool = [ScreenProcess(web.base_url, demo_kiosk_token(), screens)] if screens else []
        for p in screens_pool:
            p.ready()
        # The feed in a process of its own: beside the 50 screens in this one it reached 2-8 of the
        # 20 tickets/s asked, differently for each server, and so loaded them differently.
        ctx = multiprocessing.get_context("spawn")
        stop, fed = ctx.Event(), ctx.Value("i", 0)
        feeder = ctx.Process(target=_feed, args=(web.database_url, rate, stop, fed), daemon=True)
        if rate > 0:
            feeder.start()
        try:
            results = []
            for path in paths:
                fed_before, t = fed.value, time.monotonic()
                cpu_before = cpu_seconds([web.proc.pid])
                result = measure(web.base_url, path, clients, processes, seconds)
                # The web processes' CPU over the clients' start-up and the measurement: on a busy host
                # one gevent thread per worker gets a smaller share than 100 gthread threads (Linux
                # shares the CPU by thread), so requests per CPU-second is the fairer comparison there.
                cpu = cpu_seconds([web.proc.pid]) - cpu_before
                result["web_cpu_s"] = round(cpu, 1)
                result["requests_per_cpu_s"] = round(result["requests_per_s"] * seconds / cpu, 1) if cpu else None
                result["fed_per_s"] = round((fed.value - fed_before) / (time.monotonic() - t), 1)  # as achieved
                results.append({"server": f"serve {workers}x{threads if worker_class == 'gthread' else connections} "
                                          f"{worker_class}", **(env or {}), "screens": screens, "feed_asked_per_s": rate,
                                "clients": clients, **result})
        finally:
            stop.set()
            if rate > 0:
                feeder.join(timeout=10)
            seen = [a for p in screens_pool for a in p.results()]
            for result in results:  # what the screens received meanwhile: they were served too
                result["screens_tickets_seen"] = sum(len(arrivals) for arrivals, _d in seen)
        return results
    finally:
        if worker is not None:
            worker.stop()
        if web is not None:
            web.stop()
        pg.stop()
        rs.stop()


def main() -> None:
    from bench.live_push import serve_options

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    serve_options(parser)
    parser.add_argument("--path", action="append", help="path to GET (repeatable; default /api/v1/health, /login)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent HTTP clients")
    parser.add_argument("--processes", type=int, default=2, help="processes the clients run in")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--screens", type=int, default=50, help="light wall clients connected meanwhile")
    parser.add_argument("--rate", type=float, default=20.0, help="tickets committed per second meanwhile")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for serve and the worker (repeatable)")
    args = parser.parse_args()
    for result in run(args.worker_class, args.workers, args.threads, args.connections,
                      args.path or ["/api/v1/health", "/login"], args.clients, args.processes, args.seconds,
                      args.screens, args.rate, dict(item.split("=", 1) for item in args.env)):
        print("  ".join(f"{k}={v}" for k, v in result.items()), flush=True)


if __name__ == "__main__":
    main()
