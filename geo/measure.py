"""Areas in km² of lon/lat geometries, without a projection library.

The sinusoidal projection (x = R·λ·cos φ, y = R·φ) is exactly equal-area on
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
