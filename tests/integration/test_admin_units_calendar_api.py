"""The platform office's unit tree and working calendar through /api/v1/admin (issue 19):
a moved station takes its tickets' scope with it at once, a unit with open tickets is retired
only after they are re-homed (each ticket's timeline says so), supervisors only read, every
change leaves one audit row; a schedule entered for 2027 moves a 2027 deadline, in this process
and, within seconds, in another one that computed before it."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
import shapely.geometry
from sqlalchemy import select

from tests.helpers import ApiWorld, api_world, new_request
from geo import jurisdictions
from tickets import dispatch, services, sla, workcalendar
from tickets.models import AuditEntry, Ticket, TicketEvent, Unit, utcnow
from tickets.roles import SYSTEM
from tickets.uow import unit_of_work

pytestmark = pytest.mark.usefixtures("fresh_sla_state")
STATION, OLD_BRANCH, NEW_BRANCH = "JN-TQ-01", "JN-TQ", "JN-LX"
SPRING_2027 = {"year": 2027, "source": "测试用安排", "holidays": [
    {"name": "元旦", "first": "2027-01-01"}, {"name": "春节", "first": "2027-02-06", "last": "2027-02-13"}],
    "workdays": ["2027-02-14"]}
EVE_2027 = datetime.fromisoformat("2027-02-05T16:00:00+08:00")  # a Friday afternoon


@pytest.fixture
def office(tmp_path: Path) -> Iterator[ApiWorld]:
    for w in api_world(tmp_path):
        w.add_person("supervisor", "supervisor", "JN-DC")
        w.add_person("tianqiao", "viewer", OLD_BRANCH)
        yield w


def at_station(world: ApiWorld, n: int = 2) -> list[str]:
    with unit_of_work(world.platform.factory) as s:
        return [services.receive_one(s, replace(new_request(utcnow(), external_id=f"ADM-{i}"), unit_code=STATION),
                                     now=utcnow()).number for i in range(n)]


def seen(world: ApiWorld, who: str) -> set[str]:
    response = world.get("/api/v1/tickets?limit=200", who)
    assert response.status_code == 200, response.get_json()
    return {row["number"] for row in response.get_json()["items"]}


def audit_actions(world: ApiWorld) -> list[tuple[str, str, str | None]]:
    with world.platform.factory() as s:
        return [(a.actor, a.action, a.target) for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_a_moved_station_takes_its_scope_along_at_once(office: ApiWorld) -> None:
    numbers = set(at_station(office))
    assert numbers <= seen(office, "tianqiao") and not numbers & seen(office, "viewer")
    assert numbers <= seen(office, "handler")
    moved = office.post("/api/v1/admin/units/move", json={"unit": STATION, "parent": NEW_BRANCH})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["unit"]["parent"] == NEW_BRANCH
    assert numbers <= seen(office, "viewer")  # the new branch: at once (no cache outlives the change)
    assert not numbers & seen(office, "tianqiao")  # the old branch: no longer
    assert numbers <= seen(office, "handler")  # the station's own officer: the same tickets
    tree = office.get("/api/v1/admin/units", "supervisor").get_json()["units"]
    assert next(u for u in tree if u["code"] == STATION)["open"] == len(numbers)
    assert ("admin", "unit_move", STATION) in audit_actions(office)
    # Refusals: a station under a station, the root moved, a supervisor writing.
    assert office.post("/api/v1/admin/units/move", json={"unit": STATION, "parent": "JN-LX-01"}).status_code == 400
    assert office.post("/api/v1/admin/units/move", json={"unit": "JN", "parent": NEW_BRANCH}).status_code == 400
    refused = office.post("/api/v1/admin/units/move", "supervisor", json={"unit": STATION, "parent": OLD_BRANCH})
    assert refused.status_code == 403


def test_a_unit_is_retired_only_after_its_open_tickets_are_rehomed(office: ApiWorld) -> None:
    numbers = at_station(office)
    refused = office.post("/api/v1/admin/units/deactivate", json={"unit": STATION})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "unit_has_open_tickets"
    preview = office.get(f"/api/v1/admin/units/{STATION}/open-tickets", "supervisor").get_json()["tickets"]
    assert sorted(t["number"] for t in preview) == sorted(numbers)
    moved = office.post("/api/v1/admin/units/rehome", json={"unit": STATION, "to": "JN-TQ-02", "note": "撤并"})
    assert moved.status_code == 200 and sorted(moved.get_json()["tickets"]) == sorted(numbers)
    done = office.post("/api/v1/admin/units/deactivate", json={"unit": STATION})
    assert done.status_code == 200 and done.get_json()["unit"]["active"] is False
    with office.platform.factory() as s:
        steps = s.execute(select(TicketEvent.kind, TicketEvent.data).where(TicketEvent.kind == "rehome")).all()
    assert len(steps) == len(numbers)
    assert all(d["from_unit_code"] == STATION and d["unit_code"] == "JN-TQ-02" for _k, d in steps)
    actions = [a for _who, a, _t in audit_actions(office)]
    assert actions.count("rehome") == len(numbers) and actions.count("unit_deactivate") == 1
    # An added unit, renamed, given a topic: routing hears it.
    added = office.post("/api/v1/admin/units/add", json={"code": "JN-TQ-99", "name": "新城派出所", "kind": "station",
                                                      "parent": OLD_BRANCH})
    assert added.status_code == 200 and added.get_json()["unit"]["level"] == 3
    assert office.post("/api/v1/admin/units/add", json={"code": "JN-TQ-98", "name": "x", "kind": "branch",
                                                     "parent": OLD_BRANCH}).status_code == 400
    renamed = office.post("/api/v1/admin/units/rename", json={"unit": "JN-TQ-99", "name": "新城街派出所"})
    assert renamed.get_json()["unit"]["name"] == "新城街派出所"
    owned = office.post("/api/v1/admin/units/topics", json={"unit": "JN-TQ-99", "topic": "exit_entry", "take": "yes"})
    assert owned.status_code == 200
    topics = office.get("/api/v1/admin/units").get_json()["topics"]
    assert "JN-TQ-99" in next(t for t in topics if t["topic"] == "exit_entry")["owners"]


def test_a_2027_schedule_moves_a_2027_deadline_in_every_process(office: ApiWorld) -> None:
    before = sla.schedule("consultation", EVE_2027, office.platform.settings.tz).resolve_due
    assert before.date().isoformat() == "2027-02-08"  # Monday–Friday assumed
    assert office.post("/api/v1/admin/calendar/schedule", "supervisor", json=SPRING_2027).status_code == 403
    entered = office.post("/api/v1/admin/calendar/schedule", json={  # as the page's form posts it
        "year": "2027", "holiday0_name": "元旦", "holiday0_first": "2027-01-01", "holiday1_name": "春节",
        "holiday1_first": "2027-02-06", "holiday1_last": "2027-02-13", "workdays": "2027-02-14"})
    assert entered.status_code == 200, entered.get_json()
    after = sla.schedule("consultation", EVE_2027, office.platform.settings.tz).resolve_due
    assert after.date().isoformat() == "2027-02-14"  # the make-up Sunday after the Spring Festival
    grid = office.get("/api/v1/admin/calendar?year=2027", "supervisor").get_json()["year"]
    status = {d["date"]: d["status"] for d in grid["days"]}
    assert (status["2027-02-08"], status["2027-02-14"], status["2027-02-15"]) == ("holiday", "makeup", "workday")
    # Another process changes the table (here: a write that is not this process's API): this one
    # reads it again at its next check, within STAMP_CHECK_SECONDS, not after the 5-minute age.
    sla.refresh_if_stale(office.platform.factory)
    with unit_of_work(office.platform.factory) as s:
        workcalendar.mark_day(s, SYSTEM, date(2027, 2, 15), "holiday", "补休")
    assert workcalendar.is_working_day(date(2027, 2, 15))  # not yet: checked less than seconds ago
    workcalendar._checked_monotonic = time.monotonic() - workcalendar.STAMP_CHECK_SECONDS  # time has passed
    assert sla.refresh_if_stale(office.platform.factory)  # the stamp changed: read again
    assert not workcalendar.is_working_day(date(2027, 2, 15))
    assert office.post("/api/v1/admin/calendar/day", json={"day": "2027-02-15", "mark": "default"}).status_code == 200
    assert workcalendar.is_working_day(date(2027, 2, 15))
    bad = office.post("/api/v1/admin/calendar/schedule", json={**SPRING_2027, "workdays": ["2027-02-15"]})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "calendar_invalid"
    assert office.post("/api/v1/admin/calendar/day", json={"day": "2031-05-05", "mark": "holiday"}).status_code == 400
    actions = [a for _w, a, _t in audit_actions(office)]
    assert actions.count("calendar_load") == 1 and actions.count("calendar_day") == 2  # the system's, the admin's


def square(code: str, lon: float, lat: float, side: float = 0.01) -> dict[str, object]:
    ring = [[lon, lat], [lon + side, lat], [lon + side, lat + side], [lon, lat + side], [lon, lat]]
    return {"type": "Feature", "properties": {"unit_code": code}, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def test_a_jurisdiction_file_is_checked_before_anything_takes_effect(office: ApiWorld) -> None:
    text = json.dumps({"type": "FeatureCollection", "features": [
        square("JN-LX-01", 117.02, 36.66), square("JN-LX-02", 117.025, 36.66), square("JN-XX-99", 117.05, 36.66)]})
    check = "/api/v1/admin/units/jurisdictions/check"
    assert office.post(check, "supervisor", json={"text": text}).status_code == 403
    report = office.post(check, json={"text": text, "name": "辖区.geojson"})
    assert report.status_code == 200, report.get_json()
    body = report.get_json()
    kinds = {p["kind"] for p in body["problems"]}
    assert {"unknown_code", "overlap", "no_polygon"} <= kinds and body["ok"] is False  # (gaps: of districts it covers)
    assert any(p["kind"] == "unknown_code" and p["units"] == ["JN-XX-99"] for p in body["problems"])
    page = office.get(body["map"]).get_data(as_text=True)
    assert "leaflet" in page and "JN-XX-99" in page and "https://" not in page
    refused = office.post("/api/v1/admin/units/jurisdictions/apply", json={"upload": body["id"]})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "jurisdiction_upload_errors"
    assert office.post("/api/v1/admin/units/jurisdictions/discard", json={"upload": body["id"]}).status_code == 200
    bad = office.post(check, json={"text": "{not json"}).get_json()
    assert bad["problems"][0]["kind"] == "unreadable" and bad["ok"] is False


@pytest.mark.parametrize("path, field", [("/api/v1/admin/units/jurisdictions/check", "text"),
                                         ("/api/v1/admin/calendar/file", "file")])
def test_a_file_that_is_not_text_is_a_400_naming_it(office: ApiWorld, path: str, field: str) -> None:
    """A lone surrogate (JSON can say it, UTF-8 cannot) in an uploaded file's text: a 400, not a 500
    from counting its bytes."""
    for text in ("\ud800", "\x00"):
        answer = office.post(path, json={"text": f"year: 2027 {text}"})
        assert answer.status_code == 400, answer.get_data(as_text=True)
        error = answer.get_json()["error"]
        assert error["code"] == "nul_character" and field in json.dumps(error)
    assert office.post(path, json={}).get_json()["error"]["code"] == "missing_parameter"


def test_an_applied_jurisdiction_file_routes_new_tickets_at_once(office: ApiWorld) -> None:
    shipped = json.loads(jurisdictions.JINAN_JURISDICTIONS.read_text(encoding="utf-8"))
    swap = {"JN-LX-01": "JN-LX-02", "JN-LX-02": "JN-LX-01"}  # two neighbours' polygons exchanged
    inside = shapely.geometry.shape(next(f["geometry"] for f in shipped["features"]
                                         if f["properties"]["unit_code"] == "JN-LX-01")).representative_point()
    for feature in shipped["features"]:
        feature["properties"]["unit_code"] = swap.get(feature["properties"]["unit_code"],
                                                      feature["properties"]["unit_code"])
    probe = Ticket(topic="noise", district="历下区", lat=inside.y, lon=inside.x)
    try:
        with office.platform.factory() as s:
            assert dispatch.route(s, probe).code == "JN-LX-01"
        body = office.post("/api/v1/admin/units/jurisdictions/check",
                           json={"text": json.dumps(shipped), "name": "历下调整.geojson"}).get_json()
        assert body["ok"] is True, body["problems"]
        with office.platform.factory() as s:  # checked, not applied: routing as before
            assert dispatch.route(s, probe).code == "JN-LX-01"
        assert office.post("/api/v1/admin/units/jurisdictions/apply", json={"upload": body["id"]}).status_code == 200
        with office.platform.factory() as s:
            assert dispatch.route(s, probe).code == "JN-LX-02"
        again = office.post("/api/v1/admin/units/jurisdictions/apply", json={"upload": body["id"]})
        assert again.status_code == 409
        actions = [a for _w, a, _t in audit_actions(office)]
        assert actions.count("jurisdictions_check") == 1 and actions.count("jurisdictions_apply") == 1
    finally:  # this process routes by the shipped files again
        jurisdictions.use_for_routing(None)
        dispatch._routing_upload[0] = None


def test_the_live_path_rereads_the_tree_when_a_unit_moves(office: ApiWorld) -> None:
    """The wall's rows (level-2 units) follow a move: the aggregator, which read the tree when it
    built the live state, reads it again when the move's outbox message arrives."""
    import fakeredis

    from dashboard.live.aggregator import LiveAggregator
    from dashboard.live.relay import OutboxRelay

    factory = office.platform.factory
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    relay = OutboxRelay(factory, client)
    aggregator = LiveAggregator(factory, client, office.platform.settings.tz, heartbeat_seconds=1e9)
    aggregator.step(block_ms=10)
    with factory() as s:
        station = s.scalar(select(Unit.id).where(Unit.code == STATION))
    assert aggregator.level2_code(station) == OLD_BRANCH
    assert office.post("/api/v1/admin/units/move", json={"unit": STATION, "parent": NEW_BRANCH}).status_code == 200
    while relay.run_once():
        pass
    aggregator.step(block_ms=10)
    assert aggregator.level2_code(station) == NEW_BRANCH
