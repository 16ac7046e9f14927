"""Screen layouts, one module per screen; ``SCREENS`` maps a path to its layout."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from layouts import home, wall
from layouts import map as map_screen

SCREENS: dict[str, Callable[..., Any]] = {
    "/": home.layout,
    "/wall": wall.layout,
    "/map": map_screen.layout,
}
