"""Tickets, for the people working on them.

    GET /api/v1/tickets                     the open tickets in the caller's scope, most urgent first: filters
                                            unit (its subtree), status, topic, channel, clock (ok | amber |
                                            breached), from / to (received), q (text); a page
    GET /api/v1/tickets/<number>            the ticket's public view: no citizen's name or phone number
    GET /api/v1/tickets/<number>/events     its timeline, oldest first; a page (dashboard/api/pagination.py)

Users only (kiosks see tickets as the live path pushes them), and only
tickets of the units they may see: any other number is 404, as if unknown.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask import jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from dashboard.api import serializers
from dashboard.api.base import blueprint
from dashboard.api.base import platform as _platform
from dashboard.api.errors import ApiError
from dashboard.api.openapi import INT, PAGE, STR, UNIT, Param, day, obj, one_of, operation, page_of, ref
from dashboard.api.pagination import Key, page
from dashboard.api.params import choices, local_date, optional_choice, text
from dashboard.api.params import numbers as ticket_numbers
from dashboard.auth import current_actor, require_login
from dashboard.read_models import queues
from dashboard.read_models import ticket as ticket_page
from tickets import services
from tickets.lifecycle import OPEN
from tickets.models import Ticket, TicketEvent, Unit, utcnow
from tickets.roles import ROLES, STEP_ROLES, subtree_ids
from tickets.services import ticket_in_scope, unit_in_scope
from tickets.uow import UnitOfWork, unit_of_work
from tickets.vocabulary import CHANNELS, TOPICS


@blueprint.get("/tickets")
@operation("Open tickets in the caller's scope, by time left on the clock that matters now",
           {200: page_of("QueueRow")}, roles=ROLES, params=(
               *PAGE, UNIT, Param("status", STR, "comma-separated statuses"),
               Param("topic", STR, "comma-separated topics"), Param("channel", STR, "comma-separated channels"),
               one_of("clock", queues.CLOCK_STATES, "the state of the clock that matters now"),
               day("from", "received on or after this day"), day("to", "received up to this day, inclusive"),
               Param("q", {**STR, "maxLength": queues.MAX_SEARCH}, "text in the number, title, content or address")))
@require_login(ROLES)
def list_tickets() -> Any:
    actor = current_actor()
    assert actor is not None
    p = _platform()
    now = utcnow()
    with p.factory() as session:
        code = request.args.get("unit")
        start, end = _received(p.settings.tz)
        filters = queues.Filters(
            unit_ids=subtree_ids(session, unit_in_scope(session, code, actor).id) if code else None,
            statuses=choices("status", sorted(OPEN)), topics=choices("topic", sorted(TOPICS)),
            channels=choices("channel", sorted(CHANNELS)), clock=optional_choice("clock", queues.CLOCK_STATES),
            received_from=start, received_to=end, text=text("q", queues.MAX_SEARCH))
        stmt = queues.queue(actor, filters, now).options(selectinload(Ticket.unit))
        return jsonify(page(session, stmt, (Key(queues.sort_column()), Key(Ticket.id)),
                            lambda t: queues.row(t, t.unit, actor, now)))


@blueprint.get("/queues/<name>")
@operation("A work screen's queue: the desk (a unit's tickets) or the dispatch desk (the platform office's)",
           {200: obj({"epoch": {"type": ["string", "null"]}, "seq": INT,
                      "rows": {"type": "array", "items": ref("ScreenRow")},
                      "suggestions": {"type": "array", "items": {"type": "object"}}}, required=("seq", "rows"))},
           roles=ROLES, params=(Param("numbers", STR, "comma-separated ticket numbers: these rows only"),
                                Param("status", STR, "comma-separated statuses"),
                                Param("topic", STR, "comma-separated topics"),
                                one_of("clock", queues.CLOCK_STATES, "the state of the clock that matters now")),
           description="The live position (epoch, seq) is read before the rows: a screen applies pushes after it.")
@require_login(ROLES)
def screen_queue(name: str) -> Any:
    if name not in ("desk", "dispatch"):
        raise ApiError(404, "unknown_endpoint", path=request.path)
    actor = current_actor()
    assert actor is not None
    p = _platform()
    position = p.aggregator.position()  # first: every event after it reaches the screen by push
    now = utcnow()
    numbers = ticket_numbers()
    filters = queues.Filters(numbers=numbers, statuses=choices("status", sorted(OPEN)),
                             topics=choices("topic", sorted(TOPICS)),
                             clock=optional_choice("clock", queues.CLOCK_STATES))
    with p.factory() as session:
        body: dict[str, Any] = {**position, "rows": queues.screen_rows(session, actor, name, filters, now)}
        if name == "dispatch" and not numbers:
            body["suggestions"] = queues.suggestions(session, actor)
    return jsonify(body)


def _received(tz: Any) -> tuple[datetime | None, datetime | None]:
    first, last = request.args.get("from"), request.args.get("to")
    start = datetime.combine(local_date("from", date.min), time(0), tz) if first else None
    end = datetime.combine(local_date("to", date.min) + timedelta(days=1), time(0), tz) if last else None
    return start, end


def _ticket(session: UnitOfWork, number: str) -> Ticket:
    actor = current_actor()
    assert actor is not None  # require_login
    return ticket_in_scope(session, actor, number)


@blueprint.get("/tickets/<number>")
@operation("A ticket as its workers see it: the request, the records merged into it with their reply status, "
           "both clocks, the timeline, orders, letters, SMS and the steps the caller may take (citizen masked)",
           {200: ref("TicketPage")}, roles=ROLES)
@require_login(ROLES)
def get_ticket(number: str) -> Any:
    actor = current_actor()
    assert actor is not None
    p = _platform()
    with p.factory() as session:
        ticket = _ticket(session, number)
        return jsonify({**serializers.ticket(ticket, ticket.unit),
                        **ticket_page.page(session, actor, ticket, utcnow(), p.settings.tz)})


@blueprint.post("/tickets/<number>/reveal")
@operation("The citizen's name and phone in full: the handling unit and the platform office only; audited",
           {200: obj({"name": STR, "phone": STR})}, roles=STEP_ROLES["reveal"])
@require_login(STEP_ROLES["reveal"])
def reveal_citizen(number: str) -> Any:
    actor = current_actor()
    assert actor is not None
    with unit_of_work(_platform().factory) as uow:
        citizen = services.reveal_citizen(uow, actor, number, remote_addr=request.remote_addr,
                                          user_agent=request.headers.get("User-Agent"))
    response = jsonify(name=citizen.name, phone=citizen.phone)
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/tickets/<number>/reveals")
@operation("Who saw the ticket's citizen in full (the audit), newest first",
           {200: obj({"items": {"type": "array", "items": obj(
               {"at": STR, "actor": STR, "real_name": {"type": ["string", "null"]},
                "police_number": {"type": ["string", "null"]}, "remote_addr": {"type": ["string", "null"]}})}})},
           roles=STEP_ROLES["read_reveals"])
@require_login(STEP_ROLES["read_reveals"])
def citizen_reveals(number: str) -> Any:
    actor = current_actor()
    assert actor is not None
    with _platform().factory() as session:
        rows = services.citizen_reveals(session, actor, number)
    return jsonify(items=[{"at": r.at.isoformat(), "actor": r.actor, "real_name": r.real_name,
                           "police_number": r.police_number, "remote_addr": r.remote_addr} for r in rows])


@blueprint.get("/tickets/<number>/events")
@operation("A ticket's timeline, oldest first", {200: page_of("TimelineEvent", number=STR)}, params=PAGE,
           roles=ROLES)
@require_login(ROLES)
def ticket_events(number: str) -> Any:
    with _platform().factory() as session:
        ticket = _ticket(session, number)
        stmt = (select(TicketEvent, Unit).outerjoin(Unit, Unit.id == TicketEvent.unit_id)
                .where(TicketEvent.ticket_id == ticket.id))
        return jsonify(number=ticket.number, **page(session, stmt, (Key(TicketEvent.at), Key(TicketEvent.id)),
                                                    serializers.timeline_event))
