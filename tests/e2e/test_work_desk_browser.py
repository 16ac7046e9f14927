"""The closed loop 接单-转办-上报-审核-反馈, clicked through in Chromium by the people who do it,
on PostgreSQL + Redis: a 12345 order no routing can place appears on the dispatcher's
/dispatch without a reload; the dispatcher sends it to a station; it appears on that
station's /desk within 2 s and on no other station's; the officer accepts, records the
contact and reports; the reviewer sends it back once, then approves and replies; the
citizen's SMS answer closes it; the ticket page's timeline shows every step with who took
it, in order; and the wall's counters moved."""
from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import signed_headers, wait_until
from tests.servers import PlatformProcess
from tickets import accounts
from tickets.bootstrap import session_factory
from tickets.config import SHANGHAI
from tickets.uow import unit_of_work

SMS_SECRET = "work-desk-sms"
PASSWORD = "minsheng-demo"  # the demo accounts' (examples/demo_accounts.yaml)
STATION = "JN-TQ-01"  # the demo handler's station (泺口派出所)
PHONE = "13987654321"


@pytest.fixture
def desk_platform(pg_url: str, redis_url: str) -> Iterator[PlatformProcess]:
    platform = PlatformProcess(pg_url, redis_url, env={"MINSHENG_HOTLINE_SECRET": "test-hotline-secret",
                                                       "MINSHENG_SMS_INBOUND_SECRET": SMS_SECRET})
    platform.start(timeout=120)
    with unit_of_work(session_factory(pg_url)) as s:  # an officer of another station
        accounts.create_user(s, "other", "王五", "104001", "JN-LX-01", "handler", PASSWORD)
    yield platform
    platform.stop()


def login(browser: Any, base: str, username: str, frames: list[str]) -> Any:
    """Logged in as ``username``; every Socket.IO frame the page receives goes into ``frames``."""
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(
        f if isinstance(f, str) else bytes(f).decode("utf-8", "replace"))))
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_function("() => window.minshengLive && window.minshengLive.connected && !window.minshengLive.loading",
                           timeout=30_000)
    return page


def row(page: Any, number: str) -> dict[str, Any] | None:
    result: dict[str, Any] | None = page.evaluate(
        "(n) => { const node = window.MinshengQueue.api.getRowNode(n); return node ? node.data : null; }", number)
    return result


def step(page: Any, number: str, name: str, fields: dict[str, str] | None = None) -> None:
    """Click the row's step button, fill its dialog if it has one, confirm."""
    page.click(f"button[data-step='{name}'][data-number='{number}']")
    if fields is not None:
        for field, value in fields.items():
            selector = f"#queue-dialog [name='{field}']"
            if page.eval_on_selector(selector, "e => e.tagName") == "SELECT":
                page.select_option(selector, value)
            else:
                page.fill(selector, value)
        page.click("#queue-dialog button[type=submit]")


def post(url: str, body: bytes, headers: dict[str, str]) -> Any:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def snapshot(platform: PlatformProcess) -> dict[str, Any]:
    counters: dict[str, Any] = platform.get("/api/v1/live/snapshot")["counters"]
    return counters


