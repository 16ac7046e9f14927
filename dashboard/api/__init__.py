"""The JSON API, version 1: one blueprint, one module per resource.

``errors`` gives every refusal its one shape, ``params`` reads request
parameters, ``pagination`` pages lists, ``serializers`` turns rows into JSON
and ``openapi`` describes it all at ``/api/v1/openapi.json``.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")


def platform() -> Any:
    """The running platform (engine, Redis, aggregator) of this Flask app."""
    from dashboard import current

    return current()


from dashboard.api import errors  # noqa: E402

errors.register(blueprint)

# Resource modules register their routes on the blueprint when imported.
from dashboard.api import accounts, figures, live  # noqa: E402,F401
from dashboard.api import sms, supervision  # noqa: E402,F401
from dashboard.api import intake  # noqa: E402,F401
from dashboard.api import alerts, hotspots, maps  # noqa: E402,F401
from dashboard.api import steps, tickets  # noqa: E402,F401
from dashboard.api import openapi  # noqa: E402,F401
