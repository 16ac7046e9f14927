"""District boundaries: which district a point is in, and points inside a district.

Routing by place and the per-district figures need the district of an incident;
the simulator needs plausible incident locations. Boundaries come from the
derived files in ``geo/data`` (WGS84, lon/lat in the files); every function
here speaks (lat, lon), the order the rest of the platform uses.
"""
from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from geo.polygon_index import PolygonIndex

DATA = Path(__file__).resolve().parent / "data"
JINAN_FILE = DATA / "jinan_districts.geojson"
JIAXIANG_FILE = DATA / "jiaxiang_county.geojson"

KM_PER_DEG_LAT = 111.32
_MAX_TRIES = 10_000


@dataclass(frozen=True)
class District:
    """One district or county: its Chinese name (the key everywhere), English name, shape."""

    name: str
    name_en: str
    geometry: BaseGeometry
    adcode: str | None = None


def load_districts(path: Path | None = None) -> dict[str, District]:
    """Districts of one GeoJSON file by Chinese name (default: Jinan's 12).

    Cached per path: the files are read once per process. Treat the returned
    dict as read-only, it is shared.
    """
    # resolve() costs a system call: skip it on the hot default path.
    return _load(JINAN_FILE if path is None else Path(path).resolve())


@lru_cache(maxsize=16)
def _load(path: Path) -> dict[str, District]:
    data = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, District] = {}
    for feature in data["features"]:
        props = feature["properties"]
        geom = shape(feature["geometry"])
        shapely.prepare(geom)  # repeated point tests are the hot path
        out[props["district"]] = District(
            name=props["district"],
            name_en=props.get("name_en", props["district"]),
            geometry=geom,
            adcode=props.get("adcode"),
        )
    return out


def district_at(
    lat: float, lon: float, districts: Mapping[str, District] | None = None
) -> str | None:
    """Name of the district containing (lat, lon), or None outside them all.

    A point exactly on a border counts as inside (``covers``); on a border
    shared by two districts the one listed first in the file wins.
    """
    districts = load_districts() if districts is None else districts
    index, names = _lookup(districts)
    # The polygon index (~2 µs, against ~80 µs for a Point and the STRtree): codes are
    # file positions, so its "lowest code wins" on a border is "first listed wins".
    found = index.code_at(lat, lon)
    return names[int(found)] if found is not None else None


# Lookups by the identity of the geometries they index; each keeps its geometries
# alive, so an id cannot be reused while its entry exists.
_LOOKUPS: dict[tuple[int, ...], tuple[PolygonIndex, list[str]]] = {}


def _lookup(districts: Mapping[str, District]) -> tuple[PolygonIndex, list[str]]:
    key = tuple(id(d.geometry) for d in districts.values())
    found = _LOOKUPS.get(key)
    if found is None:
        if len(_LOOKUPS) >= 32:
            _LOOKUPS.clear()
        found = (PolygonIndex((f"{i:06d}", d.geometry) for i, d in enumerate(districts.values())), list(districts))
        _LOOKUPS[key] = found
    return found


def _get(name: str, districts: Mapping[str, District] | None) -> District:
    districts = load_districts() if districts is None else districts
    try:
        return districts[name]
    except KeyError:
        raise KeyError(f"unknown district {name!r}; known: {', '.join(districts)}") from None


def random_point_in(
    name: str, rng: random.Random, districts: Mapping[str, District] | None = None
) -> tuple[float, float]:
    """(lat, lon) uniform inside the district: rejection sampling in its bounding box."""
    geom = _get(name, districts).geometry
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    for _ in range(_MAX_TRIES):
        lon, lat = rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat)
        if shapely.covers(geom, Point(lon, lat)):
            return lat, lon
    raise RuntimeError(f"no point found inside {name} after {_MAX_TRIES} tries")


def weighted_point_in(
    name: str,
    rng: random.Random,
    anchors: Sequence[tuple[float, float]],
    spread_km: float,
    weights: Sequence[float] | None = None,
    districts: Mapping[str, District] | None = None,
) -> tuple[float, float]:
    """(lat, lon) inside the district, Gaussian around one of the (lat, lon) anchors.

    Incidents happen where people are: anchors such as stations or town
    centres make simulated points cluster in built-up areas rather than spread
    evenly over farmland and hills. Points falling outside the district are
    drawn again; with no anchors (or anchors that never land inside) this
    falls back to a uniform point.
    """
    geom = _get(name, districts).geometry
    if anchors:
        for _ in range(_MAX_TRIES // 10):
            lat0, lon0 = rng.choices(anchors, weights=weights)[0]
            lat = lat0 + rng.gauss(0.0, spread_km) / KM_PER_DEG_LAT
            lon = lon0 + rng.gauss(0.0, spread_km) / (KM_PER_DEG_LAT * math.cos(math.radians(lat0)))
            if shapely.covers(geom, Point(lon, lat)):
                return lat, lon
    return random_point_in(name, rng, districts)


def centroid(name: str, districts: Mapping[str, District] | None = None) -> tuple[float, float]:
    """(lat, lon) of the district's centroid, or of a point inside it when the
    centroid falls outside (a concave district), so map labels and default
    locations always land in the district itself."""
    geom = _get(name, districts).geometry
    point = geom.centroid
    if not shapely.covers(geom, point):
        point = geom.point_on_surface()
    return point.y, point.x
