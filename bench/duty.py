"""Benchmark: the duty console with 2,000 breached rows, in headless Chromium.

The bureau holds N tickets (2,000 by default) received two hours ago and never contacted:
every one is a breached contact clock on ``/duty``. Then new tickets arrive one at a time
under a policy whose contact deadline is 18 seconds, and the platform's own deadline timer
breaches each. For each, the console records when the push that named its breach arrived
and when its row was on screen (in the DOM, in the grid's viewport, painted): the target is
≤ 500 ms from push to pixels. Also reported: the first load of the 2,000 rows.

    python bench/duty.py                      # SQLite + the in-process Redis stand-in
    python bench/duty.py --backend real       # throwaway PostgreSQL + Redis (the figures quoted)
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import new_request  # noqa: E402
from tests.servers import CHROMIUM, CHROMIUM_ARGS, PlatformProcess, PostgresServer, RedisServer  # noqa: E402

PASSWORD = "bench-duty-2026"
CONTACT_SECONDS = 18
POLICY = f"""
contact_hours: {CONTACT_SECONDS / 3600}
resolve_working_days: {{consultation: 0.5, enforcement: 1, service: 1}}
working_hours: ["08:30-12:00", "13:30-17:30"]
amber_share: 0.5
"""
# In the page: when the push naming a ticket's breach arrived, and when its row was painted.
WATCH = """(number) => {
  window.benchSeen = window.benchSeen || {};
  const id = number + ":contact", seen = window.benchSeen[number] = {push: null, shown: null};
  MinshengDuty.live.socket.on("scoped", (msg) => {
    const frame = typeof msg === "string" ? JSON.parse(msg) : msg;
    if (seen.push === null && frame.events.some(e => e.number === number && e.event === "breach")) {
      seen.push = performance.now();
    }
  });
  const look = () => {
    const el = document.querySelector(`#duty-grid .ag-center-cols-container .ag-row[row-id='${id}'] .duty-state-breached`);
    if (el && seen.push !== null) {
      const box = el.getBoundingClientRect(), grid = document.querySelector("#duty-grid").getBoundingClientRect();
      if (box.top >= grid.top && box.bottom <= grid.bottom) {
        requestAnimationFrame(() => { seen.shown = performance.now(); });
        return;
      }
    }
    requestAnimationFrame(look);
  };
  requestAnimationFrame(look);
}"""


def prepare(url: str, tickets: int) -> Any:
    """The Jinan bureau and ``tickets`` tickets dispatched two hours ago, never contacted."""
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
    then = utcnow() - timedelta(hours=2)
    for start in range(0, tickets, 1000):
        with unit_of_work(factory) as s:
            services.receive(s, [
                new_request(then + timedelta(seconds=i), external_id=f"DUTY-BENCH-{i}", phone=f"139{i:08d}",
                            lat=36.60 + (i % 97) * 0.002, lon=116.90 + (i % 89) * 0.003)
                for i in range(start, min(start + 1000, tickets))], now=then)
    return factory


def duty_officer(factory: Any) -> None:
    """The bench's duty officer (after the platform loaded its demo accounts on an empty bureau)."""
    from tickets import accounts
    from tickets.uow import unit_of_work

    with unit_of_work(factory) as s:
        accounts.create_user(s, "dutybench", "值班民警", "200001", "JN", "duty_officer", PASSWORD)


def browser_part(platform: PlatformProcess, factory: Any, tickets: int, breaches: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from tickets import services
    from tickets.models import utcnow
    from tickets.uow import unit_of_work

    out: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(platform.base_url + "/login")
        page.fill("#username", "dutybench")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        loaded = (f"() => window.MinshengDuty && MinshengDuty.api && MinshengDuty.api.getDisplayedRowCount() >= {tickets}"
                  " && window.minshengLive && minshengLive.connected && !minshengLive.loading")
        page.wait_for_function(loaded, timeout=120_000)
        loads = []
        for _ in range(3):
            started = time.perf_counter()
            page.goto(platform.base_url + "/duty")
            page.wait_for_function(f"() => window.MinshengDuty && MinshengDuty.api && "
                                   f"MinshengDuty.api.getDisplayedRowCount() >= {tickets} && "
                                   "document.querySelector('#duty-grid .ag-row .countdown') !== null", timeout=120_000)
            loads.append(time.perf_counter() - started)
        out["load_s"] = round(statistics.median(loads), 3)
        page.wait_for_function(loaded, timeout=120_000)
        latencies = []
        for n in range(breaches):
            with unit_of_work(factory) as s:
                now = utcnow()
                number = services.receive_one(s, new_request(now, external_id=f"DUTY-NEW-{n}", phone=f"13700{n:06d}",
                                                             lat=36.66, lon=117.02), now=now).number
            page.evaluate(WATCH, number)
            page.wait_for_function("(n) => window.benchSeen[n].shown !== null", arg=number,
                                   timeout=(CONTACT_SECONDS + 30) * 1000)
            seen = page.evaluate("(n) => window.benchSeen[n]", number)
            latencies.append(seen["shown"] - seen["push"])
            print(f"breach {n + 1}: on screen {latencies[-1]:.0f} ms after its push", flush=True)
        out["rows"] = page.evaluate("() => MinshengDuty.api.getDisplayedRowCount()")
        out["push_to_pixels_ms"] = {"median": round(statistics.median(latencies), 1), "max": round(max(latencies), 1),
                                    "all": [round(x, 1) for x in latencies]}
        out["sounds"] = page.evaluate("() => MinshengDuty.sounds")
        browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["embedded", "real"], default="embedded")
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--breaches", type=int, default=5, help="new breaches to time, one after another")
    args = parser.parse_args(argv)
    servers: list[Any] = []
    try:
        if args.backend == "real":
            pg, rd = PostgresServer().start(), RedisServer().start()
            servers += [pg, rd]
            url, redis_url = pg.create_database("bench_duty"), rd.url
        else:
            url, redis_url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-duty-')}/duty.db", None
        started = time.perf_counter()
        factory = prepare(url, args.tickets)
        print(f"prepared {args.tickets:,} breached tickets in {time.perf_counter() - started:.1f} s", flush=True)
        policy = Path(tempfile.mkdtemp(prefix="bench-duty-policy-")) / "policy.yaml"
        policy.write_text(POLICY, encoding="utf-8")
        platform = PlatformProcess(url, redis_url, env={"MINSHENG_SLA_POLICY": str(policy)}).start(timeout=180)
        from tickets import sla

        sla.use_policy_file(policy)  # this process receives the new tickets: the same fast deadlines
        try:
            duty_officer(factory)
            result = {"backend": args.backend, "tickets": args.tickets,
                      **browser_part(platform, factory, args.tickets, args.breaches)}
        finally:
            platform.stop()
        print(json.dumps(result, ensure_ascii=False, indent=2))
    finally:
        for server in servers:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
