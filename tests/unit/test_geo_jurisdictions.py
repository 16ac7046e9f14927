"""Station jurisdictions: the derived demo files, validation of a bureau's own
file, and the exact point lookup (boundary rule: covers; lowest code wins)."""
from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely.geometry import box, mapping

from geo import derive_jurisdictions
from geo.districts import JIAXIANG_FILE, JINAN_FILE, District, load_districts, random_point_in
from geo.jurisdictions import (
    DEFAULT_FILES,
    JIAXIANG_JURISDICTIONS,
    JINAN_JURISDICTIONS,
    JurisdictionSet,
    load_jurisdictions,
)
from geo.measure import area_km2
from tests.helpers import ROOT

JINAN_YAML = ROOT / "examples" / "jinan_bureau.yaml"
JIAXIANG_YAML = ROOT / "examples" / "jiaxiang_bureau.yaml"


def _stations() -> list[derive_jurisdictions.Station]:
    return derive_jurisdictions.bureau_stations(JINAN_YAML) + derive_jurisdictions.bureau_stations(JIAXIANG_YAML)


# ---------------------------------------------------------------- derived demo files
@pytest.fixture(scope="module")
def demo_jurisdictions() -> JurisdictionSet:
    """The shipped demo jurisdictions (geo/data) for the stations of both demo bureaus."""
    return load_jurisdictions(DEFAULT_FILES, [s.code for s in _stations()])



def test_demo_files_validate_clean_against_the_bureaus(demo_jurisdictions: JurisdictionSet) -> None:
    assert demo_jurisdictions.report.problems == [], demo_jurisdictions.report.render()
    assert len(demo_jurisdictions) == len(_stations()) == 73


def test_every_district_is_split_without_overlaps_or_gaps(demo_jurisdictions: JurisdictionSet) -> None:
    districts = {**load_districts(JINAN_FILE), **load_districts(JIAXIANG_FILE)}
    for name, district in districts.items():
        cells = [j.geometry for j in demo_jurisdictions if j.district == name]
        assert len(cells) >= 3, name
        assert shapely.coverage_is_valid(cells), name  # no overlaps between neighbours
        union = shapely.union_all(cells)
        # Same area as the district, to a few square metres (rounding of new vertices).
        assert area_km2(shapely.symmetric_difference(union, district.geometry)) < 0.001, name
        overlap = sum(area_km2(a) for a in cells) - area_km2(union)
        assert abs(overlap) < 0.001, name


def test_every_station_is_inside_its_own_jurisdiction(demo_jurisdictions: JurisdictionSet) -> None:
    for s in _stations():
        assert demo_jurisdictions.station_at(s.lat, s.lon) == s.code, s
        assert demo_jurisdictions[s.code].district == s.district


@pytest.mark.parametrize("district", ["历下区", "章丘区", "嘉祥县"])
def test_demo_cells_go_to_the_nearest_station_of_the_district(demo_jurisdictions: JurisdictionSet,
                                                              district: str) -> None:
    rng = random.Random(4)
    stations = [s for s in _stations() if s.district == district]
    districts = {**load_districts(JINAN_FILE), **load_districts(JIAXIANG_FILE)}

    def km(s: derive_jurisdictions.Station, lat: float, lon: float) -> float:
        return math.hypot(s.lat - lat, (s.lon - lon) * math.cos(math.radians(lat))) * 111.195

    for _ in range(300):
        lat, lon = random_point_in(district, rng, districts)
        by_distance = sorted(stations, key=lambda s: km(s, lat, lon))
        got = demo_jurisdictions.station_at(lat, lon)
        if got != by_distance[0].code:  # only where two stations are (almost) equally near
            assert got == by_distance[1].code
            assert km(by_distance[1], lat, lon) - km(by_distance[0], lat, lon) < 0.05, (lat, lon, got)


def test_the_shipped_files_are_what_the_derive_script_makes(tmp_path: Path) -> None:
    for bureau, boundaries, shipped in derive_jurisdictions.DEMOS:
        out = derive_jurisdictions.derive(bureau, boundaries, tmp_path / shipped.name)
        assert out.read_bytes() == shipped.read_bytes(), f"run `python app.py geo derive` ({shipped.name})"


