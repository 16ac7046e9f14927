"""The API's one error shape: every refusal under /api/v1, whoever refuses, in the caller's language."""
from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dashboard.api import errors
from layouts.i18n import gettext
from tests.helpers import HOTLINE_SECRET, OPEN311_KEY, ROOT, TZ, ApiWorld, form_fields, log_in, push, with_changes
from tests.helpers import api_world as build_api_world
from tickets import errors as domain
from tickets.models import DeadLetter


pytestmark = pytest.mark.platform_settings(sms_inbound_secret="sms-secret")


def shape(response: Any, status: int, code: str) -> dict[str, Any]:
    """The error body, checked for the one shape; returns it."""
    assert response.status_code == status and response.is_json, (response.status_code, response.data[:300])
    body = response.get_json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert set(error) <= {"status", "code", "message", "params", "field"}, error
    assert (error["status"], error["code"]) == (status, code), error
    assert isinstance(error["message"], str) and error["message"] and isinstance(error["params"], dict)
    return error


def raising(world: ApiWorld, monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    """GET /api/v1/me raises ``exc`` from inside the view."""

    def view() -> Any:
        raise exc

    monkeypatch.setitem(world.platform.server.view_functions, "api.me", view)


# ------------------------------------------------------------- routes
def test_an_unknown_path_is_404_and_a_wrong_method_405_in_the_shape(api_world: ApiWorld) -> None:
    world = api_world
    error = shape(world.get("/api/v1/no-such-thing"), 404, "unknown_endpoint")
    assert error["params"] == {"path": "/api/v1/no-such-thing"}
    shape(world.post("/api/v1/no-such-thing", json={}), 404, "unknown_endpoint")
    wrong = world.post("/api/v1/me", json={})
    error = shape(wrong, 405, "method_not_allowed")
    assert "GET" in error["params"]["allowed"] and "POST" not in error["params"]["allowed"]
    assert "GET" in wrong.headers["Allow"]
    # Anonymous callers learn nothing about routes: the gate answers first.
    refused = world.get("/api/v1/no-such-thing", None)
    shape(refused, 401, "authentication_required")
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_gate_refuses_in_the_shape(api_world: ApiWorld) -> None:
    world = api_world
    shape(world.get("/api/v1/me", None, Authorization="Bearer api_nope"), 401, "token_invalid")
    error = shape(world.get("/api/v1/users", "viewer"), 403, "role_required")
    assert error["params"] == {"actor": "viewer", "role": "viewer", "path": "/api/v1/users", "roles": ["admin"]}
    shape(world.post("/api/v1/tickets/MS1/supervision", "kiosk", json={}), 403, "kiosk_read_only")


# ------------------------------------------------------------ language
@pytest.mark.parametrize("query, headers, lang", [
    ("", {}, "zh-CN"),
    ("&lang=en", {}, "en"),
    ("", {"Accept-Language": "en-GB,en;q=0.8"}, "en"),
    ("", {"Accept-Language": "fr-FR, de;q=0.5"}, "zh-CN"),
    ("&lang=zh-CN", {"Accept-Language": "en"}, "zh-CN"),
])
def test_messages_are_in_the_callers_language(api_world: ApiWorld, query: str, headers: dict[str, str],
                                             lang: str) -> None:
    world = api_world
    error = shape(world.get(f"/api/v1/alerts?status=maybe{query}", **headers), 400, "not_one_of")
    assert error["field"] == "status" and error["params"]["value"] == "maybe"
    assert error["message"] == gettext(errors.MESSAGES["not_one_of"], lang, field="status", value="maybe",
                                       allowed="open, closed, all")
    if lang == "en":
        assert error["message"] == "'status' must be one of open, closed, all, not 'maybe'"


# -------------------------------------------------------- the domain
@pytest.mark.parametrize("exc, status", [
    (domain.Invalid("reason_empty", step="return"), 400),
    (domain.NotFound("unknown_ticket", number="MS1"), 404),
    (domain.NotAllowed("outside_scope", unit="JN-LX"), 403),
    (domain.IllegalStep(step="accept", status="closed"), 409),
    (domain.Conflict("stale_version", version=3), 409),
    (domain.Busy(), 503),
])
def test_domain_refusals_map_to_their_status_with_code_and_params(api_world: ApiWorld, monkeypatch: pytest.MonkeyPatch,
                                                                  exc: domain.DomainError, status: int) -> None:
    world = api_world
    raising(world, monkeypatch, exc)
    response = world.get("/api/v1/me?lang=en")
    error = shape(response, status, exc.code)
    assert error["params"] == exc.params and "field" not in error
    assert (response.headers.get("Retry-After") is not None) == (status == 503)


def test_a_code_without_its_params_says_its_familys_message(api_world: ApiWorld,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    world = api_world
    raising(world, monkeypatch, domain.NotFound("unknown_ticket"))  # the template needs a number
    assert shape(world.get("/api/v1/me?lang=en"), 404, "unknown_ticket")["message"] == "Not found"
    raising(world, monkeypatch, domain.IllegalStep("already_signed", by="x"))  # a code without a template
    error = shape(world.get("/api/v1/me?lang=en"), 409, "already_signed")
    assert error["message"] == errors.MESSAGES["illegal_step"] and error["params"] == {"by": "x"}


# ------------------------------------------------------ the platform
def test_an_unexpected_error_is_a_logged_500_in_the_shape(api_world: ApiWorld, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    world = api_world
    raising(world, monkeypatch, RuntimeError("password=hunter2"))
    with caplog.at_level(logging.ERROR, logger="dashboard.api.errors"):
        error = shape(world.get("/api/v1/me"), 500, "internal_error")
    assert "hunter2" not in str(error)
    [record] = [r for r in caplog.records if r.name == "dashboard.api.errors"]
    assert record.exc_info is not None and "hunter2" in str(record.exc_info[1])


def test_a_body_over_the_limit_is_413_in_the_shape(api_world: ApiWorld) -> None:
    world = api_world
    world.platform.server.config["MAX_CONTENT_LENGTH"] = 1000
    response = world.platform.server.test_client().post(
        "/api/v1/sms/inbound", data={"phone": "13800000000", "text": "1" * 5000},
        headers={"X-Minsheng-Sms-Secret": "sms-secret"})
    shape(response, 413, "body_too_large")


def test_request_parameters_are_named(api_world: ApiWorld) -> None:
    world = api_world
    secret = {"X-Minsheng-Sms-Secret": "sms-secret"}
    client = world.platform.server.test_client()
    shape(client.post("/api/v1/sms/inbound", json={"phone": "1"}, headers={}), 403, "sms_secret_refused")
    assert shape(client.post("/api/v1/sms/inbound", json={"text": "1"}, headers=secret),
                 400, "missing_parameter")["field"] == "phone"
    assert shape(client.post("/api/v1/sms/inbound", json={"phone": "138", "text": 1}, headers=secret),
                 400, "not_a_string")["field"] == "text"
    assert shape(client.post("/api/v1/sms/inbound", json={"phone": "138", "text": "1", "time": "noon"},
                             headers=secret), 400, "invalid_time")["field"] == "time"
    shape(client.post("/api/v1/sms/inbound", json=[1], headers=secret), 400, "body_not_object")
    assert shape(world.get("/api/v1/hotspots?top=x"), 400, "not_integer")["field"] == "top"
    assert shape(world.get("/api/v1/hotspots?top=1000"), 400, "out_of_range")["params"]["max"] == 100
    assert shape(world.get("/api/v1/hotspots?window=1h&from=2026-01-01"), 400,
                 "conflicting_parameters")["field"] == "window"
    assert shape(world.get("/api/v1/hotspots?from=2026-01-01&to=2026-12-31"), 400,
                 "range_too_long")["params"] == {"max_days": 92}
    assert shape(world.get("/api/v1/figures?from=9999-12-31"), 400, "out_of_range")["field"] == "from"


def test_text_the_database_cannot_hold_is_refused_before_it(tmp_path: Path, pg_url: str) -> None:
    """PostgreSQL refuses NUL characters in text: a unit code or an SMS with one is the caller's error."""
    for world in build_api_world(tmp_path, pg_url, sms_inbound_secret="sms-secret"):
        assert shape(world.get("/api/v1/alerts?unit=JN%00LX"), 404, "unknown_unit")["params"] == {"unit": "JN\x00LX"}
        shape(world.get("/api/v1/tickets/MS%00"), 404, "unknown_ticket")
        shape(world.get("/api/v1/figures?unit=" + "J" * 40), 404, "unknown_unit")
        response = world.platform.server.test_client().post(
            "/api/v1/sms/inbound", json={"phone": "13800000000", "text": "1\x00"},
            headers={"X-Minsheng-Sms-Secret": "sms-secret"})
        assert shape(response, 400, "nul_character")["field"] == "text"
        cursor = base64.urlsafe_b64encode(b'["2026-01-01T00:00:00+00:00", 9223372036854775808]').decode()
        shape(world.get(f"/api/v1/users?cursor={cursor}"), 400, "invalid_cursor")
        # An unsigned push is kept as a dead letter, whatever bytes it holds.
        pushed = world.platform.server.test_client().post("/api/v1/intake/hotline", data=b'{"a": "\x00"}',
                                                          headers={"Content-Type": "application/json"})
        assert shape(pushed, 401, "signature_refused")["params"]["dead_letter_id"] > 0


# ------------------------------------------------------- the table
def _raised_codes() -> set[str]:
    """Every code the domain raises: ``raise SomeError("code", ...)`` in ``tickets/``."""
    import ast

    from tickets import errors as domain

    classes = {name for name, value in vars(domain).items()
               if isinstance(value, type) and issubclass(value, domain.DomainError)}
    codes = set()
    for path in (ROOT / "tickets").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in classes \
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                codes.add(node.args[0].value)
    return codes


def test_every_code_the_domain_raises_has_its_message_in_both_languages() -> None:
    codes = _raised_codes()
    assert len(codes) > 30, codes  # the walk found the domain's refusals
    assert codes <= set(errors.MESSAGES), sorted(codes - set(errors.MESSAGES))
    names = re.compile(r"%\((\w+)\)s")
    for code, template in errors.MESSAGES.items():
        params = {name: f"<{name}>" for name in names.findall(template)}
        zh = errors.message(code, "zh-CN", params)
        assert zh != errors.message(code, "en", params), f"{code}: no Chinese in the catalogue"
        assert all(v in zh for v in params.values()), f"{code}: the Chinese drops a placeholder"


# --------------------------------------------- bad input on every channel (issue 17)
DEEP = b"[" * 5000 + b"]" * 5000  # Python's own JSON parser runs out of stack at ~1,000


def _order(n: int, **changes: Any) -> dict[str, Any]:
    return with_changes({"工单编号": f"GS20261201{n:06d}", "派单时间": "2026-12-01 09:30:00", "联系电话": "13812345678",
                         "事发地址": "济南市历下区泉城路芙蓉街", "诉求类型": "投诉", "标题": "烧烤店噪音扰民",
                         "诉求内容": "楼下烧烤店每天营业到凌晨两点，噪音很大，请求处理。"}, changes)


def _future(**delta: float) -> str:
    return (datetime.now(TZ) + timedelta(**delta)).strftime("%Y-%m-%d %H:%M:%S")


def test_bad_input_on_every_channel_is_a_4xx_and_each_refused_record_a_dead_letter(database_url: str,
                                                                                  tmp_path: Path) -> None:
    """NUL characters and lone surrogates in text, times outside 2000 .. five minutes from now,
    JSON nested 5,000 deep: every channel answers 4xx with the field and its reason, never 5xx,
    and keeps every refused record as a dead letter with that reason (on SQLite and PostgreSQL,
    which refuses a NUL in text outright)."""
    from dashboard import intake_forms

    intake_forms.limiter.reset()
    for world in build_api_world(tmp_path, database_url, hotline_secret=HOTLINE_SECRET,
                                 sms_inbound_secret="sms-secret"):
        client = world.platform.server.test_client()
        admin = world.headers("admin")
        sms = {"X-Minsheng-Sms-Secret": "sms-secret"}
        mailbox = {**form_fields(client, "/mailbox"), "name": "王女士", "phone": "13705311234", "title": "护学岗",
                   "content": "建议在文化东路小学门口增设护学岗。"}
        desk = {**form_fields(client, "/frontdesk", admin), "channel": "letter", "name": "赵大爷", "title": "施工噪音",
                "content": "小区旁工地夜间施工，噪音严重影响休息。"}
        o311 = {"api_key": OPEN311_KEY, "service_code": "noise", "address_string": "济南市历下区泉城路",
                "attribute[noise_source]": "shop", "description": "楼下烧烤店噪音很大。"}
        # (what, request, status, dead letter's channel or None, words of the reason)
        cases: list[tuple[str, Callable[[], Any], int, str | None, str]] = [
            ("12345 content NUL", lambda: push(client, _order(1, 诉求内容="噪音\x00很大")), 400, "hotline_12345", "U+0000"),
            ("12345 caller surrogate", lambda: push(client, None, raw=b'{"\\u6765\\u7535\\u4eba": "\\ud800"}'),
             400, "hotline_12345", "U+D800"),
            ("12345 order number NUL", lambda: push(client, _order(2, 工单编号="GS\x001")), 400, "hotline_12345",
             "not a work-order number"),
            ("12345 raw body NUL", lambda: push(client, None, raw=b'{"a": "\x00"}'), 400, "hotline_12345",
             "not UTF-8 JSON"),
            ("12345 dispatched in year 1", lambda: push(client, _order(3, 派单时间="0001-01-01 00:00:00")), 400,
             "hotline_12345", "before 2000-01-01"),
            ("12345 dispatched in 1999", lambda: push(client, _order(4, 派单时间="1999-12-31 23:59:59")), 400,
             "hotline_12345", "before 2000-01-01"),
            ("12345 dispatched in year 9999", lambda: push(client, _order(5, 派单时间="9999-12-31 23:59:59")), 400,
             "hotline_12345", "in the future"),
            ("12345 dispatched in an hour", lambda: push(client, _order(6, 派单时间=_future(hours=1))), 400,
             "hotline_12345", "more than 5 minutes in the future"),
            ("12345 nested 5,000 deep", lambda: push(client, None, raw=DEEP), 400, "hotline_12345", "more than 32 deep"),
            ("Open311 description NUL", lambda: client.post("/open311/v2/requests.json",
                                                            data={**o311, "description": "噪\x00音"}),
             400, "open311", "U+0000"),
            ("Open311 start_date 1999", lambda: client.get("/open311/v2/requests.json?start_date=1999-12-31T00:00:00Z"),
             400, None, "before 2000-01-01"),
            ("Open311 end_date 9999", lambda: client.get("/open311/v2/requests.json?end_date=9999-12-31T00:00:00Z"),
             400, None, "after 2999-12-31"),
            ("Open311 id NUL", lambda: client.get("/open311/v2/requests/MS%00.json"), 404, None, "not found"),
            ("mailbox content NUL", lambda: client.post("/mailbox", data={**mailbox, "content": "噪\x00音"}),
             400, "director_mailbox", "U+0000"),
            ("front desk name NUL", lambda: client.post("/frontdesk", data={**desk, "name": "赵\x00"}, headers=admin),
             400, "letter", "U+0000"),
            ("front desk in year 1", lambda: client.post("/frontdesk", data={**desk, "received_at": "0001-01-01 08:00"},
                                                         headers=admin), 400, "letter", "before 2000-01-01"),
            ("login username NUL", lambda: log_in(client, "ad\x00min", "x"), 401, None, ""),
            ("SMS in year 9999", lambda: client.post("/api/v1/sms/inbound", headers=sms, json={
                "phone": "13800000000", "text": "1", "time": "9999-12-31T00:00:00+08:00"}), 400, None, "time"),
            ("SMS in an hour", lambda: client.post("/api/v1/sms/inbound", headers=sms, json={
                "phone": "13800000000", "text": "1", "time": _future(hours=1)}), 400, None, "time"),
            ("SMS text surrogate", lambda: client.post("/api/v1/sms/inbound", headers={
                **sms, "Content-Type": "application/json"}, data=b'{"phone": "13800000000", "text": "\\udc00"}'),
             400, None, "text"),
            ("SMS nested 5,000 deep", lambda: client.post("/api/v1/sms/inbound", data=DEEP, headers={
                **sms, "Content-Type": "application/json"}), 400, None, "32"),
            ("supervision nested 5,000 deep", lambda: world.post("/api/v1/tickets/MS1/supervision", data=DEEP,
                                                                 headers={"Content-Type": "application/json"}),
             400, None, "32"),
            ("a screen's callback nested 5,000 deep", lambda: client.post("/_dash-update-component", data=DEEP,
                                                                         headers={**admin, "Content-Type": "application/json"}),
             400, None, "128"),
            ("figures from 1999", lambda: world.get("/api/v1/figures?from=1999-12-31"), 400, None, "2000-01-01"),
            ("hotspots to 9999", lambda: world.get("/api/v1/hotspots?from=2026-11-01&to=9999-12-31"), 400, None,
             "2999-12-31"),
            ("desk numbers NUL", lambda: world.get("/api/v1/queues/desk?numbers=MS%00"), 200, None, ""),
        ]
        for what, send, status, channel, words in cases:
            with world.platform.factory() as s:
                before = s.scalar(select(func.max(DeadLetter.id))) or 0
            response = send()
            text = response.get_data(as_text=True)
            assert response.status_code == status, (what, response.status_code, text[:300])
            if words and response.is_json:
                assert words in json.dumps(response.get_json(), ensure_ascii=False), (what, text[:300])
            with world.platform.factory() as s:
                letters = list(s.scalars(select(DeadLetter).where(DeadLetter.id > before)))
            if channel is None:
                assert letters == [], what
                continue
            [letter] = letters
            assert letter.channel == channel and any(words in e["message"] for e in letter.errors), (what, letter.errors)
        assert intake_forms.limiter.refused == {}  # none of it was throttled


def _cut_off(url: str) -> Callable[[], None]:
    """The database out of reach from now on (SQLite: its file a directory; PostgreSQL: connections
    refused and the open ones ended); returns what brings it back."""
    from sqlalchemy import create_engine, make_url, text

    if url.startswith("sqlite"):
        path = Path(make_url(url).database or "")
        path.rename(path.with_suffix(".away"))
        path.mkdir()
        return lambda: (path.rmdir(), path.with_suffix(".away").rename(path)) and None
    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")

    def allow(yes: bool) -> None:
        with admin.connect() as c:
            c.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(yes).lower()}'))
            if not yes:
                c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})

    allow(False)
    return lambda: (allow(True), admin.dispose()) and None


