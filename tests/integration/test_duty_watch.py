"""The duty officer's watch through the service layer and the API, on PostgreSQL: which
clocks are late or near, acknowledging one (refused when nothing is late, when somebody
holds it, on a stale copy, to a station officer), its lapse unless the ticket moved, an
early warning closed by hand, and the console's rows."""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from dashboard.read_models import duty as duty_rows
from tests.helpers import ApiWorld, api_world, new_request
from tickets import services
from tickets.errors import Conflict, IllegalStep, NotAllowed
from tickets.models import Ticket, User, utcnow
from tickets.roles import actor_for
from tickets.uow import unit_of_work


@pytest.fixture
def watch_world(tmp_path: Path, pg_url: str) -> Iterator[ApiWorld]:
    yield from api_world(tmp_path, database_url=pg_url, duty_acknowledgement_minutes=30.0)  # "duty" keeps watch


def test_acknowledging_a_clock_and_its_lapse(watch_world: ApiWorld) -> None:
    world = watch_world
    t0 = utcnow()
    with unit_of_work(world.platform.factory) as s:
        request = replace(new_request(t0, external_id="DUTY-1"), unit_code="JN-TQ-01")
        number = services.receive_one(s, request, now=t0).number
    factory = world.platform.factory

    def actor(s: object, username: str) -> object:
        return actor_for(s, s.scalars(select(User).where(User.username == username)).one())  # type: ignore[attr-defined]

    with unit_of_work(factory) as s:
        with pytest.raises(IllegalStep) as nothing:  # on time: nothing to take
            services.acknowledge_breach(s, actor(s, "duty"), number, "contact", at=t0 + timedelta(minutes=5))
        assert nothing.value.code == "nothing_to_acknowledge"
    amber = t0 + timedelta(minutes=50)
    with unit_of_work(factory) as s:
        duty = actor(s, "duty")
        assert [(r["clock"], r["state"]) for r in duty_rows.rows(s, duty, amber, numbers=[number])] == [("contact", "amber")]
        services.acknowledge_breach(s, duty, number, "contact", note="已通知", at=amber)
    with unit_of_work(factory) as s:
        with pytest.raises(Conflict) as again:  # somebody holds it
            services.acknowledge_breach(s, actor(s, "duty"), number, "contact", at=amber + timedelta(minutes=1))
        assert again.value.code == "already_acknowledged"
        with pytest.raises(NotAllowed):
            services.acknowledge_breach(s, actor(s, "handler"), number, "contact", at=amber)
    breach = t0 + timedelta(minutes=65)
    with unit_of_work(factory) as s:
        duty = actor(s, "duty")
        row, = duty_rows.rows(s, duty, breach, numbers=[number])
        # The amber's acknowledgement does not cover the breach.
        assert (row["state"], row["acknowledged"], "acknowledge" in row["allowed_steps"]) == ("breached", None, True)
        version = s.scalars(select(Ticket.version).where(Ticket.number == number)).one()
        with pytest.raises(Conflict) as stale:
            services.acknowledge_breach(s, duty, number, "contact", version=version - 1, at=breach)
        assert stale.value.code == "stale_version"
        services.acknowledge_breach(s, duty, number, "contact", version=version, at=breach)
    with unit_of_work(factory) as s:
        duty = actor(s, "duty")
        held, = duty_rows.rows(s, duty, breach + timedelta(minutes=29), numbers=[number])
        assert held["acknowledged"]["by"] == "duty" and "acknowledge" not in held["allowed_steps"]
        lapsed, = duty_rows.rows(s, duty, breach + timedelta(minutes=31), numbers=[number])
        assert lapsed["acknowledged"] is None  # 30 minutes on, nothing moved: it asks again
    with unit_of_work(factory) as s:
        services.acknowledge_breach(s, actor(s, "duty"), number, "contact", at=breach + timedelta(minutes=32))
    with unit_of_work(factory) as s:
        services.contact(s, actor(s, "handler"), number, at=breach + timedelta(minutes=34))
        # Contacted: the contact clock has left the watch (the resolve clock is not near yet).
        assert duty_rows.rows(s, actor(s, "duty"), breach + timedelta(minutes=35), numbers=[number]) == []
    events = world.get(f"/api/v1/tickets/{number}/events?limit=100", "handler").get_json()["items"]
    taken = [e["data"] for e in events if e["kind"] == "breach_acknowledged"]
    assert [(d["clock"], d["state"]) for d in taken] == [("contact", "amber"), ("contact", "breached"),
                                                         ("contact", "breached")]  # taken again after the lapse


