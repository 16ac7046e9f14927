"""The JSON API, version 1: one blueprint, one module per resource.

``errors`` gives every refusal its one shape, ``params`` reads request
parameters, ``pagination`` pages lists, ``serializers`` turns rows into JSON
and ``openapi`` describes it all at ``/api/v1/openapi.json``.
"""
from __future__ import annotations

from dashboard.api import errors
from dashboard.api.base import blueprint

errors.register(blueprint)

# Resource modules register their routes on the blueprint when imported.
from dashboard.api import accounts, figures, live  # noqa: E402,F401
from dashboard.api import sms, supervision  # noqa: E402,F401
from dashboard.api import intake  # noqa: E402,F401
from dashboard.api import alerts, hotspots, maps  # noqa: E402,F401
from dashboard.api import duty, steps, tickets  # noqa: E402,F401
from dashboard.api import bulletins  # noqa: E402,F401
from dashboard.api import audit  # noqa: E402,F401
from dashboard.api import admin  # noqa: E402,F401  (the /admin writes; admin_<section> below)
from dashboard.api import admin_accounts, admin_feeds, admin_walls  # noqa: E402,F401
from dashboard.api import admin_calendar, admin_rules, admin_units  # noqa: E402,F401
from dashboard.api import openapi  # noqa: E402,F401

__all__ = ["blueprint"]
