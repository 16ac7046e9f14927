"""The 12345 push: signed JSON work orders in, results back through the connector."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from feeds import connectors, hotline
from geo import coords
from tests.helpers import (
    HOTLINE_SECRET, count, dead_letters, push, records, signed_headers, tickets, with_changes,
)
from tickets import lifecycle
from tickets.uow import unit_of_work
from tickets.models import ConnectorDelivery, DeadLetter, IntakeRecord, Ticket, User
from tickets.roles import actor_for


def order(**changes: Any) -> dict[str, Any]:
    base = {
        "工单编号": "GS20240612000001", "派单时间": "2024-06-12 09:30:00", "办理时限": "2024-06-14",
        "来电人": "张先生", "联系电话": "13812345678", "事发地址": "济南市历下区泉城路芙蓉街",
        "诉求类型": "投诉", "标题": "烧烤店噪音扰民", "诉求内容": "楼下烧烤店每天营业到凌晨两点，噪音很大，请求处理。",
        "紧急程度": "普通", "建议承办单位": "泉城路派出所", "附件": ["http://12345.example/f/1.jpg"], "工单状态": "0",
    }
    return with_changes(base, changes)


def _errors(response: Any) -> dict[str, str]:
    return {e["field"]: e["message"] for e in response.get_json()["errors"]}


def _refusal(response: Any) -> dict[str, str]:
    """A request refused as a whole (the API's error shape): the field at fault and why, as in its dead letter."""
    error = response.get_json()["error"]
    assert error["status"] == response.status_code and "dead_letter_id" in error["params"], error
    return {"field": error["field"], "message": error["params"]["reason"]}


# --------------------------------------------------------------- good orders
def test_a_work_order_becomes_a_dispatched_ticket_read_in_beijing_time(small_bureau_platform: Any) -> None:
    client = small_bureau_platform.server.test_client()
    response = push(client, order())
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "accepted" and body["order_no"] == "GS20240612000001"
    [ticket] = tickets(small_bureau_platform)
    assert body["ticket_number"] == ticket.number
    # 2024-06-12 09:30:00 without a zone is Beijing time: 01:30 UTC.
    assert ticket.received_at == datetime(2024, 6, 12, 1, 30, tzinfo=UTC)
    assert (ticket.channel, ticket.kind, ticket.topic, ticket.sla_class) == ("hotline_12345", "complaint", "noise",
                                                                             "service")
    assert ticket.district == "历下区"  # from the address text: the order has no coordinates
    assert ticket.title == "烧烤店噪音扰民" and ticket.citizen_phone == "13812345678"
    assert ticket.status == "dispatched" and ticket.unit_id is not None
    [record] = records(small_bureau_platform)
    assert record.external_id == "GS20240612000001"
    assert record.payload["source"] == "hotline_12345"
    assert record.payload["order"]["工单编号"] == "GS20240612000001"
    # A bare-date deadline is the end of that day, Beijing time.
    assert record.payload["deadline"] == "2024-06-14T23:59:59+08:00"
    assert record.payload["attachments"] == ["http://12345.example/f/1.jpg"]
    assert (record.payload["urgency"], record.payload["status"]) == ("normal", "pending")


def test_gcj02_coordinates_are_converted_to_wgs84(small_bureau_platform: Any) -> None:
    wgs = (36.6640, 117.0200)
    gcj = coords.wgs84_to_gcj02(*wgs)
    response = push(small_bureau_platform.server.test_client(), order(纬度=gcj[0], 经度=str(gcj[1]), 事发地址=None))
    assert response.status_code == 201, response.get_json()
    [ticket] = tickets(small_bureau_platform)
    assert abs(ticket.lat - wgs[0]) < 1e-6 and abs(ticket.lon - wgs[1]) < 1e-6
    assert abs(ticket.lat - gcj[0]) > 1e-4  # it did move: GCJ-02 is offset by hundreds of metres
    assert ticket.district == "历下区"


def test_the_same_order_number_twice_is_one_ticket(small_bureau_platform: Any) -> None:
    client = small_bureau_platform.server.test_client()
    first = push(client, order())
    again = push(client, order(诉求内容="同一工单再次推送，内容略有不同。"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["status"] == "duplicate"
    assert again.get_json()["ticket_number"] == first.get_json()["ticket_number"]
    assert len(tickets(small_bureau_platform)) == 1 and len(records(small_bureau_platform)) == 1


def test_a_batch_reports_each_order(small_bureau_platform: Any) -> None:
    batch = [order(), order(工单编号="GS20240612000002", 诉求类型="咨询", 标题="身份证补办",
                                                           诉求内容="请问身份证丢了怎么补办？"),
             order(工单编号="GS20240612000003", 诉求内容=None), order()]
    response = push(small_bureau_platform.server.test_client(), batch)
    assert response.status_code == 200
    body = response.get_json()
    assert body["counts"] == {"accepted": 2, "merged": 0, "duplicate": 1, "rejected": 1}
    assert [r["status"] for r in body["results"]] == ["accepted", "accepted", "rejected", "duplicate"]
    assert body["results"][2]["errors"] == [{"field": "诉求内容", "message": "is required and missing or empty"}]
    consult = [t for t in tickets(small_bureau_platform) if t.kind == "consultation"]
    assert len(consult) == 1 and consult[0].topic == "household" and consult[0].sla_class == "consultation"
    [letter] = dead_letters(small_bureau_platform)
    assert letter.source.endswith("[2]") and json.loads(letter.payload)["工单编号"] == "GS20240612000003"


def test_a_second_source_with_other_field_names_is_configuration_only(small_bureau_platform: Any) -> None:
    wgs = (35.4070, 116.3420)  # 嘉祥县城
    bd = coords.wgs84_to_bd09(*wgs)
    jx = {"gdbh": "JX2024061200007", "pdsj": "20240612093000", "blsx": "20240613", "ldrxm": "李女士",
          "lxdh": "13905371234", "sfdd": "嘉祥县嘉祥街道", "wd": bd[0], "jd": bd[1], "sqlx": "3",
          "gdbt": "夜间施工噪音", "sqnr": "小区旁工地夜间施工到凌晨，噪音扰民。", "jjcd": "2", "gdzt": "1"}
    response = push(small_bureau_platform.server.test_client(), jx, path="/api/v1/intake/hotline/jiaxiang_12345")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["order_no"] == "JX2024061200007"
    [ticket] = tickets(small_bureau_platform)
    assert ticket.received_at == datetime(2024, 6, 12, 1, 30, tzinfo=UTC)
    assert ticket.kind == "complaint" and ticket.district == "嘉祥县"
    assert abs(ticket.lat - wgs[0]) < 1e-6 and abs(ticket.lon - wgs[1]) < 1e-6
    [record] = records(small_bureau_platform)
    assert record.external_id == "JX-JX2024061200007" and record.payload["urgency"] == "urgent"
    # Its own codes, not the other source's words: 投诉 is not a code here.
    refused = push(small_bureau_platform.server.test_client(), {**jx, "gdbh": "JX2", "sqlx": "投诉"},
                   path="/api/v1/intake/hotline/jiaxiang_12345")
    assert refused.status_code == 400 and "sqlx" in _errors(refused)


def test_the_default_source_named_in_the_path_takes_the_push_itself(small_bureau_platform: Any) -> None:
    """Not a redirect to /api/v1/intake/hotline: the documented URL answers as the push does."""
    response = push(small_bureau_platform.server.test_client(), order(), path="/api/v1/intake/hotline/hotline_12345")
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["order_no"] == "GS20240612000001" and count(small_bureau_platform, Ticket) == 1


def test_unknown_source_is_404(small_bureau_platform: Any) -> None:
    response = push(small_bureau_platform.server.test_client(), order(), path="/api/v1/intake/hotline/nowhere")
    assert response.status_code == 404 and count(small_bureau_platform, Ticket) == 0
    assert response.get_json()["error"]["code"] == "unknown_source"


# ---------------------------------------------------------------- bad orders
@pytest.mark.parametrize("changes, field, words", [
    ({"工单编号": None}, "工单编号", "required"),
    ({"派单时间": ""}, "派单时间", "required"),
    ({"诉求内容": None}, "诉求内容", "required"),
    ({"诉求类型": None}, "诉求类型", "required"),
    ({"诉求内容": {"text": "x"}}, "诉求内容", "must be text, got dict"),
    ({"派单时间": 20240612}, "派单时间", "must be a date-time string"),
    ({"派单时间": "2024-06-12"}, "派单时间", "is not a date-time"),
    ({"派单时间": "12/06/2024 09:30"}, "派单时间", "is not a date-time"),
    ({"办理时限": "2024-06-10"}, "办理时限", "before the dispatch time"),
    ({"联系电话": "call me"}, "联系电话", "not a phone number"),
    ({"诉求类型": "抱怨"}, "诉求类型", "is not one of"),
    ({"工单状态": "9"}, "工单状态", "is not one of"),
    ({"附件": ["ftp://x/y"]}, "附件[0]", "not an http(s) URL"),
    ({"附件": 5}, "附件", "must be a list of URLs"),
    ({"纬度": "abc", "经度": "117.02"}, "纬度", "must be a number"),
    ({"纬度": "200", "经度": "117.02"}, "纬度", "out of range"),
    ({"纬度": "36.66"}, "经度", "come together"),
    ({"纬度": 42.3594, "经度": -71.0587}, "纬度", "outside the area served"),
    ({"纬度": 117.02, "经度": 36.66}, "纬度", "out of range"),
    ({"纬度": "NaN", "经度": "117"}, "纬度", "finite"),
    ({"诉求内容": "噪" * 20_001}, "诉求内容", "is 20001 characters long; at most 20000"),
    ({"标题": "标" * 201}, "标题", "at most 200"),
    ({"工单编号": "GS 2024/06"}, "工单编号", "not a work-order number"),
])
def test_each_bad_field_is_named_and_kept_as_a_dead_letter(small_bureau_platform: Any, changes: dict[str, Any],
                                                           field: str, words: str) -> None:
    payload = order(**changes)
    raw = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    response = push(small_bureau_platform.server.test_client(), None, raw=raw)
    assert response.status_code == 400, response.get_json()
    errors = _errors(response)
    assert field in errors and words in errors[field], errors
    assert count(small_bureau_platform, Ticket) == 0
    [letter] = dead_letters(small_bureau_platform)
    assert letter.payload == raw.decode("utf-8")  # the raw body, exactly as sent
    assert {"field": field, "message": errors[field]} in letter.errors
    assert letter.channel == "hotline_12345" and response.get_json()["dead_letter_id"] == letter.id


def test_all_problems_of_an_order_are_reported_at_once(small_bureau_platform: Any) -> None:
    response = push(small_bureau_platform.server.test_client(),
                    order(工单编号=None, 联系电话="x", 纬度="abc", 经度="1"))
    assert set(_errors(response)) == {"工单编号", "联系电话", "纬度"}


def test_a_body_that_is_not_json_is_a_dead_letter(small_bureau_platform: Any) -> None:
    raw = "工单编号=GS1&诉求内容=噪音".encode()
    response = push(small_bureau_platform.server.test_client(), None, raw=raw)
    assert response.status_code == 400 and "not UTF-8 JSON" in _refusal(response)["message"]
    [letter] = dead_letters(small_bureau_platform)
    assert letter.payload == raw.decode()


@pytest.mark.platform_settings(intake_max_body_bytes=10_000)
def test_an_oversize_body_is_refused_before_reading(small_bureau_platform: Any) -> None:
    platform = small_bureau_platform
    raw = json.dumps(order(诉求内容="噪" * 4000), ensure_ascii=False).encode()
    assert len(raw) > 10_000
    response = push(platform.server.test_client(), None, raw=raw)
    assert response.status_code == 413 and "at most 10000" in _refusal(response)["message"]
    [letter] = dead_letters(platform)
    # Not read, so not authenticated: only its first 4 KB are kept (cut at a character's edge).
    assert raw.decode().startswith(letter.payload) and 4090 < len(letter.payload.encode()) <= 4096
    assert letter.errors[-1] == {"field": "(body)", "message": f"{len(raw)} bytes (not read); only the first 4096 "
                                                               "are kept"}
    assert count(platform, Ticket) == 0


def test_resubmission_after_an_error_is_taken(small_bureau_platform: Any) -> None:
    client = small_bureau_platform.server.test_client()
    assert push(client, order(联系电话="not a phone")).status_code == 400
    fixed = push(client, order())
    assert fixed.status_code == 201 and len(tickets(small_bureau_platform)) == 1
    assert count(small_bureau_platform, DeadLetter) == 1  # the refused first try stays for inspection


# --------------------------------------------------------------- signatures
def test_a_wrong_signature_is_401_with_no_ticket_and_a_dead_letter(small_bureau_platform: Any) -> None:
    client = small_bureau_platform.server.test_client()
    raw = json.dumps(order(), ensure_ascii=False).encode()
    response = push(client, None, raw=raw, secret="not-the-secret")
    assert response.status_code == 401
    error = _refusal(response)
    assert error["field"] == "X-Signature" and "does not match" in error["message"]
    assert count(small_bureau_platform, Ticket) == 0 and count(small_bureau_platform, IntakeRecord) == 0
    [letter] = dead_letters(small_bureau_platform)
    assert letter.payload == raw.decode() and letter.errors == [error, {
        "field": "(body)", "message": f"{len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()}; only the first "
                                      "4096 are kept"}]
    assert letter.source == "/api/v1/intake/hotline (hotline_12345) from 127.0.0.1"


def test_a_body_changed_after_signing_is_refused(small_bureau_platform: Any) -> None:
    raw = json.dumps(order(), ensure_ascii=False).encode()
    headers = signed_headers(raw)
    tampered = raw.replace("张先生".encode(), "李先生".encode())
    response = small_bureau_platform.server.test_client().post("/api/v1/intake/hotline", data=tampered, headers=headers)
    assert response.status_code == 401 and count(small_bureau_platform, Ticket) == 0


@pytest.mark.parametrize("headers, field, words", [
    ({"X-Signature": ""}, "X-Signature", "header missing"),
    ({"X-Signature": "md5=abc"}, "X-Signature", "64 hex digits"),
    ({"X-Timestamp": ""}, "X-Timestamp", "header missing"),
    ({"X-Timestamp": "yesterday"}, "X-Timestamp", "not Unix seconds"),
])
def test_missing_or_malformed_auth_headers(small_bureau_platform: Any, headers: dict[str, str], field: str,
                                           words: str) -> None:
    response = push(small_bureau_platform.server.test_client(), order(), headers=headers)
    assert response.status_code == 401
    error = _refusal(response)
    assert error["field"] == field and words in error["message"]
    assert count(small_bureau_platform, Ticket) == 0 and len(dead_letters(small_bureau_platform)) == 1


def test_an_old_timestamp_is_outside_the_replay_window(small_bureau_platform: Any) -> None:
    response = push(small_bureau_platform.server.test_client(), order(), at=time.time() - 3600)
    assert response.status_code == 401
    error = _refusal(response)
    assert error["field"] == "X-Timestamp" and "replay window" in error["message"]
    assert push(small_bureau_platform.server.test_client(), order(), at=time.time() - 60).status_code == 201


@pytest.mark.platform_settings(hotline_secret="")
def test_without_a_configured_secret_every_push_is_refused(small_bureau_platform: Any) -> None:
    response = push(small_bureau_platform.server.test_client(), order())
    assert response.status_code == 401 and "no shared secret" in _refusal(response)["message"]
    assert count(small_bureau_platform, Ticket) == 0


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert hotline.sign("k", 1700000000, body) == "sha256=" + expected


def test_source_files_are_checked() -> None:
    with pytest.raises(hotline.SourceError, match="not ours"):
        hotline.parse_source({"name": "x", "fields": {"order_number": "a"}}, "x.yaml")
    with pytest.raises(hotline.SourceError, match="must be required"):
        hotline.parse_source({"name": "x", "fields": {}, "required": ["order_no"]}, "x.yaml")
    with pytest.raises(hotline.SourceError, match="appeal_type"):
        hotline.parse_source({"name": "x", "fields": {}, "values": {"appeal_type": {"1": "moan"}}}, "x.yaml")


# ------------------------------------------------------------ results back
def _reply(platform: Any, number: str, text: str) -> None:
    with unit_of_work(platform.test_factory) as s:
        ticket = s.scalar(select(Ticket).where(Ticket.number == number))
        admin = actor_for(s, s.scalar(select(User).where(User.username == "admin")))
        at = ticket.received_at + timedelta(hours=1)
        lifecycle.contact(s, ticket, at)
        lifecycle.report(s, ticket, at)
        lifecycle.approve(s, ticket, at)
        lifecycle.reply(s, ticket, at + timedelta(minutes=5), admin, text)


def _replied_order(platform: Any, text: str) -> str:
    """``order()`` pushed, then replied to with ``text``: the ticket's number."""
    number = push(platform.server.test_client(), order()).get_json()["ticket_number"]
    _reply(platform, number, text)
    return number


def deliveries(platform: Any) -> list[ConnectorDelivery]:
    with platform.test_factory() as s:
        return list(s.scalars(select(ConnectorDelivery).order_by(ConnectorDelivery.id)))


def sent_form(platform: Any, number: str, reply: str) -> dict[str, Any]:
    """The result of ``order()``'s work order as the 12345 source takes it, in its own field names
    and local time: replied to by the admin (whose police number it carries) as ``_reply`` does."""
    with platform.test_factory() as s:
        unit_code = s.scalar(select(Ticket).where(Ticket.number == number)).unit.code
        admin_number = s.scalar(select(User.police_number).where(User.username == "admin"))
    assert admin_number
    return {"工单编号": "GS20240612000001", "处理人编号": admin_number, "处理单位编号": unit_code,
            "处理时间": "2024-06-12 10:35:00", "办理结果": reply}


def test_a_reply_queues_the_result_in_the_sources_field_names(small_bureau_platform: Any) -> None:
    platform = small_bureau_platform
    number = push(platform.server.test_client(), order()).get_json()["ticket_number"]
    assert deliveries(platform) == []
    reply = "已责令烧烤店22点后停止营业，噪音问题已解决。"
    _reply(platform, number, reply)
    [d] = deliveries(platform)
    assert d.connector == "hotline_12345" and d.status == "pending" and d.external_id == "GS20240612000001"
    # Queued in the domain's words; put into the source's field names when it is sent.
    expected = sent_form(platform, number, reply)
    assert d.payload == {"handler_id": expected["处理人编号"], "unit_code": expected["处理单位编号"],
                         "handled_at": "2024-06-12T02:35:00+00:00", "reply": reply}
    sandbox = connectors.SandboxConnector()
    assert connectors.deliver_pending(platform.test_factory, d.created_at, platform.settings,
                                      connector=lambda name, settings: sandbox)["sent"] == 1
    assert sandbox.sent == [expected]


def test_tickets_from_other_channels_owe_no_result(small_bureau_platform: Any) -> None:
    from tests.helpers import new_request, submit

    ticket = submit(small_bureau_platform.test_factory,
                    new_request(datetime(2024, 6, 12, 1, 0, tzinfo=UTC), channel="call"))
    _reply(small_bureau_platform, ticket.number, "已处理")
    assert deliveries(small_bureau_platform) == []


C = TypeVar("C", bound=connectors.Connector)


@contextmanager
def results_through(connector: C) -> Iterator[C]:
    """The 12345 results go out through ``connector`` for the test, then through the configured ones."""
    connectors.use("hotline_12345", connector)
    try:
        yield connector
    finally:
        connectors.use("hotline_12345", None)


def test_the_sandbox_connector_records_and_marks_sent(small_bureau_platform: Any) -> None:
    platform = small_bureau_platform
    with results_through(connectors.SandboxConnector()) as sandbox:
        number = _replied_order(platform, "已处理完毕")
        [d] = deliveries(platform)
        result = connectors.deliver_pending(platform.test_factory, d.created_at, platform.settings)
        assert result == {"sent": 1, "retry": 0, "failed": 0}
        assert sandbox.sent == [sent_form(platform, number, "已处理完毕")]
        [d] = deliveries(platform)
        assert (d.status, d.attempts, d.sent_at) == ("sent", 1, d.created_at)
        assert connectors.deliver_pending(platform.test_factory, d.created_at, platform.settings) == {
            "sent": 0, "retry": 0, "failed": 0}


class Flaky:
    name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    def send(self, payload: dict[str, Any]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise connectors.ConnectorError("12345 platform answered HTTP 503")


@pytest.mark.platform_settings(connector_backoff_seconds=10.0, connector_max_attempts=3)
def test_a_failed_delivery_is_retried_with_backoff_then_given_up(small_bureau_platform: Any) -> None:
    platform = small_bureau_platform
    with results_through(Flaky(failures=99)) as flaky:
        _replied_order(platform, "已处理")
        t0 = deliveries(platform)[0].created_at
        deliver = lambda at: connectors.deliver_pending(platform.test_factory, at, platform.settings)
        assert deliver(t0) == {"sent": 0, "retry": 1, "failed": 0}
        assert deliver(t0 + timedelta(seconds=9)) == {"sent": 0, "retry": 0, "failed": 0}  # not yet: backoff 10 s
        assert deliver(t0 + timedelta(seconds=10)) == {"sent": 0, "retry": 1, "failed": 0}
        assert deliver(t0 + timedelta(seconds=29)) == {"sent": 0, "retry": 0, "failed": 0}  # 10 + 20 s
        assert deliver(t0 + timedelta(seconds=30)) == {"sent": 0, "retry": 0, "failed": 1}
        [d] = deliveries(platform)
        assert (d.status, d.attempts) == ("failed", 3) and "HTTP 503" in d.last_error
        assert flaky.calls == 3


def test_a_delivery_that_fails_once_is_sent_on_the_retry(small_bureau_platform: Any) -> None:
    platform = small_bureau_platform
    with results_through(Flaky(failures=1)):
        _replied_order(platform, "已处理")
        t0 = deliveries(platform)[0].created_at
        connectors.deliver_pending(platform.test_factory, t0, platform.settings)
        result = connectors.deliver_pending(platform.test_factory, t0 + timedelta(hours=1), platform.settings)
        assert result == {"sent": 1, "retry": 0, "failed": 0}
        [d] = deliveries(platform)
        assert (d.status, d.attempts, d.last_error) == ("sent", 2, None)


def test_housekeeping_delivers_results(small_bureau_platform: Any) -> None:
    from tickets import housekeeping

    platform = small_bureau_platform
    with results_through(connectors.SandboxConnector()) as sandbox:
        _replied_order(platform, "已处理")
        factory = platform.test_factory
        deliver = housekeeping.deliveries(  # as the platform wires it (dashboard.Platform.start)
            factory, results=lambda now: connectors.deliver_pending(factory, now, platform.settings))
        result = housekeeping.run_sweeps(factory, datetime.now(UTC), deliver)
        assert result["results"] == {"sent": 1, "retry": 0, "failed": 0} and len(sandbox.sent) == 1
        assert result["sms"] == {"sent": 0, "failed": 0}  # the sandbox gateway sent the follow-up at once


def test_the_http_connector_posts_signed_json() -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(200 if len(received) > 1 else 503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        conn = connectors.HttpConnector(f"http://127.0.0.1:{server.server_port}/result", secret="s3")
        with pytest.raises(connectors.ConnectorError, match="HTTP 503"):
            conn.send({"工单编号": "GS1", "办理结果": "已处理"})
        conn.send({"工单编号": "GS1", "办理结果": "已处理"})
    finally:
        server.shutdown()
    headers, body = received[-1]
    assert json.loads(body) == {"工单编号": "GS1", "办理结果": "已处理"}
    assert headers["X-Signature"] == hotline.sign("s3", headers["X-Timestamp"], body)
    with pytest.raises(connectors.ConnectorError, match="unreachable"):
        connectors.HttpConnector(f"http://127.0.0.1:{server.server_port}/gone", timeout=0.5).send({})


def test_dead_letter_rows_keep_raw_bytes_decoded(small_bureau_platform: Any) -> None:
    raw = json.dumps(order(诉求内容=None), ensure_ascii=False).encode("utf-8")
    push(small_bureau_platform.server.test_client(), None, raw=raw)
    with small_bureau_platform.test_factory() as s:
        letter = s.scalar(select(DeadLetter))
        assert "张先生" in letter.payload and letter.status == "new" and letter.external_id == "GS20240612000001"
    assert HOTLINE_SECRET  # the fixture's secret signed it


def test_the_same_problem_from_another_channel_merges_into_the_open_ticket(small_bureau_platform: Any) -> None:
    from tests.helpers import OPEN311_KEY

    client = small_bureau_platform.server.test_client()
    first = push(client, order(派单时间=datetime.now(UTC).astimezone(coords_tz()).strftime("%Y-%m-%d %H:%M:%S"),
                               办理时限=None)).get_json()
    answer = client.post("/open311/v2/requests.json", data={
        "api_key": OPEN311_KEY, "service_code": "noise", "address_string": "济南市历下区泉城路芙蓉街",
        "description": "楼下烧烤店每天营业到凌晨两点，噪音很大，请求处理。", "phone": "13812345678",
        "attribute[noise_source]": "shop"})
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()[0]["service_request_id"] == first["ticket_number"]
    assert len(tickets(small_bureau_platform)) == 1
    assert sorted(r.channel for r in records(small_bureau_platform)) == ["hotline_12345", "open311"]
    [view] = client.get(f"/open311/v2/requests/{first['ticket_number']}.json").get_json()
    assert view["description"] == "楼下烧烤店每天营业到凌晨两点，噪音很大，请求处理。"  # its own words only


def coords_tz() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


def test_repeated_complaints_in_one_batch_earn_one_reminder_letter(small_bureau_platform: Any) -> None:
    """The bulk path runs the bus's dispatched handlers on the stored batch: three complaints
    from one caller at one station, pushed together, are a repeated complaint (one letter)."""
    from tickets.models import ReminderLetter

    problems = [("烧烤店噪音扰民", "楼下烧烤店每天营业到凌晨两点，噪音很大。"),
                ("电动车被偷", "小区车棚里的电动车昨晚被人偷走了。"),
                ("有人冒充客服诈骗", "接到自称快递客服的电话要我转账退款。")]
    batch = [order(工单编号=f"GS2024061200010{i}", 派单时间=f"2024-06-12 09:3{i}:00", 标题=title, 诉求内容=text,
                   纬度=36.6650 + i * 0.0001, 经度=117.0250)
             for i, (title, text) in enumerate(problems)]
    response = push(small_bureau_platform.server.test_client(), batch)
    assert response.get_json()["counts"]["accepted"] == 3, response.get_json()
    made = tickets(small_bureau_platform)
    assert len({t.unit_id for t in made}) == 1 and {t.kind for t in made} == {"complaint"}
    with small_bureau_platform.test_factory() as s:
        letters = list(s.scalars(select(ReminderLetter)))
    assert [(lt.reason, lt.ticket_id) for lt in letters] == [("repeated", made[-1].id)]
    assert "同一来电人" in letters[0].text


def test_a_long_work_order_is_taken_whole(small_bureau_platform: Any) -> None:
    """12345 work orders run long: a real one had 6,999 characters; 20,000 are taken."""
    client = small_bureau_platform.server.test_client()
    for n, length in enumerate((6_999, 20_000), start=1):
        text = ("小区楼下烧烤店每晚营业到凌晨，油烟和噪音严重扰民。" * 1000)[:length]
        response = push(client, order(工单编号=f"GS2024061200{n:03d}", 诉求内容=text))
        assert response.status_code == 201, response.get_json()
    with small_bureau_platform.factory() as s:
        assert sorted(len(c) for c in s.scalars(select(Ticket.content))) == [6_999, 20_000]


# ------------------------------------------------------------ hardening (issue 17)
@pytest.mark.platform_settings(intake_refusals_per_hour=3)
def test_unsigned_pushes_keep_4_kb_each_then_are_throttled_per_address(small_bureau_platform: Any) -> None:
    """Anyone can send a push: a wrong signature keeps its first 4 KB, its length and hash, never the
    whole body, and one address's fourth refusal within the hour is a 429 that keeps nothing."""
    from dashboard import intake_forms

    platform = small_bureau_platform
    client = platform.server.test_client()
    raw = json.dumps(order(诉求内容="噪" * 300_000), ensure_ascii=False).encode()  # 0.9 MB
    for _ in range(3):
        assert push(client, None, raw=raw, secret="not-the-secret").status_code == 401
    letters = dead_letters(platform)
    assert len(letters) == 3 and all(4090 < len(d.payload.encode()) <= 4096 for d in letters)
    assert letters[0].errors[-1]["message"].startswith(f"{len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()}")
    throttled = push(client, None, raw=raw, secret="not-the-secret")
    error = throttled.get_json()["error"]
    assert (throttled.status_code, error["code"], error["params"]) == (429, "too_many_refusals", {"most": 3})
    assert int(throttled.headers["Retry-After"]) > 0
    assert len(dead_letters(platform)) == 3 and intake_forms.limiter.refused["unauthenticated"] == 1
    assert push(client, order()).status_code == 201  # the hotline itself, signed, is not held up
    other = platform.server.test_client().post("/api/v1/intake/hotline", data=raw, headers=signed_headers(raw, "x"),
                                                environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 401 and len(dead_letters(platform)) == 4  # another address has its own allowance


@pytest.mark.platform_settings(intake_max_body_bytes=10_000)
def test_a_chunked_body_over_the_limit_is_413_not_cut_short(small_bureau_platform: Any) -> None:
    """Without a Content-Length (Transfer-Encoding: chunked) a body is read to one byte over the limit:
    over it, 413 and its first 4 KB kept; not a body silently cut at the limit, refused as unsigned."""
    import io

    client = small_bureau_platform.server.test_client()

    def chunked(raw: bytes) -> Any:
        return client.post("/api/v1/intake/hotline", input_stream=io.BytesIO(raw),
                           headers={**signed_headers(raw), "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})

    big = json.dumps(order(诉求内容="噪" * 4000), ensure_ascii=False).encode()
    response = chunked(big)
    assert response.status_code == 413 and "more than 10000" in _refusal(response)["message"]
    [letter] = dead_letters(small_bureau_platform)
    assert big.decode().startswith(letter.payload) and len(letter.payload.encode()) <= 4096
    assert count(small_bureau_platform, Ticket) == 0
    assert chunked(json.dumps(order(), ensure_ascii=False).encode()).status_code == 201  # within it: taken


def test_one_bad_order_in_a_batch_of_100_costs_only_itself(database_url: str, tmp_path: Any) -> None:
    """Each order answers for itself: those refused by a check (a NUL, a dispatch time in year 9999)
    or by the database (text it cannot encode, in a field no check reads) are dead letters with their
    reason, the others are stored. PostgreSQL refuses a NUL, and no database takes a lone surrogate."""
    from tests.helpers import api_world

    for world in api_world(tmp_path, database_url, hotline_secret=HOTLINE_SECRET):
        batch = [order(工单编号=f"GS2024061200{i:04d}", 联系电话=f"1390531{i:04d}",
                       诉求内容=f"第{i}号楼下烧烤店每天营业到凌晨两点，噪音很大，请求处理。") for i in range(100)]
        batch[17]["诉求内容"] = "噪音\x00很大"
        batch[42]["派单时间"] = "9999-12-31 23:59:59"
        batch[63]["备注"] = "坏\ud800字"  # not a field of the source: only the stored order holds it
        raw = json.dumps(batch, ensure_ascii=False).encode("utf-8", "surrogatepass").replace(
            "\ud800".encode("utf-8", "surrogatepass"), b"\\ud800")
        response = push(world.platform.server.test_client(), None, raw=raw)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        body = response.get_json()
        assert body["counts"]["rejected"] == 3 and body["counts"]["accepted"] + body["counts"]["merged"] == 97
        refused = {i: r for i, r in enumerate(body["results"]) if r["status"] == "rejected"}
        assert set(refused) == {17, 42, 63}
        assert "U+0000" in refused[17]["errors"][0]["message"] and "in the future" in refused[42]["errors"][0]["message"]
        assert refused[63]["errors"][0]["field"] == "(order)" and "surrogates" in refused[63]["errors"][0]["message"]
        with world.platform.factory() as s:
            letters = {d.id: d for d in s.scalars(select(DeadLetter))}
            stored = set(s.scalars(select(IntakeRecord.external_id)))
        assert len(letters) == 3 and len(stored) == 97 and "GS20240612000063" not in stored
        for i, result in refused.items():
            letter = letters[result["dead_letter_id"]]
            assert letter.source.endswith(f"[{i}]") and letter.external_id == f"GS2024061200{i:04d}"
            assert letter.errors == result["errors"]
