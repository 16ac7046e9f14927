"""Issue 17's attacks on the web layer, each refused (dashboard/security.py, dashboard/login.py,
dashboard/auth.py): cross-site writes, login CSRF, open redirects, copied cookies, password
guessing, kiosk tokens on API URLs and in logs, and live data outside the caller's scope."""
from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select

from dashboard import Platform, auth, push, security
from dashboard.login import safe_next
from tickets import accounts
from tickets.models import LoginAttempt, Unit
from tickets.uow import unit_of_work
from tests.helpers import csrf_headers, log_in

PASSWORD = "station-pass-1"
ORDER = "/api/v1/tickets/MS00000000000000/supervision"  # no such ticket: 404 once past the gate


def _user(platform: Platform, username: str, role: str, unit: str) -> None:
    with unit_of_work(platform.factory) as s:
        accounts.create_user(s, username, "测试民警", None, unit, role, PASSWORD)


def _logged_in(platform: Platform, username: str, role: str = "admin", unit: str = "JN-PTB") -> Any:
    _user(platform, username, role, unit)
    client = platform.server.test_client()
    assert log_in(client, username, PASSWORD).status_code == 302
    client.get("/api/v1/me")  # any answer to the session sets the CSRF cookie
    return client


def _code(response: Any) -> str:
    return str(response.get_json()["error"]["code"])


# ----------------------------------------------------------------- cookies and CSRF
def test_the_session_cookie_is_lax_and_http_only_and_strict_for_an_admin(jinan_platform: Platform) -> None:
    _user(jinan_platform, "luokou1", "handler", "JN-TQ-01")
    answer = log_in(jinan_platform.server.test_client(), "luokou1", PASSWORD)
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie
    _user(jinan_platform, "office", "admin", "JN-PTB")
    answer = log_in(jinan_platform.server.test_client(), "office", PASSWORD)
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "SameSite=Strict" in cookie and "HttpOnly" in cookie


def test_a_cross_site_form_cannot_issue_a_supervision_order(jinan_platform: Platform) -> None:
    client = _logged_in(jinan_platform, "office")
    # What another site's auto-submitting form sends: the cookie rides along, no token, a form body.
    form = client.post(ORDER, data={"note": "x"}, headers={"Origin": "https://evil.example"})
    assert form.status_code == 415 and _code(form) == "json_required"
    no_token = client.post(ORDER, json={"note": "x"})
    assert no_token.status_code == 403 and _code(no_token) == "csrf_token_invalid"
    elsewhere = client.post(ORDER, json={"note": "x"}, headers={**csrf_headers(client), "Origin": "https://evil.example"})
    assert elsewhere.status_code == 403 and _code(elsewhere) == "cross_site_refused"
    # The platform's own page: its token and its origin. Past the gate, the ticket is unknown.
    own = client.post(ORDER, json={"note": "x"}, headers={**csrf_headers(client), "Origin": "http://localhost"})
    assert own.status_code == 404, own.get_json()


def test_a_bearer_token_needs_no_csrf_token_but_sends_json(jinan_platform: Platform) -> None:
    _user(jinan_platform, "office", "admin", "JN-PTB")
    with unit_of_work(jinan_platform.factory) as s:
        token = accounts.issue_token(s, "api", user=accounts.find_user(s, "office"))
    client = jinan_platform.server.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.post(ORDER, json={"note": "x"}, headers=bearer).status_code == 404
    form = client.post(ORDER, data={"note": "x"}, headers=bearer)
    assert form.status_code == 415 and _code(form) == "json_required"


def test_dash_callbacks_by_cookie_need_the_token(jinan_platform: Platform) -> None:
    client = _logged_in(jinan_platform, "office")
    call = {"output": "page.children", "outputs": {"id": "page", "property": "children"},
            "inputs": [{"id": "url", "property": "pathname", "value": "/wall"},
                       {"id": "url", "property": "search", "value": ""}], "changedPropIds": ["url.pathname"],
            "state": []}
    assert client.post("/_dash-update-component", json=call).status_code == 403
    assert client.post("/_dash-update-component", json=call, headers=csrf_headers(client)).status_code == 200


