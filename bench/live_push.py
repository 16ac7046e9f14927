"""Benchmark: ticket commit → Socket.IO frame received by N clients.

Starts the real platform process, connects N Socket.IO clients to /live,
commits tickets from this process at a fixed rate (each in its own
transaction, as a feed would), and measures, per client and ticket, the time
from commit to the frame carrying that ticket's "received" event.

    python bench/live_push.py                       # embedded: SQLite + in-process Redis
    python bench/live_push.py --backend real        # throwaway PostgreSQL + Redis servers
    python bench/live_push.py --clients 50 --rate 50 --tickets 1000
    python bench/live_push.py --backend real --server serve --workers 2 --threads 100
                              # production: app.py serve (gunicorn gthread) + app.py worker
    python bench/live_push.py --backend real --server serve --threads 300 --clients 500 --rate 20 \\
                              --tickets 1200 --client-processes 2 --feed-threads 2 --per-commit 2
                              # 500 screens (issue 18, item 6): also memory per connection
    python bench/live_push.py --backend real --server serve --worker-class gevent --workers 2 --connections 1000
                              # the second configuration: gunicorn gevent workers
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import json
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import socketio  # noqa: E402

from bench.light_screens import ScreenProcess  # noqa: E402
from bench.processes import cpu_seconds, rss_bytes  # noqa: E402
from tests.helpers import new_request  # noqa: E402
from tests.servers import PlatformProcess, demo_kiosk_token  # noqa: E402
from tickets.bootstrap import session_factory  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class Receiver:
    def __init__(self, url: str) -> None:
        self.arrivals: dict[str, float] = {}
        self.duplicates = 0
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("live", self.on_live, namespace="/live")
        # A wall's grant: the demo kiosk token (app.py run loads it into the empty database).
        self.sio.connect(url, namespaces=["/live"], transports=["websocket"], wait_timeout=10,
                         auth={"token": demo_kiosk_token()})

    def on_live(self, text: str) -> None:
        now = time.perf_counter()
        message = json.loads(text)  # frames are JSON text (dashboard.push)
        with self.lock:
            for event in message["events"]:
                if event["event"] == "received":
                    number = event["ticket"]["number"]
                    if number in self.arrivals:
                        self.duplicates += 1
                    self.arrivals[number] = now


def _serve(database_url: str, redis_url: str, env: dict[str, str], workers: int,
           threads: int, worker_class: str = "gthread", connections: int = 1000) -> tuple[PlatformProcess, Any]:
    """app.py serve + app.py worker on a database made ready as a bureau's would be."""
    import os
    import subprocess

    from tests.servers import WorkerProcess

    env = {**env, "SECRET_KEY": "bench-" + "0" * 40}
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MINSHENG_", "DATABASE_URL", "REDIS_URL"))}
    for step in (("db", "upgrade"), ("demo", "load")):
        subprocess.run([sys.executable, "app.py", *step], cwd=ROOT, check=True, capture_output=True,
                       env={**clean, **env, "DATABASE_URL": database_url, "REDIS_URL": redis_url})
    web = PlatformProcess(database_url, redis_url, env=env, ready="health",
                          command=["serve", "--worker-class", worker_class, "--workers", str(workers),
                                   "--threads", str(threads), "--worker-connections", str(connections),
                                   "--access-log", os.devnull])
    web.start()
    worker = WorkerProcess(database_url, redis_url, env=env).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the worker leads and has built the live state
        try:
            web.get("/api/v1/live/snapshot")
            break
        except Exception:
            time.sleep(0.2)
    return web, worker


