"""Side by side (issue 18, item 5): the platform's push against the usual polling Dash wall.

One throwaway PostgreSQL (and Redis for the platform), one database made ready as a bureau's
(migrated, the demo bureau loaded), one feed committing tickets at a fixed rate. For each
screen count the two walls are measured one after the other on the same database and feed:

- **platform**: ``app.py serve`` + ``app.py worker``; each screen a light Socket.IO client doing
  what the wall page does (the kiosk's grant, the ``/live`` stream; bench/light_screens.py, in
  two processes of their own), the number on screen being the ticket's ``received`` event in a
  frame;
- **polling**: ``bench/polling_baseline.py`` under the same gunicorn settings; each screen a
  light HTTP client doing what its page does, the ``dcc.Interval`` callback POSTed every 2 s,
  the number on screen being the 受理 counter in the answer.

Reported per wall and screen count: commit → number-on-screen latency (p50, p99; a light client
stands in for the browser, so rendering is not included on either side), server CPU seconds per
screen per minute (user+system time from /proc: the wall's own processes, and what the screens
cost PostgreSQL and Redis, i.e. their CPU less what the feed and the idle servers cost them per
ticket, measured first with no screen connected), bytes per screen per minute
(bodies and HTTP headers as the clients receive them), database transactions per minute
(``pg_stat_database``, less what the feed and the idle servers take per ticket, measured first
with no screen connected), the polling ticks that failed.

    .venv/bin/python bench/side_by_side.py                       # 1, 10, 50 screens, 60 s each
    .venv/bin/python bench/side_by_side.py --screens 200 --seconds 60
    .venv/bin/python bench/side_by_side.py --screens 1 --screens 10 --runs 3 --json
    .venv/bin/python bench/side_by_side.py --today 1000 --runs 3 --seconds 30 \\
        --screens 1 --screens 10 --screens 50 --screens 200   # the figures quoted

``--today N`` commits N tickets first: a wall is looked at in the middle of a day, and the poll's
SQL reads the whole day on every tick.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench.light_screens import ScreenProcess  # noqa: E402
from bench.live_push import _serve, percentile, serve_options  # noqa: E402
from bench.processes import cpu_seconds  # noqa: E402
from tests.helpers import new_request, submit  # noqa: E402
from tests.servers import PostgresServer, RedisServer, demo_kiosk_token, free_port  # noqa: E402
from tickets.bootstrap import session_factory  # noqa: E402

INTERVAL_S = 2.0


# ------------------------------------------------------------ measuring
def transactions(database_url: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        value = connection.execute(text("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                                        "WHERE datname = current_database()")).scalar_one()
    engine.dispose()
    return int(value)


# ------------------------------------------------------------ the two kinds of screen
class PollScreen(threading.Thread):
    """The polling wall's page: its Interval callback POSTed every 2 s; the 受理 counter read."""

    OUTPUTS = [("count-received", "children"), ("count-closed", "children"), ("count-breaches_now", "children"),
               ("flow", "figure"), ("units", "children")]

    def __init__(self, url: str, phase: float) -> None:
        super().__init__(daemon=True)
        self.url, self.phase = url.rstrip("/") + "/_dash-update-component", phase
        self.answers: list[tuple[float, int]] = []  # (when the answer arrived, the count it showed)
        self.bytes = 0
        self.ticks = self.failed = 0
        self.stopping = threading.Event()
        self.http = requests.Session()

    def run(self) -> None:
        n = 0
        next_tick = time.perf_counter() + self.phase
        while not self.stopping.is_set():
            pause = next_tick - time.perf_counter()
            if pause > 0 and self.stopping.wait(pause):
                break
            next_tick += INTERVAL_S
            n += 1
            body = json.dumps({
                "output": ".." + "...".join(f"{i}.{p}" for i, p in self.OUTPUTS) + "..",
                "outputs": [{"id": i, "property": p} for i, p in self.OUTPUTS],
                "inputs": [{"id": "tick", "property": "n_intervals", "value": n}],
                "changedPropIds": ["tick.n_intervals"], "state": []})
            self.ticks += 1
            try:
                answer = self.http.post(self.url, data=body, headers={"Content-Type": "application/json"},
                                        timeout=INTERVAL_S * 5)
                arrived = time.perf_counter()
                answer.raise_for_status()
                self.bytes += len(answer.content) + sum(len(k) + len(v) + 4 for k, v in answer.headers.items())
                count = int(answer.json()["response"]["count-received"]["children"])
                self.answers.append((arrived, count))
            except Exception:
                self.failed += 1

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=INTERVAL_S * 6)


# ------------------------------------------------------------ one measurement
def feed(factory: Any, rate: float, seconds: float) -> list[tuple[str, float]]:
    """Commit tickets at ``rate`` per second for ``seconds``: (number, commit instant) each."""
    committed: list[tuple[str, float]] = []
    started = time.perf_counter()
    i = 0
    while time.perf_counter() - started < seconds:
        pause = started + i / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        number = submit(factory, new_request()).number
        committed.append((number, time.perf_counter()))
        i += 1
    return committed


