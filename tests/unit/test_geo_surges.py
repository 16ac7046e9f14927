"""Early warnings: surges against each area's own baseline, recurring issues in one cell."""
from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta, timezone

import h3
import pytest

from geo.districts import load_districts, random_point_in
from geo.surges import ALPHA, detect_recurring, detect_surges, upper_tail
from tests.helpers import poisson
from tickets.vocabulary import TOPICS

DISTRICTS = list(load_districts())  # Jinan's twelve, as the boundary data lists them
# Daily rates per district drawn from these ranges: busy topics well above the
# bureau's "ten a day", so the statistical part of the rule is what keeps quiet.
TOPIC_RATES = {"noise": (1, 12), "theft": (0.5, 6), "dispute": (2, 15), "traffic": (3, 20),
               "household": (0.5, 4), "other": (1, 8)}
START = date(2026, 10, 1)  # 28 baseline days, then the week under test
WEEK = [START + timedelta(days=28 + i) for i in range(7)]
SEEDS = range(50)


def _city(seed: int) -> dict[tuple[str, str, date], int]:
    """35 ordinary days: Poisson per (topic, district), weekends a little busier."""
    rng = random.Random(seed)
    rates = {(t, d): rng.uniform(*r) for t, r in TOPIC_RATES.items() for d in DISTRICTS}
    rates[("noise", "历下区")] = 3.0  # where the burst goes
    counts = {}
    for i in range(35):
        day = START + timedelta(days=i)
        swing = 1.15 if day.weekday() >= 5 else 0.95
        for (topic, district), lam in rates.items():
            counts[(topic, district, day)] = poisson(rng, lam * swing)
    return counts


def _week(counts: dict[tuple[str, str, date], int]) -> list:
    return [s for day in WEEK for s in detect_surges(counts, day, labels=TOPICS)]


@pytest.mark.parametrize("seed", SEEDS)
def test_a_burst_of_noise_complaints_gives_exactly_one_surge(seed: int) -> None:
    counts = _city(seed)
    burst_day = WEEK[3]
    counts[("noise", "历下区", burst_day)] += 18  # a new bar: 18 extra complaints in one night
    surges = _week(counts)
    assert [(s.topic, s.area, s.day) for s in surges] == [("noise", "历下区", burst_day)]
    s = surges[0]
    assert s.count >= 15 and s.count >= s.threshold >= 10
    assert 1.5 < s.baseline_mean < 4.5 and s.baseline_days == 28
    assert s.p_value < ALPHA / 72  # Bonferroni over the 72 series
    assert "噪音扰民" in s.reason and "历下区" in s.reason and f"{s.count} 起" in s.reason


def test_a_normal_week_produces_no_surge_over_many_seeds() -> None:
    fired = [(seed, s.reason) for seed in SEEDS for s in _week(_city(seed))]
    assert fired == []


def test_the_background_would_fire_a_naive_rule() -> None:
    # The test above can fail: "ten or more a day" alone, or a per-series
    # p < 0.001 without the share for many series, fires on this background.
    counts = _city(0)
    naive = [k for k, n in counts.items() if k[2] in WEEK and n >= 10]
    assert len(naive) > 50
    loose = [s for seed in SEEDS for day in WEEK
             for s in detect_surges(_city(seed), day, alpha=0.001 * 72)]
    assert loose


def test_the_bureaus_example_more_than_ten_noise_complaints_a_day() -> None:
    today = date(2026, 11, 22)
    quiet = {("noise", "JN-LX-01", today - timedelta(days=i)): 1 for i in range(1, 29)}
    assert [s.count for s in detect_surges({**quiet, ("noise", "JN-LX-01", today): 11}, today)] == [11]
    assert detect_surges({**quiet, ("noise", "JN-LX-01", today): 9}, today) == []  # below min_count
    # An area with no history at all: ten in a day is still a surge (the mean's floor).
    assert len(detect_surges({("noise", "new-area", today): 10}, today)) == 1
    # A busy area for which 11 is ordinary: no alert.
    busy = {("noise", "JN-LX-02", today - timedelta(days=i)): 10 + i % 3 for i in range(1, 29)}
    assert detect_surges({**busy, ("noise", "JN-LX-02", today): 11}, today) == []
    assert detect_surges({**busy, ("noise", "JN-LX-02", today): 30}, today)[0].threshold < 30


def test_an_overdispersed_baseline_needs_a_bigger_surge() -> None:
    today = date(2026, 11, 22)
    steady = {("noise", "A", today - timedelta(days=i)): 5 for i in range(1, 29)}
    swinging = {("noise", "A", today - timedelta(days=i)): (1 if i % 2 else 9) for i in range(1, 29)}
    t_steady = detect_surges({**steady, ("noise", "A", today): 60}, today)[0].threshold
    t_swing = detect_surges({**swinging, ("noise", "A", today): 60}, today)[0].threshold
    assert t_swing > t_steady


def test_upper_tail_matches_poisson_when_variance_is_close_to_the_mean() -> None:
    lam = 3.0
    poisson = 1 - sum(math.exp(-lam) * lam**k / math.factorial(k) for k in range(10))
    assert upper_tail(10, lam, lam * (1 + 1e-9)) == pytest.approx(poisson, rel=1e-4)
    assert upper_tail(0, lam, 4.0) == 1.0
    tails = [upper_tail(c, 5.0, 8.0) for c in range(1, 60)]
    assert all(a > b for a, b in zip(tails, tails[1:])) and tails[-1] > 0


