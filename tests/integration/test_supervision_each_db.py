"""督办单 and 提醒函 on each database: the overdue sweep and repeated complaints, on SQLite
and on a real PostgreSQL with the migrations."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.helpers import (
    MONDAY_9,
    PHONE,
    TZ,
    FollowupWorld,
    complaint,
    events,
    letters,
    orders,
    overdue_world,
    recipients,
)
from tickets import sla, supervision
from tickets.uow import unit_of_work
from tickets.models import SupervisionOrder, Ticket, Unit, User


def test_sweep_issues_exactly_one_order_per_overdue_ticket(followup_world_each_db: FollowupWorld) -> None:
    world = followup_world_each_db
    ids, now = overdue_world(world)
    with unit_of_work(world.factory) as s:
        assert supervision.sweep(s, now) == {"orders_issued": 2, "digests": 0, "more": 0}  # two: below the digest's three
    with unit_of_work(world.factory) as s:
        assert supervision.sweep(s, now + timedelta(minutes=30)) == {"orders_issued": 0, "digests": 0, "more": 0}
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
        assert supervision.sweep(s, now + timedelta(hours=2)) == {"orders_issued": 0, "digests": 0, "more": 0}


def test_many_overdue_at_one_unit_reach_its_head_as_one_digest(followup_world_each_db: FollowupWorld) -> None:
    """Not crying wolf: three orders to one station in one sweep are three orders on three
    tickets, and one notice to its head listing them, not three notices."""
    from tickets.models import Notification

    world = followup_world_each_db
    ids, now = overdue_world(world)
    later = now + timedelta(days=3)  # "fresh" is overdue too: three at JN-LX-01
    with unit_of_work(world.factory) as s:
        assert supervision.sweep(s, later) == {"orders_issued": 3, "digests": 1, "more": 0}
    issued = orders(world)
    assert len(issued) == 3
    with world.factory() as s:
        notices = list(s.scalars(select(Notification).where(Notification.kind.in_(("supervision_order",
                                                                                    "supervision_digest")))))
        assert [n.kind for n in notices] == ["supervision_digest"]
        head = s.scalar(select(User).where(User.username == "station_head"))
        assert notices[0].user_id == head.id and all(o.number in notices[0].text for o in issued)
        for o in issued:  # each order still on its own ticket's timeline (and so on the screens)
            event = [e for e in events(s, o.ticket_id) if e.kind == "supervision_order"][-1]
            assert event.data["number"] == o.number and event.data["digest"] is True


def test_repeated_complaints_from_one_phone_earn_one_letter(followup_world_each_db: FollowupWorld) -> None:
    world = followup_world_each_db
    places = [(36.665, 117.030), (36.660, 117.025), (36.670, 117.035), (36.662, 117.034)]  # > 200 m apart
    ids = []
    for n, (lat, lon) in enumerate(places[:2]):
        ids.append(complaint(world, MONDAY_9 + timedelta(days=10 * n), lat=lat, lon=lon, phone=PHONE))
    complaint(world, MONDAY_9 + timedelta(days=11), lat=36.668, lon=117.03, phone=PHONE, kind="help")  # not counted
    assert letters(world) == []
    ids.append(complaint(world, MONDAY_9 + timedelta(days=20), lat=places[2][0], lon=places[2][1], phone=PHONE))
    found = letters(world)
    assert [(lt.reason, lt.ticket_id) for lt in found] == [("repeated", ids[2])]
    assert "同一来电人" in found[0].text and "3次" in found[0].text and PHONE not in found[0].text
    with world.factory() as s:
        assert found[0].unit_id == s.get(Ticket, ids[2]).unit_id
        assert ("JN-LX-01", "leader", "station_head") in recipients(s, ids[2], "reminder_letter")
    complaint(world, MONDAY_9 + timedelta(days=21), lat=places[3][0], lon=places[3][1], phone=PHONE)
    assert len(letters(world)) == 1  # one letter per cluster
