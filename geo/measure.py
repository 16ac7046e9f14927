"""Distances and areas on lon/lat coordinates, without a projection library.

Distances are great-circle (haversine) on the mean sphere. For areas, the sinusoidal projection (x = R·λ·cos φ, y = R·φ) is exactly equal-area on
the sphere, so areas computed on it are true areas (to the ~0.3% by which
the sphere differs from the ellipsoid): enough to report overlaps and gaps.
"""
from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)
_RAD = math.pi / 180.0


def _sinusoidal(xy: np.ndarray) -> np.ndarray:
    lon, lat = xy[:, 0] * _RAD, xy[:, 1] * _RAD
    return np.column_stack((EARTH_RADIUS_KM * lon * np.cos(lat), EARTH_RADIUS_KM * lat))


def to_km(geom: BaseGeometry) -> BaseGeometry:
    """The geometry in equal-area kilometres (for areas and lengths, not for display)."""
    return shapely.transform(geom, _sinusoidal)


def area_km2(geom: BaseGeometry) -> float:
    return float(to_km(geom).area)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two (lat, lon) points (haversine)."""
    p1, p2 = lat1 * _RAD, lat2 * _RAD
    dp, dl = p2 - p1, (lon2 - lon1) * _RAD
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return EARTH_RADIUS_KM * 1000.0 * 2 * math.asin(math.sqrt(min(1.0, a)))
