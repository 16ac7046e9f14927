"""What a live screen starts from: the live aggregator's snapshot (counters,
flow, ticker, unit table, warnings as codes), tagged with its (epoch, seq),
plus the channel order and the domain labels in the screen's language.
Pushes carry on from its ``seq``."""
from __future__ import annotations

from typing import Any, Protocol

from layouts.i18n import labels
from tickets.vocabulary import CHANNELS


class Snapshots(Protocol):
    """The live state (``dashboard.live.aggregator.LiveAggregator``)."""

    def snapshot(self) -> dict[str, Any]: ...


def snapshot(live: Snapshots, lang: str) -> dict[str, Any]:
    body = live.snapshot()
    body["channels"] = list(CHANNELS)
    body["labels"] = labels(lang)
    return body