# ---------------------------------------------------------------- recurring

NOW = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)


def _cluster(rng: random.Random, lat: float, lon: float, n: int, topic: str = "noise",
             days: float = 5) -> list[tuple]:
    c_lat, c_lon = h3.cell_to_latlng(h3.latlng_to_cell(lat, lon, 9))
    d = 25 / 111_000  # within ~25 m of the cell centre (the cell's edge is ~200 m)
    return [(c_lat + rng.uniform(-d, d), c_lon + rng.uniform(-d, d), topic,
             NOW - timedelta(days=rng.uniform(0, days)), f"T{i}") for i in range(n)]


def _scattered(rng: random.Random, n: int, topic: str = "noise") -> list[tuple]:
    return [(*random_point_in("历下区", rng), topic, NOW - timedelta(days=rng.uniform(0, 7)), f"S{i}")
            for i in range(n)]


@pytest.mark.parametrize("seed", range(10))
def test_recurring_finds_a_planted_cluster_and_not_scattered_points(seed: int) -> None:
    rng = random.Random(seed)
    planted = _cluster(rng, 36.6645, 117.0240, 4)
    found = detect_recurring(planted + _scattered(rng, 60), now=NOW, labels=TOPICS)
    assert len(found) == 1
    r = found[0]
    assert (r.topic, r.cell, r.count) == ("noise", h3.latlng_to_cell(36.6645, 117.0240, 9), 4)
    assert sorted(r.ticket_ids) == ["T0", "T1", "T2", "T3"]
    assert r.unit_code == "JN-LX-01" and r.window_days == 7
    assert "噪音扰民" in r.reason and "4 起" in r.reason
    assert detect_recurring(_scattered(random.Random(seed + 100), 60), now=NOW) == []


def test_recurring_needs_the_same_topic_within_the_window() -> None:
    rng = random.Random(5)
    two = _cluster(rng, 36.6645, 117.0240, 2)
    other_topic = _cluster(rng, 36.6645, 117.0240, 2, topic="theft")
    assert detect_recurring(two + other_topic, now=NOW) == []  # 2 + 2 of different topics
    old = [(lat, lon, t, at - timedelta(days=10), i) for lat, lon, t, at, i in _cluster(rng, 36.6645, 117.0240, 5)]
    assert detect_recurring(two + old, now=NOW) == []  # the old ones are outside the 7 days
    assert len(detect_recurring(two + old, now=NOW, window_days=20)) == 1
    assert detect_recurring(two, now=NOW, min_count=2)[0].count == 2
    # Without ids and without `now`: the latest ticket ends the window.
    plain = [row[:4] for row in _cluster(rng, 36.712, 117.010, 3)]
    (r,) = detect_recurring(plain)
    assert r.ticket_ids == () and r.unit_code == "JN-TQ-01"


def test_days_without_data_are_no_baseline() -> None:
    """Before a feed starts (or while it is down) an area's empty days say nothing: the
    baseline is its days with data only."""
    today = date(2026, 12, 3)
    fed = {(topic, "A", today - timedelta(days=i)): n for i in range(1, 11)
           for topic, n in (("noise", 5), ("theft", 2))}  # ten days of data, eighteen before without
    found = detect_surges({**fed, ("noise", "A", today): 12}, today)
    assert found == []  # 12 against 5 a day; against 50/28 = 1.8 a day it was a "surge"
    s = detect_surges({**fed, ("noise", "A", today): 25}, today)[0]
    assert s.baseline_mean == 5.0 and s.baseline_days == 10 and s.p_value is not None
    assert "近28日中有数据的 10 日日均 5.0 起" in s.reason


def test_without_a_real_baseline_the_floor_applies_alone() -> None:
    today = date(2026, 12, 3)
    one_day = {("noise", "A", today - timedelta(days=10)): 3, ("theft", "A", today - timedelta(days=10)): 3}
    assert detect_surges({**one_day, ("noise", "A", today): 9}, today) == []
    s = detect_surges({**one_day, ("noise", "A", today): 10}, today)[0]
    assert (s.threshold, s.baseline_mean, s.p_value, s.baseline_days) == (10, None, None, 1)
    assert "达到固定阈值 10 起" in s.reason and "有数据 1 日" in s.reason
    # Days enough but too few of the series' own tickets: the floor too (here 12 with a higher floor).
    thin = {**{("theft", "A", today - timedelta(days=i)): 4 for i in range(1, 29)},
            ("noise", "A", today - timedelta(days=3)): 1}
    assert detect_surges({**thin, ("noise", "A", today): 11}, today, min_count=12) == []
    s = detect_surges({**thin, ("noise", "A", today): 12}, today, min_count=12)[0]
    assert s.p_value is None and s.baseline_days == 28
    # A real baseline decides by probability: the same count is ordinary for a busy series.
    busy = {**thin, **{("noise", "A", today - timedelta(days=i)): 11 for i in range(1, 29)}}
    assert detect_surges({**busy, ("noise", "A", today): 12}, today, min_count=12) == []
