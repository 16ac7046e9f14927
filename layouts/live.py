"""What every live screen renders for the shared browser module
(``dashboard/assets/live.js``): one marker element whose ``data-`` attributes
say which screen this is, in which language, and hand the page script its
configuration as JSON: the bureau's time zone, the words it shows (in the
page's language) and whatever rules the screen's script applies. Scripts
copy no server rule; they read it here.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dash import html

from layouts.i18n import N_, gettext, texts

MARKER_ID = "live-screen"

# The connection states every live screen shows.
CONNECTION_TEXT = {
    "connecting": N_("Connecting…"),
    "live": N_("Live"),
    "down": N_("Disconnected, reconnecting"),
}


def connection_text(state: str, lang: str) -> str:
    return gettext(CONNECTION_TEXT[state], lang)


def marker(screen: str, lang: str, timezone: str, config: Mapping[str, Any]) -> html.Div:
    """The element the shared module starts from (``MinshengLive.config()`` reads it)."""
    text = {**texts(CONNECTION_TEXT, lang), **config.get("text", {})}
    body = {**config, "screen": screen, "lang": lang, "timezone": timezone, "text": text}
    data: dict[str, Any] = {"data-screen": screen, "data-lang": lang,
                            "data-config": json.dumps(body, ensure_ascii=False)}
    return html.Div(id=MARKER_ID, className="live-screen", **data)