def run(backend: str, clients: int, rate: float, tickets: int, poll: float | None = None,
        server: str = "run", workers: int = 2, threads: int = 100, worker_class: str = "gthread",
        connections: int = 1000, client_processes: int = 0, feed_threads: int = 1,
        per_commit: int = 1) -> dict[str, Any]:
    env = {"MINSHENG_RELAY_POLL_SECONDS": str(poll)} if poll else {}
    servers: list[Any] = []
    worker = None
    if backend == "real":
        from tests.servers import PostgresServer, RedisServer

        pg, rs = PostgresServer().start(), RedisServer().start()
        servers = [pg, rs]
        if server == "serve":
            platform, worker = _serve(pg.create_database("bench"), rs.url, env, workers, threads, worker_class,
                                      connections)
        else:
            platform = PlatformProcess(pg.create_database("bench"), rs.url, env=env)
    else:
        if server == "serve":
            raise SystemExit("--server serve needs --backend real (the web and the worker share Redis)")
        platform = PlatformProcess(f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}", env=env)
    if worker is None:
        platform.start()
    try:
        factory = session_factory(platform.database_url)
        web_pids = [platform.proc.pid] if platform.proc is not None else []
        rss_before = rss_bytes(web_pids)
        if client_processes:
            shares = [clients // client_processes + (k < clients % client_processes) for k in range(client_processes)]
            pool = [ScreenProcess(platform.base_url, demo_kiosk_token(), n) for n in shares]
            for c in pool:
                c.ready()
            receivers: list[Any] = []
        else:
            pool = []
            receivers = [Receiver(platform.base_url) for _ in range(clients)]
        time.sleep(1.0)  # the connections settled (rooms joined, snapshots sent)
        rss_connected = rss_bytes(web_pids)
        committed: dict[str, float] = {}
        server_pids = web_pids + ([worker.proc.pid] if worker is not None and worker.proc is not None else [])
        client_pids = [c.proc.pid for c in pool if c.proc.pid is not None]
        cpu_before, client_cpu_before = cpu_seconds(server_pids), cpu_seconds(client_pids)
        started = time.perf_counter()
        feed(factory, rate, tickets, committed, feed_threads, per_commit)
        send_seconds = time.perf_counter() - started
        server_cpu = cpu_seconds(server_pids) - cpu_before
        client_cpu = cpu_seconds(client_pids) - client_cpu_before
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(len(r.arrivals) < tickets for r in receivers):
            time.sleep(0.05)
        if pool:
            time.sleep(5.0)  # the last frames reach the other processes' screens
        seen = [(r.arrivals, r.duplicates) for r in receivers] + [a for c in pool for a in c.results()]
        latencies = [(arrivals[n] - t) * 1000 for arrivals, _d in seen for n, t in committed.items() if n in arrivals]
        expected = tickets * clients
        result = {
            "backend": backend,
            "server": server if server == "run" else (
                f"serve {workers}x{threads} gthread + worker" if worker_class == "gthread"
                else f"serve {workers}x{connections} {worker_class} + worker"),
            "clients": clients,
            "rate_per_s": rate,
            "tickets": tickets,
            "frames_expected": expected,
            "frames_received": len(latencies),
            "lost": expected - len(latencies),
            "duplicates": sum(d for _a, d in seen),
            "p50_ms": round(statistics.median(latencies), 1),
            "p99_ms": round(percentile(latencies, 99), 1),
            "max_ms": round(max(latencies), 1),
            "tickets_per_s": round(tickets / send_seconds, 1),
            "deliveries_per_s": round(len(latencies) / send_seconds, 1),
            # The web processes' and the worker's CPU while the feed ran (of the 2 cores' 120 s a minute).
            "server_cpu_s_per_min": round(server_cpu / send_seconds * 60, 1),
            "screen_processes_cpu_s_per_min": round(client_cpu / send_seconds * 60, 1),
            # The web processes' resident memory with the screens connected, less before: per screen.
            "web_rss_mb": round(rss_connected / 2**20, 1),
            "kb_per_connection": round((rss_connected - rss_before) / 1024 / max(1, clients), 1),
        }
        for r in receivers:
            r.sio.disconnect()
        return result
    finally:
        if worker is not None:
            worker.stop()
        platform.stop()
        for started_server in servers:
            started_server.stop()


def feed(factory: Any, rate: float, tickets: int, committed: dict[str, float], threads: int = 1,
         per_commit: int = 1) -> None:
    """Commit ``tickets`` at ``rate`` a second as feeds do: ``per_commit`` in each transaction (a
    channel's push of that many), commit i due at i × per_commit / rate from the start. With
    several threads (several feeds at once) one slow commit does not hold back those due after
    it. ``committed``: number → the commit's instant."""
    from tickets import services
    from tickets.uow import unit_of_work

    started = time.perf_counter()
    lock = threading.Lock()
    turn = iter(range(0, tickets, per_commit))

    def loop() -> None:
        while True:
            with lock:
                i = next(turn, None)
            if i is None:
                return
            pause = started + i / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            requests = [new_request() for _ in range(min(per_commit, tickets - i))]
            with unit_of_work(factory) as s:
                numbers = [t.number for t in services.receive(s, requests, now=requests[0].received_at)]
            at = time.perf_counter()
            for number in numbers:
                committed[number] = at

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(max(1, threads))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def serve_options(parser: argparse.ArgumentParser) -> None:
    """``app.py serve``'s gunicorn configuration, as the benchmarks that start it take it."""
    parser.add_argument("--worker-class", choices=["gthread", "gevent"], default="gthread",
                        help="with --server serve: gunicorn's worker class")
    parser.add_argument("--workers", type=int, default=2, help="with --server serve: gunicorn workers")
    parser.add_argument("--threads", type=int, default=100, help="with --server serve: threads per worker (gthread)")
    parser.add_argument("--connections", type=int, default=1000,
                        help="with --server serve: connections per worker (gevent: greenlets)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["embedded", "real"], default="embedded")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rate", type=float, default=20.0, help="tickets committed per second")
    parser.add_argument("--tickets", type=int, default=400)
    parser.add_argument("--relay-poll", type=float, help="override MINSHENG_RELAY_POLL_SECONDS")
    parser.add_argument("--server", choices=["run", "serve"], default="run",
                        help="run: the one-process demo (dev server); serve: gunicorn + a worker process")
    serve_options(parser)
    parser.add_argument("--client-processes", type=int, default=0,
                        help="light screens (bench/light_screens.py) in this many processes; 0: python-socketio "
                             "clients in this one")
    parser.add_argument("--feed-threads", type=int, default=1,
                        help="commit from this many threads (each ticket still due at i / rate)")
    parser.add_argument("--per-commit", type=int, default=1, help="tickets in each committed transaction")
    args = parser.parse_args()
    result = run(args.backend, args.clients, args.rate, args.tickets, args.relay_poll, args.server,
                 args.workers, args.threads, args.worker_class, args.connections, args.client_processes,
                 args.feed_threads, args.per_commit)
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
