"""Screenshots of the screens at 1920×1080 and 3840×2160, into docs/screenshots/.

Starts the platform on a throwaway SQLite database with the simulated feed
(fixed seed, two hours of backfill), waits until the backfill is on the wall,
and photographs it in headless Chromium. The two intake forms (局长信箱 at
/mailbox, 来信来访登记 at /frontdesk) are photographed on a platform of their
own (no simulator): empty, after a good submission, and (the mailbox) with
the reasons a bad letter is refused.

    python docs/make_screenshots.py                 # everything
    python docs/make_screenshots.py --only forms    # only the intake forms (no backfill to wait for)
    python docs/make_screenshots.py --only wall     # the wall, the map and the duty console (Chinese and English)
    python docs/make_screenshots.py --only work     # the work desk, the dispatch queue, a ticket page
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import BrowserContext, Page, sync_playwright

from tests.servers import CHROMIUM, CHROMIUM_ARGS
from tests.servers import PlatformProcess

OUT = ROOT / "docs" / "screenshots"
SHOTS = [
    ("wall-1920x1080.png", "/wall", 1920, 1080),
    ("wall-3840x2160.png", "/wall", 3840, 2160),
    ("wall-en-1920x1080.png", "/wall?lang=en", 1920, 1080),
    ("wall-en-3840x2160.png", "/wall?lang=en", 3840, 2160),
]
# The full-screen heat map (/map), a wall screen too: opened with the kiosk token.
MAP_SHOTS = [
    ("map-1920x1080.png", "/map?window=24h", 1920, 1080),
    ("map-3840x2160.png", "/map?topic=noise&window=7d", 3840, 2160),
    ("map-en-1920x1080.png", "/map?window=24h&lang=en", 1920, 1080),
    ("map-en-3840x2160.png", "/map?window=24h&lang=en", 3840, 2160),
]
# The intake forms: (file, path, viewport width, height, what to do on the page).
FORM_SHOTS = [
    ("mailbox-1920x1080.png", "/mailbox", 1920, 1080, "open"),
    ("mailbox-3840x2160.png", "/mailbox", 3840, 2160, "open"),
    ("mailbox-errors-1920x1080.png", "/mailbox", 1920, 1080, "bad letter"),
    ("mailbox-submitted-1920x1080.png", "/mailbox", 1920, 1080, "good letter"),
    ("frontdesk-1920x1080.png", "/frontdesk", 1920, 1080, "open"),
    ("frontdesk-3840x2160.png", "/frontdesk", 3840, 2160, "open"),
    ("frontdesk-submitted-1920x1080.png", "/frontdesk", 1920, 1080, "good visit"),
]
# The work screens, each as the role that works there: (file, user, path, width, height).
# They are desk PCs' screens: a 3840×2160 monitor runs them at 200% (1920×1080 CSS pixels).
WORK_SHOTS = [
    ("desk-1920x1080.png", "handler", "/desk", 1920, 1080),
    ("desk-3840x2160.png", "handler", "/desk", 3840, 2160),
    ("desk-en-1920x1080.png", "handler", "/desk?lang=en", 1920, 1080),
    ("dispatch-1920x1080.png", "dispatcher", "/dispatch", 1920, 1080),
    ("dispatch-3840x2160.png", "dispatcher", "/dispatch", 3840, 2160),
]
# The duty console, on the wall's platform (its planted surges give the inbox its alerts), as the
# duty officer and as an admin (who alone is told about a year whose calendar is not loaded).
DUTY_SHOTS = [("duty-1920x1080.png", "/duty", "duty"), ("duty-en-1920x1080.png", "/duty?lang=en", "duty"),
              ("duty-admin-1920x1080.png", "/duty", "admin")]
# Before the duty console is photographed: one breach taken, one under a supervision order.
DUTY_WORK = """async () => {
  const rows = [];
  MinshengDuty.api.forEachNode(n => rows.push(n.data));
  const breached = rows.filter(r => r.state === "breached");
  const post = (url, body) => fetch(url, {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "Idempotency-Key": String(Math.random())}, body: JSON.stringify(body)});
  if (breached[0]) { await post(`/api/v1/tickets/${breached[0].number}/acknowledge`,
                                {clock: breached[0].clock, note: "已通知所长跟进", version: breached[0].version}); }
  if (breached[1]) { await post(`/api/v1/tickets/${breached[1].number}/supervision`, {note: "请立即联系群众并反馈"}); }
}"""
RATE = 200.0  # simulated tickets an hour, for the history and the live feed alike
HISTORY_DAYS = 27


def plant_history(url: str) -> None:
    """Four weeks of simulated tickets before today (planted straight into the
    database, closed), so hotspots have a previous window and early warnings a
    baseline; then a noisy evening at one bar in 历下区 and thefts at one market
    in 天桥区 (recurring issues), and a surge of noise complaints in 钢城区 today,
    which the detector raises as alerts."""
    from datetime import datetime, timedelta

    import settings as settings_module
    from feeds.simulator import Simulator
    from geo.jurisdictions import routing_jurisdictions
    from tests.helpers import plant, ticket_row, unit_ids
    from tickets.bootstrap import session_factory
    from tickets.uow import unit_of_work
    from tickets.schema import upgrade
    from tickets.units import load_bureau

    tz = settings_module.load().tz
    upgrade(url)
    factory = session_factory(url)
    with unit_of_work(factory) as s:
        load_bureau(s, ROOT / "examples" / "jinan_bureau.yaml")
    midnight = datetime.combine(datetime.now(tz).date(), datetime.min.time(), tz)
    requests = Simulator(seed=11, rate_per_hour=RATE, tz=tz).requests_between(
        midnight - timedelta(days=HISTORY_DAYS), midnight)
    codes = routing_jurisdictions().stations_at([r.lat for r in requests], [r.lon for r in requests])
    with unit_of_work(factory) as s:
        ids = unit_ids(s)
        rows = []
        for r, code in zip(requests, codes):
            row = ticket_row(r.received_at, r.lat, r.lon, r.topic, district=r.district, unit_id=ids.get(code or ""),
                             status="closed")
            # Handled as a station does: contacted within the hour (mostly), closed within a day or two.
            k = len(rows)
            dispatched = r.received_at + timedelta(minutes=2)
            row.update(channel=r.channel, kind=r.kind, sla_class=r.sla_class, dispatched_at=dispatched,
                       title=r.title[:200], content=r.content,
                       contact_due_at=dispatched + timedelta(hours=1),
                       contacted_at=dispatched + timedelta(minutes=10 + (k * 37) % (70 if k % 9 else 120)),
                       accepted_at=dispatched + timedelta(minutes=5),
                       resolve_due_at=dispatched + timedelta(hours=30),
                       closed_at=dispatched + timedelta(hours=3 + (k * 13) % (28 if k % 7 else 40)))
            rows.append(row)
        now = datetime.now(tz)
        for i in range(26):
            rows.append(ticket_row(now - timedelta(minutes=3 * i + 5), 36.6612 + (i % 4) * 1e-4, 117.0305, "noise",
                                   district="历下区", unit_id=ids["JN-LX-01"]))
        for i in range(9):
            rows.append(ticket_row(now - timedelta(minutes=9 * i + 7), 36.7078, 116.9952 + (i % 3) * 1e-4, "theft",
                                   district="天桥区", unit_id=ids["JN-TQ-01"]))
        for i in range(64):  # a surge: 钢城区 has ~29 noise complaints a day at this rate
            rows.append(ticket_row(now - timedelta(minutes=2 * i + 3), 36.0590 + (i % 8) * 4e-4,
                                   117.8080 + (i // 8) * 4e-4, "noise", district="钢城区", unit_id=ids["JN-GC-01"]))
        plant(s, rows)
    print(f"planted {len(rows)} tickets of history")


def _log_in(page: Page, platform: PlatformProcess, path: str, username: str) -> None:
    """Open ``path`` through the login form, as one of the demo accounts."""
    page.goto(f"{platform.base_url}/login?next={quote(path, safe='/')}")
    page.fill("#username", username)
    page.fill("#password", "minsheng-demo")  # the demo accounts' published password
    page.click("button[type=submit]")


def _shoot(page: Page, name: str, done: Page | BrowserContext) -> None:
    """Photograph ``page`` into ``name``, then close ``done`` (the page, or its context)."""
    page.screenshot(path=str(OUT / name))
    done.close()
    print("wrote", OUT / name)


def _simulated_platform(name: str, history: bool = True, env: dict[str, str] | None = None) -> PlatformProcess:
    """A platform on two hours of the simulator's backfill, played (and, for the wall and the
    map, four weeks of planted history before it)."""
    db = Path(tempfile.mkdtemp()) / name
    if history:
        plant_history(f"sqlite:///{db}")
    platform = PlatformProcess(
        f"sqlite:///{db}", extra_args=["--simulate", "--seed", "7", "--backfill-hours", "2", "--rate", str(RATE)],
        env=env,
    ).start()
    for _ in range(600):
        if "simulator caught up" in platform.log():
            break
        time.sleep(1)
    time.sleep(3)
    return platform


# 12345 orders whose place the routing cannot find: they wait at the platform office for a
# dispatcher (the simulator's own tickets are all routed and dispatched by the rules).
UNPLACED_ORDERS = [
    ("小区门口夜间噪音", "小区门口每晚有人聚集喧哗，影响休息，请处理。", "投诉", "小区门口"),
    ("小区门口夜间有人聚集喧哗", "每晚十一点后小区门口有人聚集喧哗，严重影响休息。", "投诉", "小区东门"),
    ("快递柜被撬", "楼下快递柜昨夜被撬，多个包裹丢失，请派人查看。", "求助", "楼下快递柜"),
    ("咨询户口迁移手续", "想咨询子女户口从外地迁入需要哪些材料。", "咨询", "派出所户籍窗口"),
]


def _send_unplaced_orders(platform: PlatformProcess) -> None:
    import json
    import urllib.request
    from datetime import datetime

    import settings as settings_module
    from tests.helpers import signed_headers

    tz = settings_module.load().tz
    for i, (title, content, kind, address) in enumerate(UNPLACED_ORDERS):
        order = {"工单编号": f"GS{datetime.now(tz):%Y%m%d}9{i:05d}", "派单时间": f"{datetime.now(tz):%Y-%m-%d %H:%M:%S}",
                 "来电人": "王先生", "联系电话": f"1370531{i:04d}", "事发地址": address, "诉求类型": kind,
                 "标题": title, "诉求内容": content, "工单状态": "0"}
        body = json.dumps(order, ensure_ascii=False).encode()
        request = urllib.request.Request(f"{platform.base_url}/api/v1/intake/hotline", data=body,
                                         headers=signed_headers(body), method="POST")
        urllib.request.urlopen(request, timeout=10).read()


def work_shots() -> None:
    """The queues as their users see them, and a ticket page reached by a click on a desk row."""
    from tests.helpers import HOTLINE_SECRET

    platform = _simulated_platform("work.db", history=False, env={"MINSHENG_HOTLINE_SECRET": HOTLINE_SECRET})
    try:
        _send_unplaced_orders(platform)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, user, path, width, height in WORK_SHOTS:
                scale = 2 if width > 1920 else 1
                page = browser.new_page(viewport={"width": width // scale, "height": height // scale},
                                        device_scale_factor=scale)
                _log_in(page, platform, path, user)
                page.wait_for_selector(".ag-root .ag-row", timeout=30000)
                page.wait_for_timeout(1500)  # a second of countdowns ticking
                _shoot(page, name, page)
            for name, width, height in (("ticket-1920x1080.png", 1920, 1080), ("ticket-en-1920x1080.png", 1920, 1080)):
                page = browser.new_page(viewport={"width": width, "height": height})
                _log_in(page, platform, "/desk?lang=en" if "-en-" in name else "/desk", "handler")
                page.wait_for_selector(".ag-root .ag-row a.ticket-link", timeout=30000)
                # A ticket with a contact recorded has a timeline worth showing: click its link.
                number = page.evaluate("""() => { let n = null; window.MinshengQueue.api.forEachNode(
                    r => { if (!n && r.data.status === 'contacted') n = r.data.number; }); return n; }""")
                page.locator("a.ticket-link", has_text=number).first.click() if number else \
                    page.locator("a.ticket-link").first.click()
                page.wait_for_selector("#ticket-timeline li")
                page.wait_for_timeout(1500)  # the map's tiles
                _shoot(page, name, page)
            browser.close()
    finally:
        platform.stop()


def wall_and_map_shots() -> None:
    platform = _simulated_platform("shots.db")
    try:
        for _ in range(120):  # the leader's detector raises the planted surge and recurring issues
            if platform.get("/api/v1/alerts")["count"] >= 3:
                break
            time.sleep(1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, path, width, height in SHOTS:
                page = browser.new_page(viewport={"width": width, "height": height})
                for _attempt in range(3):
                    page.goto(platform.wall_url(path))  # with the demo kiosk token, as on a real wall
                    page.wait_for_selector("#wall-conn.conn-ok")
                    page.wait_for_timeout(4000)
                    # The flow chart (an SVG drawn by wall.js) has bars once the snapshot is in:
                    # a screen whose panel shows it waits for them (else load again).
                    if page.evaluate("document.querySelectorAll('#wall-flow .flow-col rect').length > 0"
                                     " || !document.querySelector('#wall-flow svg')"):
                        break
                _shoot(page, name, page)
            for name, path, user in DUTY_SHOTS:
                page = browser.new_page(viewport={"width": 1920, "height": 1080})
                _log_in(page, platform, path, user)
                page.wait_for_function("() => window.MinshengDuty && MinshengDuty.api", timeout=30000)
                if name == "duty-1920x1080.png":
                    page.evaluate(DUTY_WORK)
                    page.wait_for_timeout(2500)  # the pushes back
                page.wait_for_selector("#duty-predicted li", timeout=60000)
                page.wait_for_selector("#duty-alerts li", timeout=30000)
                page.wait_for_timeout(1500)
                _shoot(page, name, page)
            # The weekly bulletin of last week (frozen by the scheduler at start, over the planted
            # history), on screen and in meeting mode on its rankings page.
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            _log_in(page, platform, "/bulletin", "leader")
            page.wait_for_selector(".bulletin-page .figure-card", timeout=60000)
            page.wait_for_selector(".bulletin-trend .main-svg .scatterlayer .trace", timeout=30000)
            page.wait_for_timeout(1500)
            week = page.inner_text("#bulletin-week")
            _pdf_pages(page.request.get(f"{platform.base_url}/api/v1/bulletins/{week}.pdf").body(), 3)
            _shoot(page, "bulletin-1920x1080.png", page)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            _log_in(page, platform, "/bulletin", "leader")
            page.wait_for_selector(".bulletin-page .figure-card", timeout=60000)
            page.click("#bulletin-meeting")
            page.keyboard.press("ArrowRight")
            for _ in range(3):
                page.keyboard.press("ArrowDown")
            page.wait_for_timeout(1000)
            _shoot(page, "bulletin-meeting-1920x1080.png", page)
            for name, path, width, height in MAP_SHOTS:
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(platform.wall_url(path))
                page.wait_for_selector("#map-frame")
                page.wait_for_function("() => { const f = document.getElementById('map-frame');"
                                       " return f && f.contentWindow && f.contentWindow.minshengMap"
                                       " && f.contentWindow.minshengMap.ready; }", timeout=60000)
                page.wait_for_timeout(2000)
                _shoot(page, name, page)
            browser.close()
    finally:
        platform.stop()


def _pdf_pages(data: bytes, pages: int) -> None:
    """The bulletin PDF's first pages as PNG (poppler's pdftoppm, 100 dpi): bulletin-pdf-page1.png …"""
    if not data.startswith(b"%PDF-"):
        raise RuntimeError(f"not a PDF: {data[:200]!r}")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "bulletin.pdf"
        source.write_bytes(data)
        subprocess.run(["pdftoppm", "-r", "100", "-png", "-f", "1", "-l", str(pages), str(source),
                        str(Path(tmp) / "page")], check=True)
        for n, made in enumerate(sorted(Path(tmp).glob("page-*.png")), start=1):
            shutil.copyfile(made, OUT / f"bulletin-pdf-page{n}.png")
            print(f"  bulletin-pdf-page{n}.png")


def _fill_letter(page: Page, phone: str, content: str) -> None:
    page.fill("#name", "王女士")
    page.fill("#phone", phone)
    page.fill("#email", "wang@example.cn")
    page.select_option("#kind", "suggestion")
    page.fill("#title", "建议在学校门口增设护学岗")
    page.fill("#content", content)
    page.fill("#address", "济南市历下区文化东路")


def _fill_visit(page: Page) -> None:
    page.check("input[name=channel][value=visit]")
    page.fill("#name", "赵大爷")
    page.fill("#phone", "0531-86001234")
    page.fill("#visitors", "3")
    page.fill("#address", "济南市历下区甸柳新村")
    page.select_option("#kind", "complaint")
    page.fill("#title", "反映小区夜间施工噪音")
    page.fill("#content", "三位居民来访，反映小区旁工地夜间施工，噪音严重影响休息。")


def form_shots() -> None:
    """The intake forms, on a fresh platform (the demo bureau and accounts, no simulator)."""
    db = Path(tempfile.mkdtemp()) / "forms.db"
    platform = PlatformProcess(f"sqlite:///{db}").start()
    outside: list[str] = []
    try:
        with sync_playwright() as p:
            # A browser with a Chinese interface, as on the bureau's and citizens' PCs.
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--lang=zh-CN"])
            for name, path, width, height, action in FORM_SHOTS:
                context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
                page = context.new_page()
                page.on("request", lambda r: None if r.url.startswith((platform.base_url, "data:"))
                        else outside.append(r.url))
                if path == "/frontdesk":  # staff only: log in as the demo dispatcher
                    _log_in(page, platform, path, "dispatcher")
                    page.wait_for_selector("form[action='/frontdesk']")
                else:
                    page.goto(platform.base_url + path)
                if action == "bad letter":
                    # A bad phone number and no content. The browser would stop the empty
                    # content itself; switch its checks off to show the platform's own answer.
                    _fill_letter(page, phone="0531-abc", content="")
                    page.evaluate("document.querySelector('form[action=\"/mailbox\"]').noValidate = true")
                    page.click("button[type=submit]")
                    page.wait_for_selector("[role=alert]")
                elif action == "good letter":
                    _fill_letter(page, phone="13705311234",
                                 content="历下区文化东路小学门口上下学时段车辆拥堵，建议增派警力维护秩序。")
                    page.click("button[type=submit]")
                    page.wait_for_selector("[role=status]")
                elif action == "good visit":
                    _fill_visit(page)
                    page.click("button[type=submit]")
                    page.wait_for_selector("[role=status]")
                page.wait_for_timeout(300)
                _shoot(page, name, context)
            browser.close()
    finally:
        platform.stop()
    if outside:
        raise SystemExit("the forms fetched from outside the platform: " + ", ".join(sorted(set(outside))))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("wall", "forms", "work"),
                        help="wall: the wall and the map (with the simulator's backfill); forms: the intake forms;"
                             " work: the desk, the dispatch queue and a ticket page")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "wall"):
        wall_and_map_shots()
    if args.only in (None, "forms"):
        form_shots()
    if args.only in (None, "work"):
        work_shots()


if __name__ == "__main__":
    main()
