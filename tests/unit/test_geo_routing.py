"""Routing by jurisdiction (tickets/dispatch.py with geo/jurisdictions.py):
a ticket with a point goes to the station whose polygon contains it; without
polygons, or outside them all, the old nearest-station rule still applies."""
from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from geo import jurisdictions
from geo.districts import load_districts, random_point_in
from tests.helpers import ROOT
from tickets import dispatch
from tickets.dispatch import route
from tickets.models import Base, Ticket, Unit
from tickets.units import load_bureau

JINAN_YAML = ROOT / "examples" / "jinan_bureau.yaml"
JIAXIANG_YAML = ROOT / "examples" / "jiaxiang_bureau.yaml"


@pytest.fixture(autouse=True)
def default_routing() -> Iterator[None]:
    jurisdictions.configure_routing(None)
    yield
    jurisdictions.configure_routing(None)


def _ticket(lat: float | None, lon: float | None, district: str | None, topic: str = "noise") -> Ticket:
    return Ticket(topic=topic, district=district, lat=lat, lon=lon)


def _code(session: Session, ticket: Ticket) -> str:
    return route(session, ticket).code


def test_luokou_goes_to_luokou_station(jinan_session: Session) -> None:
    unit = route(jinan_session, _ticket(36.712, 117.010, "天桥区"))
    assert (unit.code, unit.name, unit.level) == ("JN-TQ-01", "泺口派出所", 3)


def test_the_containing_station_wins_over_the_ticket_district(jinan_session: Session) -> None:
    # A point in 历下区 filed with the wrong district (or none): the polygon decides;
    # the old rule sent the first to a 市中区 station and the second to the platform office.
    assert _code(jinan_session, _ticket(36.6645, 117.0240, "市中区")) == "JN-LX-01"
    assert _code(jinan_session, _ticket(36.6645, 117.0240, None)) == "JN-LX-01"
    jurisdictions.configure_routing([])  # no polygons: the old behaviour
    assert _code(jinan_session, _ticket(36.6645, 117.0240, "市中区")).startswith("JN-SZ-")
    assert _code(jinan_session, _ticket(36.6645, 117.0240, None)) == "JN-PTB"


def test_routing_agrees_with_station_at_everywhere(jinan_session: Session) -> None:
    rng = random.Random(8)
    for name in load_districts():
        for _ in range(40):
            lat, lon = random_point_in(name, rng)
            expected = jurisdictions.station_at(lat, lon)
            assert expected is not None and expected.startswith("JN-")
            assert _code(jinan_session, _ticket(lat, lon, name)) == expected, (name, lat, lon)


def test_outside_every_jurisdiction_falls_back_to_the_nearest_station(jinan_session: Session) -> None:
    # 泰安 (south of Jinan) filed as 历下区: no polygon covers it, so the nearest 历下 station.
    assert jurisdictions.station_at(36.19, 117.09) is None
    assert _code(jinan_session, _ticket(36.19, 117.09, "历下区")) == "JN-LX-05"  # 千佛山, the southernmost
    assert _code(jinan_session, _ticket(None, None, "历下区")) == "JN-LX"  # no point: the branch
    assert _code(jinan_session, _ticket(36.19, 117.09, None)) == "JN-PTB"


def test_an_inactive_station_is_skipped(jinan_session: Session) -> None:
    luokou = jinan_session.scalars(select(Unit).where(Unit.code == "JN-TQ-01")).one()
    luokou.active = False
    jinan_session.flush()
    code = _code(jinan_session, _ticket(36.712, 117.010, "天桥区"))
    assert code.startswith("JN-TQ-") and code != "JN-TQ-01"


def test_topic_owners_still_come_first(jinan_session: Session) -> None:
    assert _code(jinan_session, _ticket(36.712, 117.010, "天桥区", topic="exit_entry")) == "JN-CRJ-DT"


def test_a_polygon_for_a_unit_not_in_this_database_falls_back() -> None:
    # The Jiaxiang bureau knows no JN-* codes: a Jinan point in 嘉祥县 terms is
    # routed by the old rule, never to a missing unit.
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        load_bureau(s, JIAXIANG_YAML)
        s.commit()
        assert _code(s, _ticket(35.408, 116.342, "嘉祥县")) == "JX-SQ-01"
        assert jurisdictions.station_at(36.712, 117.010) == "JN-TQ-01"
        assert _code(s, _ticket(36.712, 117.010, "嘉祥县")).startswith("JX-SQ-")
    engine.dispose()


def test_a_stale_code_cache_is_not_trusted(jinan_session: Session) -> None:
    _code(jinan_session, _ticket(36.712, 117.010, "天桥区"))  # fills the code → id cache
    key = str(jinan_session.get_bind().url)
    stamp, ids = dispatch._station_ids_cache[key]
    swapped = dict(ids, **{"JN-TQ-01": ids["JN-LX-01"]})  # as if the database had been reloaded
    dispatch._station_ids_cache[key] = (stamp, swapped)
    assert _code(jinan_session, _ticket(36.712, 117.010, "天桥区")) == "JN-TQ-01"


def test_configured_files_replace_the_demo_ones(jinan_session: Session, tmp_path: Path) -> None:
    import json

    from shapely.geometry import box, mapping

    only = tmp_path / "one.geojson"
    only.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"unit_code": "JN-LX-06"},
        "geometry": mapping(box(117.0, 36.70, 117.02, 36.72))}]}), encoding="utf-8")
    jurisdictions.configure_routing([only])
    # Luokou now lies in 姚家's (made-up) polygon; outside it, the old rule.
    assert _code(jinan_session, _ticket(36.712, 117.010, "天桥区")) == "JN-LX-06"
    assert _code(jinan_session, _ticket(36.6645, 117.0240, "历下区")) == "JN-LX-01"


def test_configuration_through_the_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "minsheng.yaml"
    cfg.write_text(f"extra:\n  jurisdiction_files: [{jurisdictions.JIAXIANG_JURISDICTIONS}]\n", encoding="utf-8")
    monkeypatch.setenv("MINSHENG_CONFIG", str(cfg))
    jurisdictions.configure_routing(None)
    assert jurisdictions.routing_files() == ((jurisdictions.JIAXIANG_JURISDICTIONS,), True)
    assert jurisdictions.station_at(35.408, 116.342) == "JX-SQ-01"
    assert jurisdictions.station_at(36.712, 117.010) is None  # Jinan's are not loaded
