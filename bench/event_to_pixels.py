"""Benchmark: ticket commit → the wall's counter changing on screen, in Chromium (issue 16, item 6).

Starts the real platform process (throwaway PostgreSQL + Redis by default), then:

1. the live path's CPU with no screen connected: the platform process's CPU seconds per
   minute (``/proc/<pid>/stat``), idle (no feed) and with the feed running at ``--rate``;
2. a cold load of /wall in a fresh browser context: bytes transferred (CDP
   ``Network.loadingFinished`` ``encodedDataLength``: bodies as sent, headers included),
   the number of requests, and the first live number (``performance.now()`` from the
   navigation's start to the animation frame after "received today" first shows a number);
3. the steady state: tickets committed one per transaction from this process at ``--rate``
   for ``--seconds`` while the wall is open. The page's MutationObserver on "received
   today" notes each new value with the time of the animation frame after the change, taken
   in a message posted from that frame's requestAnimationFrame callback (after its
   rendering steps: when the number is on screen). The k-th committed ticket's latency is
   the first time the counter showed base + k or more, minus the time its commit returned
   (both on the machine's clock: ``performance.timeOrigin + now()`` and ``time.time()``).
   The main thread's busy share is the change of CDP ``Performance.getMetrics``
   ``TaskDuration`` over the wall time; bytes per minute are the Socket.IO frames'
   payloads as the page received them (CDP ``Network.webSocketFrameReceived``) and as a
   python-socketio client that offers no permessage-deflate received them.

Targets (issue 16): commit → pixels p50 ≤ 150 ms and p99 ≤ 300 ms at 1 and 10 tickets/s,
main thread under 20% busy at 10 tickets/s, cold load ≤ 2.5 MB and first number ≤ 2 s.

    python bench/event_to_pixels.py --rate 10 --seconds 60
    python bench/event_to_pixels.py --rate 1 --seconds 60
    python bench/event_to_pixels.py --backend embedded --rate 10
    python bench/event_to_pixels.py --rate 10 --seconds 30 --profile /tmp/wall-trace.json

``--profile PATH``: during the last steady run, a Chrome trace of the page (written to PATH; it
opens in DevTools' Performance panel or Perfetto) and a V8 CPU profile (PATH with the suffix
``.cpuprofile``, for DevTools too); printed: the main
thread's self time by trace event (script, style, layout, paint, compositing, ...) and the
script's self time by function. Tracing costs the page time of its own: the latency and busy
figures of a profiled run are not the benchmark's.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import socketio  # noqa: E402

from tests.helpers import new_request, submit  # noqa: E402
from tests.servers import CHROMIUM, CHROMIUM_ARGS, PlatformProcess, demo_kiosk_token  # noqa: E402
from tickets.bootstrap import session_factory  # noqa: E402

COUNTER = "wall-count-received_today"
TARGETS = {"p50_ms": 150, "p99_ms": 300, "busy_share_at_10": 0.20, "cold_bytes": 2_500_000, "first_number_ms": 2000}

# Installed before any page script: notes every value "received today" shows, with the time it
# reached the screen (the frame after the change), and the first number's time since navigation.
PIXEL_PROBE = """
(() => {
  const id = %s;
  const seen = window.__pixels = [];
  window.__firstNumber = null;
  const channel = new MessageChannel();
  const waiting = [];
  channel.port1.onmessage = () => {
    const at = performance.timeOrigin + performance.now();
    waiting.splice(0).forEach((value) => {
      seen.push([value, at]);
      if (window.__firstNumber === null) { window.__firstNumber = performance.now(); }
    });
  };
  let last = null;
  function check(el) {
    const text = el.textContent;
    if (text === last || !/^[0-9]+$/.test(text)) { return; }
    last = text;
    waiting.push(Number(text));
    // After this frame's rendering: the message runs once the frame was produced.
    requestAnimationFrame(() => channel.port2.postMessage(0));
  }
  // Watch the document only until the counter exists, then the counter alone (a probe that
  // looked at every mutation of the page would itself keep the main thread busy).
  const find = new MutationObserver(() => {
    const el = document.getElementById(id);
    if (!el) { return; }
    find.disconnect();
    check(el);
    new MutationObserver(() => check(el)).observe(el, {subtree: true, childList: true, characterData: true});
  });
  find.observe(document, {subtree: true, childList: true});
})();
""" % json.dumps(COUNTER)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (its threads included), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Feed:
    """Commits tickets one per transaction at a fixed rate; notes when each commit returned."""

    def __init__(self, database_url: str) -> None:
        self.factory = session_factory(database_url)
        self.serial = 0

    def run(self, rate: float, seconds: float) -> list[float]:
        committed: list[float] = []
        started = time.perf_counter()
        for i in range(int(rate * seconds)):
            pause = started + i / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            self.serial += 1  # distinct callers: none is merged into another as a duplicate
            submit(self.factory, new_request(phone=f"139{self.serial:08d}", lat=36.60 + (self.serial % 97) / 1000))
            committed.append(time.time() * 1000)
        return committed


class PlainClient:
    """A python-socketio wall client that offers no permessage-deflate: counts what it receives."""

    def __init__(self, url: str) -> None:
        self.bytes = 0
        self.frames = 0
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("live", self.on_live, namespace="/live")
        self.sio.connect(url, namespaces=["/live"], transports=["websocket"], wait_timeout=10,
                         auth={"token": demo_kiosk_token()})

    def on_live(self, text: str) -> None:
        with self.lock:
            self.bytes += len(text.encode())
            self.frames += 1

    def take(self) -> tuple[int, int]:
        with self.lock:
            out = (self.bytes, self.frames)
            self.bytes = self.frames = 0
            return out


def cpu_per_minute(pid: int, seconds: float, work: Any = None) -> float:
    before, t0 = cpu_seconds(pid), time.monotonic()
    if work is None:
        time.sleep(seconds)
    else:
        work()
    return round((cpu_seconds(pid) - before) / (time.monotonic() - t0) * 60, 2)


def cold_load(browser: Any, url: str) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    sizes: dict[str, float] = {}
    urls: dict[str, str] = {}
    encodings: dict[str, str] = {}
    cdp.on("Network.responseReceived", lambda e: (
        urls.__setitem__(e["requestId"], e["response"]["url"]),
        encodings.__setitem__(e["requestId"], {k.lower(): v for k, v in e["response"]["headers"].items()}
                              .get("content-encoding", "")),
    ))
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.add_init_script(PIXEL_PROBE)
    page.goto(url)
    page.wait_for_function("() => window.__firstNumber !== null", timeout=30000)
    first = page.evaluate("window.__firstNumber")
    page.wait_for_timeout(3000)  # what loads after the first number (the map's points) counts too
    biggest = sorted(((sizes[r], urls.get(r, "?"), encodings.get(r, "")) for r in sizes), reverse=True)[:6]
    result = {
        "cold_requests": len(sizes),
        "cold_bytes": int(sum(sizes.values())),
        "cold_uncompressed": sum(1 for r in sizes if urls.get(r, "").startswith("http") and not encodings.get(r)
                                 and sizes[r] > 1500),
        "first_number_ms": round(first),
        "cold_biggest": [f"{int(s):>9,}  {e or '-':>5}  {u.split('?')[0][-70:]}" for s, u, e in biggest],
    }
    context.close()
    return result


TRACE_CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute", "blink",
                    "disabled-by-default-devtools.timeline.frame", "cc", "gpu", "viz"]


def main_thread_self_times(trace: dict[str, Any]) -> tuple[float, list[tuple[str, float]]]:
    """The busiest renderer main thread of a Chrome trace: its busy time (the top-level tasks)
    and each event name's self time (its duration less its children's), in ms, largest first."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    mains = {(e["pid"], e["tid"]) for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"}
    spans: dict[tuple[int, int], list[tuple[float, float, str]]] = {}
    open_: dict[tuple[int, int], list[tuple[float, str]]] = {}
    for e in events:
        key = (e.get("pid"), e.get("tid"))
        if key not in mains:
            continue
        if e.get("ph") == "X" and "dur" in e:
            spans.setdefault(key, []).append((e["ts"], e["ts"] + e["dur"], e["name"]))
        elif e.get("ph") == "B":
            open_.setdefault(key, []).append((e["ts"], e["name"]))
        elif e.get("ph") == "E" and open_.get(key):
            start, name = open_[key].pop()
            spans.setdefault(key, []).append((start, e["ts"], name))
    best: tuple[float, list[tuple[str, float]]] = (0.0, [])
    for key, items in spans.items():
        items.sort(key=lambda s: (s[0], -s[1]))
        stack: list[list[Any]] = []  # [start, end, name, children's time]
        selfs: dict[str, float] = {}
        busy = 0.0

        def close(item: list[Any]) -> None:
            selfs[item[2]] = selfs.get(item[2], 0.0) + (item[1] - item[0] - item[3])

        for start, end, name in items:
            while stack and stack[-1][1] <= start:
                close(stack.pop())
            if stack and end <= stack[-1][1]:
                stack[-1][3] += end - start
            elif stack:  # overlaps its parent's end (clock skew): a top-level task of its own
                while stack:
                    close(stack.pop())
            if not stack:
                busy += end - start
            stack.append([start, end, name, 0.0])
        while stack:
            close(stack.pop())
        if busy > best[0]:
            best = (busy / 1000, sorted(((n, t / 1000) for n, t in selfs.items()), key=lambda x: -x[1]))
    return best


