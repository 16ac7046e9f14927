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

from layouts.i18n import DEFAULT_LANGUAGE, N_, gettext, texts

MARKER_ID = "live-screen"
SNAPSHOT_URL = "/api/v1/live/snapshot"
# The pages whose first snapshot is asked for before Dash renders them (the walls).
EARLY_SNAPSHOT_PATHS = ("/wall",)

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


def early_snapshot_script() -> str:
    """An inline script for the page's <head>: on a wall, ask for its first snapshot at once,
    while the page's scripts load and Dash renders it (that used to come first: scripts,
    layout, the router's answer, the screen's start, and only then the snapshot).
    ``MinshengLive.early(url)`` (assets/live.js) hands the answer to the first fetch of that
    URL. The URL is the one the screen asks for: its language as ``layouts.i18n.normalise``
    reads ``?lang=``, and a branch wall's ``&unit=``."""
    params = json.dumps({"paths": EARLY_SNAPSHOT_PATHS, "url": SNAPSHOT_URL, "default": DEFAULT_LANGUAGE})
    return (
        "<script>(function (c) {"
        "var path = location.pathname.replace(/\\/+$/, '') || '/';"
        "if (c.paths.indexOf(path) < 0 || !window.fetch || !window.URLSearchParams) { return; }"
        "var q = new URLSearchParams(location.search);"
        "var lang = (q.get('lang') || '').toLowerCase().replace(/_/g, '-').indexOf('en') === 0 ? 'en' : c.default;"
        "var url = c.url + '?lang=' + encodeURIComponent(lang)"
        " + (q.get('unit') ? '&unit=' + encodeURIComponent(q.get('unit')) : '');"
        "var answer = fetch(url, {credentials: 'same-origin'});"
        "answer.catch(function () {});"  # not taken, or failed: the screen asks again itself
        "window.minshengEarly = {url: url, answer: answer};"
        "})(" + params + ");</script>"
    )
