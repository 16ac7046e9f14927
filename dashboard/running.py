"""The platform this Flask app serves (its engine, Redis, aggregator, settings), for views
that need more than the request: set by the app factory (``dashboard.create_platform``)."""
from __future__ import annotations

from typing import Any

from flask import current_app

EXTENSION = "minsheng"


def platform() -> Any:
    """The running ``dashboard.Platform`` of this request's app."""
    return current_app.extensions[EXTENSION]