def js_self_times(profile: dict[str, Any]) -> list[tuple[str, float]]:
    """A V8 CPU profile's self time by function (name, file:line), in ms, largest first."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    out: dict[str, float] = {}
    for node_id, delta in zip(profile["samples"], profile["timeDeltas"]):
        frame = nodes[node_id]["callFrame"]
        where = frame["url"].split("?")[0].rsplit("/", 1)[-1]
        name = f"{frame['functionName'] or '(anonymous)'} {where}:{frame['lineNumber'] + 1}" if where else \
            frame["functionName"] or "(anonymous)"
        out[name] = out.get(name, 0.0) + delta / 1000
    return sorted(out.items(), key=lambda x: -x[1])


def steady(browser: Any, url: str, feed: Feed, plain: PlainClient, rate: float, seconds: float,
           profile: str | None = None) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Performance.enable", {"timeDomain": "timeTicks"})
    ws = {"bytes": 0, "frames": 0, "deflate": None}

    def frame(e: dict[str, Any]) -> None:
        ws["bytes"] += len(e["response"]["payloadData"].encode())
        ws["frames"] += 1

    def handshake(e: dict[str, Any]) -> None:
        headers = {k.lower(): v for k, v in e["response"]["headers"].items()}
        ws["deflate"] = "permessage-deflate" in headers.get("sec-websocket-extensions", "")

    cdp.on("Network.webSocketFrameReceived", frame)
    cdp.on("Network.webSocketHandshakeResponseReceived", handshake)
    page.add_init_script(PIXEL_PROBE)
    page.goto(url)
    page.wait_for_function("() => window.__firstNumber !== null", timeout=30000)
    page.wait_for_timeout(3000)  # settle: the map's points, the chart's first draw
    base = int(page.inner_text(f"#{COUNTER}").strip())

    def metric(name: str) -> float:
        return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == name)

    names = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration")
    before, t0 = {n: metric(n) for n in names}, time.monotonic()
    ws["bytes"] = ws["frames"] = 0
    plain.take()
    if profile:
        browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": 500})
        cdp.send("Profiler.start")
    committed = feed.run(rate, seconds)
    page.wait_for_timeout(2000)  # the last tickets reach the screen
    wall = time.monotonic() - t0
    spent = {n: metric(n) - before[n] for n in names}
    profiled: dict[str, Any] = {}
    if profile:
        cpu = cdp.send("Profiler.stop")["profile"]
        raw = browser.stop_tracing()
        Path(profile).write_bytes(raw)
        Path(profile).with_suffix(".cpuprofile").write_text(json.dumps(cpu))
        busy_ms, by_event = main_thread_self_times(json.loads(raw))
        functions = js_self_times(cpu)
        profiled = {
            "profile_trace": profile,
            "profile_main_thread_busy_ms": round(busy_ms),
            "profile_main_thread_by_event_ms": [(n, round(t)) for n, t in by_event[:25]],
            "profile_script_by_function_ms": [(n, round(t)) for n, t in functions[:25]],
        }
    plain_bytes, plain_frames = plain.take()
    pixels: list[list[float]] = page.evaluate("window.__pixels")
    latencies, missing = [], 0
    for k, at in enumerate(committed, start=1):
        shown = next((p_at for value, p_at in pixels if value >= base + k), None)
        if shown is None:
            missing += 1
        else:
            latencies.append(shown - at)
    context.close()
    minutes = wall / 60
    return {
        "rate_per_s": rate,
        "tickets": len(committed),
        "not_shown": missing,
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "main_thread_busy": round(spent["TaskDuration"] / wall, 3),
        "script_share": round(spent["ScriptDuration"] / wall, 3),
        "layout_and_style_share": round((spent["LayoutDuration"] + spent["RecalcStyleDuration"]) / wall, 3),
        "page_frames_per_min": round(ws["frames"] / minutes),
        "page_bytes_per_min": round(ws["bytes"] / minutes),
        "page_deflate": ws["deflate"],
        "plain_client_frames_per_min": round(plain_frames / minutes),
        "plain_client_bytes_per_min": round(plain_bytes / minutes),
        **profiled,
    }


def run(backend: str, rates: list[float], seconds: float, idle_seconds: float,
        profile: str | None = None) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    servers: list[Any] = []
    if backend == "real":
        from tests.servers import PostgresServer, RedisServer

        pg, rs = PostgresServer().start(), RedisServer().start()
        servers = [pg, rs]
        platform = PlatformProcess(pg.create_database("bench"), rs.url)
    else:
        platform = PlatformProcess(f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}")
    platform.start()
    out: dict[str, Any] = {"backend": backend}
    try:
        assert platform.proc is not None
        pid = platform.proc.pid
        feed = Feed(platform.database_url)
        feed.run(2, 2)  # warm: the first tickets of the day, the connections, the caches
        time.sleep(2)
        out["no_screen_idle_cpu_s_per_min"] = cpu_per_minute(pid, idle_seconds)
        top = max(rates)
        out[f"no_screen_cpu_s_per_min_at_{top:g}"] = cpu_per_minute(pid, 0, lambda: feed.run(top, idle_seconds))
        url = platform.wall_url()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                out.update(cold_load(browser, url))
                plain = PlainClient(platform.base_url)
                out["runs"] = [steady(browser, url, feed, plain, rate, seconds,
                                      profile if k == len(rates) - 1 else None) for k, rate in enumerate(rates)]
                plain.sio.disconnect()
            finally:
                browser.close()
        return out
    finally:
        platform.stop()
        for server in servers:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["embedded", "real"], default="real")
    parser.add_argument("--rate", type=float, action="append", help="tickets per second (repeatable; default 1 and 10)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each steady run")
    parser.add_argument("--idle-seconds", type=float, default=30.0, help="length of each no-screen CPU reading")
    parser.add_argument("--profile", metavar="PATH", help="trace and profile the last steady run (see above)")
    args = parser.parse_args()
    result = run(args.backend, args.rate or [1.0, 10.0], args.seconds, args.idle_seconds, args.profile)
    runs = result.pop("runs")
    biggest = result.pop("cold_biggest")
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print("cold load, biggest responses (bytes, encoding, path):")
    for line in biggest:
        print("   ", line)
    for r in runs:
        print("-" * 40)
        w = max(len(k) for k in r)
        for key, value in r.items():
            if isinstance(value, list):
                print(key)
                for name, ms in value:
                    print(f"    {ms:>7,} ms  {name}")
            else:
                print(f"{key:<{w}}  {value}")
    print("-" * 40)
    print("targets:", TARGETS)


if __name__ == "__main__":
    main()
