"""Wall callbacks.

Live data never goes through a server callback: pushes arrive over Socket.IO
and ``assets/live.js`` applies them in the browser (Dash merges rapid prop
updates, so a callback per event would lose events). The one callback
here starts that script once the wall's components exist, because
``set_props`` on a component that has not rendered yet is silently dropped.
"""
from __future__ import annotations

from dash import ClientsideFunction, Dash, Input, Output


def register(app: Dash) -> None:
    app.clientside_callback(
        ClientsideFunction(namespace="live", function_name="start"),
        Output("live-screen", "className"),
        Input("live-screen", "id"),
    )
