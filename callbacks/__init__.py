"""Screen callbacks, one module per screen; ``register`` wires them all into a Dash app."""
from __future__ import annotations

from dash import Dash

from callbacks import map as map_callbacks
from callbacks import router, wall


def register(app: Dash) -> None:
    router.register(app)
    wall.register(app)
    map_callbacks.register(app)
