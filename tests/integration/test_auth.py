"""Who may see what, through the real Flask app (in-process: Flask's test client,
Flask-SocketIO's test client): the API, the screens, Dash's endpoints, Socket.IO."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from dashboard import Platform, auth, push
from tickets import accounts
from tickets.uow import unit_of_work
from tickets.models import User
from tests.helpers import csrf_headers, log_in

PASSWORD = "station-pass-1"


@dataclass
class Web:
    platform: Platform
    kiosk: str  # plaintext of a kiosk token
    kiosk_id: int
    clock: list[float]  # the auth cache's clock, moved by hand

    def client(self) -> Any:
        return self.platform.server.test_client()

    def user(self, username: str, role: str, unit: str) -> User:
        with unit_of_work(self.platform.factory) as s:
            return accounts.create_user(s, username, "测试民警", None, unit, role, PASSWORD)

    def token(self, username: str) -> str:
        with unit_of_work(self.platform.factory) as s:
            return accounts.issue_token(s, "api", user=accounts.find_user(s, username))

    def later(self) -> None:
        """Past the grant cache: the next request re-checks the database."""
        self.clock[0] += auth.CACHE_SECONDS + 0.1


@pytest.fixture
def auth_web(jinan_platform: Platform) -> Web:
    """``jinan_platform`` with a kiosk token and the auth cache on a clock moved by hand."""
    with unit_of_work(jinan_platform.factory) as s:
        kiosk = accounts.issue_token(s, "kiosk", label="指挥中心 1 号屏")
        kiosk_id = accounts.resolve_token(s, kiosk).id
    clock = [1000.0]
    jinan_platform.server.extensions[auth.EXTENSION].clock = lambda: clock[0]
    return Web(jinan_platform, kiosk, kiosk_id, clock)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ----------------------------------------------------------------------- API
@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/live/snapshot", "/api/v1/users", "/api/v1/nothing-here"])
def test_api_refuses_anonymous_callers_with_401_json(auth_web: Web, path: str) -> None:
    response = auth_web.client().get(path)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "authentication_required"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_api_accepts_a_bearer_token_and_says_who(auth_web: Web) -> None:
    auth_web.user("luokou1", "handler", "JN-TQ-01")
    response = auth_web.client().get("/api/v1/me", headers=bearer(auth_web.token("luokou1")))
    assert response.status_code == 200
    me = response.get_json()
    assert (me["name"], me["role"], me["unit_code"], me["scope"]) == ("luokou1", "handler", "JN-TQ-01", "subtree")
    assert auth_web.client().get("/api/v1/me", headers=bearer("api_not-a-token")).status_code == 401


def test_api_accepts_the_kiosk_grant_kept_in_the_session(auth_web: Web) -> None:
    client = auth_web.client()
    assert client.get(f"/wall?kiosk={auth_web.kiosk}").status_code == 200
    me = client.get("/api/v1/me")  # no token: the session cookie carries the grant
    assert me.status_code == 200 and me.get_json()["role"] == "kiosk"
    auth_web.platform.aggregator.rebuild()
    snapshot = client.get("/api/v1/live/snapshot")
    assert snapshot.status_code == 200 and "counters" in snapshot.get_json()


def test_wrong_role_gets_403_with_the_reason(auth_web: Web) -> None:
    auth_web.user("luokou1", "handler", "JN-TQ-01")
    auth_web.user("office", "admin", "JN-PTB")
    refused = auth_web.client().get("/api/v1/users", headers=bearer(auth_web.token("luokou1")))
    assert refused.status_code == 403
    reason = refused.get_json()["error"]
    assert reason["code"] == "role_required"
    assert reason["params"]["role"] == "handler" and reason["params"]["roles"] == ["admin"]
    kiosk = auth_web.client().get("/api/v1/users", headers=bearer(auth_web.kiosk))
    assert kiosk.status_code == 403 and kiosk.get_json()["error"]["params"]["role"] == "kiosk"
    allowed = auth_web.client().get("/api/v1/users", headers=bearer(auth_web.token("office")))
    assert allowed.status_code == 200
    assert {u["username"] for u in allowed.get_json()["items"]} == {"luokou1", "office"}


def test_kiosk_is_read_only(auth_web: Web) -> None:
    response = auth_web.client().post("/api/v1/me", headers=bearer(auth_web.kiosk))
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "kiosk_read_only"


def test_health_is_public_but_terse_for_anonymous_callers(auth_web: Web) -> None:
    assert auth_web.client().get("/api/v1/health").get_json() == {"status": "ok"}
    detailed = auth_web.client().get("/api/v1/health", headers=bearer(auth_web.kiosk)).get_json()
    assert detailed["database"] == "ok" and "relayed" in detailed


def test_revoked_kiosk_token_cuts_the_wall_off(auth_web: Web) -> None:
    client = auth_web.client()
    assert client.get(f"/wall?kiosk={auth_web.kiosk}").status_code == 200
    assert client.get("/api/v1/me").status_code == 200
    with unit_of_work(auth_web.platform.factory) as s:
        accounts.revoke_token(s, auth_web.kiosk_id)
    auth_web.later()
    refused = client.get("/api/v1/live/snapshot")
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "kiosk_token_invalid"
    page = client.get("/wall")  # the session's grant is gone too; the wall says why, no login form
    assert page.status_code == 401 and "已被撤销" in page.get_data(as_text=True)
    assert "password" not in page.get_data(as_text=True)
    assert client.get(f"/wall?kiosk={auth_web.kiosk}").status_code == 401


def test_deactivated_user_loses_the_session(auth_web: Web) -> None:
    auth_web.user("luokou1", "handler", "JN-TQ-01")
    client = auth_web.client()
    log_in(client, "luokou1", PASSWORD)
    assert client.get("/api/v1/me").status_code == 200
    with unit_of_work(auth_web.platform.factory) as s:
        s.scalar(select(User).where(User.username == "luokou1")).active = False
    auth_web.later()
    assert client.get("/api/v1/me").status_code == 401


# ------------------------------------------------------------------- screens
def test_wall_with_a_kiosk_token_opens_without_login(auth_web: Web) -> None:
    client = auth_web.client()
    page = client.get(f"/wall?kiosk={auth_web.kiosk}&lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "react-entry-point" in html and "<form" not in html
    assert client.get("/_dash-layout").status_code == 200
    assert client.get("/_dash-dependencies").status_code == 200
    routed = client.post("/_dash-update-component", json=router_call("/wall"), headers=csrf_headers(client))
    assert routed.status_code == 200 and "wall-count-received_today" in routed.get_data(as_text=True)


def test_wall_without_credentials_redirects_to_login(auth_web: Web) -> None:
    response = auth_web.client().get("/wall?lang=en")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/wall%3Flang%3Den"
    login = auth_web.client().get("/login?next=/wall")
    text = login.get_data(as_text=True)
    assert login.status_code == 200 and "登录" in text and 'name="password"' in text
    assert "http://" not in text and "https://" not in text, "no outside assets on the login page"


def test_other_screens_need_a_login_even_with_a_kiosk_grant(auth_web: Web) -> None:
    client = auth_web.client()
    assert client.get("/").status_code == 302
    client.get(f"/wall?kiosk={auth_web.kiosk}")
    assert client.get("/").headers["Location"] == "/login?next=/"
    # Through Dash: the router will not render another screen for a kiosk ...
    routed = client.post("/_dash-update-component", json=router_call("/"), headers=csrf_headers(client))
    assert routed.status_code == 200 and "民生警务平台" not in routed.get_data(as_text=True)
    # ... and other screens' callbacks are closed to it.
    other = router_call("/")
    other["output"], other["outputs"] = "duty-breaches.children", {"id": "duty-breaches", "property": "children"}
    assert client.post("/_dash-update-component", json=other, headers=csrf_headers(client)).status_code == 403


def test_dash_endpoints_do_not_serve_anonymous_callers(auth_web: Web) -> None:
    client = auth_web.client()
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/_dash-dependencies").status_code == 401
    assert client.post("/_dash-update-component", json=router_call("/wall")).status_code == 401
    assert client.get("/assets/live.js").status_code == 200, "static assets stay public"


def test_login_logout_and_no_open_redirect(auth_web: Web) -> None:
    auth_web.user("office", "admin", "JN-PTB")
    client = auth_web.client()
    wrong = log_in(client, "office", "wrong-password")
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 401
    done = log_in(client, "office", PASSWORD, "//evil.example/x")
    # Not to the other site: to the role's own screen (an admin works the dispatch desk).
    assert done.status_code == 302 and done.headers["Location"] == "/dispatch?lang=zh-CN"
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/me").get_json()["unit_code"] == "JN-PTB"
    client.get("/logout")
    assert client.get("/api/v1/me").status_code == 401


def router_call(pathname: str) -> dict[str, Any]:
    return {
        "output": "page.children", "outputs": {"id": "page", "property": "children"},
        "inputs": [{"id": "url", "property": "pathname", "value": pathname},
                   {"id": "url", "property": "search", "value": ""}],
        "changedPropIds": ["url.pathname"], "state": [],
    }


# ----------------------------------------------------------------- Socket.IO
def live_socket(web: Web, flask_client: Any = None, auth_data: Any = None) -> Any:
    return web.platform.socketio.test_client(web.platform.server, namespace=push.NAMESPACE,
                                             flask_test_client=flask_client, auth=auth_data)


def test_socket_refused_without_credentials(auth_web: Web) -> None:
    assert not live_socket(auth_web).is_connected(push.NAMESPACE)
    assert not live_socket(auth_web, auth_data={"token": "kiosk_forged"}).is_connected(push.NAMESPACE)


def test_socket_admitted_by_kiosk_session_or_token(auth_web: Web) -> None:
    browser = auth_web.client()
    browser.get(f"/wall?kiosk={auth_web.kiosk}")
    assert live_socket(auth_web, flask_client=browser).is_connected(push.NAMESPACE)
    assert live_socket(auth_web, auth_data={"token": auth_web.kiosk}).is_connected(push.NAMESPACE)


def test_revoked_grant_drops_open_sockets(auth_web: Web) -> None:
    browser = auth_web.client()
    browser.get(f"/wall?kiosk={auth_web.kiosk}")
    socket = live_socket(auth_web, flask_client=browser)
    assert socket.is_connected(push.NAMESPACE)
    server = auth_web.platform.server
    assert auth.sweep_sockets(server, push.drop(auth_web.platform.socketio)) == []
    with unit_of_work(auth_web.platform.factory) as s:
        accounts.revoke_token(s, auth_web.kiosk_id)
    auth_web.later()
    assert len(auth.sweep_sockets(server, push.drop(auth_web.platform.socketio))) == 1
    assert not socket.is_connected(push.NAMESPACE)
    assert not live_socket(auth_web, flask_client=browser).is_connected(push.NAMESPACE)