def test_a_login_form_from_another_site_does_not_log_in(jinan_platform: Platform) -> None:
    _user(jinan_platform, "office", "admin", "JN-PTB")
    client = jinan_platform.server.test_client()
    forged = client.post("/login", data={"username": "office", "password": PASSWORD})  # no token
    assert forged.status_code == 400 and "登录页面已过期" in forged.get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 401
    other_site = log_in(client, "office", PASSWORD, Origin="https://evil.example")
    assert other_site.status_code == 400 and client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/x", "/\t/evil.example/x", "/\\evil.example", "/\n/evil.example",
                                    "https://evil.example/", "/\\/evil.example", " //evil.example", "javascript:alert(1)",
                                    "/%09/evil.example"])
def test_next_never_leaves_the_platform(target: str) -> None:
    landed = safe_next(target)
    assert landed.startswith("/") and not landed.startswith("//") and "\\" not in landed
    assert "evil.example" not in landed or landed.startswith("/%09/"), landed  # %09 stays a path segment


def test_login_with_a_tab_next_lands_on_the_platform(jinan_platform: Platform) -> None:
    _user(jinan_platform, "office", "admin", "JN-PTB")
    done = log_in(jinan_platform.server.test_client(), "office", PASSWORD, "/\t/evil.example/phish.html")
    assert done.status_code == 302 and done.headers["Location"].startswith("/dispatch")


# ------------------------------------------------------------------- sessions
def test_a_cookie_copied_before_logout_is_dead_after_it(jinan_platform: Platform) -> None:
    client = _logged_in(jinan_platform, "office")
    copy = jinan_platform.server.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    assert copy.get("/api/v1/me").status_code == 200
    client.get("/logout")
    assert client.get("/api/v1/me").status_code == 401
    assert copy.get("/api/v1/users").status_code == 401, "the copy ended with the login session"


def test_password_guessing_locks_the_account_and_the_address(jinan_platform: Platform) -> None:
    _user(jinan_platform, "office", "admin", "JN-PTB")
    client = jinan_platform.server.test_client()
    for _ in range(5):
        assert log_in(client, "office", "wrong-password").status_code == 401
    locked = log_in(client, "office", PASSWORD)  # the right password, during the lockout
    assert locked.status_code == 429 and "登录失败次数过多" in locked.get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 401
    with jinan_platform.factory() as s:
        reasons = [r for r in s.scalars(select(LoginAttempt.reason).where(LoginAttempt.username == "office")
                                        .order_by(LoginAttempt.id))]
    assert reasons == ["wrong_password"] * 5 + ["locked_out"]
    # Another address guessing many accounts is stopped too (20 failures from one address).
    _user(jinan_platform, "clerk", "admin", "JN-PTB")
    other = jinan_platform.server.test_client()
    for n in range(20):
        log_in(other, f"nobody{n}", "x", **{"X-Forwarded-For": "ignored"})
    assert log_in(other, "clerk", PASSWORD).status_code == 429


# ------------------------------------------------------------------ kiosk tokens
def test_a_kiosk_token_opens_screens_not_api_urls(jinan_platform: Platform) -> None:
    with unit_of_work(jinan_platform.factory) as s:
        kiosk = accounts.issue_token(s, "kiosk", label="1 号屏")
    client = jinan_platform.server.test_client()
    refused = client.get(f"/api/v1/live/position?kiosk={kiosk}")
    assert refused.status_code == 401
    assert client.get(f"/wall?kiosk={kiosk}").status_code == 200


def test_kiosk_tokens_are_hidden_in_access_logs() -> None:
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '%s - - "%s" %s',
                               ("127.0.0.1", "GET /wall?lang=en&kiosk=kiosk_SECRETvalue&x=1 HTTP/1.1", "200"), None)
    assert security.KioskTokenFilter().filter(record)
    line = record.getMessage()
    assert "SECRETvalue" not in line and "kiosk=***&x=1" in line


# --------------------------------------------------------------------- headers
def test_every_answer_carries_the_security_headers(jinan_platform: Platform) -> None:
    client = _logged_in(jinan_platform, "office")
    for path in ("/dispatch", "/login", "/api/v1/me"):
        answer = client.get(path)
        assert answer.headers["X-Content-Type-Options"] == "nosniff", path
        assert answer.headers["X-Frame-Options"] == "DENY", path
        assert answer.headers["Referrer-Policy"] == "same-origin", path
        assert "Strict-Transport-Security" not in answer.headers, "no HSTS over plain HTTP"
    page = client.get("/dispatch")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "connect-src 'self'" in policy
    secure = jinan_platform.server.test_client().get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.platform_settings(wall_frame_ancestors="https://portal.police.example")
