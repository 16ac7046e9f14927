"""来信/来访 registered at the front desk (/frontdesk): staff only."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers import TZ, count, dead_letters, form_fields, records, tickets, with_changes
from tickets.models import Ticket, utcnow


def as_(platform: Any, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.tokens[who]}"}


def open_form(client: Any, headers: dict[str, str]) -> dict[str, str]:
    return form_fields(client, "/frontdesk", headers)


def visit(hidden: dict[str, str], **changes: str) -> dict[str, str]:
    base = {**hidden, "channel": "visit", "registration_no": "", "received_at": "2025-03-10T09:10",
            "name": "赵大爷", "phone": "0531-86001234", "visitors": "3", "address": "济南市历下区甸柳新村",
            "kind": "complaint", "topic": "auto", "title": "反映小区夜间施工噪音",
            "content": "三位居民来访，反映小区旁工地夜间施工，噪音严重影响休息。"}
    return with_changes(base, changes)


def test_anonymous_visitors_are_sent_to_login_and_handlers_are_refused(small_bureau_platform: Any) -> None:
    client = small_bureau_platform.server.test_client()
    response = client.get("/frontdesk")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    refused = client.get("/frontdesk", headers=as_(small_bureau_platform, "officer"))
    assert refused.status_code == 403 and "dispatcher" in refused.get_data(as_text=True)
    assert client.post("/frontdesk", data=visit({}), headers=as_(small_bureau_platform, "officer")).status_code == 403
    assert count(small_bureau_platform, Ticket) == 0


@pytest.mark.parametrize("who", ["dispatcher", "admin"])
def test_a_visit_is_registered_and_dispatched(small_bureau_platform: Any, who: str) -> None:
    client = small_bureau_platform.server.test_client()
    headers = as_(small_bureau_platform, who)
    response = client.post("/frontdesk", data=visit(open_form(client, headers)), headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    [ticket] = tickets(small_bureau_platform)
    assert ticket.number in response.get_data(as_text=True)
    assert (ticket.channel, ticket.kind, ticket.topic, ticket.district) == ("visit", "complaint", "noise", "历下区")
    assert ticket.received_at == datetime(2025, 3, 10, 1, 10, tzinfo=UTC)  # 09:10 at the desk, Beijing time
    assert ticket.citizen_phone == "053186001234" and "【来访人数】3人" in ticket.content
    [record] = records(small_bureau_platform)
    assert record.payload["clerk"] == who and record.payload["visitors"] == 3


def test_a_letter_with_a_registration_number_is_idempotent(small_bureau_platform: Any) -> None:
    client = small_bureau_platform.server.test_client()
    headers = as_(small_bureau_platform, "dispatcher")
    data = visit(open_form(client, headers), channel="letter", registration_no="XF2026-0088", visitors="",
                 topic="conduct", kind="", title="反映民警态度问题", content="来信反映窗口民警办理业务时态度生硬。")
    assert client.post("/frontdesk", data=data, headers=headers).status_code == 201
    again = client.post("/frontdesk", data={**data, "form_id": "a" * 32}, headers=headers)
    assert again.status_code == 200 and "此前已登记" in again.get_data(as_text=True)
    [ticket] = tickets(small_bureau_platform)
    assert (ticket.channel, ticket.topic, ticket.kind) == ("letter", "conduct", "complaint")
    assert [r.external_id for r in records(small_bureau_platform)] == ["LX-XF2026-0088"]


@pytest.mark.parametrize("changes, field, words", [
    ({"channel": "fax"}, "channel", "is not one of"),
    ({"name": ""}, "name", "required"),
    ({"content": ""}, "content", "required"),
    ({"received_at": "yesterday"}, "received_at", "not a date-time"),
    ({"visitors": "many"}, "visitors", "must be a number"),
    ({"topic": "weather"}, "topic", "is not one of"),
    ({"registration_no": "信访/0088"}, "registration_no", "letters, digits"),
    ({"content": "长" * 20_001}, "content", "at most 20000"),
])
def test_bad_registrations_name_the_field_and_are_kept(small_bureau_platform: Any, changes: dict[str, str], field: str,
                                                       words: str) -> None:
    client = small_bureau_platform.server.test_client()
    headers = as_(small_bureau_platform, "dispatcher")
    response = client.post("/frontdesk", data=visit(open_form(client, headers), **changes), headers=headers)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and f"{field}:" in html and words in html
    assert count(small_bureau_platform, Ticket) == 0
    [dead] = dead_letters(small_bureau_platform)
    assert any(e["field"] == field and words in e["message"] for e in dead.errors)
    assert "dispatcher" in dead.source


def test_a_time_in_the_future_is_refused(small_bureau_platform: Any) -> None:
    client = small_bureau_platform.server.test_client()
    headers = as_(small_bureau_platform, "dispatcher")
    later = (utcnow() + timedelta(hours=2)).astimezone(TZ).strftime("%Y-%m-%dT%H:%M")
    response = client.post("/frontdesk", data=visit(open_form(client, headers), received_at=later), headers=headers)
    assert response.status_code == 400 and "in the future" in response.get_data(as_text=True)


def test_the_form_needs_its_csrf_token(small_bureau_platform: Any) -> None:
    client = small_bureau_platform.server.test_client()
    headers = as_(small_bureau_platform, "dispatcher")
    hidden = open_form(client, headers)
    response = client.post("/frontdesk", data=visit({**hidden, "csrf_token": "x"}), headers=headers)
    assert response.status_code == 403 and count(small_bureau_platform, Ticket) == 0
    assert len(dead_letters(small_bureau_platform)) == 1


def test_a_long_letter_is_registered_whole(small_bureau_platform: Any) -> None:
    client = small_bureau_platform.server.test_client()
    headers = as_(small_bureau_platform, "dispatcher")
    data = visit(open_form(client, headers), channel="letter", visitors="", content="长" * 6_999)
    response = client.post("/frontdesk", data=data, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert [len(t.content) for t in tickets(small_bureau_platform)] == [6_999]
