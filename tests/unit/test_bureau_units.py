"""The demo bureaus as data: the YAML files load, make sense, and reload idempotently."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.districts import JIAXIANG_FILE, district_at, load_districts
from tests.helpers import ROOT
from tickets.models import Unit
from tickets.units import BureauFileError, load_bureau

JINAN_YAML = ROOT / "examples" / "jinan_bureau.yaml"
JIAXIANG_YAML = ROOT / "examples" / "jiaxiang_bureau.yaml"
PLACE_TOPICS = {"household", "noise", "theft", "fraud", "dispute", "lost_property", "conduct", "other"}


def _units(empty_session: Session, **where: object) -> list[Unit]:
    return list(empty_session.scalars(select(Unit).filter_by(**where).order_by(Unit.code)))


def _by_name(empty_session: Session, name: str) -> Unit:
    return empty_session.scalars(select(Unit).where(Unit.name == name)).one()


def test_one_branch_or_county_bureau_per_district(jinan_session: Session) -> None:
    root = jinan_session.scalars(select(Unit).where(Unit.level == 1)).one()
    assert (root.code, root.name, root.kind) == ("JN", "济南市公安局", "bureau")
    branches = [u for u in _units(jinan_session, level=2) if u.kind in ("branch", "county_bureau")]
    assert len(branches) == 12
    districts = [b.district for b in branches]
    assert len(set(districts)) == 12
    assert set(districts) == set(load_districts())
    assert {b.name for b in branches if b.kind == "county_bureau"} == {"平阴县公安局", "商河县公安局"}
    assert all(b.parent is root for b in branches)


def test_every_branch_has_three_to_six_stations_inside_its_district(jinan_session: Session) -> None:
    for branch in _units(jinan_session, level=2):
        if branch.kind not in ("branch", "county_bureau"):
            continue
        stations = [c for c in branch.children if c.kind == "station"]
        assert 3 <= len(stations) <= 6, branch.name
        for s in stations:
            assert s.level == 3 and s.district == branch.district
            assert s.lat is not None and s.lon is not None
            assert district_at(s.lat, s.lon) == branch.district, f"{s.code} {s.name}"


def test_station_names_and_places(jinan_session: Session) -> None:
    luokou = _by_name(jinan_session, "泺口派出所")
    assert luokou.parent is not None and luokou.parent.name == "天桥分局"
    assert _by_name(jinan_session, "泉城路派出所").parent.name == "历下分局"  # type: ignore[union-attr]
    stations = _units(jinan_session, kind="station")
    assert all(s.name.endswith("派出所") for s in stations)
    assert len({s.name for s in stations}) == len(stations)


def test_every_unit_has_an_english_name(jinan_session: Session) -> None:
    assert all(u.name_en and u.name_en.isascii() for u in _units(jinan_session))


def test_divisions_and_topics(jinan_session: Session) -> None:
    office = _units(jinan_session, kind="platform_office")
    assert [(u.name, u.level) for u in office] == [("民生警务平台办公室", 2)]
    for name in ["交警支队", "治安支队", "刑侦支队", "出入境管理局", "户政管理处", "法制支队", "督察支队", "信访处"]:
        unit = _by_name(jinan_session, name)
        assert (unit.level, unit.kind) == (2, "division"), name
    assert _by_name(jinan_session, "交警支队").topics == ["traffic"]
    vehicle = _by_name(jinan_session, "车辆管理所")
    assert (vehicle.level, vehicle.topics, vehicle.parent.name) == (3, ["vehicle"], "交警支队")  # type: ignore[union-attr]
    hall = _by_name(jinan_session, "出入境接待大厅")
    assert (hall.level, hall.topics, hall.parent.name) == (3, ["exit_entry"], "出入境管理局")  # type: ignore[union-attr]
    owned = {t for u in _units(jinan_session) for t in u.topics}
    assert owned == {"traffic", "vehicle", "exit_entry"}
    assert not owned & PLACE_TOPICS
    # City-wide units have no district; every unit under a branch has its branch's.
    assert _by_name(jinan_session, "交警支队").district is None


def test_loading_twice_changes_nothing(empty_session: Session) -> None:
    first = load_bureau(empty_session, JINAN_YAML)
    empty_session.commit()
    count = empty_session.scalar(select(func.count(Unit.id)))
    assert len(first.created) == count and count > 80
    second = load_bureau(empty_session, JINAN_YAML)
    assert (len(second.created), len(second.updated)) == (0, 0)
    assert len(second.unchanged) == count
    assert not empty_session.dirty and not empty_session.new
    assert empty_session.scalar(select(func.count(Unit.id))) == count


def test_reload_repairs_edits_and_leaves_unknown_units_alone(jinan_session: Session) -> None:
    luokou = _by_name(jinan_session, "泺口派出所")
    luokou.name = "改名派出所"
    luokou.topics = ["noise"]
    luokou.parent = _by_name(jinan_session, "历下分局")
    extra = Unit(code="JN-TMP", name="临时专班", level=2, kind="division", parent=luokou.parent.parent)
    jinan_session.add(extra)
    jinan_session.commit()

    report = load_bureau(jinan_session, JINAN_YAML)
    jinan_session.commit()
    assert report.updated == [luokou.code]
    assert report.created == []
    assert report.not_in_file == ["JN-TMP"]
    assert (luokou.name, luokou.topics, luokou.parent.name) == ("泺口派出所", [], "天桥分局")  # type: ignore[union-attr]
    assert jinan_session.get(Unit, extra.id) is extra and extra.name == "临时专班"


def test_jiaxiang_county_bureau(empty_session: Session) -> None:
    report = load_bureau(empty_session, JIAXIANG_YAML)
    assert not report.warnings
    root = empty_session.scalars(select(Unit).where(Unit.level == 1)).one()
    assert (root.name, root.district) == ("嘉祥县公安局", "嘉祥县")
    stations = _units(empty_session, kind="station")
    assert 4 <= len(stations) <= 6
    county = load_districts(JIAXIANG_FILE)
    for s in stations:
        assert s.level == 3 and s.district == "嘉祥县"
        assert district_at(s.lat, s.lon, county) == "嘉祥县", s.name  # type: ignore[arg-type]
    assert len(_units(empty_session, kind="platform_office")) == 1


BROKEN = """\
bureau:
  code: JN
  name: 济南市公安局
  kind: bureau
  children:
    - code: JN-LX
      name: 历下分局
      kind: branch
      district: 历下区
      children:
        - {code: JN-LX-01, name: 泉城路派出所, kind: station, lat: 36.664, lon: 117.023}
        - {code: JN-LX-01, name: 又一个派出所, kind: station, lat: 36.663, lon: 117.050}
        - {code: JN-LX-02, name: 远方派出所, kind: station, lat: 36.205, lon: 117.670}
        - {code: JN-LX-03, kind: station, lat: 36.645, lon: 117.040}
        - {code: JN-LX-04, name: 无坐标派出所, kind: station}
        - {code: JN-LX-05, name: 怪单位, kind: precinct, lat: 36.645, lon: 117.040}
