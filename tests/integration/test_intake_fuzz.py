"""Hypothesis over every intake channel's body, on SQLite and on the real PostgreSQL (issue 17):
records near the real shape with fields replaced by hostile values (NUL and other control
characters, years 1 and 9999, huge or nested values, numbers where text is expected). Whatever
arrives: never a 5xx; a record accepted is a ticket or a merge; a record refused leaves a dead
letter with its reasons (nothing a feed sent is silently lost)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from dashboard import intake_forms
from tests.helpers import OPEN311_KEY, SMS_INBOUND_SECRET, TZ, form_fields, push
from tickets.models import DeadLetter

EXAMPLES = 25  # per channel and database

HOSTILE = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=31), min_size=1, max_size=8),
    st.sampled_from(["\x00", "a\x00b", "0001-01-01 00:00:00", "9999-12-31 23:59:59", "2026-02-30 25:61:00",
                     "1" * 5000, "<script>alert(1)</script>", "'; DROP TABLE tickets; --", "", " ", "１２３"]),
    st.integers(min_value=-2**63, max_value=2**63), st.floats(allow_nan=True, allow_infinity=True),
    st.none(), st.booleans(),
    st.recursive(st.none(), lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                        max_size=3), max_leaves=8),
)
FORM_VALUE = st.one_of(st.text(max_size=60), st.sampled_from(["\x00", "a\x00b", "0001-01-01", "9999-12-31 23:59",
                                                               "1" * 5000, "", "NaN", "-1e309"]))


def _now_text(minutes_ago: int = 30) -> str:
    return (datetime.now(TZ) - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%d %H:%M:%S")


def _dead_letters(platform: Any) -> list[DeadLetter]:
    with platform.test_factory() as s:
        return list(s.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def _judged(platform: Any, answer: Any, before: int, what: str) -> None:
    """No 5xx; a refusal left a dead letter with reasons (an identical one may exist already)."""
    assert answer.status_code < 500, (what, answer.status_code, answer.get_data(as_text=True)[:500])
    if answer.status_code in (400, 413, 415, 422):
        letters = _dead_letters(platform)
        assert len(letters) > before or letters, (what, answer.status_code, "refused without a dead letter")
        assert all(letter.errors for letter in letters[before:]), "every dead letter says why"


def _settings() -> Any:
    return settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


HOTLINE_KEYS = ("工单编号", "派单时间", "办理时限", "来电人", "联系电话", "事发地址", "诉求类型", "标题", "诉求内容",
                "紧急程度", "工单状态")


def test_the_12345_push_takes_anything_without_a_5xx(small_bureau_platform_each_db: Any) -> None:
    platform = small_bureau_platform_each_db
    client = platform.server.test_client()
    serial = iter(range(10**6))

    @given(changes=st.dictionaries(st.sampled_from(HOTLINE_KEYS), HOSTILE, max_size=4),
           batch=st.booleans())
    @_settings()
    def fuzz(changes: dict[str, Any], batch: bool) -> None:
        order = {"工单编号": f"GSFUZZ{next(serial):08d}", "派单时间": _now_text(), "来电人": "张先生",
                 "联系电话": "13812345678", "事发地址": "济南市历下区泉城路芙蓉街", "诉求类型": "投诉",
                 "标题": "烧烤店噪音扰民", "诉求内容": "楼下烧烤店每天营业到凌晨两点，噪音很大。", "紧急程度": "普通",
                 "工单状态": "0", **changes}
        before = len(_dead_letters(platform))
        body: Any = [order, {**order, "工单编号": f"GSFUZZ{next(serial):08d}"}] if batch else order
        try:
            raw = json.dumps(body, ensure_ascii=False, allow_nan=True).encode("utf-8")
        except (ValueError, TypeError):
            return
        answer = push(client, None, raw=raw)
        _judged(platform, answer, before, f"12345 {changes!r}")
        if batch and answer.status_code < 500:
            results = (answer.get_json() or {}).get("results") or (answer.get_json() or {}).get("orders")
            assert results is None or len(results) == 2, "a batch answers for each order"

    fuzz()


OPEN311_KEYS = ("service_code", "lat", "long", "description", "address_string", "email", "first_name", "phone",
                "attribute[noise_source]", "requested_datetime")


def test_open311_takes_anything_without_a_5xx(small_bureau_platform_each_db: Any) -> None:
    platform = small_bureau_platform_each_db
    client = platform.server.test_client()

    @given(changes=st.dictionaries(st.sampled_from(OPEN311_KEYS), FORM_VALUE, max_size=4))
    @_settings()
    def fuzz(changes: dict[str, str]) -> None:
        form = {"api_key": OPEN311_KEY, "service_code": "noise", "lat": "36.664", "long": "117.02",
                "description": "楼下烧烤店每天营业到凌晨，噪音很大。", **changes}
        before = len(_dead_letters(platform))
        answer = client.post("/open311/v2/requests.json", data=form)
        _judged(platform, answer, before, f"open311 {changes!r}")

    fuzz()


MAILBOX_KEYS = ("name", "phone", "email", "kind", "title", "content", "address")


def test_the_mailbox_takes_anything_without_a_5xx(small_bureau_platform_each_db: Any) -> None:
    platform = small_bureau_platform_each_db
    client = platform.server.test_client()

    @given(changes=st.dictionaries(st.sampled_from(MAILBOX_KEYS), FORM_VALUE, max_size=4))
    @_settings()
    def fuzz(changes: dict[str, str]) -> None:
        intake_forms.limiter.reset()
        hidden = form_fields(client, "/mailbox")
        form = {**hidden, "name": "王女士", "phone": "13705311234", "kind": "suggestion", "title": "建议增设护学岗",
                "content": "学校门口上下学时段车辆拥堵，建议增派警力维护秩序。", **changes}
        before = len(_dead_letters(platform))
        answer = client.post("/mailbox", data=form)
        _judged(platform, answer, before, f"mailbox {changes!r}")

    fuzz()


def test_the_inbound_sms_takes_anything_without_a_5xx(small_bureau_platform_each_db: Any) -> None:
    platform = small_bureau_platform_each_db
    client = platform.server.test_client()

    @given(body=st.one_of(st.dictionaries(st.sampled_from(["phone", "text", "time", "mobile", "content"]), HOSTILE,
                                          max_size=4), HOSTILE))
    @_settings()
    def fuzz(body: Any) -> None:
        try:
            raw = json.dumps(body, ensure_ascii=False, allow_nan=True)
        except (ValueError, TypeError):
            return
        answer = client.post("/api/v1/sms/inbound", data=raw, content_type="application/json",
                             headers={"X-Minsheng-Sms-Secret": SMS_INBOUND_SECRET})
        assert answer.status_code < 500, (body, answer.status_code, answer.get_data(as_text=True)[:300])

    fuzz()


FRONTDESK_KEYS = ("name", "phone", "visitors", "kind", "title", "content", "address", "channel", "received_at",
                  "registration_no", "topic")


def test_the_front_desk_takes_anything_without_a_5xx(small_bureau_platform_each_db: Any) -> None:
    platform = small_bureau_platform_each_db
    client = platform.server.test_client()
    dispatcher = {"Authorization": f"Bearer {platform.tokens['dispatcher']}"}

    @given(changes=st.dictionaries(st.sampled_from(FRONTDESK_KEYS), FORM_VALUE, max_size=4))
    @_settings()
    def fuzz(changes: dict[str, str]) -> None:
        hidden = form_fields(client, "/frontdesk", dispatcher)
        form = {**hidden, "channel": "visit", "registration_no": "", "received_at": _now_text()[:16].replace(" ", "T"),
                "name": "赵大爷", "phone": "0531-86001234", "visitors": "3", "address": "济南市历下区甸柳新村",
                "kind": "complaint", "topic": "auto", "title": "反映小区夜间施工噪音",
                "content": "三位居民来访，反映小区旁工地夜间施工，噪音严重影响休息。", **changes}
        before = len(_dead_letters(platform))
        answer = client.post("/frontdesk", data=form, headers=dispatcher)
        _judged(platform, answer, before, f"frontdesk {changes!r}")

    fuzz()


def test_the_fuzz_examples_reach_the_database(small_bureau_platform_each_db: Any) -> None:
    """The fuzzing above is not vacuous: a plain 12345 order through the same path is a ticket."""
    from tickets.models import Ticket

    platform = small_bureau_platform_each_db
    answer = push(platform.server.test_client(), {"工单编号": "GSFUZZPLAIN1", "派单时间": _now_text(), "来电人": "张先生",
                                                  "联系电话": "13812345678", "事发地址": "济南市历下区泉城路芙蓉街",
                                                  "诉求类型": "投诉", "标题": "噪音", "诉求内容": "夜间噪音扰民。",
                                                  "紧急程度": "普通", "工单状态": "0"})
    assert answer.status_code in (200, 201), answer.get_json()
    with platform.test_factory() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1
