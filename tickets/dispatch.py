"""Routing a new ticket to the unit that must act (一站直办).

Order of rules: a topic that a specialised unit owns (出入境 → 出入境管理局)
goes there; otherwise the station whose jurisdiction (辖区 polygon,
geo/jurisdictions.py) contains the incident's point; otherwise (no polygons,
or the point is outside them all) the station nearest the incident inside its
district; otherwise the district's branch bureau; otherwise the platform
office's queue. The point decides over the ticket's district field: the
polygons say who is responsible for a place.
"""
from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from geo import jurisdictions
from geo.measure import distance_m
from tickets.models import JurisdictionUpload, Ticket, Unit

PLATFORM_OFFICE_KIND = "platform_office"
# Level-2 units that own a territory (their stations split it).
PLACE_KINDS = ("branch", "county_bureau")


def route(session: Session, ticket: Ticket) -> Unit:
    """The unit that must act on ``ticket`` (a level-3 one: 直办, see ``lifecycle.dispatch``)."""
    return _by_topic(session, ticket) or _by_place(session, ticket) or platform_office(session)


def platform_office(session: Session) -> Unit:
    office = session.scalar(select(Unit).where(Unit.kind == PLATFORM_OFFICE_KIND).limit(1))
    if office is None:
        office = session.scalar(select(Unit).where(Unit.level == 1).order_by(Unit.id).limit(1))
    if office is None:
        raise LookupError("no units loaded: run `python app.py demo load` or load the bureau's units")
    return office


# Which units own which topic changes only when an admin edits units; reading
# every unit for every ticket made this the slowest step of intake.
_OWNERS_TTL_SECONDS = 60.0
_owners_cache: dict[str, tuple[float, dict[str, list[int]]]] = {}


def _topic_owner_ids(session: Session) -> dict[str, list[int]]:
    key = str(session.get_bind().engine.url)
    cached = _owners_cache.get(key)
    if cached and time.monotonic() - cached[0] < _OWNERS_TTL_SECONDS:
        return cached[1]
    owners: dict[str, list[int]] = {}
    for unit_id, topics in session.execute(
        select(Unit.id, Unit.topics).where(Unit.active.is_(True), Unit.level >= 2)
    ):
        for topic in topics or []:
            owners.setdefault(topic, []).append(unit_id)
    _owners_cache[key] = (time.monotonic(), owners)
    return owners


def forget_topic_owners() -> None:
    """Call after changing units, so routing sees the change at once."""
    _owners_cache.clear()
    _station_ids_cache.clear()
    _applied.clear()


# Jurisdiction polygons are keyed by unit code; station code → id, cached as above.
_station_ids_cache: dict[str, tuple[float, dict[str, int]]] = {}


def _station_ids(session: Session) -> dict[str, int]:
    key = str(session.get_bind().engine.url)
    cached = _station_ids_cache.get(key)
    if cached and time.monotonic() - cached[0] < _OWNERS_TTL_SECONDS:
        return cached[1]
    ids = {code: unit_id for code, unit_id in session.execute(
        select(Unit.code, Unit.id).where(Unit.kind == "station"))}
    _station_ids_cache[key] = (time.monotonic(), ids)
    return ids


# An admin applies an uploaded jurisdiction file (tickets/units.py): every process asks, at most
# this often, which one is applied (one small query), and routes by it from then on.
JURISDICTION_CHECK_SECONDS = 5.0
_applied: dict[str, float] = {}  # database -> when it was asked
_routing_upload: list[int | None] = [None]  # the upload routing uses in this process (None: the configured files)


def follow_applied_jurisdictions(session: Session) -> None:
    """Route by the latest applied upload, if one is (else the configured files)."""
    key = str(session.get_bind().engine.url)
    checked = _applied.get(key)
    if checked is not None and time.monotonic() - checked < JURISDICTION_CHECK_SECONDS:
        return
    applied = session.execute(select(JurisdictionUpload.id, JurisdictionUpload.name, JurisdictionUpload.geojson)
                              .where(JurisdictionUpload.status == "applied")
                              .order_by(JurisdictionUpload.id.desc()).limit(1)).first()
    now_id = applied[0] if applied is not None else None
    if now_id != _routing_upload[0]:
        jurisdictions.use_for_routing(
            jurisdictions.load_text(applied[2], applied[1], validate=False) if applied is not None else None)
        _routing_upload[0] = now_id
    _applied[key] = time.monotonic()


def _by_jurisdiction(session: Session, lat: float, lon: float) -> Unit | None:
    """The active station whose jurisdiction polygon covers the point, if it is in this database."""
    follow_applied_jurisdictions(session)
    code = jurisdictions.station_at(lat, lon)
    if code is None:
        return None
    unit_id = _station_ids(session).get(code)
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    if unit is not None and unit.code != code:  # the cache outlived a reloaded database
        _station_ids_cache.pop(str(session.get_bind().engine.url), None)
        unit_id = _station_ids(session).get(code)
        unit = session.get(Unit, unit_id) if unit_id is not None else None
    if unit is None or unit.code != code or not unit.active or unit.kind != "station":
        return None
    return unit


def _by_topic(session: Session, ticket: Ticket) -> Unit | None:
    ids = _topic_owner_ids(session).get(ticket.topic, [])
    if not ids:
        return None
    owners = [u for u in session.scalars(select(Unit).where(Unit.id.in_(ids))) if u.active]
    if not owners:
        return None
    # Prefer the owner serving the ticket's district, then the deepest (most direct) one.
    owners.sort(key=lambda u: (u.district != ticket.district, -u.level, u.id))
    return owners[0]


def _by_place(session: Session, ticket: Ticket) -> Unit | None:
    if ticket.lat is not None and ticket.lon is not None:
        station = _by_jurisdiction(session, ticket.lat, ticket.lon)
        if station is not None:
            return station
    if not ticket.district:
        return None
    branch = session.scalar(
        select(Unit).where(
            Unit.level == 2, Unit.district == ticket.district, Unit.active.is_(True),
            Unit.kind.in_(PLACE_KINDS),
        ).order_by(Unit.id).limit(1)
    )
    if branch is None:
        return None
    stations = [u for u in branch.children if u.active and u.kind == "station" and u.lat is not None]
    if not stations or ticket.lat is None or ticket.lon is None:
        return branch
    return min(stations, key=lambda s: distance_m(ticket.lat, ticket.lon, s.lat, s.lon))  # type: ignore[arg-type]

