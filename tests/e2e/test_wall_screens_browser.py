"""The wall's screens in headless Chromium (issue 16, items 5 and 7): every screen opens with a
kiosk token, a playlist rotates without a reload and with the live numbers right after each
switch, a branch bureau's wall sees only its subtree (the push included), and the wall
recovers by itself from a server restart and a network cut, and reloads once, at a quiet
moment, when a new release is deployed. (A Redis restart: test_wall_browser.py.)"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.helpers import new_request, submit, wait_until
from tests.servers import PlatformProcess
from tickets.bootstrap import session_factory
from tickets.models import Ticket, Unit
from tickets.roles import subtree_of

SCREENS = ("overview", "map", "rankings", "duty")
# What each screen shows besides the header (the rest is hidden by assets/wall_screens.css).
SHOWN = {"overview": ("#wall-count-received_today", "#wall-flow", "#wall-units", "#wall-map", "#wall-ticker"),
         "map": ("#wall-map",), "rankings": ("#wall-units",), "duty": ("#wall-count-received_today", "#wall-duty")}
LIXIA = {"lat": 36.664, "lon": 117.023, "district": "历下区"}
SHIZHONG = {"lat": 36.647, "lon": 116.999, "district": "市中区"}


@pytest.fixture
def screens_platform(tmp_path: Path) -> Iterator[PlatformProcess]:
    proc = PlatformProcess(f"sqlite:///{tmp_path / 'platform.db'}").start()
    try:
        yield proc
    finally:
        proc.stop()


def counter(page: Any, key: str) -> str:
    return page.inner_text(f"#wall-count-{key}").strip()


def open_wall(browser: Any, proc: PlatformProcess, query: str, size: tuple[int, int] = (1920, 1080),
              frames: list[str] | None = None) -> Any:
    """The wall at ``query``; every Socket.IO frame the page receives goes into ``frames``."""
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    if frames is not None:
        page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(
            f if isinstance(f, str) else bytes(f).decode("utf-8", "replace"))))
    page.goto(proc.wall_url(f"/wall?{query}" if query else "/wall"))
    page.wait_for_selector("#wall-conn.conn-ok", timeout=20000)
    wait_until(lambda: counter(page, "received_today").isdigit(), what="the snapshot")
    page.evaluate("window.__sameDocument = true")
    return page


def visible(page: Any, selector: str) -> bool:
    return bool(page.evaluate("(s) => { const e = document.querySelector(s);"
                              " return !!e && e.getClientRects().length > 0 && e.offsetParent !== null; }", selector))


def subtree_count(proc: PlatformProcess, code: str) -> int:
    factory = session_factory(proc.database_url)
    with factory() as s:
        pairs = s.execute(select(Unit.id, Unit.parent_id)).all()
        root = s.scalar(select(Unit.id).where(Unit.code == code))
        assert root is not None
        return s.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.unit_id.in_(subtree_of([(u, p) for u, p in pairs], root)), Ticket.status != "merged")) or 0


def test_a_kiosk_token_opens_every_screen_at_both_sizes(browser: Any, screens_platform: PlatformProcess) -> None:
    platform = screens_platform
    for size in ((1920, 1080), (3840, 2160)):
        for screen in SCREENS:
            page = open_wall(browser, platform, f"screen={screen}", size)
            assert page.evaluate("window.minshengWall.screen") == screen
            for selector in SHOWN[screen]:
                assert visible(page, selector), (screen, selector)
            hidden = {s for other in SCREENS for s in SHOWN[other]} - set(SHOWN[screen]) - {"#wall-units"}
            assert not any(visible(page, s) for s in hidden - set(SHOWN[screen])), (screen, size)
            # Nothing spills out of the screen: nobody scrolls a wall.
            assert page.evaluate("document.documentElement.scrollHeight <= innerHeight + 1"), (screen, size)
            page.close()


def test_a_playlist_of_three_rotates_twice_with_the_live_counters_right(browser: Any, screens_platform: PlatformProcess) -> None:
    platform = screens_platform
    factory = session_factory(platform.database_url)
    page = open_wall(browser, platform, "playlist=overview,map,rankings&every=5")
    socket_id = page.evaluate("window.minshengLive.socket.id")
    seen: list[str] = [page.evaluate("window.minshengWall.screen")]
    for switch in range(1, 7):  # two full turns
        submit(factory, new_request(phone=f"1390000{switch:04d}", **LIXIA))
        wait_until(lambda: page.evaluate("window.minshengWall.switches") >= switch, timeout=15, what="the next screen")
        seen.append(page.evaluate("window.minshengWall.screen"))
        expected = str(platform.get("/api/v1/live/snapshot")["counters"]["received_today"])
        wait_until(lambda: counter(page, "received_today") == expected, what=f"the count after switch {switch}")
        assert counter(page, "received_today") == str(switch)
    assert seen == ["overview", "map", "rankings"] * 2 + ["overview"]
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    assert page.evaluate("window.minshengLive.socket.id") == socket_id, "the socket was replaced"
    assert page.evaluate("window.minshengLive.resyncs") == 1
    page.close()


def test_a_branch_wall_shows_only_its_subtree_by_push_too(browser: Any, screens_platform: PlatformProcess) -> None:
    platform = screens_platform
    factory = session_factory(platform.database_url)
    submit(factory, new_request(phone="13900000001", **LIXIA))
    submit(factory, new_request(phone="13900000002", **SHIZHONG))
    frames: list[str] = []
    page = open_wall(browser, platform, "unit=JN-LX", frames=frames)
    assert "历下分局" in page.inner_text(".wall-title")
    wait_until(lambda: counter(page, "received_today") == str(subtree_count(platform, "JN-LX")), what="the subtree")
    assert counter(page, "received_today") == "1"
    for i in range(3):
        submit(factory, new_request(phone=f"1390000100{i}", **SHIZHONG))
    submit(factory, new_request(phone="13900002000", **LIXIA))
    wait_until(lambda: counter(page, "received_today") == "2", what="the pushed Lixia ticket")
    time.sleep(2.0)  # what else arrived
    assert counter(page, "received_today") == str(subtree_count(platform, "JN-LX")) == "2"
    assert counter(page, "open_now") == "2"  # the city has six open
    rows = page.inner_text("#wall-units")
    assert "泉城路派出所" in rows and "市中" not in rows
    assert "市中" not in page.inner_text("#wall-ticker") and "四里村" not in page.inner_text("#wall-ticker")
    assert not any("四里村" in f or "市中区" in f for f in page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name)"))
    # The push is the unit's room's: the city's stream never reached this page.
    assert any(f.startswith('42/live,["scoped"') for f in frames), frames[:5]
    assert not any(f.startswith('42/live,["live"') for f in frames)
    assert page.evaluate("window.minshengLive.applied") >= 1
    page.close()


def test_a_branch_outside_the_users_scope_is_refused(browser: Any, screens_platform: PlatformProcess) -> None:
    platform = screens_platform
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{platform.base_url}/login?next=/wall%3Funit%3DJN-SZ")
    page.fill("#username", "viewer")  # 历下分局's
    page.fill("#password", "minsheng-demo")
    page.click("button[type=submit]")
    page.wait_for_selector(".not-found", timeout=20000)
    assert "JN-SZ" in page.inner_text(".not-found")
    assert page.request.get(f"{platform.base_url}/api/v1/live/snapshot?unit=JN-SZ").status == 403
    assert page.request.get(f"{platform.base_url}/api/v1/live/duty?unit=JN-SZ").status == 403
    assert page.request.get(f"{platform.base_url}/api/v1/live/snapshot?unit=JN-LX").status == 200
    page.close()


def test_the_duty_screen_lists_a_breach_the_moment_it_is_pushed(browser: Any, screens_platform: PlatformProcess) -> None:
    platform = screens_platform
    factory = session_factory(platform.database_url)
    page = open_wall(browser, platform, "screen=duty")
    assert page.locator("#wall-duty tr").count() == 0
    # Received two hours ago: its one-hour contact clock has run out.
    ticket = submit(factory, new_request(datetime.now(timezone.utc) - timedelta(hours=2), phone="13900006000", **LIXIA))
    wait_until(lambda: ticket.number in page.inner_text("#wall-duty"), timeout=20, what="the breached ticket's row")
    row = page.locator("#wall-duty tr", has_text=ticket.number)
    assert "已超期" in row.inner_text() and "联系" in row.inner_text()
    assert row.get_attribute("class") == "duty-row duty-breach"
    assert "张三" not in page.content()
    page.close()


def test_a_branch_wall_outside_the_callers_scope_is_refused(screens_platform: PlatformProcess) -> None:
    platform = screens_platform
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as refused:
        platform.get("/api/v1/live/snapshot?unit=JN-NOPE")
    assert refused.value.code == 404
    assert platform.get("/api/v1/live/snapshot?unit=JN-LX")["unit"] == "JN-LX"


def test_the_wall_recovers_from_a_server_restart(browser: Any, screens_platform: PlatformProcess) -> None:
    platform = screens_platform
    factory = session_factory(platform.database_url)
    page = open_wall(browser, platform, "")
    platform.stop()
    page.wait_for_selector("#wall-conn.conn-down", timeout=15000)
    for i in range(4):  # tickets arrive while the server is away
        submit(factory, new_request(phone=f"1390000300{i}"))
    platform.start()  # same port
    page.wait_for_selector("#wall-conn.conn-ok", timeout=30000)
    wait_until(lambda: counter(page, "received_today") == "4", timeout=30, what="the tickets taken while away")
    submit(factory, new_request(phone="13900003009"))
    wait_until(lambda: counter(page, "received_today") == "5", what="pushes after the restart")
    assert page.evaluate("window.__sameDocument") is True
    page.close()


def test_the_wall_recovers_from_a_network_cut(browser: Any, screens_platform: PlatformProcess) -> None:
    platform = screens_platform
    factory = session_factory(platform.database_url)
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    page.goto(platform.wall_url())
    page.wait_for_selector("#wall-conn.conn-ok", timeout=20000)
    page.evaluate("window.__sameDocument = true")
    context.set_offline(True)  # the cable pulled: the socket drops, nothing gets through
    page.wait_for_selector("#wall-conn.conn-down", timeout=30000)
    for i in range(3):
        submit(factory, new_request(phone=f"1390000400{i}"))
    time.sleep(2.0)
    assert counter(page, "received_today") == "0"
    context.set_offline(False)
    page.wait_for_selector("#wall-conn.conn-ok", timeout=30000)
    wait_until(lambda: counter(page, "received_today") == "3", timeout=30, what="the tickets missed while cut off")
    assert page.evaluate("window.__sameDocument") is True
    context.close()


def test_a_new_release_reloads_the_wall_once_at_a_quiet_moment(browser: Any, screens_platform: PlatformProcess) -> None:
    platform = screens_platform
    platform.env["MINSHENG_BUILD"] = "release-1"
    platform.stop()
    platform.start()
    page = open_wall(browser, platform, "")
    assert page.evaluate("window.minshengWall.build") == "release-1"
    factory = session_factory(platform.database_url)
    # Not while tickets are pushed (a reload then would blank the wall mid-change): a ticket every
    # half second from before the new release starts, so the wall is busy from its first frame.
    feeding, submitted = threading.Event(), []

    def feed() -> None:
        while not feeding.is_set():
            submit(factory, new_request(phone=f"139000050{len(submitted):02d}"))
            submitted.append(1)
            time.sleep(0.5)

    feeder = threading.Thread(target=feed, daemon=True)
    platform.stop()
    feeder.start()
    platform.env["MINSHENG_BUILD"] = "release-2"
    platform.start()
    noticed = False
    try:
        wait_until(lambda: page.evaluate("window.minshengWall.newBuild") == "release-2", timeout=30,
                   what="the new build noticed")
        noticed = True
        for i in range(8):  # noticed, and busy: no reload
            time.sleep(1.0)
            assert page.evaluate("window.__sameDocument") is True, f"reloaded while busy ({i})"
    finally:
        feeding.set()
        feeder.join()
    assert noticed, "the new build was not noticed"
    def reloaded() -> bool:
        try:
            return page.evaluate("window.__sameDocument") is None
        except Exception:  # noqa: BLE001 - asked while the page navigates: look again
            return False

    wait_until(reloaded, timeout=20, what="the reload")
    page.wait_for_selector("#wall-conn.conn-ok", timeout=20000)
    wait_until(lambda: page.evaluate("window.minshengWall && window.minshengWall.build") == "release-2",
               what="the new release's page")
    try:
        wait_until(lambda: counter(page, "received_today") == str(len(submitted)), timeout=30,
                   what="the numbers after the reload")
    except AssertionError:
        raise AssertionError(f"the wall says {counter(page, 'received_today')} received today after the reload, "
                             f"{len(submitted)} were submitted\n{platform.log()[-3000:]}") from None
    page.evaluate("window.__sameDocument = true")
    time.sleep(7.0)  # quiet, same release: no second reload
    assert page.evaluate("window.__sameDocument") is True
    page.close()
