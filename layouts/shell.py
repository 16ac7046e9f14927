"""The outer frame every screen renders into (slapdash style: URL → layout)."""
from __future__ import annotations

from dash import dcc, html


def layout() -> html.Div:
    return html.Div([dcc.Location(id="url", refresh=False), html.Div(id="page")], id="shell")
