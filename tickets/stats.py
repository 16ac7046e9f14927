"""Small statistics the figures need: the Wilson score interval of a proportion.

A rate of 9 out of 10 and one of 900 out of 1000 are both 90%, but only the second
says much about the unit. The weekly bulletin gives every rate its 95% Wilson score
interval (Wilson 1927; Agresti & Coull 1998 recommend it over the normal "Wald"
interval, which collapses to a point at 0% and 100% and undercovers for small n):

    centre = (p + z²/2n) / (1 + z²/n)
    half   = z / (1 + z²/n) · sqrt(p(1 − p)/n + z²/4n²)

with p = successes / n and z the normal quantile (1.959964 for 95%). The interval
always lies within [0, 1]; with n = 0 there is none.
"""
from __future__ import annotations

import math

Z95 = 1.959963984540054  # the 97.5% quantile of the standard normal


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval (low, high) of ``successes`` out of ``n``; None when n is 0."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"{successes} successes out of {n}")
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # At 0 and n successes the bounds are exactly 0 and 1; say so rather than a rounding error away.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high
