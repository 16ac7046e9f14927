"""What a screen is, and what its callbacks may ask of the platform.

A screen's callbacks module (``callbacks/<screen>.py``) may define

* ``page_data(ctx, lang, query) -> dict``: what its layout needs besides the
  language and the URL's query, fetched through the read models
  (``dashboard/read_models/``) in the caller's scope; the router calls it
  and hands the answer to the layout;
* ``register(app, ctx)``: its Dash callbacks.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from dash.development.base_component import Component

from tickets import sla

from layouts.i18n import labels
from tickets.uow import UnitOfWork
from tickets.roles import Actor


class ScreenContext(Protocol):
    """What a screen's callbacks may ask of the platform, inside a request."""

    @property
    def settings(self) -> Any: ...

    def actor(self) -> Actor | None:
        """Who is asking (None: nobody, e.g. outside a request)."""

    def session(self) -> AbstractContextManager[UnitOfWork]:
        """A read session on the platform's database."""

    def may_view(self, path: str) -> bool:
        """May the caller see the screen at ``path``?"""

    def nav(self) -> list[tuple[str, str]]:
        """(path, English title) of the screens the caller may open, in the registry's order."""

    def live_position(self) -> dict[str, Any]:
        """The live state's (epoch, seq), read before a live screen's rows."""


@dataclass(frozen=True)
class Screen:
    """One screen: its path, its pure layout, its callbacks, and who may open it.

    ``kiosk``: a wall; a read-only kiosk token may open it (and the paths
    below it) and fire its callbacks (outputs whose id starts with its name
    and a dash, e.g. ``wall-``). ``roles``: the roles that may open it
    (None: anyone logged in). Kiosks never open the other screens.
    """

    path: str
    layout: Callable[..., Component]
    callbacks: ModuleType | None = None
    kiosk: bool = False
    roles: frozenset[str] | None = None
    title: str | None = None  # its name in the navigation bar (English msgid); None: not listed
    # Paths below it are its pages: /ticket/MS… is the ticket page of MS… (``query["item"]``).
    items: bool = False

    @property
    def name(self) -> str:
        return self.path.strip("/").split("/")[0] or "home"

    def covers(self, path: str) -> bool:
        """``path`` is this screen, or (a wall) below it."""
        path = path.rstrip("/") or "/"
        return path == self.path or ((self.kiosk or self.items) and path.startswith(self.path.rstrip("/") + "/"))

    def page(self, ctx: ScreenContext, lang: str, query: Mapping[str, str]) -> Component:
        """The layout with its data: the query's arguments, then the read models' answer."""
        page_data = getattr(self.callbacks, "page_data", None)
        data = page_data(ctx, lang, query) if page_data is not None else {}
        return self.layout(**{**query, **data, "lang": lang})

    def register(self, app: Any, ctx: ScreenContext) -> None:
        register = getattr(self.callbacks, "register", None)
        if register is not None:
            register(app, ctx)


@dataclass(frozen=True)
class Screens:
    """The registry's screens, found by path."""

    screens: tuple[Screen, ...]

    def __iter__(self) -> Iterator[Screen]:
        return iter(self.screens)

    def find(self, path: str) -> Screen | None:
        """The screen at exactly ``path`` (a trailing slash ignored)."""
        path = path.rstrip("/") or "/"
        return next((s for s in self.screens if s.path == path), None)

    def covering(self, path: str) -> Screen | None:
        """The screen ``path`` belongs to: itself, or a wall or an item screen it lies below."""
        return self.find(path) or next((s for s in self.screens if s.covers(path)), None)


def scope(ctx: ScreenContext) -> frozenset[int] | None:
    """The unit ids the caller may see (None: all); nothing without a caller."""
    actor = ctx.actor()
    return actor.visible_unit_ids if actor is not None else frozenset()


def who(actor: Actor | None, lang: str) -> str:
    """The caller as a screen's header names them: unit · name · role, in ``lang``."""
    if actor is None:
        return ""
    role = labels(lang)["roles"].get(actor.role, actor.role)
    return " · ".join(x for x in (actor.extra.get("unit_name"), actor.extra.get("real_name") or actor.name, role) if x)


# The working periods a page is given: enough for any deadline it shows (a resolve deadline
# is a working day or two, ten more with the longest extension, a holiday week on top).
WORKING_DAYS_AHEAD = 45


def working_periods(tz: Any, now: datetime) -> list[list[str]]:
    """The working periods from yesterday on, for a page's countdowns in working time
    (``assets/clock.js``): the browser counts down without asking the server each second."""
    return [[a.isoformat(), b.isoformat()] for a, b in sla.working_intervals(
        now - timedelta(days=1), now + timedelta(days=WORKING_DAYS_AHEAD), tz)]
