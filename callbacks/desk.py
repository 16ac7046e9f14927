"""工作台: its page data (``callbacks/queue.py``); its rows change by push, its steps go to the API."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callbacks import queue
from callbacks.screen import ScreenContext


def page_data(ctx: ScreenContext, lang: str, query: Mapping[str, str]) -> dict[str, Any]:
    return queue.page_data(ctx, "desk", lang)
