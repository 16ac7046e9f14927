"""Benchmark: the work desk with a big queue, and the lifecycle API under load.

1. ``/desk`` of a station holding N open tickets (10,000 by default), in headless Chromium:
   the time from navigation to the grid holding every row with its first row painted (the
   median of 5 openings after login; the first, from the login button, is reported apart);
   then 50 tickets accepted in one commit: the time from the commit until all 50 rows show
   it, and how long the grid took to apply the change (its transaction until the next frame).
2. ``POST /api/v1/tickets/<n>/<step>`` latency with U concurrent users (20 by default),
   each working its own tickets (accept, contact, report).

    python bench/desk.py                      # SQLite + the in-process Redis stand-in
    python bench/desk.py --backend real       # throwaway PostgreSQL + Redis (the figures quoted)
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import new_request, together  # noqa: E402
from tests.servers import CHROMIUM, CHROMIUM_ARGS, PlatformProcess, PostgresServer, RedisServer  # noqa: E402

STATION = "JN-TQ-01"
PASSWORD = "bench-desk-2026"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def prepare(url: str, tickets: int) -> Any:
    """The Jinan bureau and ``tickets`` open tickets at one station; the session factory."""
    import settings as settings_module
    from tickets import services
    from tickets.bootstrap import session_factory
    from tickets.models import utcnow
    from tickets.schema import upgrade
    from tickets.units import load_bureau
    from tickets.uow import unit_of_work

    upgrade(url)
    cfg = settings_module.load(environ={}, database_url=url, dedup_mode="off")
    factory = session_factory(url, cfg)
    with unit_of_work(factory) as s:
        load_bureau(s, ROOT / "examples" / "jinan_bureau.yaml")
    now = utcnow()
    for start in range(0, tickets, 1000):
        with unit_of_work(factory) as s:
            services.receive(s, [
                new_request(now - timedelta(minutes=50) + timedelta(seconds=i), external_id=f"BENCH-{i}",
                            phone=f"139{i:08d}", lat=36.68 + (i % 97) * 0.0003, lon=117.0 + (i % 89) * 0.0003)
                for i in range(start, min(start + 1000, tickets))], now=now)
    with unit_of_work(factory) as s:  # every one of them at the station (routing spreads them)
        from sqlalchemy import update

        from tickets.models import Ticket, Unit

        station = s.query(Unit).filter(Unit.code == STATION).one()
        s.execute(update(Ticket).values(unit_id=station.id))
    return factory


def people(factory: Any, users: int) -> dict[str, str]:
    """A handler at the station and ``users`` more officers there (after the platform loaded its
    demo accounts); username → API token."""
    from tickets import accounts
    from tickets.uow import unit_of_work

    tokens = {}
    with unit_of_work(factory) as s:
        for n in range(users + 1):
            name = "deskbench" if n == 0 else f"officer{n}"
            user = accounts.create_user(s, name, f"民警{n}", f"2{n:05d}", STATION, "handler", PASSWORD)
            tokens[name] = accounts.issue_token(s, "api", user, label="bench")
    return tokens


def api(base: str, token: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any, float]:
    request = urllib.request.Request(base + path, method="POST" if body is not None else "GET",
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
            return response.status, payload, time.perf_counter() - started
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), time.perf_counter() - started


def browser_part(platform: PlatformProcess, factory: Any, tickets: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        loaded = (f"() => window.MinshengQueue && window.MinshengQueue.api && "
                  f"window.MinshengQueue.api.getDisplayedRowCount() === {tickets} && "
                  f"document.querySelector('.ag-row .countdown') !== null")
        painted = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
        page.goto(platform.base_url + "/login")
        page.fill("#username", "deskbench")
        page.fill("#password", PASSWORD)
        started = time.perf_counter()
        page.click("button[type=submit]")  # a handler lands on /desk
        page.wait_for_function(loaded, timeout=120_000)
        page.evaluate(painted)
        out["login_to_desk_s"] = round(time.perf_counter() - started, 3)  # password check and cold caches included
        loads = []
        for _ in range(5):  # an officer opening the desk again during the day
            started = time.perf_counter()
            page.goto(platform.base_url + "/desk")
            page.wait_for_function(loaded, timeout=120_000)
            page.evaluate(painted)
            loads.append(time.perf_counter() - started)
        out["load_s"] = round(statistics.median(loads), 3)
        out["load_s_max"] = round(max(loads), 3)
        page.wait_for_function("() => window.minshengLive && window.minshengLive.connected && !window.minshengLive.loading")
        time.sleep(1.0)
        numbers = page.evaluate("() => { const out = []; window.MinshengQueue.api.forEachNode(n => { "
                                "if (out.length < 50 && n.data.status === 'dispatched') out.push(n.data.number); }); "
                                "return out; }")
        # One change of 50 rows: 50 tickets accepted in one commit (as a unit head taking a batch).
        from sqlalchemy import select

        from tickets import services
        from tickets.models import User
        from tickets.roles import actor_for
        from tickets.uow import unit_of_work

        with unit_of_work(factory) as s:
            actor = actor_for(s, s.scalars(select(User).where(User.username == "deskbench")).one())
            for number in numbers:
                services.accept(s, actor, number)
        committed = time.time()
        page.wait_for_function("(numbers) => numbers.every(n => window.MinshengQueue.api.getRowNode(n).data.status "
                               "=== 'accepted')", arg=numbers, timeout=30_000)
        shown = page.evaluate("() => Date.now()") / 1000
        out["change_rows"] = len(numbers)
        out["change_visible_after_commit_ms"] = round((shown - committed) * 1000, 1)
        out["grid_apply_ms"] = page.evaluate("() => window.MinshengQueue.lastApply")
        browser.close()
    return out


def load_part(platform: PlatformProcess, tokens: dict[str, str], users: int, per_user: int, think: float,
              offset: int = 0) -> dict[str, Any]:
    """``users`` officers, each working ``per_user`` tickets of its own (accept, contact, report), waiting
    about ``think`` seconds after each step as a person at a desk does (uniform between half and one and
    a half times it, so that 20 people do not click in step); 0: back to back, the server's capacity."""
    status, body, _s = api(platform.base_url, tokens["deskbench"], "/api/v1/queues/desk?status=dispatched")
    numbers = [r["number"] for r in body["rows"]][offset:]
    latencies: list[float] = []
    refused: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        token, pause = tokens[f"officer{n}"], random.Random(n)
        for number in numbers[n * per_user:(n + 1) * per_user]:
            for step, body in (("accept", {}), ("contact", {"note": "已联系"}), ("report", {"result": "已处理"})):
                status, _b, seconds = api(platform.base_url, token, f"/api/v1/tickets/{number}/{step}", body)
                with lock:
                    latencies.append(seconds)
                    if status != 200:
                        refused.append(status)
                time.sleep(think * pause.uniform(0.5, 1.5))

    elapsed = together(threading.Thread(target=work, args=(n,)) for n in range(1, users + 1))
    return {"users": users, "think_s": think, "posts": len(latencies), "refused": len(refused), "per_second": round(len(latencies) / elapsed),
            "p50_ms": round(statistics.median(latencies) * 1000, 1), "p95_ms": round(percentile(latencies, 95) * 1000, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["embedded", "real"], default="embedded")
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--per-user", type=int, default=10, help="tickets each API user works (3 POSTs each)")
    parser.add_argument("--think", type=float, nargs="+", default=[1.0, 0.0],
                        help="seconds each user waits after a step (0: back to back)")
    args = parser.parse_args(argv)
    servers: list[Any] = []
    try:
        if args.backend == "real":
            pg, rd = PostgresServer().start(), RedisServer().start()
            servers += [pg, rd]
            url, redis_url = pg.create_database("bench_desk"), rd.url
        else:
            url, redis_url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-desk-')}/desk.db", None
        started = time.perf_counter()
        factory = prepare(url, args.tickets)
        print(f"prepared {args.tickets:,} open tickets in {time.perf_counter() - started:.1f} s", flush=True)
        platform = PlatformProcess(url, redis_url).start(timeout=180)
        try:
            tokens = people(factory, args.users)
            result = {"backend": args.backend, "tickets": args.tickets,
                      **browser_part(platform, factory, args.tickets),
                      "api": [load_part(platform, tokens, args.users, args.per_user, think, n * args.users * args.per_user)
                              for n, think in enumerate(args.think)]}
        finally:
            platform.stop()
        print(json.dumps(result, ensure_ascii=False, indent=2))
    finally:
        for server in servers:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
