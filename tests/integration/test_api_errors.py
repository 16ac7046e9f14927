"""The API's one error shape: every refusal under /api/v1, whoever refuses, in the caller's language."""
from __future__ import annotations

import base64
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from dashboard.api import errors
from layouts.i18n import gettext
from tests.helpers import ROOT, ApiWorld
from tests.helpers import api_world as build_api_world
from tickets import errors as domain


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
