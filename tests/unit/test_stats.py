"""The Wilson score interval against published reference values, not against itself.

References: Newcombe, R. G. (1998), "Two-sided confidence intervals for the single
proportion: comparison of seven methods", Statistics in Medicine 17, 857–872, Table II,
method 3 (score interval without continuity correction), 95%; the same values are given
by statsmodels' ``proportion_confint(count, nobs, method="wilson")``.
"""
from __future__ import annotations

import pytest

from tickets.stats import wilson

NEWCOMBE_TABLE_II = [  # (successes, n, low, high)
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("k", "n", "low", "high"), NEWCOMBE_TABLE_II)
def test_wilson_matches_newcombes_table(k: int, n: int, low: float, high: float) -> None:
    got = wilson(k, n)
    assert got is not None
    assert got[0] == pytest.approx(low, abs=5e-5) and got[1] == pytest.approx(high, abs=5e-5)


def test_wilson_at_the_edges() -> None:
    assert wilson(0, 0) is None
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0  # type: ignore[index]
    low, high = wilson(9, 10)  # type: ignore[misc]
    assert low < 0.9 < high  # not symmetric about p at small n, unlike the Wald interval
    with pytest.raises(ValueError):
        wilson(11, 10)