def received_today(database_url: str) -> int:
    """The 受理 counter as the polling wall computes it, before the feed."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tickets.figures import figures, period_bounds, sum_tallies, tally_sql_by_unit

    tz = ZoneInfo("Asia/Shanghai")
    factory = session_factory(database_url)
    now = datetime.now(tz)
    start, end = period_bounds(now.date(), now.date(), tz)
    with factory() as session:
        return int(figures(sum_tallies(tally_sql_by_unit(session, start, end, now, tz).values()))["counts"]["received"])


@dataclass
class Stores:
    """The shared servers' process trees: PostgreSQL (the postmaster and its backends), Redis."""
    database: list[int]
    redis: list[int]


@dataclass
class Baseline:
    """What the feed and the idle servers cost per committed ticket with no screen on either wall
    (database transactions, PostgreSQL's and Redis's CPU seconds), taken off each wall's figure:
    what is left is what the screens cost."""
    transactions: float
    database_cpu_s: float
    redis_cpu_s: float


def baseline(database_url: str, stores: Stores, rate: float, seconds: float) -> Baseline:
    tx0, db0, rd0 = transactions(database_url), cpu_seconds(stores.database, reaped=True), cpu_seconds(stores.redis)
    committed = feed(session_factory(database_url), rate, seconds)
    time.sleep(1.0)  # the platform's relay and aggregator finish the last tickets
    n = max(1, len(committed))
    return Baseline((transactions(database_url) - tx0) / n, (cpu_seconds(stores.database, reaped=True) - db0) / n,
                    (cpu_seconds(stores.redis) - rd0) / n)


def measure(kind: str, url: str, pids: list[int], database_url: str, stores: Stores, screens: int, rate: float,
            seconds: float, base: Baseline) -> dict[str, Any]:
    factory = session_factory(database_url)
    pool: list[ScreenProcess] = []
    if kind == "platform":  # light screens in two processes of their own (bench/light_screens.py)
        pool = [ScreenProcess(url, demo_kiosk_token(), n) for n in (screens - screens // 2, screens // 2) if n]
        for p in pool:
            p.ready()
        clients: list[Any] = []
    else:
        clients = [PollScreen(url, phase=INTERVAL_S * i / screens) for i in range(screens)]
        base_count = received_today(database_url)
        for c in clients:
            c.start()
        time.sleep(INTERVAL_S + 0.5)  # every screen has its first answer before the feed
    cpu0, tx0, t0 = cpu_seconds(pids), transactions(database_url), time.perf_counter()
    db0, rd0 = cpu_seconds(stores.database, reaped=True), cpu_seconds(stores.redis)
    bytes0 = sum(c.bytes for c in clients) + sum(p.bytes() for p in pool)
    committed = feed(factory, rate, seconds)
    time.sleep(INTERVAL_S * 2 if kind == "polling" else 1.0)  # the last tickets reach the screens
    elapsed = time.perf_counter() - t0
    cpu, tx = cpu_seconds(pids) - cpu0, transactions(database_url) - tx0
    n = len(committed)
    # The stores' CPU the screens caused: what they spent less what the feed and the idle servers
    # spend per ticket (the baseline). Redis serves the platform only, and the poll at rest.
    store_cpu = max(0.0, cpu_seconds(stores.database, reaped=True) - db0 - base.database_cpu_s * n) \
        + max(0.0, cpu_seconds(stores.redis) - rd0 - base.redis_cpu_s * n)
    received_bytes = sum(c.bytes for c in clients) + sum(p.bytes() for p in pool) - bytes0
    latencies: list[float] = []
    missing = 0
    if kind == "platform":
        for seen, _doubled in [a for p in pool for a in p.results()]:
            for number, at in committed:
                if number in seen:
                    latencies.append((seen[number] - at) * 1000)
                else:
                    missing += 1
    else:
        for c in clients:
            answers = list(c.answers)
            for k, (_number, at) in enumerate(committed):
                shown = next((when for when, count in answers if when > at and count >= base_count + k + 1), None)
                if shown is None:
                    missing += 1
                else:
                    latencies.append((shown - at) * 1000)
    ticks = (sum(c.ticks for c in clients), sum(c.failed for c in clients)) if kind == "polling" else None
    for c in clients:
        c.stop()
    minutes = elapsed / 60
    return {
        "wall": kind, "screens": screens, "rate_per_s": rate, "tickets": n,
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
        "not_shown": missing,
        "cpu_s_per_screen_min": round((cpu + store_cpu) / screens / minutes, 3),
        "app_cpu_s_per_screen_min": round(cpu / screens / minutes, 3),
        "store_cpu_s_per_screen_min": round(store_cpu / screens / minutes, 3),
        "app_cpu_s_per_min": round(cpu / minutes, 2),
        "store_cpu_s_per_min": round(store_cpu / minutes, 2),
        "bytes_per_screen_min": round(received_bytes / screens / minutes),
        "db_transactions_per_min": round(max(0.0, tx - base.transactions * n) / minutes),
        "ticks_failed": None if ticks is None else f"{ticks[1]}/{ticks[0]}",
    }


def start_polling(database_url: str, workers: int, threads: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", str(workers), "--threads",
                             str(threads), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                             "bench.polling_baseline:server"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=open("/tmp/polling_baseline.log", "wb"))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/", timeout=2).status_code == 200:
                return proc, url
        except requests.RequestException:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the polling wall did not start: /tmp/polling_baseline.log")


def summary(results: list[dict[str, Any]]) -> str:
    """A Markdown table: per screen count and wall, each figure's median and range over the runs, and
    the platform's advantage (polling ÷ platform) on p99 and on CPU per screen."""
    keys = ("p50_ms", "p99_ms", "cpu_s_per_screen_min", "app_cpu_s_per_screen_min", "store_cpu_s_per_screen_min",
            "bytes_per_screen_min", "db_transactions_per_min")
    groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["screens"], r["wall"]), []).append(r)

    def mid(rows: list[dict[str, Any]], key: str) -> float | None:
        values = [r[key] for r in rows if r[key] is not None]
        return statistics.median(values) if values else None

    def cell(rows: list[dict[str, Any]], key: str) -> str:
        values = [r[key] for r in rows if r[key] is not None]
        if not values:
            return "—"
        m = statistics.median(values)
        return f"{m:g}" if len(values) == 1 else f"{m:g} ({min(values):g}–{max(values):g})"

    lines = ["| screens | wall | runs | " + " | ".join(keys) + " | not shown | ticks failed |",
             "|" + "---|" * (len(keys) + 5)]
    for (screens, wall), rows in sorted(groups.items()):
        failed = ", ".join(str(r["ticks_failed"]) for r in rows if r["ticks_failed"] is not None) or "—"
        lines.append(f"| {screens} | {wall} | {len(rows)} | " + " | ".join(cell(rows, k) for k in keys)
                     + f" | {sum(r['not_shown'] for r in rows)} | {failed} |")
    for screens in sorted({s for s, _ in groups}):
        push, poll = groups.get((screens, "platform")), groups.get((screens, "polling"))
        if push and poll:
            ratios = []
            for key in ("p99_ms", "cpu_s_per_screen_min", "app_cpu_s_per_screen_min"):
                a, b = mid(push, key), mid(poll, key)
                ratios.append(f"{key} {b / a:.1f}×" if a and b else f"{key} —")
            lines.append(f"\n{screens} screens, polling ÷ platform (medians): " + ", ".join(ratios))
    return "\n".join(lines)


