"""The wall in headless Chromium: it starts from a snapshot, changes by push
without reloading, asks nothing of the outside world, and catches up after a
Redis outage without losing or double-counting a ticket."""
from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.helpers import TZ, new_request, submit, wait_until
from tests.servers import PlatformProcess, demo_kiosk_token
from tickets.bootstrap import session_factory
from tickets.models import Ticket


def counter(page: Any, key: str) -> str:
    return page.inner_text(f"#wall-count-{key}").strip()


def open_wall(browser: Any, base_url: str, requests: list[str], lang: str = "zh-CN") -> Any:
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{base_url}/wall?kiosk={demo_kiosk_token()}&lang={lang}")  # a wall's URL: no login
    page.wait_for_selector("#wall-conn.conn-ok", timeout=20000)
    wait_until(lambda: counter(page, "received_today").isdigit(), what="the snapshot")
    return page


# What the flow chart (an SVG drawn by assets/wall.js) shows: the tickets its bars stand for (a
# rect's height is in tickets, under the axis' scale), its columns (minutes), its axis labels,
# and the last column's height on screen.
FLOW_DRAWN = """() => {
  const chart = document.querySelector('#wall-flow svg.flow-svg');
  if (!chart) { return {tickets: null}; }
  const rects = Array.from(chart.querySelectorAll('.flow-col rect'));
  const columns = chart.querySelectorAll('.flow-col');
  const last = columns[columns.length - 1];
  return {
    tickets: rects.reduce((sum, r) => sum + Number(r.getAttribute('height')), 0),
    columns: columns.length,
    lastTickets: Number(last.getAttribute('data-total')),
    lastPixels: last.getBoundingClientRect().height,
    xLabels: Array.from(chart.querySelectorAll('.flow-xlabel')).map(t => t.textContent),
    yLabels: Array.from(chart.querySelectorAll('.flow-ylabel')).map(t => t.textContent),
  };
}"""


def check_the_flow_chart_grows_by_a_pushed_ticket(page: Any, factory: Any) -> None:
    """The flow chart is drawn (two hours of minute columns, HH:MM and count labels) and a
    pushed ticket grows its minute's bar: in what is drawn, not only in the script's copy."""
    before = page.evaluate(FLOW_DRAWN)
    assert before["columns"] == 120, before
    assert before["xLabels"] and all(re.fullmatch(r"\d\d:\d\d", t) for t in before["xLabels"]), before["xLabels"]
    assert before["yLabels"][0] == "0" and len(before["yLabels"]) >= 2, before["yLabels"]
    submit(factory, new_request(phone="13905310099"))
    wait_until(lambda: page.evaluate(FLOW_DRAWN)["tickets"] == before["tickets"] + 1, what="the pushed ticket's bar")
    after = page.evaluate(FLOW_DRAWN)
    # Its minute is the last column: one more there, and taller on screen unless the axis grew
    # (the minute may have turned meanwhile: a new last column with this ticket in it).
    if after["lastTickets"] == before["lastTickets"] + 1:
        assert after["lastPixels"] > before["lastPixels"] or after["yLabels"] != before["yLabels"], (before, after)
    else:
        assert after["lastTickets"] == 1 and after["lastPixels"] > 0, (before, after)


def test_wall_number_and_flow_chart_change_by_push_without_reload(browser: Any, served_platform: PlatformProcess) -> None:
    factory = session_factory(served_platform.database_url)
    requests: list[str] = []
    page = open_wall(browser, served_platform.base_url, requests)
    page.evaluate("window.__sameDocument = true")
    before = int(counter(page, "received_today"))
    for _ in range(3):
        submit(factory, new_request())
    wait_until(lambda: counter(page, "received_today") == str(before + 3), what="the pushed count")
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    # The flow chart shows them too (every ticket here arrived in the last two hours).
    wait_until(lambda: page.evaluate(FLOW_DRAWN)["tickets"] == before + 3, what="the flow chart to count them")
    check_the_flow_chart_grows_by_a_pushed_ticket(page, factory)
    assert page.evaluate("window.minshengLive.resyncs") == 1
    ticker = page.inner_text("#wall-ticker")
    with factory() as s:
        units = {t.unit.name for t in s.scalars(select(Ticket).order_by(Ticket.id.desc()).limit(3))}
    # Each row names the unit that must act, and at 1920×1080 the name fits its column
    # (it used to be cut to one character and "··").
    assert "噪音扰民" in ticker and all(name in ticker for name in units), (ticker, units)
    cut = page.evaluate("Array.from(document.querySelectorAll('#wall-ticker .t-unit'))"
                        ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)")
    assert cut == []
    assert "张三" not in page.content() and "13812345678" not in page.content()
    page.close()