def test_a_database_outage_is_a_503_with_retry_after_not_a_500(database_url: str, tmp_path: Path) -> None:
    for world in build_api_world(tmp_path, database_url, hotline_secret=HOTLINE_SECRET,
                                 sms_inbound_secret="sms-secret"):
        client = world.platform.server.test_client()
        mailbox = {**form_fields(client, "/mailbox"), "name": "王女士", "phone": "13705311234", "title": "护学岗",
                   "content": "建议在文化东路小学门口增设护学岗。"}
        back = _cut_off(database_url)
        world.platform.factory.kw["bind"].dispose()  # pooled connections are gone with the database
        try:
            for what, response in [
                ("an API read", world.get("/api/v1/tickets")),
                ("the 12345 push", push(client, _order(9))),
                ("an SMS", client.post("/api/v1/sms/inbound", json={"phone": "13800000000", "text": "1"},
                                       headers={"X-Minsheng-Sms-Secret": "sms-secret"})),
                ("the mailbox", client.post("/mailbox", data=mailbox)),
            ]:
                shape(response, 503, "database_unavailable")
                assert response.headers["Retry-After"] == str(errors.DATABASE_RETRY_AFTER_SECONDS), what
            open311 = client.post("/open311/v2/requests.json", data={"api_key": OPEN311_KEY, "service_code": "noise",
                                                                     "address_string": "济南市历下区泉城路",
                                                                     "attribute[noise_source]": "shop"})
            assert open311.status_code == 503 and open311.get_json()[0]["code"] == 503
            assert open311.headers["Retry-After"] == str(errors.DATABASE_RETRY_AFTER_SECONDS)
        finally:
            back()
        assert world.get("/api/v1/tickets").status_code == 200  # and back once it is


def test_an_api_path_with_a_line_break_is_the_apis_404(api_world: ApiWorld) -> None:
    """Found by schemathesis at 200 examples: the catch-all route's ``path`` takes no line break,
    so such a path fell through to the server's HTML 404."""
    client = api_world.platform.server.test_client()
    answer = client.post("/api/v1/alerts/a%0Ab%0Dc/close", json={}, headers=api_world.headers("admin"))
    assert answer.status_code == 404 and answer.is_json and answer.get_json()["error"]["code"] == "unknown_endpoint"
