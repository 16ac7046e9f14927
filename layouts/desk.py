"""工作台 (/desk): a unit's tickets, most urgent first, with the steps its people take on them."""
from __future__ import annotations

from typing import Any

from dash import html

from layouts import queue
from layouts.i18n import N_

TITLE = N_("Work desk")


def layout(lang: str = "zh-CN", **data: Any) -> html.Div:
    return queue.layout("desk", lang, title=TITLE, **{k: v for k, v in data.items() if k in _FIELDS})


_FIELDS = frozenset({"rows", "position", "timezone", "working", "nav_items", "who", "units"})
