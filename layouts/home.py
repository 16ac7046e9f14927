"""The start page: the screens this user may open (each role lands on its own after login)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import html

from layouts.i18n import N_, gettext

PLATFORM_NAME = N_("Minsheng policing platform")
# Where each role lands after logging in (the start page lists the rest).
HOME_BY_ROLE = {"handler": "/desk", "supervisor": "/desk", "viewer": "/desk", "dispatcher": "/dispatch",
                "admin": "/dispatch", "leader": "/wall", "duty_officer": "/duty"}


def layout(lang: str = "zh-CN", nav_items: Sequence[tuple[str, str]] = (("/wall", N_("Command centre wall")),),
           **_query: Any) -> html.Div:
    return html.Div(
        [
            html.H1(gettext(PLATFORM_NAME, lang)),
            html.Ul([html.Li(html.A(gettext(title, lang), href=f"{path}?lang={lang}")) for path, title in nav_items]),
        ],
        className="home",
    )
