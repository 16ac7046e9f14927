"""Benchmark: the wall left running (issue 16, item 7, "days without a reload").

Starts the real platform (throwaway PostgreSQL + Redis), opens a wall playlist in headless
Chromium (overview, map, rankings, duty: every screen's script at work) and feeds tickets at
``--rate`` per second for ``--minutes``. Every ``--sample-seconds`` it records, after a forced
garbage collection in the page (CDP ``HeapProfiler.collectGarbage``): the page's JS heap in
use (CDP ``Performance.getMetrics`` ``JSHeapUsedSize``), its DOM node count (``Nodes``, which
counts detached nodes too) and the platform process's resident memory (``VmRSS``). The first
``--warm-minutes`` are left out (caches, the first map points); then each series' last
sample must be within 10% of its first (the target), and the page must not have reloaded.

A week at 10× the feed cannot run here; run it as long as you can afford:

    python bench/wall_soak.py --minutes 20 --rate 10
    python bench/wall_soak.py --minutes 120 --rate 20 --out soak.json
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.event_to_pixels import Feed  # noqa: E402
from tests.servers import CHROMIUM, CHROMIUM_ARGS, PlatformProcess, PostgresServer, RedisServer  # noqa: E402

TARGET_DRIFT = 0.10
PLAYLIST = "/wall?playlist=overview,map,rankings,duty&every=15"


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def sample(cdp: Any, page: Any, pid: int, started: float) -> dict[str, Any]:
    cdp.send("HeapProfiler.collectGarbage")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {
        "minute": round((time.monotonic() - started) / 60, 2),
        "js_heap": int(metrics["JSHeapUsedSize"]),
        "dom_nodes": int(metrics["Nodes"]),
        "dom_in_document": page.evaluate("document.getElementsByTagName('*').length"),
        "server_rss": rss_bytes(pid),
        "received_today": page.inner_text("#wall-count-received_today").strip(),
        "same_document": page.evaluate("window.__sameDocument === true"),
    }


def drift(series: list[int]) -> float:
    return (series[-1] - series[0]) / series[0] if series and series[0] else 0.0


def run(minutes: float, rate: float, sample_seconds: float, warm_minutes: float, path: str = PLAYLIST) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    pg, rs = PostgresServer().start(), RedisServer().start()
    platform = PlatformProcess(pg.create_database("soak"), rs.url).start()
    stop = threading.Event()
    try:
        assert platform.proc is not None
        feed = Feed(platform.database_url)
        deadline = time.monotonic() + minutes * 60

        def feed_until_deadline() -> None:
            # In 10-second chunks: a feed slower than ``rate`` stops with the run, not after it.
            while time.monotonic() < deadline:
                feed.run(rate, 10)

        feeding = threading.Thread(target=feed_until_deadline, daemon=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            page.goto(platform.wall_url(path))
            page.wait_for_selector("#wall-conn.conn-ok", timeout=30000)
            page.evaluate("window.__sameDocument = true")
            feeding.start()
            started = time.monotonic()
            samples = []
            while time.monotonic() - started < minutes * 60:
                samples.append(sample(cdp, page, platform.proc.pid, started))
                print(json.dumps(samples[-1]), flush=True)
                stop.wait(sample_seconds)
            samples.append(sample(cdp, page, platform.proc.pid, started))
            switches = page.evaluate("window.minshengWall.switches")
            browser.close()
        feeding.join(timeout=60)  # before the servers stop under it
        kept = [s for s in samples if s["minute"] >= warm_minutes] or samples
        result: dict[str, Any] = {"path": path, "minutes": minutes, "rate_per_s": rate, "tickets": feed.serial,
                                  "screen_switches": switches, "reloaded": not all(s["same_document"] for s in samples)}
        for key in ("js_heap", "dom_nodes", "dom_in_document", "server_rss"):
            series = [s[key] for s in kept]
            result[key] = {"first": series[0], "last": series[-1], "min": min(series), "max": max(series),
                           "drift": round(drift(series), 3), "flat": abs(drift(series)) <= TARGET_DRIFT}
        result["samples"] = samples
        return result
    finally:
        stop.set()
        platform.stop()
        rs.stop()
        pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=10.0, help="tickets per second")
    parser.add_argument("--sample-seconds", type=float, default=60.0)
    parser.add_argument("--warm-minutes", type=float, default=2.0)
    parser.add_argument("--path", default=PLAYLIST, help="the wall URL's path and query (the kiosk token is added)")
    parser.add_argument("--out", type=Path, help="write every sample as JSON here")
    args = parser.parse_args()
    result = run(args.minutes, args.rate, args.sample_seconds, args.warm_minutes, args.path)
    samples = result.pop("samples")
    if args.out:
        args.out.write_text(json.dumps({**result, "samples": samples}, indent=1))
    for key, value in result.items():
        print(f"{key:<16} {value}")


if __name__ == "__main__":
    main()
