"""Which of a set of coded polygons covers a point: a fast, exact lookup.

Districts (by name) and station jurisdictions (by unit code) are both such a
set. Rule: a point on a polygon's boundary belongs to it (``covers``); where
several polygons cover a point, the **lowest code in string order** wins,
whatever the order they were given in. A point covered by none gives ``None``.
"""
from __future__ import annotations

import math
from typing import Any
from collections.abc import Iterable, Sequence

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

# Grid squares of code_at's index (~1 km): most of a city's squares lie
# inside one polygon; smaller squares, more of them, fewer exact tests.
GRID_DEGREES = 0.01
# A square a border crosses is split FINE_SPLIT × FINE_SPLIT (~140 m) the first time a
# point falls in it: in a city centre, where districts and stations meet every few
# blocks, the exact test on detailed boundaries had taken 6% of intake.
FINE_SPLIT = 8

Cell = str | tuple[int, ...] | None  # a code, the indices of the polygons meeting a square, or nothing


class PolygonIndex:
    """(code, WGS84 lon/lat polygon) pairs, one per code, with a grid index over the prepared
    geometries for single points and an STRtree for many points at once."""

    def __init__(self, polygons: Iterable[tuple[str, BaseGeometry]]) -> None:
        items = sorted(polygons, key=lambda item: item[0])
        self.codes: tuple[str, ...] = tuple(code for code, _ in items)
        self._positions = {code: i for i, code in enumerate(self.codes)}
        if len(self._positions) != len(self.codes):
            raise ValueError("one polygon per code (merge duplicates first)")
        # Index i is codes[i]: the smallest hit index is the lowest code.
        self.geometries = np.array([geom for _, geom in items], dtype=object)
        for g in self.geometries:
            shapely.prepare(g)
        self.tree = STRtree(self.geometries)
        self._grid: tuple[float, float, float, int, int, list[Cell]] | None = None
        self._fine: dict[int, list[Cell]] = {}  # border squares split, by square

    def __len__(self) -> int:
        return len(self.codes)

    def __contains__(self, code: object) -> bool:
        return code in self._positions

    def code_at(self, lat: float, lon: float) -> str | None:
        """Code of the polygon covering (lat, lon); see the module's rule."""
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return None
        x0, y0, size, nx, ny, cells = self._grid or self._build_grid()
        fx, fy = (lon - x0) / size, (lat - y0) / size
        if fx < 0 or fy < 0 or fx >= nx or fy >= ny:
            return None
        ix, iy = int(fx), int(fy)
        cell = cells[ix * ny + iy]
        if cell is None or isinstance(cell, str):
            return cell
        # A square a border crosses: its finer square, then, near the border, the exact test.
        fine = self._fine.get(ix * ny + iy) or self._split(ix, iy, cell)
        sx, sy = min(int((fx - ix) * FINE_SPLIT), FINE_SPLIT - 1), min(int((fy - iy) * FINE_SPLIT), FINE_SPLIT - 1)
        part = fine[sx * FINE_SPLIT + sy]
        if part is None or isinstance(part, str):
            return part
        for i in part:  # lowest code first
            if shapely.intersects_xy(self.geometries[i], lon, lat):
                return self.codes[i]
        return None

    def _split(self, ix: int, iy: int, meeting: tuple[int, ...]) -> list[Cell]:
        """The grid square (ix, iy), which the polygons ``meeting`` meet, split into
        FINE_SPLIT × FINE_SPLIT squares classified as the grid's are (widened alike)."""
        x0, y0, size, _nx, ny, _cells = self._grid  # type: ignore[misc]
        step, eps = size / FINE_SPLIT, 1e-9
        sx, sy = np.divmod(np.arange(FINE_SPLIT * FINE_SPLIT), FINE_SPLIT)
        left, bottom = x0 + ix * size + sx * step, y0 + iy * size + sy * step
        boxes = shapely.box(left - eps, bottom - eps, left + step + eps, bottom + step + eps)
        hits = np.array([shapely.intersects(self.geometries[i], boxes) for i in meeting])  # meeting × boxes
        parts: list[Cell] = []
        for b in range(len(boxes)):
            here = tuple(i for i, hit in zip(meeting, hits[:, b]) if hit)
            if len(here) == 1 and shapely.covers(self.geometries[here[0]], boxes[b]):
                parts.append(self.codes[here[0]])
            else:
                parts.append(here or None)
        self._fine[ix * ny + iy] = parts
        return parts

    def _build_grid(self) -> tuple[float, float, float, int, int, list[Cell]]:
        """A regular grid over the set: each square either lies wholly in one
        polygon and meets no other (its code: no geometry test at all), or
        lists the polygons meeting it (tested exactly, in code order), or
        meets none. Squares are widened by 1e-9° for the test, so a point that
        floating-point division puts in a square is surely inside the widened
        square: the shortcut never changes an answer. Creating a shapely Point
        and querying the STRtree cost ~20 µs a lookup; this costs ~1–2 µs inside
        a polygon and a few µs near a border."""
        size = GRID_DEGREES
        if not len(self.codes):
            self._grid = (0.0, 0.0, size, 0, 0, [])
            return self._grid
        x0, y0, x1, y1 = shapely.total_bounds(self.geometries).tolist()
        nx, ny = int((x1 - x0) / size) + 1, int((y1 - y0) / size) + 1
        ii, jj = np.divmod(np.arange(nx * ny), ny)
        eps = 1e-9
        boxes = shapely.box(x0 + ii * size - eps, y0 + jj * size - eps,
                            x0 + (ii + 1) * size + eps, y0 + (jj + 1) * size + eps)
        square, geom = self.tree.query(boxes, predicate="intersects")
        order = np.lexsort((geom, square))
        square, geom = square[order], geom[order]
        alone = np.bincount(square, minlength=nx * ny)[square] == 1
        whole = np.zeros(len(square), dtype=bool)
        whole[alone] = shapely.covers(self.geometries[geom[alone]], boxes[square[alone]])
        cells: list[Cell] = [None] * (nx * ny)
        for b, g, w in zip(square.tolist(), geom.tolist(), whole.tolist()):
            if w:
                cells[b] = self.codes[g]
            else:
                prev = cells[b]
                cells[b] = (prev if isinstance(prev, tuple) else ()) + (g,)
        self._grid = (x0, y0, size, nx, ny, cells)
        return self._grid

    def codes_at(self, lats: Sequence[float], lons: Sequence[float]) -> list[str | None]:
        """``code_at`` for many points at once (vectorised; same rule)."""
        lat = np.asarray(lats, dtype=float)
        lon = np.asarray(lons, dtype=float)
        n = len(lat)
        if n == 0 or not len(self.codes):
            return [None] * n
        ok = np.isfinite(lat) & np.isfinite(lon)
        points: Any = shapely.points(np.where(ok, lon, 0.0), np.where(ok, lat, 0.0))  # an array for arrays
        points[~ok] = None
        inp, idx = self.tree.query(points)
        hit = shapely.intersects_xy(self.geometries[idx], lon[inp], lat[inp])
        best = np.full(n, len(self.codes))
        np.minimum.at(best, inp[hit], idx[hit])
        codes = self.codes
        return [codes[b] if b < len(codes) else None for b in best.tolist()]