"""


def test_a_broken_file_names_every_problem_and_writes_nothing(empty_session: Session, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(BureauFileError) as caught:
        load_bureau(empty_session, path)
    problems = caught.value.problems
    assert len(problems) == 5, problems
    text = str(caught.value)
    assert str(path) in text
    assert any("JN-LX-01" in p and "duplicate code" in p for p in problems)
    assert any("JN-LX-02" in p and "outside its district 历下区" in p and "莱芜区" in p for p in problems)
    assert any("JN-LX-03" in p and "missing name" in p for p in problems)
    assert any("JN-LX-04" in p and "without lat/lon" in p for p in problems)
    assert any("JN-LX-05" in p and "unknown kind 'precinct'" in p for p in problems)
    assert empty_session.scalar(select(func.count(Unit.id))) == 0


def test_other_mistakes_are_caught(empty_session: Session, tmp_path: Path) -> None:
    path = tmp_path / "typos.yaml"
    path.write_text(
        "bureau:\n  code: X\n  name: 某局\n  kind: bureau\n  childern: []\n  topics: [parking]\n",
        encoding="utf-8",
    )
    with pytest.raises(BureauFileError) as caught:
        load_bureau(empty_session, path)
    text = str(caught.value)
    assert "unknown field(s) childern" in text
    assert "unknown topic(s) ['parking']" in text
    path.write_text("units: []\n", encoding="utf-8")
    with pytest.raises(BureauFileError, match="top-level `bureau:`"):
        load_bureau(empty_session, path)