def test_only_walls_may_be_framed_and_only_by_the_configured_origins(jinan_platform: Platform) -> None:
    with unit_of_work(jinan_platform.factory) as s:
        kiosk = accounts.issue_token(s, "kiosk")
    client = jinan_platform.server.test_client()
    wall = client.get(f"/wall?kiosk={kiosk}")
    assert "frame-ancestors 'self' https://portal.police.example" in wall.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in wall.headers
    assert client.get("/login").headers["X-Frame-Options"] == "DENY"


# ------------------------------------------------------------------- live scope
def _socket(platform: Platform, client: Any, auth_data: Any = None) -> Any:
    return platform.socketio.test_client(platform.server, namespace=push.NAMESPACE, flask_test_client=client,
                                         auth=auth_data)


def test_the_city_stream_reaches_city_wide_callers_only(jinan_platform: Platform) -> None:
    station = _logged_in(jinan_platform, "luokou1", "handler", "JN-TQ-01")
    city = _logged_in(jinan_platform, "office")
    station_socket, city_socket = _socket(jinan_platform, station), _socket(jinan_platform, city)
    assert station_socket.is_connected(push.NAMESPACE) and city_socket.is_connected(push.NAMESPACE)
    station_socket.get_received(push.NAMESPACE)
    city_socket.get_received(push.NAMESPACE)
    jinan_platform.socketio.emit(push.EVENT, {"events": [{"number": "MS1"}]}, to=push.ROOM, namespace=push.NAMESPACE)
    assert [m["name"] for m in city_socket.get_received(push.NAMESPACE)] == [push.EVENT]
    assert station_socket.get_received(push.NAMESPACE) == [], "a station hears its own room only"


def test_a_scoped_callers_snapshot_and_wall_are_its_units(jinan_platform: Platform) -> None:
    jinan_platform.aggregator.rebuild()  # the snapshot answers 503 until the live state is built
    station = _logged_in(jinan_platform, "luokou1", "handler", "JN-TQ-01")
    answer = station.get("/api/v1/live/snapshot")
    assert answer.status_code == 200 and answer.get_json()["unit"] == "JN-TQ-01"
    assert {u["unit_code"] for u in answer.get_json()["units"]} <= {"JN-TQ-01"}, "no other unit's figures"
    assert station.get("/api/v1/live/snapshot?unit=JN-LX").status_code == 403


def test_a_kiosk_token_for_a_branch_sees_only_its_subtree(jinan_platform: Platform) -> None:
    with unit_of_work(jinan_platform.factory) as s:
        branch = s.scalar(select(Unit).where(Unit.code == "JN-LX"))
        kiosk = accounts.issue_token(s, "kiosk", label="历下分局大屏", unit=branch)
        subtree = accounts.resolve_token(s, kiosk)
        assert subtree is not None and subtree.unit_id == branch.id
    jinan_platform.aggregator.rebuild()
    client = jinan_platform.server.test_client()
    bearer = {"Authorization": f"Bearer {kiosk}"}
    me = client.get("/api/v1/me", headers=bearer).get_json()
    assert (me["scope"], me["unit_code"]) == ("subtree", "JN-LX")
    assert client.get("/api/v1/live/snapshot?unit=JN-SZ", headers=bearer).status_code == 403
    own = client.get("/api/v1/live/snapshot", headers=bearer).get_json()
    assert own["unit"] == "JN-LX" and own["units"] and all(u["unit_code"].startswith("JN-LX") for u in own["units"])
    assert all("rank" in u and "intervals" in u for u in own["units"]), "ranked as the city wall's table is"
    assert client.get("/api/v1/figures?unit=JN-SZ", headers=bearer).status_code == 403
    socket = _socket(jinan_platform, None, {"token": kiosk})
    assert socket.is_connected(push.NAMESPACE)
    socket.get_received(push.NAMESPACE)
    jinan_platform.socketio.emit(push.EVENT, {"events": []}, to=push.ROOM, namespace=push.NAMESPACE)
    assert socket.get_received(push.NAMESPACE) == [], "a branch's kiosk does not hear the city"
    assert not _socket(jinan_platform, None, {"token": kiosk, "unit": "JN-SZ"}).is_connected(push.NAMESPACE)
    assert auth.KIOSK_ROLE == me["role"]