def test_attribution_names_the_derived_files() -> None:
    text = (ROOT / "geo" / "data" / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert JINAN_JURISDICTIONS.name in text and JIAXIANG_JURISDICTIONS.name in text


def test_luokou_area_belongs_to_luokou_station(demo_jurisdictions: JurisdictionSet) -> None:
    assert demo_jurisdictions.station_at(36.712, 117.010) == "JN-TQ-01"  # 泺口, by the Yellow River
    assert demo_jurisdictions.station_at(36.6645, 117.0240) == "JN-LX-01"  # ~100 m from 泉城路派出所
    assert demo_jurisdictions.station_at(35.408, 116.342) == "JX-SQ-01"  # 嘉祥 town centre
    assert demo_jurisdictions.station_at(39.904, 116.407) is None  # Beijing


def test_a_vertex_shared_by_real_neighbours_resolves_to_the_lowest_code(demo_jurisdictions: JurisdictionSet) -> None:
    a, b = demo_jurisdictions["JN-LX-01"].geometry, demo_jurisdictions["JN-LX-03"].geometry
    shared = {xy for poly in a.geoms for xy in poly.exterior.coords} & {
        xy for poly in b.geoms for xy in poly.exterior.coords}
    assert shared, "泉城路 and 大明湖 are neighbours"
    for lon, lat in shared:
        covering = sorted(j.unit_code for j in demo_jurisdictions
                          if shapely.covers(j.geometry, shapely.Point(lon, lat)))
        assert "JN-LX-01" in covering and "JN-LX-03" in covering
        assert demo_jurisdictions.station_at(lat, lon) == covering[0] == "JN-LX-01"


def test_station_at_is_exact_on_every_vertex_and_edge_midpoint_of_the_demo(demo_jurisdictions: JurisdictionSet) -> None:
    # Brute force (every polygon, `covers`, lowest code) against the indexed lookup,
    # on the points where a shortcut would go wrong: vertices, edge midpoints, and
    # points a hair to either side of them.
    geoms = [(j.unit_code, j.geometry) for j in demo_jurisdictions]
    points = []
    for _, g in geoms:
        for poly in g.geoms:
            xy = list(poly.exterior.coords)
            for (x_a, y_a), (x_b, y_b) in zip(xy, xy[1:]):
                points += [(y_a, x_a), ((y_a + y_b) / 2, (x_a + x_b) / 2), (y_a + 1e-9, x_a - 1e-9)]
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    import numpy as np

    covering = {code: shapely.intersects_xy(g, np.array(lons), np.array(lats)) for code, g in geoms}
    for k, (lat, lon) in enumerate(points):
        expected = next((code for code, _ in geoms if covering[code][k]), None)
        assert demo_jurisdictions.station_at(lat, lon) == expected, (lat, lon)
    assert demo_jurisdictions.stations_at(lats, lons) == [demo_jurisdictions.station_at(a, b) for a, b in points]
    assert len(points) > 10_000


# ---------------------------------------------------------------- synthetic files
# Squares near Jinan, 0.01° (~0.9 km × 1.1 km). Codes are chosen so that the
# lowest code is neither the first feature nor the left/bottom square.
X0, X1, X2 = 117.00, 117.01, 117.02
Y0, Y1, Y2 = 36.00, 36.01, 36.02
AREA = {"D": District("D", "Test district", box(X0, Y0, X2, Y2))}


def _write(tmp_path: Path, features: list[dict[str, Any]], name: str = "j.geojson") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def _feature(code: str | None, geom: Any) -> dict[str, Any]:
    props = {} if code is None else {"unit_code": code}
    return {"type": "Feature", "properties": props, "geometry": geom if isinstance(geom, dict) else mapping(geom)}


def _grid() -> list[dict[str, Any]]:
    return [
        _feature("S-4", box(X0, Y0, X1, Y1)),  # bottom left
        _feature("S-2", box(X1, Y0, X2, Y1)),  # bottom right
        _feature("S-3", box(X0, Y1, X1, Y2)),  # top left
        _feature("S-1", box(X1, Y1, X2, Y2)),  # top right
    ]


@pytest.fixture
def grid_jurisdictions(tmp_path: Path) -> JurisdictionSet:
    """Four square jurisdictions S-1..S-4 in a 2×2 grid over AREA."""
    return load_jurisdictions(_write(tmp_path, _grid()), ["S-1", "S-2", "S-3", "S-4"], districts=AREA)


def test_a_clean_grid_has_no_problems(grid_jurisdictions: JurisdictionSet) -> None:
    assert grid_jurisdictions.report.ok and grid_jurisdictions.report.problems == [], grid_jurisdictions.report.render()
    assert grid_jurisdictions.report.units == 4
    assert grid_jurisdictions.report.area_km2 == pytest.approx(area_km2(AREA["D"].geometry), rel=1e-6)


def test_station_at_inside_each_square(grid_jurisdictions: JurisdictionSet) -> None:
    assert grid_jurisdictions.station_at(36.005, 117.005) == "S-4"
    assert grid_jurisdictions.station_at(36.005, 117.015) == "S-2"
    assert grid_jurisdictions.station_at(36.015, 117.005) == "S-3"
    assert grid_jurisdictions.station_at(36.015, 117.015) == "S-1"


def test_station_at_exactly_on_a_shared_edge_takes_the_lowest_code(grid_jurisdictions: JurisdictionSet) -> None:
    assert grid_jurisdictions.station_at(36.005, X1) == "S-2"  # S-4 | S-2
    assert grid_jurisdictions.station_at(36.015, X1) == "S-1"  # S-3 | S-1
    assert grid_jurisdictions.station_at(Y1, 117.005) == "S-3"  # S-4 below, S-3 above
    assert grid_jurisdictions.station_at(Y1, 117.015) == "S-1"  # S-2 below, S-1 above


def test_station_at_on_a_vertex_shared_by_four(grid_jurisdictions: JurisdictionSet) -> None:
    assert grid_jurisdictions.station_at(Y1, X1) == "S-1"


def test_station_at_just_inside_each_side_of_an_edge(grid_jurisdictions: JurisdictionSet) -> None:
    eps = 1e-9  # ~0.1 mm
    assert grid_jurisdictions.station_at(36.005, X1 - eps) == "S-4"
    assert grid_jurisdictions.station_at(36.005, X1 + eps) == "S-2"
    assert grid_jurisdictions.station_at(Y1 - eps, 117.005) == "S-4"
    assert grid_jurisdictions.station_at(Y1 + eps, 117.005) == "S-3"
    assert grid_jurisdictions.station_at(Y1 - eps, X1 - eps) == "S-4"
    assert grid_jurisdictions.station_at(Y1 + eps, X1 + eps) == "S-1"


def test_station_at_on_the_outer_border_and_outside(grid_jurisdictions: JurisdictionSet) -> None:
    assert grid_jurisdictions.station_at(Y0, 117.005) == "S-4"  # outer edge: covered by S-4 alone
    assert grid_jurisdictions.station_at(Y0, X0) == "S-4"  # outer corner
    assert grid_jurisdictions.station_at(Y0 - 1e-9, 117.005) is None
    assert grid_jurisdictions.station_at(36.015, X2 + 1e-9) is None
    assert grid_jurisdictions.station_at(39.9, 116.4) is None
    assert grid_jurisdictions.station_at(float("nan"), 117.005) is None


def test_the_rule_does_not_depend_on_file_order(tmp_path: Path, grid_jurisdictions: JurisdictionSet) -> None:
    reversed_set = load_jurisdictions(_write(tmp_path, _grid()[::-1], "r.geojson"), validate=False)
    rng = random.Random(1)
    points = [(Y1, X1), (36.005, X1), (Y1, 117.015)] + [
        (rng.choice([Y0, Y1, Y2, rng.uniform(Y0, Y2)]), rng.choice([X0, X1, X2, rng.uniform(X0, X2)]))
        for _ in range(500)
    ]
    for lat, lon in points:
        assert reversed_set.station_at(lat, lon) == grid_jurisdictions.station_at(lat, lon), (lat, lon)


def test_vectorised_lookup_agrees_with_the_scalar_one(grid_jurisdictions: JurisdictionSet,
                                                      demo_jurisdictions: JurisdictionSet) -> None:
    rng = random.Random(2)
    for js, (x0, y0, x1, y1) in ((grid_jurisdictions, (X0 - 0.005, Y0 - 0.005, X2 + 0.005, Y2 + 0.005)),
                                 (demo_jurisdictions, (116.2, 36.0, 117.9, 37.6))):
        pts = [(rng.uniform(y0, y1), rng.uniform(x0, x1)) for _ in range(3000)]
        pts += [(Y1, X1), (36.005, X1), (float("nan"), 117.0)]
        expected = [js.station_at(lat, lon) for lat, lon in pts]
        assert js.stations_at([p[0] for p in pts], [p[1] for p in pts]) == expected
    assert grid_jurisdictions.stations_at([], []) == []


def _area(width_deg: float, height_deg: float, lat: float = 36.005) -> float:
    import math

    return width_deg * height_deg * (math.pi / 180 * 6371.0088) ** 2 * math.cos(math.radians(lat))


def test_an_overlap_is_reported_with_its_area(tmp_path: Path) -> None:
    features = _grid()
    features[0] = _feature("S-4", box(X0, Y0, X1 + 0.002, Y1))  # reaches 0.002° into S-2
    js = load_jurisdictions(_write(tmp_path, features), ["S-1", "S-2", "S-3", "S-4"], districts=AREA)
    overlaps = js.report.of_kind("overlap")
    assert len(overlaps) == 1 and not js.report.ok
    assert overlaps[0].units == ("S-2", "S-4")
    assert overlaps[0].area_km2 == pytest.approx(_area(0.002, 0.01), rel=0.01)  # ~0.2 km²
    lat, lon = overlaps[0].at
    assert X1 < lon < X1 + 0.002 and Y0 < lat < Y1
    assert "S-2 and S-4 overlap" in js.report.render()
    assert js.station_at(36.005, 117.011) == "S-2"  # an overlap still resolves by the rule


def test_a_gap_is_reported_with_its_area_and_neighbours(tmp_path: Path) -> None:
    features = _grid()
    features[0] = _feature("S-4", box(X0, Y0, X1 - 0.002, Y1))  # leaves a strip uncovered
    js = load_jurisdictions(_write(tmp_path, features), ["S-1", "S-2", "S-3", "S-4"], districts=AREA)
    gaps = js.report.of_kind("gap")
    assert len(gaps) == 1 and not js.report.ok
    assert gaps[0].area_km2 == pytest.approx(_area(0.002, 0.01), rel=0.01)
    assert set(gaps[0].units) == {"S-2", "S-3", "S-4"}
    assert "D:" in gaps[0].message and "along the district border" in gaps[0].message
    assert js.station_at(36.005, 117.009) is None  # in the gap: routing falls back


def test_a_hole_between_jurisdictions_is_a_gap(tmp_path: Path) -> None:
    hole = box(117.004, 36.004, 117.006, 36.006)
    features = _grid()
    features[0] = _feature("S-4", box(X0, Y0, X1, Y1).difference(hole))
    js = load_jurisdictions(_write(tmp_path, features), None, districts=AREA)
    (gap,) = js.report.of_kind("gap")
    assert gap.area_km2 == pytest.approx(_area(0.002, 0.002), rel=0.01)
    assert gap.units == ("S-4",) and "along the district border" not in gap.message


def test_unknown_codes_and_stations_without_polygons(tmp_path: Path) -> None:
    features = _grid()
    features[3] = _feature("JN-XX-99", box(X1, Y1, X2, Y2))  # S-1's square under a wrong code
    js = load_jurisdictions(_write(tmp_path, features), ["S-1", "S-2", "S-3", "S-4"], districts=AREA)
    (unknown,) = js.report.of_kind("unknown_code")
    assert unknown.units == ("JN-XX-99",) and unknown.area_km2 == pytest.approx(_area(0.01, 0.01), rel=0.01)
    (missing,) = js.report.of_kind("no_polygon")
    assert missing.units == ("S-1",)
    assert not js.report.ok and len(js.report.errors) == 2


def test_small_slivers_are_within_tolerance(tmp_path: Path) -> None:
    features = _grid()
    features[0] = _feature("S-4", box(X0, Y0, X1 + 0.00001, Y1))  # ~1 m × 1.1 km overlap
    path = _write(tmp_path, features)
    assert load_jurisdictions(path, districts=AREA).report.ok
    strict = load_jurisdictions(path, districts=AREA, tolerance_km2=0.0001)
    assert [p.units for p in strict.report.of_kind("overlap")] == [("S-2", "S-4")]


def test_bad_features_are_reported_not_dropped_silently(tmp_path: Path) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[X0, Y0], [X1, Y1], [X1, Y0], [X0, Y1], [X0, Y0]]]}
    features = _grid() + [
        _feature(None, box(X0, Y0, X1, Y1)),
        _feature("S-5", {"type": "Point", "coordinates": [X0, Y0]}),
        _feature("S-6", bowtie),
        _feature("S-1", box(X1, Y1, X2, Y2)),
    ]
    js = load_jurisdictions(_write(tmp_path, features), districts=AREA)
    kinds = {p.kind for p in js.report.problems}
    assert {"missing_code", "not_polygon", "invalid_geometry", "duplicate_code"} <= kinds
    (invalid,) = js.report.of_kind("invalid_geometry")
    assert invalid.units == ("S-6",) and "Self-intersection" in invalid.message
    assert "S-6" in js and js["S-6"].geometry.is_valid  # repaired, usable
    assert "S-5" not in js
    assert js.report.of_kind("duplicate_code")[0].severity == "warning"
    assert js.report.features == 8


def test_an_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json", encoding="utf-8")
    js = load_jurisdictions(broken)
    assert len(js) == 0 and [p.kind for p in js.report.problems] == ["unreadable"]
    assert js.station_at(36.0, 117.0) is None
    js = load_jurisdictions(_write(tmp_path, [], "empty.geojson"), ["S-1"])
    assert [p.kind for p in js.report.problems] == ["no_polygon"]
    wrong = tmp_path / "wrong.geojson"
    wrong.write_text(json.dumps({"type": "Feature"}), encoding="utf-8")
    assert load_jurisdictions(wrong).report.problems[0].kind == "unreadable"


def test_cli_check_prints_the_report_and_fails_on_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from app import main

    assert main(["geo", "check", str(JINAN_JURISDICTIONS)]) == 0
    out = capsys.readouterr().out
    assert "67 unit(s)" in out and "OK" in out
    features = _grid()
    features[0] = _feature("S-4", box(X0, Y0, X1 + 0.002, Y1))
    assert main(["geo", "check", str(_write(tmp_path, features)), "--no-bureau"]) == 1
    assert "overlap" in capsys.readouterr().out
