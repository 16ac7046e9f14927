"""``/track``: a citizen's progress lookup (issue 19, item 2) — shown only with the right number
and digits, throttled per address, and nothing personal on the page."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from dashboard import intake_forms, track
from tests.helpers import form_fields, new_request, submit
from tickets import lifecycle
from tickets.models import Ticket, utcnow
from tickets.uow import unit_of_work

PHONE = "13812345678"


def _form(client: Any, number: str, digits: str, lang: str = "zh-CN", **headers: str) -> Any:
    token = form_fields(client, f"/track?lang={lang}")["csrf_token"]
    return client.post(f"/track?lang={lang}", data={"csrf_token": token, "number": number, "digits": digits},
                       headers=headers)


def _replied_ticket(platform: Any) -> Ticket:
    start = utcnow().replace(microsecond=0) - timedelta(hours=3)
    request = replace(new_request(start, phone=PHONE), citizen_name="张三", address="济南市历下区泉城路88号")
    ticket = submit(platform.test_factory, request)
    with unit_of_work(platform.test_factory) as s:
        t = s.get(Ticket, ticket.id)
        for step in (lifecycle.contact, lifecycle.report, lifecycle.approve):
            step(s, t, start + timedelta(hours=1))
        lifecycle.reply(s, t, start + timedelta(hours=2), text="张三您好，已责令商户整改，如有问题请拨打13905310000。")
    with platform.test_factory() as s:
        found = s.get(Ticket, ticket.id)
        assert found is not None
        return found


def test_the_right_number_and_digits_show_the_public_progress_and_nothing_personal(small_bureau_platform: Any) -> None:
    intake_forms.limiter.reset()
    ticket = _replied_ticket(small_bureau_platform)
    client = small_bureau_platform.server.test_client()
    page = client.get("/track")
    assert page.status_code == 200 and "查询办理进度" in page.get_data(as_text=True)
    assert 'name="viewport"' in page.get_data(as_text=True), "made for a phone"
    answer = _form(client, ticket.number, PHONE[-4:])
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and 'id="track-result"' in html
    assert "已反馈" in html and "已责令商户整改" in html and ticket.number in html
    # Nothing personal: no name, no phone (the citizen's or one typed into the reply), no address, no place.
    for personal in ("张三", PHONE, "13905310000", "泉城路88号", f"{ticket.lat:.4f}" if ticket.lat else "36.6",
                     "5678"):
        assert personal not in html.replace('maxlength="4"', ""), personal
    english = _form(client, ticket.number, PHONE[-4:], lang="en")
    assert "Replied" in english.get_data(as_text=True)


def test_wrong_digits_or_number_show_nothing_and_answer_alike(small_bureau_platform: Any) -> None:
    intake_forms.limiter.reset()
    ticket = _replied_ticket(small_bureau_platform)
    client = small_bureau_platform.server.test_client()
    wrong_digits = _form(client, ticket.number, "0000")
    wrong_number = _form(client, "MS20991231999999", PHONE[-4:])
    for answer in (wrong_digits, wrong_number):
        html = answer.get_data(as_text=True)
        assert answer.status_code == 404 and 'id="track-result"' not in html and "已反馈" not in html
    assert wrong_digits.get_data(as_text=True).count("没有") == wrong_number.get_data(as_text=True).count("没有")
    assert _form(client, ticket.number, "12ab").status_code == 400
    assert _form(client, "MS\x00", "1234").status_code == 404, "a NUL names no ticket, no 500"


def test_a_few_wrong_tries_lock_the_address_out(small_bureau_platform: Any) -> None:
    intake_forms.limiter.reset()
    ticket = _replied_ticket(small_bureau_platform)
    client = small_bureau_platform.server.test_client()
    for n in range(track.MISSES_PER_HOUR):
        assert _form(client, ticket.number, f"{n:04d}").status_code == 404
    locked = _form(client, ticket.number, PHONE[-4:])  # the right digits, too late
    assert locked.status_code == 429 and 'id="track-result"' not in locked.get_data(as_text=True)
    other_address = _form(client, ticket.number, PHONE[-4:], **{"X-Real-IP": "x"})
    assert other_address.status_code == 429, "the test client's address is the same: still locked"


def test_a_form_from_another_site_is_refused(small_bureau_platform: Any) -> None:
    intake_forms.limiter.reset()
    ticket = _replied_ticket(small_bureau_platform)
    client = small_bureau_platform.server.test_client()
    assert client.post("/track", data={"number": ticket.number, "digits": PHONE[-4:]}).status_code == 400
    assert _form(client, ticket.number, PHONE[-4:], Origin="https://evil.example").status_code == 400