def prefill(database_url: str, tickets: int) -> None:
    """Today's tickets so far (a bureau's wall is looked at in the middle of a day, not at midnight):
    committed one by one through the service layer, as fast as it goes."""
    factory: Any = session_factory(database_url)
    for _ in range(tickets):
        submit(factory, new_request())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--screens", type=int, action="append", help="screen counts (default 1, 10, 50)")
    parser.add_argument("--rate", type=float, default=10.0, help="tickets committed per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="feed time per measurement")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--walls", default="platform,polling")
    serve_options(parser)  # the platform's; the polling wall runs under gthread --workers × --threads
    parser.add_argument("--today", type=int, default=0,
                        help="tickets committed today before the measurements (the day so far)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    pg, rs = PostgresServer().start(), RedisServer().start()
    web = worker = poll = None
    results: list[dict[str, Any]] = []
    try:
        database_url = pg.create_database("bench")
        web, worker = _serve(database_url, rs.url, {}, args.workers, args.threads, args.worker_class,
                             args.connections)
        poll, poll_url = start_polling(database_url, args.workers, args.threads)
        systems = {"platform": (web.base_url, [web.proc.pid, worker.proc.pid]),
                   "polling": (poll_url, [poll.pid])}
        stores = Stores([pg.postmaster_pid], [rs.proc.pid] if rs.proc else [])
        prefill(database_url, args.today)
        base = baseline(database_url, stores, args.rate, min(args.seconds, 20.0))
        print(f"feed and idle servers, per ticket (taken off each wall's): {base.transactions:.2f} transactions, "
              f"PostgreSQL {base.database_cpu_s * 1000:.1f} ms CPU, Redis {base.redis_cpu_s * 1000:.2f} ms CPU")
        for _run in range(args.runs):
            for screens in args.screens or [1, 10, 50]:
                for wall in args.walls.split(","):
                    url, pids = systems[wall]
                    result = measure(wall, url, pids, database_url, stores, screens, args.rate, args.seconds, base)
                    results.append(result)
                    print(json.dumps(result, ensure_ascii=False) if args.json else
                          "  ".join(f"{k}={v}" for k, v in result.items()), flush=True)
        print(summary(results))
    finally:
        if poll is not None:
            poll.kill()
            poll.wait()
        if worker is not None:
            worker.stop()
        if web is not None:
            web.stop()
        rs.stop()
        pg.stop()


if __name__ == "__main__":
    main()
