"""Coordinate systems of Chinese maps: WGS84 ⇄ GCJ-02 ⇄ BD-09.

Every point the platform stores is WGS84 (GPS, the boundary files, GeoJSON).
Records from Chinese systems may arrive in GCJ-02 (the state "offset"
coordinates used by Amap, Tencent and most apps) or BD-09 (Baidu, a further
offset on GCJ-02); a feed declares which one it uses and ``to_wgs84`` converts
on the way in.

The forward transforms (WGS84 → GCJ-02 → BD-09) are the standard published
formulas (Krasovsky 1940 ellipsoid, the well-known polynomial-and-sine offset;
Baidu's rotation-and-scale on top). They have no closed-form inverse: the
widely copied one-step "inverse" (subtract the offset computed at the wrong
point) is off by up to ~2 m for GCJ-02 and ~0.2 m for BD-09, so both
inverses here iterate the forward transform to convergence (far below 1e-6°).

GCJ-02 leaves points outside China (a bounding box, as every implementation
uses) unchanged; BD-09 is always defined on top of GCJ-02. Every function
takes and returns (lat, lon), the order the rest of the platform uses.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, get_args

System = Literal["wgs84", "gcj02", "bd09"]
SYSTEMS: tuple[str, ...] = get_args(System)

# Krasovsky 1940 ellipsoid, as the GCJ-02 formula uses it.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0
# The inverses stop when the forward transform of the estimate lands this
# close (degrees; ~1 µm) to the input: far below the 1e-6° (~0.1 m) promised.
_TOLERANCE = 1e-11
_MAX_ITERATIONS = 30


def out_of_china(lat: float, lon: float) -> bool:
    """The bounding box outside which GCJ-02 applies no offset."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _offset_lat(x: float, y: float) -> float:
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _offset_lon(x: float, y: float) -> float:
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    if out_of_china(lat, lon):
        return lat, lon
    dlat = _offset_lat(lon - 105.0, lat - 35.0)
    dlon = _offset_lon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * math.pi
    magic = 1.0 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return lat + dlat, lon + dlon


def gcj02_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def _bd09_to_gcj02_approx(lat: float, lon: float) -> tuple[float, float]:
    """Baidu's published one-step inverse: a starting point (error up to ~2e-6°)."""
    x, y = lon - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.sin(theta), z * math.cos(theta)


def _invert(
    forward: Callable[[float, float], tuple[float, float]],
    lat: float,
    lon: float,
    start: tuple[float, float],
) -> tuple[float, float]:
    """Solve forward(p) == (lat, lon) for p by fixed-point iteration.

    Both offsets change by a tiny fraction of a degree per degree, so
    p ← p + (target − forward(p)) contracts fast: 2–4 rounds in practice.
    """
    est_lat, est_lon = start
    for _ in range(_MAX_ITERATIONS):
        f_lat, f_lon = forward(est_lat, est_lon)
        d_lat, d_lon = lat - f_lat, lon - f_lon
        if abs(d_lat) < _TOLERANCE and abs(d_lon) < _TOLERANCE:
            break
        est_lat, est_lon = est_lat + d_lat, est_lon + d_lon
    return est_lat, est_lon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    if out_of_china(lat, lon):
        return lat, lon
    return _invert(wgs84_to_gcj02, lat, lon, (lat, lon))


def bd09_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    return _invert(gcj02_to_bd09, lat, lon, _bd09_to_gcj02_approx(lat, lon))


def wgs84_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))


def bd09_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))


def normalize_system(name: str) -> System:
    """'WGS-84', 'gcj_02', 'BD09' … → 'wgs84' | 'gcj02' | 'bd09' (ValueError otherwise)."""
    key = name.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    if key not in SYSTEMS:
        raise ValueError(f"unknown coordinate system {name!r}; one of: {', '.join(SYSTEMS)}")
    return key  # type: ignore[return-value]


_TO_WGS84 = {"wgs84": lambda lat, lon: (lat, lon), "gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}
_FROM_WGS84 = {"wgs84": lambda lat, lon: (lat, lon), "gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}


def to_wgs84(lat: float, lon: float, system: str) -> tuple[float, float]:
    """(lat, lon) given in ``system`` → WGS84, the platform's storage system."""
    return _TO_WGS84[normalize_system(system)](lat, lon)


def from_wgs84(lat: float, lon: float, system: str) -> tuple[float, float]:
    """WGS84 → ``system`` (for sending points back to a GCJ-02 or Baidu client)."""
    return _FROM_WGS84[normalize_system(system)](lat, lon)


def convert(lat: float, lon: float, source: str, target: str) -> tuple[float, float]:
    """Between any two of the three systems."""
    src, dst = normalize_system(source), normalize_system(target)
    if src == dst:
        return lat, lon
    if (src, dst) == ("gcj02", "bd09"):  # direct: no round trip through WGS84
        return gcj02_to_bd09(lat, lon)
    if (src, dst) == ("bd09", "gcj02"):
        return bd09_to_gcj02(lat, lon)
    return from_wgs84(*to_wgs84(lat, lon, src), dst)
