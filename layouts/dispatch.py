"""派单台 (/dispatch): what waits for the platform office: tickets to route, reports to review,
answers to send, and likely duplicates to merge or keep apart."""
from __future__ import annotations

from typing import Any

from dash import html

from layouts import queue
from layouts.i18n import N_

TITLE = N_("Dispatch desk")


def layout(lang: str = "zh-CN", **data: Any) -> html.Div:
    return queue.layout("dispatch", lang, title=TITLE, **{k: v for k, v in data.items() if k in _FIELDS})


_FIELDS = frozenset({"rows", "position", "timezone", "working", "nav_items", "who", "units", "suggestions"})