def test_the_english_ticker_shows_every_channel_and_topic_whole(browser: Any, served_platform: PlatformProcess) -> None:
    # English labels run wider than Chinese ones: the ticker uses short forms ("Mailbox",
    # "Exit/entry") and wider columns, so no channel, topic or unit is cut at 1920×1080.
    factory = session_factory(served_platform.database_url)
    page = open_wall(browser, served_platform.base_url, [], lang="en")
    pairs = [("director_mailbox", "household"), ("discipline_hotline", "exit_entry"), ("cad_110", "vehicle"),
             ("hotline_12345", "lost_property"), ("service_window", "conduct"), ("open311", "traffic")]
    for i, (channel, topic) in enumerate(pairs):  # six callers: not one another's duplicates
        submit(factory, new_request(channel=channel, topic=topic, phone=f"1390531000{i}"))
    wait_until(lambda: page.locator("#wall-ticker .t-topic", has_text="Traffic").count() > 0, what="the pushed rows")
    shown = page.evaluate("Array.from(document.querySelectorAll('#wall-ticker li')).slice(0, 6)"
                          ".map(li => [li.querySelector('.t-channel').textContent, li.querySelector('.t-topic').textContent])")
    assert sorted(shown) == sorted([["Mailbox", "Household"], ["Discipline", "Exit/entry"], ["110", "Vehicles"],
                                    ["12345", "Lost items"], ["Window", "Conduct"], ["Open311", "Traffic"]]), shown
    cut = page.evaluate("Array.from(document.querySelectorAll('#wall-ticker .t-channel, #wall-ticker .t-topic,"
                        " #wall-ticker .t-unit')).filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)")
    assert cut == []
    page.close()


def test_wall_requests_nothing_outside_the_platform(browser: Any, served_platform: PlatformProcess) -> None:
    requests: list[str] = []
    page = open_wall(browser, served_platform.base_url, requests)
    page.wait_for_timeout(1500)
    outside = [u for u in requests
               if not u.startswith(served_platform.base_url) and not u.startswith(("data:", "blob:"))]
    assert requests, "the page made no requests at all"
    assert outside == []
    # The wall draws no Plotly chart and no grid: plotly.js (0.4 MB compressed) and dash-ag-grid
    # (0.36 MB) are not loaded.
    assert not [u for u in requests if "plotly" in u or "async-graph" in u or "/dash_ag_grid/" in u], requests
    page.close()


@pytest.mark.real_servers
def test_wall_catches_up_after_redis_outage(browser: Any, pg_url: str, redis_server: Any, redis_url: str) -> None:
    proc = PlatformProcess(pg_url, redis_url).start()
    try:
        factory = session_factory(pg_url)
        requests: list[str] = []
        page = open_wall(browser, proc.base_url, requests)
        for _ in range(5):
            submit(factory, new_request())
        wait_until(lambda: counter(page, "received_today") == "5", what="the first five")
        epoch = page.evaluate("window.minshengLive.epoch")

        redis_server.pause()
        for _ in range(10):  # tickets keep arriving; the database takes them
            submit(factory, new_request())
            time.sleep(0.1)
        time.sleep(1.0)
        redis_server.start()  # same port, empty: no persistence
        for _ in range(3):
            submit(factory, new_request())

        with factory() as s:
            total = s.scalar(select(func.count()).select_from(Ticket))
        assert total == 18
        try:
            wait_until(lambda: counter(page, "received_today") == "18", timeout=30, what="the wall to catch up")
        except AssertionError:
            print(proc.log()); print(counter(page, "received_today"), page.evaluate("JSON.stringify(window.minshengLive.epoch)"))
            raise
        assert page.evaluate("window.minshengLive.epoch") != epoch, "the live state was rebuilt"
        time.sleep(2.0)  # nothing is counted twice afterwards
        assert counter(page, "received_today") == "18"
        assert proc.get("/api/v1/live/snapshot")["counters"]["received_today"] == 18
        assert counter(page, "open_now") == "18"
        page.close()
    finally:
        proc.stop()


def log_in(browser: Any, base_url: str, path: str, username: str) -> Any:
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{base_url}/login?next={path}")
    page.fill("#username", username)
    page.fill("#password", "minsheng-demo")  # the demo accounts' published password
    page.click("button[type=submit]")
    return page


def ticker_numbers(page: Any) -> list[dict[str, Any]]:
    shown: list[dict[str, Any]] = page.evaluate("""Array.from(document.querySelectorAll('#wall-ticker .t-number'))
        .map(e => ({text: e.textContent, tag: e.tagName, href: e.getAttribute('href'),
                    height: e.getBoundingClientRect().height, cut: e.scrollWidth > e.clientWidth + 1,
                    fontPx: parseFloat(getComputedStyle(e).fontSize)}))""")
    return shown


