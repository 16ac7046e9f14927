"""The start page: which screens exist."""
from __future__ import annotations

from typing import Any

from dash import html

from layouts.i18n import N_, gettext

PLATFORM_NAME = N_("Minsheng policing platform")


def layout(lang: str = "zh-CN", **_query: Any) -> html.Div:
    return html.Div(
        [
            html.H1(gettext(PLATFORM_NAME, lang)),
            html.Ul([html.Li(html.A(gettext("Command centre wall", lang), href=f"/wall?lang={lang}"))]),
        ],
        className="home",
    )
