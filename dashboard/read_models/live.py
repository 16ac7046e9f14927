"""What a live screen starts from: the aggregator's snapshot (counters, flow,
ticker, unit table, warnings as codes), tagged with its (epoch, seq), plus the
channel order and the domain labels in the screen's language. Pushes carry on
from its ``seq``."""
from __future__ import annotations

from typing import Any

from dashboard.live.aggregator import LiveAggregator
from layouts.i18n import labels
from tickets.vocabulary import CHANNELS


def snapshot(aggregator: LiveAggregator, lang: str) -> dict[str, Any]:
    body = aggregator.snapshot()
    body["channels"] = list(CHANNELS)
    body["labels"] = labels(lang)
    return body
