"""Hotspots on the H3 grid: counts per cell, top cells with trend and station."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import h3
import pytest

from geo.districts import random_point_in
from geo.hotspots import (
    DEFAULT_RESOLUTION,
    Cell,
    cell_area_km2,
    hotspot_cells,
    previous_window,
    top_hotspots,
    trend,
)
from geo.jurisdictions import station_at

T0 = datetime(2026, 11, 20, tzinfo=timezone.utc)
LUOKOU = (36.712, 117.010)
MINGSHUI = (36.712, 117.530)


def _around(rng: random.Random, lat: float, lon: float, n: int, topic: str, start: datetime,
            hours: float = 24, metres: float = 60) -> list[tuple[float, float, str, datetime]]:
    c_lat, c_lon = h3.cell_to_latlng(h3.latlng_to_cell(lat, lon, DEFAULT_RESOLUTION))
    d = metres / 111_000
    return [(c_lat + rng.uniform(-d, d), c_lon + rng.uniform(-d, d), topic,
             start + timedelta(hours=rng.uniform(0, hours))) for _ in range(n)]


def test_default_resolution_is_about_three_quarters_of_a_square_km() -> None:
    assert DEFAULT_RESOLUTION == 8
    assert cell_area_km2() == pytest.approx(0.74, abs=0.01)


def test_counts_per_cell_busiest_first() -> None:
    rng = random.Random(1)
    points = _around(rng, *LUOKOU, 30, "noise", T0) + _around(rng, *MINGSHUI, 12, "theft", T0)
    points += [(*random_point_in("商河县", rng), "noise", T0) for _ in range(5)]
    points += [(None, None, "noise", T0)]  # no coordinates: skipped
    cells = hotspot_cells(points)
    assert [c.count for c in cells[:2]] == [30, 12]
    assert cells[0].cell == h3.latlng_to_cell(*LUOKOU, 8)
    assert cells[0].topics == {"noise": 30}
    assert sum(c.count for c in cells) == 47
    assert all(h3.get_resolution(c.cell) == 8 for c in cells)
    assert cells[0].first_at <= cells[0].last_at
    lat, lon = h3.cell_to_latlng(cells[0].cell)
    assert (cells[0].lat, cells[0].lon) == (lat, lon)


def test_filters_and_resolution() -> None:
    rng = random.Random(2)
    points = _around(rng, *LUOKOU, 10, "noise", T0) + _around(rng, *LUOKOU, 4, "theft", T0)
    assert [c.count for c in hotspot_cells(points, topic="theft")] == [4]
    late = _around(rng, *LUOKOU, 6, "noise", T0 + timedelta(days=2))
    assert [c.count for c in hotspot_cells(points + late, start=T0 + timedelta(days=1))] == [6]
    assert [c.count for c in hotspot_cells(points + late, end=T0 + timedelta(days=1))] == [14]
    fine = hotspot_cells(points, resolution=10)
    assert all(h3.get_resolution(c.cell) == 10 for c in fine) and sum(c.count for c in fine) == 14
    assert len(fine) > 1  # 60 m of scatter spans several ~0.015 km² cells


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [(5, 0, "new"), (13, 10, "up"), (12, 10, "flat"), (100, 85, "flat"), (110, 85, "up"),
     (10, 14, "down"), (0, 2, "flat"), (1, 1, "flat")],
)
def test_trend(current: int, previous: int, expected: str) -> None:
    assert trend(current, previous) == expected


def test_top_hotspots_with_trend_and_station() -> None:
    def cell(latlon: tuple[float, float], count: int) -> Cell:
        c = h3.latlng_to_cell(*latlon, 8)
        lat, lon = h3.cell_to_latlng(c)
        return Cell(c, lat, lon, count)

    quiet = (36.66, 117.10)  # 姚家
    current = [cell(LUOKOU, 20), cell(MINGSHUI, 9), cell(quiet, 4)]
    previous = [cell(LUOKOU, 8), cell(MINGSHUI, 9), cell((37.31, 117.157), 50)]
    top = top_hotspots(current, previous, n=2)
    assert [(h.count, h.previous, h.change, h.trend) for h in top] == [(20, 8, 12, "up"), (9, 9, 0, "flat")]
    assert top[0].unit_code == station_at(top[0].lat, top[0].lon) == "JN-TQ-01"
    assert top[1].unit_code == "JN-ZQ-01"
    assert [h.trend for h in top_hotspots(current, [], n=5)] == ["new", "new", "new"]


def test_top_hotspots_compare_with_the_window_before() -> None:
    """As the API ranks them: the window's cells against those of the window just before."""
    rng = random.Random(3)
    start, end = T0, T0 + timedelta(days=1)
    assert previous_window(start, end) == (T0 - timedelta(days=1), T0)
    points = (_around(rng, *LUOKOU, 15, "noise", start) + _around(rng, *LUOKOU, 5, "noise", start - timedelta(days=1))
              + _around(rng, *MINGSHUI, 3, "noise", start) + _around(rng, *MINGSHUI, 9, "noise", start - timedelta(days=1))
              + _around(rng, *LUOKOU, 40, "noise", start - timedelta(days=3)))  # too old for either window
    before_start, before_end = previous_window(start, end)
    top = top_hotspots(hotspot_cells(points, start=start, end=end),
                       hotspot_cells(points, start=before_start, end=before_end), n=5)
    assert [(h.count, h.previous, h.trend, h.unit_code) for h in top] == [
        (15, 5, "up", "JN-TQ-01"), (3, 9, "down", "JN-ZQ-01")]