def test_the_whole_loop_by_clicks(browser: Any, desk_platform: PlatformProcess) -> None:
    base = desk_platform.base_url
    frames: list[str] = []
    dispatcher = login(browser, base, "dispatcher", frames)
    assert "/dispatch" in dispatcher.url  # each role lands on its own screen
    handler = login(browser, base, "handler", frames)
    assert "/desk" in handler.url
    other = login(browser, base, "other", frames)
    before = snapshot(desk_platform)

    # An order with neither a known place nor coordinates: routing leaves it at the platform office.
    # The hotline writes the bureau's wall clock (Beijing), whatever this host's zone is.
    sent_at = datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    order = {"工单编号": "GS20261202900001", "派单时间": sent_at,
             "来电人": "赵六", "联系电话": PHONE, "事发地址": "小区门口", "诉求类型": "投诉",
             "标题": "小区门口夜间噪音", "诉求内容": "小区门口每晚有人聚集喧哗，影响休息，请处理。", "工单状态": "0"}
    body = json.dumps(order, ensure_ascii=False).encode()
    number = post(f"{base}/api/v1/intake/hotline", body, signed_headers(body))["ticket_number"]
    wait_until(lambda: row(dispatcher, number) is not None, timeout=5, what="the order on /dispatch")
    assert dispatcher.evaluate("window.minshengLive.resyncs") == 1  # by push, not by reloading

    step(dispatcher, number, "dispatch", {"unit": STATION, "note": "请泺口派出所办理"})
    started = time.monotonic()
    wait_until(lambda: row(handler, number) is not None, timeout=5, what="the ticket on the station's desk")
    assert time.monotonic() - started <= 2.0
    wait_until(lambda: row(dispatcher, number) is None, timeout=5, what="the ticket to leave /dispatch")
    time.sleep(1.5)
    assert row(other, number) is None  # another station never sees it

    # The ticket page, open beside the desk, follows the step by push (no reload).
    watcher = login(browser, base, "handler", frames)
    watcher.goto(f"{base}/ticket/{number}")
    watcher.wait_for_selector("#ticket-timeline li[data-kind='dispatched']")
    step(handler, number, "accept")
    wait_until(lambda: (row(handler, number) or {}).get("status") == "accepted", what="accepted")
    wait_until(lambda: watcher.query_selector("#ticket-timeline li[data-kind='accept']") is not None, timeout=5,
               what="the accept on the open ticket page")
    watcher.close()
    step(handler, number, "contact", {"note": "已电话联系赵女士，约定今晚巡查"})
    wait_until(lambda: (row(handler, number) or {}).get("status") == "contacted", what="contacted")
    step(handler, number, "report", {"result": "已巡查劝散聚集人员"})
    wait_until(lambda: row(dispatcher, number) is not None, what="the report on /dispatch for review")

    step(dispatcher, number, "send_back", {"reason": "未说明后续防范措施"})
    wait_until(lambda: (row(handler, number) or {}).get("status") == "contacted", what="sent back to the desk")
    step(handler, number, "report", {"result": "已巡查劝散，并与物业约定每晚巡逻"})
    wait_until(lambda: (row(dispatcher, number) or {}).get("status") == "reported", what="reported again")
    step(dispatcher, number, "approve")
    wait_until(lambda: (row(dispatcher, number) or {}).get("status") == "approved", what="approved")
    step(dispatcher, number, "reply", {"text": "您反映的问题已处理，辖区民警将每晚巡查。"})
    wait_until(lambda: row(dispatcher, number) is None, what="the answer sent")

    answer = post(f"{base}/api/v1/sms/inbound", b"phone=" + PHONE.encode() + b"&text=1",
                  {"X-Minsheng-Sms-Secret": SMS_SECRET, "Content-Type": "application/x-www-form-urlencoded"})
    assert answer["status"] == "closed" and PHONE not in json.dumps(answer)
    wait_until(lambda: row(handler, number) is None, what="the closed ticket to leave the desk")

    # The timeline, on the ticket page, every step with who took it, in order.
    handler.goto(f"{base}/ticket/{number}")
    handler.wait_for_selector("#ticket-timeline li")
    kinds = handler.eval_on_selector_all("#ticket-timeline li", "items => items.map(i => i.dataset.kind)")
    steps = [k for k in kinds if k in ("received", "dispatched", "accept", "contact", "report", "send_back",
                                       "approve", "reply", "follow_up_answered", "close")]
    assert steps == ["received", "dispatched", "dispatched", "accept", "contact", "report", "send_back", "report",
                     "approve", "reply", "follow_up_answered", "close"], kinds
    who = handler.eval_on_selector_all("#ticket-timeline li", "items => items.map(i => i.querySelector('.tl-who').textContent)")
    assert any("刘晓燕" in w for w in who) and any("陈志强" in w and "103871" in w for w in who), who
    assert PHONE not in handler.content() and "赵六" not in handler.content()  # masked, not revealed
    # No push frame to any of them carried the citizen (frames name tickets; rows come masked).
    assert len(frames) > 10 and not [f for f in frames if PHONE in f or "赵六" in f]

    after = snapshot(desk_platform)
    assert after["received_today"] == before["received_today"] + 1
    assert after["closed_today"] == before["closed_today"] + 1
    for page in (dispatcher, handler, other):
        page.close()
