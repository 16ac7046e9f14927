"""District lookups and sampling on the shipped boundaries (geo/data, not ../shared)."""
from __future__ import annotations

import math
import random

import pytest

from geo.districts import (
    JIAXIANG_FILE,
    centroid,
    district_at,
    load_districts,
    random_point_in,
    weighted_point_in,
)

JINAN = {"历下区", "市中区", "槐荫区", "天桥区", "历城区", "长清区",
         "章丘区", "济阳区", "莱芜区", "钢城区", "平阴县", "商河县"}


def test_the_twelve_districts_with_english_names() -> None:
    districts = load_districts()
    assert set(districts) == JINAN
    assert districts["历下区"].name_en == "Lixia District"
    assert districts["平阴县"].name_en == "Pingyin County"
    assert all(d.geometry.is_valid and d.geometry.area > 0 for d in districts.values())


def test_loading_is_cached() -> None:
    assert load_districts() is load_districts()


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        (36.661, 117.018, "历下区"),   # Quancheng Square
        (36.712, 117.530, "章丘区"),   # Mingshui, Zhangqiu's town centre
        (36.712, 117.010, "天桥区"),   # Luokou, by the Yellow River
        (36.205, 117.670, "莱芜区"),   # Laiwu town centre
        (37.310, 117.157, "商河县"),   # Shanghe town centre
        (36.190, 117.090, None),       # Tai'an, south of Jinan
        (39.904, 116.407, None),       # Beijing
    ],
)
def test_district_at_known_points(lat: float, lon: float, expected: str | None) -> None:
    assert district_at(lat, lon) == expected


def test_a_point_exactly_on_the_city_border_is_inside() -> None:
    # The northernmost vertex of Shanghe lies on Jinan's outer border: `contains`
    # would say no district at all; `covers` says Shanghe.
    geom = load_districts()["商河县"].geometry
    lon, lat = max((xy for poly in geom.geoms for xy in poly.exterior.coords), key=lambda xy: xy[1])
    assert district_at(lat, lon) == "商河县"


def test_random_point_in_is_always_inside() -> None:
    rng = random.Random(7)
    for _ in range(1000):
        lat, lon = random_point_in("历下区", rng)
        assert district_at(lat, lon) == "历下区"
    for name in JINAN:  # every shape, including the odd ones (平阴, 章丘)
        for _ in range(50):
            assert district_at(*random_point_in(name, rng)) == name


def test_random_point_in_spreads_over_the_district() -> None:
    rng = random.Random(3)
    min_lon, min_lat, max_lon, max_lat = load_districts()["章丘区"].geometry.bounds
    lats = [random_point_in("章丘区", rng)[0] for _ in range(500)]
    mid = (min_lat + max_lat) / 2
    assert 0.2 < sum(lat > mid for lat in lats) / len(lats) < 0.8


def test_sampling_is_deterministic_for_a_seed() -> None:
    def draw(seed: int) -> list[tuple[float, float]]:
        rng = random.Random(seed)
        anchors = [(36.664, 117.023), (36.663, 117.098)]
        return [random_point_in("历下区", rng) for _ in range(20)] + [
            weighted_point_in("历下区", rng, anchors, 1.0) for _ in range(20)
        ]

    assert draw(42) == draw(42)
    assert draw(42) != draw(43)


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    dlat = (a[0] - b[0]) * 111.32
    dlon = (a[1] - b[1]) * 111.32 * math.cos(math.radians(a[0]))
    return math.hypot(dlat, dlon)


def test_weighted_point_in_clusters_near_anchors_and_stays_inside() -> None:
    rng = random.Random(11)
    anchors = [(36.712, 117.530), (36.710, 117.450)]  # Mingshui, Shengjing
    points = [weighted_point_in("章丘区", rng, anchors, spread_km=2.0) for _ in range(500)]
    assert all(district_at(*p) == "章丘区" for p in points)
    near = [min(_km(p, a) for a in anchors) for p in points]
    assert sorted(near)[len(near) // 2] < 4.0  # uniform over 章丘 would be far more
    uniform = [random_point_in("章丘区", rng) for _ in range(500)]
    far = [min(_km(p, a) for a in anchors) for p in uniform]
    assert sorted(far)[len(far) // 2] > 10.0


def test_weighted_point_in_respects_weights() -> None:
    rng = random.Random(5)
    anchors = [(36.712, 117.530), (36.740, 117.380)]
    points = [weighted_point_in("章丘区", rng, anchors, 1.0, weights=[9, 1]) for _ in range(400)]
    first = sum(_km(p, anchors[0]) < _km(p, anchors[1]) for p in points)
    assert first > 300


def test_weighted_point_in_falls_back_when_anchors_never_land_inside() -> None:
    rng = random.Random(1)
    lat, lon = weighted_point_in("历下区", rng, [(39.904, 116.407)], spread_km=1.0)  # Beijing
    assert district_at(lat, lon) == "历下区"
    assert district_at(*weighted_point_in("历下区", rng, [], spread_km=1.0)) == "历下区"


def test_centroid_is_inside_its_district() -> None:
    for name in JINAN:
        assert district_at(*centroid(name)) == name


def test_unknown_district_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="历下区"):
        random_point_in("朝阳区", random.Random(0))


def test_jiaxiang_county_file() -> None:
    jiaxiang = load_districts(JIAXIANG_FILE)
    assert set(jiaxiang) == {"嘉祥县"}
    assert jiaxiang["嘉祥县"].name_en == "Jiaxiang County"
    assert district_at(35.408, 116.342, jiaxiang) == "嘉祥县"
    assert district_at(36.661, 117.018, jiaxiang) is None
    rng = random.Random(2)
    assert all(district_at(*random_point_in("嘉祥县", rng, jiaxiang), jiaxiang) == "嘉祥县"
               for _ in range(200))