def test_ticket_numbers_are_shown_and_lead_to_the_ticket(
        browser: Any, served_embedded_platform: PlatformProcess) -> None:
    factory = session_factory(served_embedded_platform.database_url)
    wall = open_wall(browser, served_embedded_platform.base_url, [])
    for i in range(3):
        submit(factory, new_request(phone=f"1390531100{i}"))
    with factory() as s:
        numbers = set(s.scalars(select(Ticket.number).order_by(Ticket.id.desc()).limit(3)))
    wait_until(lambda: numbers <= {n["text"] for n in ticker_numbers(wall)}, what="the numbers in the ticker")
    # On a kiosk: the number, whole and readable, not a link (nobody at a wall may open a ticket).
    kiosk = ticker_numbers(wall)
    assert all(n["tag"] == "SPAN" and n["height"] > 0 and not n["cut"] and n["fontPx"] >= 14 for n in kiosk), kiosk
    wall.close()
    # Logged in (a leader may open tickets): each number is a link to its ticket's page.
    page = log_in(browser, served_embedded_platform.base_url, "/wall", "leader")
    page.wait_for_selector("#wall-conn.conn-ok", timeout=20000)
    wait_until(lambda: numbers <= {n["text"] for n in ticker_numbers(page)}, what="the leader's ticker")
    links = [n for n in ticker_numbers(page) if n["text"] in numbers]
    assert all(n["tag"] == "A" and n["href"] == f"/ticket/{n['text']}?lang=zh-CN" for n in links), links
    number = sorted(numbers)[0]
    page.locator("#wall-ticker a.t-number", has_text=number).click()
    page.wait_for_selector("#ticket-body", timeout=20000)
    assert page.url.split("?")[0].endswith(f"/ticket/{number}") and number in page.inner_text("#ticket-page")
    page.close()


# Every text an element shows from now on (a heartbeat may replace it a moment later).
WATCH_TEXT = """id => { const el = document.getElementById(id); window.__seen = [el.textContent];
  new MutationObserver(() => window.__seen.push(el.textContent))
    .observe(el, {childList: true, characterData: true, subtree: true}); }"""
# A pushed frame carrying calendar warnings, handed to the page's own socket listeners.
PUSH_WARNINGS = """warnings => { const live = window.minshengLive;
  const frame = {events: [], counters: {epoch: live.epoch, seq: live.seq}, server_time: live.lastServerTime,
                 epoch: live.epoch, prev: live.seq, warnings};
  live.socket.listeners("live").forEach(fn => fn(frame)); }"""
UNLOADED = [{"code": "calendar_year_unknown", "year": 2099, "started": False},
            {"code": "calendar_year_unknown", "year": 2003, "started": True}]


def test_the_wall_says_only_a_started_years_calendar_warning_in_its_language(
        browser: Any, served_embedded_platform: PlatformProcess) -> None:
    said = {"zh-CN": "2003年官方节假日安排未载入", "en": "2003: official calendar not loaded"}
    for lang, words in said.items():
        wall = open_wall(browser, served_embedded_platform.base_url, [], lang=lang)
        wall.evaluate(WATCH_TEXT, "wall-warnings")
        wall.evaluate(PUSH_WARNINGS, UNLOADED)
        wait_until(lambda w=wall, said=words: any(said in t for t in w.evaluate("window.__seen")),
                   what="the started year's warning")
        wall.wait_for_timeout(6000)  # a heartbeat or two of the server's own warnings (in December: next year's)
        seen = wall.evaluate("window.__seen")
        # A year not started yet is for the admins (the duty console), never on the public wall.
        next_year = str(datetime.now(TZ).year + 1)
        assert not any("2099" in t or next_year in t for t in seen), seen
        if lang == "zh-CN":
            assert not any(re.search(r"[A-Za-z]", t) for t in seen), seen  # no English on the Chinese wall
        wall.close()


def test_the_admins_duty_console_says_what_to_do_about_an_unloaded_year(
        browser: Any, served_embedded_platform: PlatformProcess) -> None:
    console = log_in(browser, served_embedded_platform.base_url, "/duty", "admin")
    console.wait_for_function("() => window.MinshengDuty && MinshengDuty.live && MinshengDuty.live.socket", timeout=30000)
    console.evaluate(WATCH_TEXT, "duty-calendar")
    console.evaluate(PUSH_WARNINGS.replace("window.minshengLive", "MinshengDuty.live"), UNLOADED[:1])
    wait_until(lambda: any("2099年官方节假日安排" in t and "python app.py calendar load" in t
                           for t in console.evaluate("window.__seen")), what="the admin's calendar notice")
    console.close()
    officer = log_in(browser, served_embedded_platform.base_url, "/duty", "duty")
    officer.wait_for_function("() => window.MinshengDuty && MinshengDuty.live", timeout=30000)
    assert officer.locator("#duty-calendar").count() == 0
    officer.close()
