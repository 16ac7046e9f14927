"""The duty console (值班台) in Chromium, on PostgreSQL + Redis, against the platform's real
deadline timers. The clock is controlled through the SLA policy: a contact deadline of
18 seconds (amber at 9), so a ticket passes its amber and breach instants while the test
watches, and an acknowledgement that lapses after 18 seconds.

A 12345 order arrives; its row appears on two duty officers' consoles within 2 s of its
amber instant and again of its breach instant, without a reload, naming the contact
clock; the breach sounds once; one officer acknowledges it and the other console shows
who; the lapse returns it to both; a one-click 督办单 creates the order, its PDF has the
Chinese text, and the wall's supervision counter moves. Then the network drops for 30 s
while three tickets breach: on reconnect the console shows all three, once each."""
from __future__ import annotations

import io
import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.helpers import signed_headers, wait_until
from tests.servers import PlatformProcess
from tickets.bootstrap import session_factory
from tickets.config import SHANGHAI
from tickets.models import Ticket
from tickets.uow import unit_of_work

PASSWORD = "minsheng-demo"  # the demo accounts' (examples/demo_accounts.yaml)
CONTACT_SECONDS = 18
LAPSE_SECONDS = 18
POLICY = f"""
contact_hours: {CONTACT_SECONDS / 3600}
resolve_working_days: {{consultation: 0.5, enforcement: 1, service: 1}}
working_hours: ["08:30-12:00", "13:30-17:30"]
amber_share: 0.5
"""


@pytest.fixture
def duty_platform(pg_url: str, redis_url: str, tmp_path: Path) -> Iterator[PlatformProcess]:
    policy = tmp_path / "fast_policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    platform = PlatformProcess(pg_url, redis_url, env={
        "MINSHENG_HOTLINE_SECRET": "test-hotline-secret", "MINSHENG_SLA_POLICY": str(policy),
        "MINSHENG_DUTY_ACK_MINUTES": str(LAPSE_SECONDS / 60)})
    platform.start(timeout=120)
    yield platform
    platform.stop()


def console(browser: Any, base: str) -> tuple[Any, Any]:
    """The duty officer's console in a browser of its own: (context, page)."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("#username", "duty")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_function("() => window.MinshengDuty && MinshengDuty.api && window.minshengLive"
                           " && minshengLive.connected && !minshengLive.loading", timeout=30_000)
    assert "/duty" in page.url  # the duty officer lands on the console
    return context, page


def duty_row(page: Any, row_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = page.evaluate(
        "(id) => { const n = MinshengDuty.api.getRowNode(id); return n ? n.data : null; }", row_id)
    return found


def send_order(base: str, serial: int) -> str:
    """A 12345 order no routing can place (it waits at the platform office, its contact clock running)."""
    order = {"工单编号": f"GS20261202{serial:06d}", "派单时间": datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
             "来电人": "钱七", "联系电话": "13900001111", "事发地址": "小区门口", "诉求类型": "投诉",
             "标题": f"夜间噪音扰民{serial}", "诉求内容": "小区门口每晚有人聚集喧哗，影响休息，请处理。", "工单状态": "0"}
    body = json.dumps(order, ensure_ascii=False).encode()
    request = urllib.request.Request(f"{base}/api/v1/intake/hotline", data=body, headers=signed_headers(body),
                                     method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        number: str = json.loads(response.read())["ticket_number"]
    return number


def instants(pg_url: str, number: str) -> tuple[float, float]:
    """(amber, breach) instants of the ticket's contact clock, as epoch seconds."""
    with unit_of_work(session_factory(pg_url)) as s:
        t = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert t.contact_warn_at is not None and t.contact_due_at is not None
        return t.contact_warn_at.timestamp(), t.contact_due_at.timestamp()


def counters(platform: PlatformProcess) -> dict[str, Any]:
    found: dict[str, Any] = platform.get("/api/v1/live/snapshot")["counters"]
    return found


