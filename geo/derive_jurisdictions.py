"""Derive demo station jurisdictions: each district split among its stations.

Real jurisdictions (派出所辖区) follow streets, rivers and sub-district lines
and are the bureau's own data (see geo/jurisdictions.py for loading them).
For the demo every district is divided into the Voronoi cells of its
stations (each point of the district goes to the nearest station of that
district), clipped to the district's boundary: a plausible, complete split
with no overlaps and no gaps, and every station inside its own cell.

    .venv/bin/python app.py geo derive      (or: python -m geo.derive_jurisdictions)

Inputs: the bureau files (examples/*.yaml, station codes and coordinates) and
the district boundaries in geo/data. Outputs: geo/data/*_station_jurisdictions.geojson.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
import yaml
from shapely.geometry import MultiPoint, mapping

from geo.districts import JIAXIANG_FILE, JINAN_FILE, District, load_districts
from geo.jurisdictions import JIAXIANG_JURISDICTIONS, JINAN_JURISDICTIONS
from geo.measure import area_km2

ROOT = Path(__file__).resolve().parent.parent
SOURCE = "derived for the demo: Voronoi cells of the district's stations, clipped to the district"
# (bureau file, boundary file, output)
DEMOS = (
    (ROOT / "examples" / "jinan_bureau.yaml", JINAN_FILE, JINAN_JURISDICTIONS),
    (ROOT / "examples" / "jiaxiang_bureau.yaml", JIAXIANG_FILE, JIAXIANG_JURISDICTIONS),
)
# ~0.1 m: neighbours compute the same shared vertex, so they round alike.
_DIGITS = 6


@dataclass(frozen=True)
class Station:
    code: str
    name: str
    name_en: str | None
    district: str | None
    lat: float
    lon: float


def bureau_stations(path: Path) -> list[Station]:
    """The stations of a bureau YAML file (district inherited from the parent, as load_bureau does)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    out: list[Station] = []

    def walk(node: Any, district: str | None) -> None:
        if not isinstance(node, dict):
            return
        district = node.get("district", district)
        if node.get("kind") == "station" and node.get("lat") is not None and node.get("lon") is not None:
            out.append(Station(str(node["code"]), str(node.get("name", "")), node.get("name_en"),
                               district, float(node["lat"]), float(node["lon"])))
        for child in node.get("children") or []:
            walk(child, district)

    walk(data.get("bureau"), None)
    return out


def split_district(district: District, stations: list[Station]) -> dict[str, shapely.Geometry]:
    """Unit code → its cell: the part of the district nearer to it than to the district's other stations."""
    if len(stations) == 1:
        return {stations[0].code: district.geometry}
    # A degree of longitude is cos(lat) of a degree of latitude: split in a
    # locally true-to-scale plane, so "nearest" means nearest on the ground.
    k = math.cos(math.radians(district.geometry.centroid.y))
    squash = lambda xy: xy * (k, 1.0)  # noqa: E731
    sites = shapely.transform(MultiPoint([(s.lon, s.lat) for s in stations]), squash)
    # ordered=True: cell i belongs to station i; extend_to: cells reach the district's edge.
    cells = shapely.voronoi_polygons(
        sites, extend_to=shapely.transform(district.geometry, squash), ordered=True)
    out = {}
    for station, cell in zip(stations, shapely.get_parts(cells)):
        cell = shapely.transform(cell, lambda xy: xy / (k, 1.0))
        clipped = shapely.intersection(cell, district.geometry)
        clipped = shapely.set_precision(clipped, 10**-_DIGITS)  # round, keeping it valid
        if clipped.geom_type == "Polygon":
            clipped = shapely.MultiPolygon([clipped])
        out[station.code] = clipped
    return out


def derive(bureau: Path, boundaries: Path, target: Path) -> Path:
    districts = load_districts(boundaries)
    by_district: dict[str, list[Station]] = {}
    for s in bureau_stations(bureau):
        by_district.setdefault(s.district or "", []).append(s)
    features = []
    for name, district in districts.items():
        stations = by_district.get(name, [])
        if not stations:
            print(f"{name}: no stations in {bureau.name}, left without jurisdictions")
            continue
        cells = split_district(district, stations)
        if not shapely.coverage_is_valid(list(cells.values())):
            raise SystemExit(f"{name}: derived cells overlap")
        lost = area_km2(shapely.symmetric_difference(district.geometry, shapely.union_all(list(cells.values()))))
        print(f"{name}: {len(cells)} stations, {area_km2(district.geometry):,.1f} km², "
              f"union differs from the district by {lost:.6f} km²")
        for s in stations:
            features.append({
                "type": "Feature",
                "properties": {"unit_code": s.code, "name": s.name, "name_en": s.name_en,
                               "district": name, "source": SOURCE},
                "geometry": mapping(cells[s.code]),  # type: ignore[arg-type]  # a shapely geometry is one
            })
    _write(features, target)
    return target


def _write(features: Iterable[Mapping[str, Any]], target: Path) -> None:
    # One feature per line: small diffs when the data is regenerated.
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    target.write_text('{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n",
                      encoding="utf-8")
    print(f"wrote {target} ({target.stat().st_size // 1024} KB, {len(lines)} jurisdictions)")


def main() -> list[Path]:
    return [derive(bureau, boundaries, target) for bureau, boundaries, target in DEMOS]


if __name__ == "__main__":
    main()
