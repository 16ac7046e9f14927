"""The one callback every live screen shares: it starts the shared browser
module (assets/live.js) once the screen's marker (layouts/live.py) exists,
because ``set_props`` on a component that has not rendered yet is silently
dropped. The module then starts the screen's own script by the marker's
``data-screen``."""
from __future__ import annotations

from dash import ClientsideFunction, Dash, Input, Output

from layouts.live import MARKER_ID


def register(app: Dash) -> None:
    app.clientside_callback(
        ClientsideFunction(namespace="live", function_name="start"),
        Output(MARKER_ID, "className"),
        Input(MARKER_ID, "id"),
    )
