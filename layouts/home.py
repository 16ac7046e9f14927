"""The start page: which screens exist."""
from __future__ import annotations

from typing import Any

from dash import html

from layouts.i18n import t


def layout(lang: str = "zh-CN", **_query: Any) -> html.Div:
    return html.Div(
        [
            html.H1(t("platform", lang)),
            html.Ul([html.Li(html.A(t("wall_title", lang), href=f"/wall?lang={lang}"))]),
        ],
        className="home",
    )
