"""The screen registry: every screen of the platform, one line each.

A line names the path, the screen's pure layout (``layouts/<screen>.py``),
its callbacks (``callbacks/<screen>.py``: its page data and Dash callbacks)
and who may open it. The router renders from here, the gate
(``dashboard/auth.py``) decides from here who may open a path and which
callbacks a kiosk may fire, and the app factory registers every screen's
callbacks from here. How to add a screen: docs/SCREENS.md.
"""
from __future__ import annotations

from callbacks import map as map_callbacks
from callbacks import wall as wall_callbacks
from callbacks.screen import Screen, Screens
from layouts import home, wall
from layouts import map as map_layout

SCREENS = Screens((
    Screen("/", home.layout),
    Screen("/wall", wall.layout, wall_callbacks, kiosk=True),
    Screen("/map", map_layout.layout, map_callbacks),
))
