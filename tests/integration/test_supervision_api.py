"""督办单 and the follow-up SMS through the HTTP API: the inbound SMS endpoint and its
shared secret, the duty officer's one-click order, the open orders list."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from tests.helpers import PHONE, SMS_INBOUND_SECRET, TZ, new_request, submit
from tickets import lifecycle
from tickets.uow import unit_of_work
from tickets.models import SmsMessage, Ticket, utcnow


def test_inbound_sms_endpoint_needs_the_shared_secret(small_bureau_platform: Any) -> None:
    api = small_bureau_platform
    client = api.server.test_client()
    start = utcnow().replace(microsecond=0) - timedelta(hours=3)  # the endpoint takes no answer from the future
    ticket = submit(api.test_factory, new_request(start))
    with unit_of_work(api.test_factory) as s:
        t = s.get(Ticket, ticket.id)
        for step in (lifecycle.contact, lifecycle.report, lifecycle.approve, lifecycle.reply):
            step(s, t, start + timedelta(hours=1))
    answered_at = start + timedelta(hours=2)
    body = {"phone": PHONE, "text": "1", "time": answered_at.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")}
    assert client.post("/api/v1/sms/inbound", json=body).status_code == 403
    assert client.post("/api/v1/sms/inbound", json=body, headers={"X-Minsheng-Sms-Secret": "wrong"}).status_code == 403
    bearer = {"Authorization": f"Bearer {api.tokens['admin']}"}
    assert client.post("/api/v1/sms/inbound", json=body, headers=bearer).status_code == 403  # a login is not the secret
    with api.test_factory() as s:
        assert s.scalar(select(func.count()).select_from(SmsMessage).where(SmsMessage.direction == "in")) == 0
        assert s.get(Ticket, ticket.id).status == "replied"
    secret = {"X-Minsheng-Sms-Secret": SMS_INBOUND_SECRET}
    answer = client.post("/api/v1/sms/inbound", data={"mobile": "13900001111", "content": "1"}, headers=secret)
    assert answer.status_code == 200 and answer.get_json()["status"] == "unknown_phone"
    answer = client.post("/api/v1/sms/inbound", json=body, headers=secret)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "closed" and answer.get_json()["phone"] == "138****5678"
    with api.test_factory() as s:
        t = s.get(Ticket, ticket.id)
        assert t.status == "closed" and t.closed_at == answered_at  # local time without a zone: Beijing
    assert client.post("/api/v1/sms/inbound", json={"text": "1"}, headers=secret).status_code == 400


def test_inbound_sms_endpoint_is_closed_without_a_configured_secret(small_bureau_platform: Any) -> None:
    from dataclasses import replace as dc_replace

    api = small_bureau_platform
    api.settings = dc_replace(api.settings, sms_inbound_secret="")
    client = api.server.test_client()
    answer = client.post("/api/v1/sms/inbound", json={"phone": PHONE, "text": "1"},
                         headers={"X-Minsheng-Sms-Secret": ""})
    assert answer.status_code == 403


def test_duty_officer_one_click_order_and_the_open_orders_list(small_bureau_platform: Any) -> None:
    api = small_bureau_platform
    client = api.server.test_client()
    number = submit(api.test_factory, new_request(utcnow() - timedelta(hours=2))).number

    def post(who: str | None) -> Any:
        headers = {"Authorization": f"Bearer {api.tokens[who]}"} if who else {}
        return client.post(f"/api/v1/tickets/{number}/supervision", json={"note": "请立即处理"}, headers=headers)

    assert post(None).status_code == 401
    refused = post("viewer")
    assert refused.status_code == 403 and "duty_officer" in refused.get_json()["error"]["params"]["roles"]
    assert post("officer").status_code == 403
    made = post("duty")
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["reason"] == "manual" and made.get_json()["unit_code"] == "JN-LX-01"
    again = post("duty")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "order_still_open"
    assert again.get_json()["error"]["params"] == {"number": number, "order": made.get_json()["number"]}
    assert client.post("/api/v1/tickets/MS00000000000000/supervision", json={},
                       headers={"Authorization": f"Bearer {api.tokens['duty']}"}).status_code == 404

    viewer = {"Authorization": f"Bearer {api.tokens['viewer']}"}
    listed = client.get("/api/v1/supervision/orders?status=open", headers=viewer)
    assert listed.status_code == 200
    body = listed.get_json()
    assert body["count"] == 1 and body["items"][0]["ticket_number"] == number
    assert body["items"][0]["number"] == made.get_json()["number"] and body["items"][0]["note"] == "请立即处理"
    assert client.get("/api/v1/supervision/orders?status=closed",
                      headers={"Authorization": f"Bearer {api.tokens['viewer']}"}).get_json()["count"] == 0
    assert client.get("/api/v1/supervision/orders").status_code == 401
    assert client.get("/api/v1/supervision/orders?status=nope",
                      headers={"Authorization": f"Bearer {api.tokens['viewer']}"}).status_code == 400