def test_an_acknowledgement_holds_once_the_ticket_moved(watch_world: ApiWorld) -> None:
    world = watch_world
    t0 = utcnow()
    with unit_of_work(world.platform.factory) as s:
        request = replace(new_request(t0, external_id="DUTY-2"), unit_code="JN-TQ-01")
        number = services.receive_one(s, request, now=t0).number
    breach = t0 + timedelta(minutes=70)
    with unit_of_work(world.platform.factory) as s:
        duty = actor_for(s, s.scalars(select(User).where(User.username == "duty")).one())
        handler = actor_for(s, s.scalars(select(User).where(User.username == "handler")).one())
        services.acknowledge_breach(s, duty, number, "contact", at=breach)
        services.accept(s, handler, number, at=breach + timedelta(minutes=5))  # somebody acted on it
    with unit_of_work(world.platform.factory) as s:
        duty = actor_for(s, s.scalars(select(User).where(User.username == "duty")).one())
        row, = duty_rows.rows(s, duty, breach + timedelta(hours=3), numbers=[number])
        assert row["acknowledged"] is not None  # long past the 30 minutes, and still taken


def test_the_console_api_and_the_acknowledge_step(watch_world: ApiWorld) -> None:
    world = watch_world
    with unit_of_work(world.platform.factory) as s:
        old = utcnow() - timedelta(hours=2)  # received two hours ago: its contact clock is breached
        request = replace(new_request(old, external_id="DUTY-3"), unit_code="JN-TQ-01")
        number = services.receive_one(s, request, now=old).number
    rows = world.get(f"/api/v1/duty?numbers={number}", "duty").get_json()["rows"]
    assert [(r["id"], r["state"]) for r in rows] == [(f"{number}:contact", "breached")]
    assert rows[0]["minutes_late"] >= 59
    assert "13812345678" not in json.dumps(rows, ensure_ascii=False) and "张三" not in json.dumps(rows, ensure_ascii=False)
    assert world.get("/api/v1/duty", "handler").status_code == 403  # a station officer keeps no watch
    taken = world.post(f"/api/v1/tickets/{number}/acknowledge", "duty", json={"clock": "contact", "note": "收到"})
    assert taken.status_code == 200, taken.get_json()
    again = world.post(f"/api/v1/tickets/{number}/acknowledge", "duty", json={"clock": "contact"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_acknowledged"
    assert "收到" == world.get(f"/api/v1/duty?numbers={number}", "duty").get_json()["rows"][0]["acknowledged"]["note"]


def test_predicted_breaches_are_for_those_who_keep_watch(watch_world: ApiWorld) -> None:
    world = watch_world
    answer = world.get("/api/v1/duty/predicted", "duty")
    assert answer.status_code == 200 and isinstance(answer.get_json()["items"], list)
    assert world.get("/api/v1/duty/predicted", "handler").status_code == 403


def test_a_phone_number_typed_into_a_title_is_masked_on_the_console(watch_world: ApiWorld) -> None:
    """Issue 17: free text on a screen others can see masks phone and ID-card numbers."""
    world = watch_world
    t0 = utcnow()
    with unit_of_work(world.platform.factory) as s:
        request = replace(new_request(t0, external_id="DUTY-PHONE"), unit_code="JN-TQ-01",
                          title="噪音扰民，回电13905318888")
        number = services.receive_one(s, request, now=t0).number
    with unit_of_work(world.platform.factory) as s:
        duty = actor_for(s, s.scalars(select(User).where(User.username == "duty")).one())
        row, = duty_rows.rows(s, duty, t0 + timedelta(minutes=65), numbers=[number])
    assert "13905318888" not in row["title"] and row["title"].startswith("噪音扰民")