def test_a_breach_reaches_the_console_is_taken_lapses_and_is_supervised(
        browser: Any, duty_platform: PlatformProcess, pg_url: str) -> None:
    base = duty_platform.base_url
    (ctx_a, a), (ctx_b, b) = console(browser, base), console(browser, base)
    before = counters(duty_platform)
    number = send_order(base, 1)
    row_id = f"{number}:contact"
    amber_at, breach_at = instants(pg_url, number)
    assert duty_row(a, row_id) is None  # not near its deadline yet

    for page in (a, b):
        wait_until(lambda: (duty_row(page, row_id) or {}).get("state") == "amber", timeout=CONTACT_SECONDS,
                   what="the amber row")
    assert time.time() - amber_at <= 2.0, "the amber row came late"
    shown = a.eval_on_selector_all(f"#duty-grid .ag-row[row-id='{row_id}']",  # the pinned part and the rest
                                   "rows => rows.map(r => r.innerText).join(' ')")
    assert "联系" in shown and number in shown  # which clock
    assert a.evaluate("MinshengDuty.sounds") == 0  # amber calls no sound
    for page in (a, b):
        wait_until(lambda: (duty_row(page, row_id) or {}).get("state") == "breached", timeout=CONTACT_SECONDS,
                   what="the breached row")
    assert time.time() - breach_at <= 2.0, "the breached row came late"
    assert a.evaluate("window.minshengLive.resyncs") == 1  # by push, not by reloading
    assert a.evaluate("MinshengDuty.sounds") == 1 and b.evaluate("MinshengDuty.sounds") == 1  # once
    assert a.title().startswith("(")  # the title counts what nobody has taken

    # Officer A takes it; officer B's console shows who, without a reload.
    a.click(f"button[data-step='acknowledge'][data-row='{row_id}']")
    a.fill("#queue-dialog [name='note']", "已电话通知平台办跟进")
    a.click("#queue-dialog button[type=submit]")
    taken_at = time.time()
    wait_until(lambda: (duty_row(b, row_id) or {}).get("acknowledged") is not None, what="B sees it taken")
    assert "孙磊" in b.inner_text(f"#duty-grid .ag-row[row-id='{row_id}'] [col-id='acknowledged']")
    assert b.evaluate("MinshengDuty.sounds") == 1  # nothing repeats for a row already taken
    # The lapse returns it to both consoles, and calls attention again.
    for page in (a, b):
        wait_until(lambda: (duty_row(page, row_id) or {}).get("acknowledged") is None, timeout=LAPSE_SECONDS + 10,
                   what="the acknowledgement to lapse")
    assert time.time() - taken_at >= LAPSE_SECONDS - 1
    assert "acknowledge" in duty_row(a, row_id)["allowed_steps"]  # type: ignore[index]
    wait_until(lambda: a.evaluate("MinshengDuty.sounds") == 2, what="the lapsed row to sound again")

    # One-click 督办单: the text comes prefilled; the order shows on the row; its PDF is in Chinese.
    a.click(f"button[data-step='order'][data-row='{row_id}']")
    assert number in a.input_value("#queue-dialog [name='note']")
    a.click("#queue-dialog button[type=submit]")
    wait_until(lambda: ((duty_row(a, row_id) or {}).get("order") or {}).get("state") == "open", what="the order")
    order = duty_row(a, row_id)["order"]  # type: ignore[index]
    pdf = a.request.get(f"{base}/api/v1/supervision/orders/{order['number']}.pdf")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages)
    assert "督办" in text and order["number"] in text and number in text
    wait_until(lambda: counters(duty_platform)["orders_open"] == before["orders_open"] + 1,
               what="the wall's supervision counter")
    # The ticket page lists the order with its PDF; with one open, it offers no second.
    a.goto(f"{base}/ticket/{number}")
    a.wait_for_selector("#ticket-body a.order-pdf")
    assert a.locator("#ticket-actions button[data-step='order']").count() == 0
    assert a.locator("#ticket-actions button[data-step='remind']").count() == 1
    for ctx in (ctx_a, ctx_b):
        ctx.close()


def test_breaches_missed_while_the_network_was_down_show_once_each(
        browser: Any, duty_platform: PlatformProcess, pg_url: str) -> None:
    base = duty_platform.base_url
    context, page = console(browser, base)
    context.set_offline(True)
    page.evaluate("MinshengDuty.live.socket.io.engine.close()")  # the connection drops with the network
    wait_until(lambda: not page.evaluate("window.minshengLive.connected"), what="the console to notice")
    numbers = [send_order(base, 100 + i) for i in range(3)]
    breach = max(instants(pg_url, n)[1] for n in numbers)
    time.sleep(max(0.0, breach - time.time()) + 30 - CONTACT_SECONDS)  # 30 s offline in all
    assert all(duty_row(page, f"{n}:contact") is None for n in numbers)  # nothing arrived meanwhile
    context.set_offline(False)
    wait_until(lambda: all((duty_row(page, f"{n}:contact") or {}).get("state") == "breached" for n in numbers),
               timeout=30, what="the three breaches after the reconnect")
    ids = page.evaluate("() => { const ids = []; MinshengDuty.api.forEachNode(n => ids.push(n.data.id)); return ids; }")
    for n in numbers:
        assert ids.count(f"{n}:contact") == 1
    assert page.evaluate("MinshengDuty.sounds") == 1  # the three, missed together, sound once
    # …and, all three of one unit, come as one digest line rather than three notices.
    assert "3" in page.inner_text("#duty-digest") and page.evaluate("MinshengDuty.digests") == 1
    context.close()
