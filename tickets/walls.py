"""Kiosk links (大屏链接): a wall's URL with a read-only kiosk token, issued and revoked by the
platform office (/admin's walls section).

A link opens one screen: the command centre wall (``/wall``) showing one of its screens
(``?screen=``) or a playlist of them (``?playlist=…&every=…``), or the full-screen heat map
(``/map``); with a unit, only that unit's subtree (a branch bureau's wall, as ``app.py token
kiosk --unit``). The token is shown once, inside the URL; only its hash is kept.
"""
from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from tickets import accounts
from tickets.administration import require_admin
from tickets.errors import Invalid, NotFound
from tickets.models import ApiToken, Unit
from tickets.roles import Actor

# The wall's screens (layouts/wall_screens.SCREENS, which the domain may not import) and the map.
WALL_SCREENS = ("overview", "map", "rankings", "duty")
MAP = "heatmap"  # the full-screen /map
MIN_EVERY, MAX_EVERY = 5, 3600
MAX_LABEL = 100


def screen_path(screens: list[str], every: int | None = None, unit: str | None = None) -> str:
    """The path and query a link opens: ``["heatmap"]`` → /map; one wall screen → /wall?screen=…;
    several → /wall?playlist=…&every=…; with ``unit``, that unit's wall."""
    if not screens:
        raise Invalid("screen_required")
    unknown = [s for s in screens if s not in (*WALL_SCREENS, MAP)]
    if unknown or (MAP in screens and len(screens) > 1):
        raise Invalid("unknown_screen", screen=",".join(unknown or screens)[:100], known=[*WALL_SCREENS, MAP])
    query: dict[str, str] = {}
    if screens == [MAP]:
        path = "/map"
    elif len(screens) == 1:
        path, query["screen"] = "/wall", screens[0]
    else:
        path, query["playlist"] = "/wall", ",".join(screens)
        if every is not None:
            if not MIN_EVERY <= every <= MAX_EVERY:
                raise Invalid("every_out_of_range", every=every, min=MIN_EVERY, max=MAX_EVERY)
            query["every"] = str(every)
    if unit:
        query["unit"] = unit
    return f"{path}?{urlencode(query, safe=',')}" if query else path


def link(screen: str | None, token: str) -> str:
    """The kiosk URL (without the platform's address) of a token for ``screen``."""
    where = screen or "/wall"
    return f"{where}{'&' if '?' in where else '?'}kiosk={token}"


def issue_link(session: Session, actor: Actor, label: str, screens: list[str], unit_code: str | None = None,
               every: int | None = None) -> tuple[ApiToken, str]:
    """A new kiosk link: (its token row, the URL path with the token, shown once)."""
    require_admin(actor, "kiosk_create")
    label = label.strip()
    if not label or len(label) > MAX_LABEL:
        raise Invalid("label_required", most=MAX_LABEL)
    unit = None
    if unit_code:
        unit = session.scalar(select(Unit).where(Unit.code == unit_code))
        if unit is None:
            raise Invalid("unknown_unit", unit=unit_code[:32])
        if not unit.active:
            raise Invalid("unit_inactive", unit=unit_code)
    screen = screen_path(screens, every, unit.code if unit is not None else None)
    plaintext = accounts.issue_token(session, "kiosk", label=label, unit=unit, by=actor.name, screen=screen)
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == accounts.token_hash(plaintext)))
    assert token is not None
    return token, link(screen, plaintext)


def revoke_link(session: Session, actor: Actor, token_id: int, now: datetime | None = None) -> ApiToken:
    """Revoke a kiosk link: its walls are cut off within seconds (``dashboard.auth``'s sweep)."""
    require_admin(actor, "token_revoke")
    token = session.get(ApiToken, token_id)
    if token is None or token.kind != "kiosk":
        raise NotFound("unknown_kiosk_link", link=token_id)
    return accounts.revoke_token(session, token_id, now, by=actor.name)
