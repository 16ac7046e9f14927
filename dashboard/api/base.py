"""The API's blueprint, apart from the package that imports every resource module onto it."""
from __future__ import annotations

from flask import Blueprint

from dashboard.running import platform

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")

__all__ = ["blueprint", "platform"]
