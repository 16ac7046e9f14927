"""督办单 and 提醒函: automatic and manual orders, letters, the sweeps, and the HTTP API."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import settings as settings_module
from tests.helpers import TZ, add_small_bureau, new_request, submit
from tests.test_followup import (  # noqa: F401 - fixtures
    MONDAY_9, PHONE, World, add_people, any_world, events, handled, recipients, world,
)
from tickets import housekeeping, lifecycle, sla, supervision
from tickets.bootstrap import session_factory
from tickets.uow import unit_of_work
from tickets.errors import IllegalStep, NotAllowed
from tickets.models import ReminderLetter, SmsMessage, SupervisionOrder, Ticket, Unit, User, utcnow


def overdue_world(world: World) -> tuple[dict[str, int], datetime]:
    """Tickets at JN-LX-01 in every situation, and a moment when three of them are overdue."""
    ids = {}
    ids["dispatched"] = submit(world.factory, new_request(MONDAY_9)).id
    ids["contacted"] = submit(world.factory, new_request(MONDAY_9)).id
    ids["replied"] = handled(world, MONDAY_9)
    ids["closed"] = handled(world, MONDAY_9)
    with unit_of_work(world.factory) as s:
        lifecycle.contact(s, s.get(Ticket, ids["contacted"]), MONDAY_9 + timedelta(minutes=20))
        lifecycle.reply(s, s.get(Ticket, ids["replied"]), MONDAY_9 + timedelta(hours=2))
        closed = s.get(Ticket, ids["closed"])
        lifecycle.reply(s, closed, MONDAY_9 + timedelta(hours=2))
        lifecycle.close(s, closed, MONDAY_9 + timedelta(hours=3))
        due = s.get(Ticket, ids["dispatched"]).resolve_due_at
    now = due + timedelta(hours=1)
    ids["fresh"] = submit(world.factory, new_request(now - timedelta(minutes=30))).id
    return ids, now


def orders(world: World) -> list[SupervisionOrder]:
    with world.factory() as s:
        return list(s.scalars(select(SupervisionOrder).order_by(SupervisionOrder.id)))


# -------------------------------------------------------------------- orders
def test_sweep_issues_exactly_one_order_per_overdue_ticket(any_world: World) -> None:
    world = any_world
    ids, now = overdue_world(world)
    with unit_of_work(world.factory) as s:
        assert supervision.sweep(s, now) == {"orders_issued": 2}
    with unit_of_work(world.factory) as s:
        assert supervision.sweep(s, now + timedelta(minutes=30)) == {"orders_issued": 0}
    issued = orders(world)
    assert sorted(o.ticket_id for o in issued) == sorted([ids["dispatched"], ids["contacted"]])
    day = now.astimezone(TZ).strftime("%Y%m%d")
    assert [o.number for o in issued] == [f"DB{day}000001", f"DB{day}000002"]
    with world.factory() as s:
        head = s.scalar(select(User).where(User.username == "station_head"))
        station = s.scalar(select(Unit).where(Unit.code == "JN-LX-01"))
        for o in issued:
            assert (o.reason, o.status, o.unit_id, o.addressee_id) == ("overdue", "open", station.id, head.id)
            assert o.due_at == sla.add_working_hours(now, 4, TZ)
            assert recipients(s, o.ticket_id, "supervision_order") == {("JN-LX-01", "leader", "station_head")}
            event = [e for e in events(s, o.ticket_id) if e.kind == "supervision_order"][-1]
            assert event.data["action"] == "issued" and event.data["number"] == o.number

    # Closing an order does not earn the ticket another for the same deadline.
    with unit_of_work(world.factory) as s:
        supervision.close_order(s, s.get(SupervisionOrder, issued[0].id), now + timedelta(hours=1),
                                world.actor(s, "duty"), "已电话督促")
    with unit_of_work(world.factory) as s:
        assert supervision.sweep(s, now + timedelta(hours=2)) == {"orders_issued": 0}


def test_order_goes_to_the_unit_leader_role_when_the_unit_has_no_leader(world: World) -> None:
    with unit_of_work(world.factory) as s:
        s.delete(s.scalar(select(User).where(User.username == "station_head")))
    ids, now = overdue_world(world)
    with unit_of_work(world.factory) as s:
        supervision.sweep(s, now)
    order = orders(world)[0]
    assert order.addressee_id is None
    with world.factory() as s:
        assert recipients(s, order.ticket_id, "supervision_order") == {("JN-LX-01", "leader", None)}


def test_send_back_issues_a_returned_unresolved_order(world: World) -> None:
    tid = submit(world.factory, new_request(MONDAY_9)).id
    with unit_of_work(world.factory) as s:
        t = s.get(Ticket, tid)
        lifecycle.contact(s, t, MONDAY_9 + timedelta(minutes=10))
        lifecycle.report(s, t, MONDAY_9 + timedelta(hours=1))
        lifecycle.send_back(s, t, MONDAY_9 + timedelta(hours=2), world.actor(s, "dispatcher"), "未见处理结果")
    issued = orders(world)
    assert [(o.reason, o.ticket_id, o.note) for o in issued] == [("returned_unresolved", tid, "未见处理结果")]
    assert issued[0].issued_at == MONDAY_9 + timedelta(hours=2)
    with unit_of_work(world.factory) as s:  # sent back again while that order is open: no second order
        t = s.get(Ticket, tid)
        lifecycle.report(s, t, MONDAY_9 + timedelta(hours=3))
        lifecycle.send_back(s, t, MONDAY_9 + timedelta(hours=3), world.actor(s, "dispatcher"), "仍未解决")
    assert len(orders(world)) == 1


def test_manual_order_by_roles_that_may_supervise_only(world: World) -> None:
    tid = submit(world.factory, new_request(MONDAY_9)).id
    at = MONDAY_9 + timedelta(hours=1)
    with unit_of_work(world.factory) as s:
        t = s.get(Ticket, tid)
        for who in ("viewer", "officer", "dispatcher"):
            with pytest.raises(NotAllowed):
                supervision.issue_order(s, t, at, world.actor(s, who), "请尽快办理")
        order = supervision.issue_order(s, t, at, world.actor(s, "duty"), "请尽快办理")
        assert (order.reason, order.issued_by, order.status) == ("manual", "duty", "open")
        with pytest.raises(IllegalStep) as refused:
            supervision.issue_order(s, t, at, world.actor(s, "inspector"))
        assert refused.value.code == "order_still_open" and refused.value.params["order"] == order.number
    assert len(orders(world)) == 1


def test_the_unit_answers_and_a_supervisor_closes(world: World) -> None:
    tid = submit(world.factory, new_request(MONDAY_9)).id
    with unit_of_work(world.factory) as s:
        order_id = supervision.issue_order(s, s.get(Ticket, tid), MONDAY_9, world.actor(s, "duty")).id
    with unit_of_work(world.factory) as s:
        order = s.get(SupervisionOrder, order_id)
        with pytest.raises(NotAllowed):
            supervision.answer_order(s, order, MONDAY_9 + timedelta(hours=1), world.actor(s, "other_officer"), "已办")
        supervision.answer_order(s, order, MONDAY_9 + timedelta(hours=1), world.actor(s, "officer"), "已上门处理")
        with pytest.raises(IllegalStep):
            supervision.answer_order(s, order, MONDAY_9 + timedelta(hours=1), world.actor(s, "officer"), "再答")
        with pytest.raises(NotAllowed):
            supervision.close_order(s, order, MONDAY_9 + timedelta(hours=2), world.actor(s, "viewer"))
        supervision.close_order(s, order, MONDAY_9 + timedelta(hours=2), world.actor(s, "inspector"), "同意办结")
    with world.factory() as s:
        order = s.get(SupervisionOrder, order_id)
        assert (order.status, order.answer) == ("closed", "已上门处理")
        actions = [(e.data["action"], e.actor) for e in events(s, tid) if e.kind == "supervision_order"]
        assert actions == [("issued", "duty"), ("answered", "officer"), ("closed", "inspector")]
        answered = [e for e in events(s, tid) if e.kind == "supervision_order"][1]
        assert answered.data["on_time"] is True


# ----------------------------------------------------------- reminder letters
def _complaint(world: World, at: datetime, *, lat: float, lon: float, phone: str, topic: str = "noise",
               kind: str = "complaint") -> int:
    return submit(world.factory, replace(new_request(at, lat=lat, lon=lon, phone=phone, topic=topic), kind=kind)).id


def letters(world: World) -> list[ReminderLetter]:
    with world.factory() as s:
        return list(s.scalars(select(ReminderLetter).order_by(ReminderLetter.id)))


def test_repeated_complaints_from_one_phone_earn_one_letter(any_world: World) -> None:
    world = any_world
    places = [(36.665, 117.030), (36.660, 117.025), (36.670, 117.035), (36.662, 117.034)]  # > 200 m apart
    ids = []
    for n, (lat, lon) in enumerate(places[:2]):
        ids.append(_complaint(world, MONDAY_9 + timedelta(days=10 * n), lat=lat, lon=lon, phone=PHONE))
    _complaint(world, MONDAY_9 + timedelta(days=11), lat=36.668, lon=117.03, phone=PHONE, kind="help")  # not counted
    assert letters(world) == []
    ids.append(_complaint(world, MONDAY_9 + timedelta(days=20), lat=places[2][0], lon=places[2][1], phone=PHONE))
    found = letters(world)
    assert [(lt.reason, lt.ticket_id) for lt in found] == [("repeated", ids[2])]
    assert "同一来电人" in found[0].text and "3次" in found[0].text and PHONE not in found[0].text
    with world.factory() as s:
        assert found[0].unit_id == s.get(Ticket, ids[2]).unit_id
        assert ("JN-LX-01", "leader", "station_head") in recipients(s, ids[2], "reminder_letter")
    _complaint(world, MONDAY_9 + timedelta(days=21), lat=places[3][0], lon=places[3][1], phone=PHONE)
    assert len(letters(world)) == 1  # one letter per cluster


def test_repeated_complaints_on_one_spot_earn_a_letter_and_far_or_old_ones_do_not(world: World) -> None:
    at = MONDAY_9
    _complaint(world, at - timedelta(days=40), lat=36.6650, lon=117.0300, phone="13900000001")  # too old
    _complaint(world, at, lat=36.6650, lon=117.0300, phone="13900000002")
    _complaint(world, at + timedelta(hours=1), lat=36.6700, lon=117.0300, phone="13900000003")  # ~550 m away
    _complaint(world, at + timedelta(hours=2), lat=36.6652, lon=117.0301, phone="13900000004", topic="theft")
    assert letters(world) == []
    _complaint(world, at + timedelta(hours=3), lat=36.6655, lon=117.0302, phone="13900000005")
    assert letters(world) == []
    third = _complaint(world, at + timedelta(days=3), lat=36.6648, lon=117.0298, phone="13900000006")
    found = letters(world)
    assert [(lt.reason, lt.ticket_id) for lt in found] == [("repeated", third)]
    assert "同一地点" in found[0].text


def test_leader_instruction_is_a_reminder_letter(world: World) -> None:
    tid = submit(world.factory, new_request(MONDAY_9)).id
    with unit_of_work(world.factory) as s:
        t = s.get(Ticket, tid)
        for who in ("viewer", "duty", "officer"):
            with pytest.raises(NotAllowed):
                supervision.issue_leader_instruction(s, t, MONDAY_9, world.actor(s, who), "请妥善处理")
        letter = supervision.issue_leader_instruction(s, t, MONDAY_9, world.actor(s, "chief"), "请妥善处理，及时回复群众")
        assert (letter.reason, letter.issued_by, letter.ticket_id) == ("leader_instruction", "chief", tid)
        branch = s.scalar(select(Unit).where(Unit.code == "JN-LX"))
        unit_letter = supervision.issue_leader_instruction(s, branch, MONDAY_9, world.actor(s, "chief"), "加强夜间巡逻")
        assert unit_letter.ticket_id is None and unit_letter.unit_id == branch.id
    assert [lt.number for lt in letters(world)] == ["TX20261123000001", "TX20261123000002"]


# ------------------------------------------------------------------ the sweeps
def test_run_sweeps_runs_both_and_never_raises(world: World, caplog: pytest.LogCaptureFixture) -> None:
    ids, now = overdue_world(world)
    result = housekeeping.run_sweeps(world.factory, now + timedelta(days=3))
    assert result["supervision"] == {"orders_issued": 3}  # "fresh" is overdue by then too
    assert result["follow_up"] == {"phone_tasks": 1}  # the replied ticket's SMS went unanswered

    def broken() -> Any:
        raise RuntimeError("database away")

    with caplog.at_level("ERROR", logger="tickets.housekeeping"):
        result = housekeeping.run_sweeps(broken, now)  # type: ignore[arg-type]
    assert "database away" in result["follow_up"]["error"] and "database away" in result["supervision"]["error"]
    assert "sweep failed" in caplog.text


# -------------------------------------------------------------------- the API
@pytest.fixture
def api(tmp_path: Path) -> Iterator[Any]:
    from dashboard import create_platform
    from tickets import accounts
    from tickets.schema import upgrade

    url = f"sqlite:///{tmp_path / 'api.db'}"
    upgrade(url)
    factory = session_factory(url)
    add_small_bureau(factory)
    add_people(factory)
    cfg = settings_module.load(environ={}, database_url=url, sms_inbound_secret="s3cret",
                               demo_accounts_file="none")
    platform = create_platform(cfg, live=False)
    tokens = {}
    with unit_of_work(factory) as s:
        for name in ("duty", "viewer", "officer", "admin"):
            tokens[name] = accounts.issue_token(s, "api", s.scalar(select(User).where(User.username == name)))
    platform.tokens = tokens
    platform.test_factory = factory
    yield platform
    platform.stop()


def test_inbound_sms_endpoint_needs_the_shared_secret(api: Any) -> None:
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
    secret = {"X-Minsheng-Sms-Secret": "s3cret"}
    answer = client.post("/api/v1/sms/inbound", data={"mobile": "13900001111", "content": "1"}, headers=secret)
    assert answer.status_code == 200 and answer.get_json()["status"] == "unknown_phone"
    answer = client.post("/api/v1/sms/inbound", json=body, headers=secret)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "closed" and answer.get_json()["phone"] == "138****5678"
    with api.test_factory() as s:
        t = s.get(Ticket, ticket.id)
        assert t.status == "closed" and t.closed_at == answered_at  # local time without a zone: Beijing
    assert client.post("/api/v1/sms/inbound", json={"text": "1"}, headers=secret).status_code == 400


def test_inbound_sms_endpoint_is_closed_without_a_configured_secret(api: Any) -> None:
    from dataclasses import replace as dc_replace

    api.settings = dc_replace(api.settings, sms_inbound_secret="")
    client = api.server.test_client()
    answer = client.post("/api/v1/sms/inbound", json={"phone": PHONE, "text": "1"},
                         headers={"X-Minsheng-Sms-Secret": ""})
    assert answer.status_code == 403


def test_duty_officer_one_click_order_and_the_open_orders_list(api: Any) -> None:
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
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "illegal_step"
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


def test_a_batch_earns_the_letters_its_complaints_earn_one_at_a_time() -> None:
    """The repeat check of a pushed batch (one query for all) decides as one complaint after another would."""
    import random

    from tests.test_followup import _world
    from tickets import dedup, services
    rng = random.Random(7)
    spots = [(36.6650, 117.0300), (36.6655, 117.0302), (36.6600, 117.0250), (36.6700, 117.0350), (36.6648, 117.0298)]
    requests = []
    for n in range(60):
        lat, lon = rng.choice(spots)
        at = MONDAY_9 + timedelta(hours=rng.uniform(0, 24 * 40))
        requests.append(replace(new_request(at, lat=lat, lon=lon, phone=rng.choice(["13900000001", "13900000002",
                                                                                       "13900000003", ""]),
                                            topic=rng.choice(["noise", "noise", "theft"])),
                                kind=rng.choice(["complaint", "complaint", "complaint", "help"])))

    def letters_of(one_at_a_time: bool) -> list[tuple[str, str]]:
        world_iter = _world(None, dedup=dedup.Params(mode="off"))  # every record its own ticket
        world = next(world_iter)
        try:
            if one_at_a_time:
                for r in sorted(requests, key=lambda r: r.received_at):
                    submit(world.factory, r)
            else:
                with unit_of_work(world.factory) as s:
                    services.receive(s, requests, now=MONDAY_9)
            with world.factory() as s:
                return [(s.get(Ticket, lt.ticket_id).number, lt.text) for lt in
                        s.scalars(select(ReminderLetter).order_by(ReminderLetter.ticket_id))]
        finally:
            next(world_iter, None)

    batch = letters_of(one_at_a_time=False)
    assert len(batch) >= 3 and {"同一来电人" in t for _n, t in batch} == {True, False}
    assert sorted(batch) == sorted(letters_of(one_at_a_time=True))
