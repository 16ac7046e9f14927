"""The service layer: one command per thing a person or a channel does to a ticket.

Every change to a ticket goes through a command here, whoever asks: a channel
(``receive``), an import (``import_records``), the simulator, the API or a
screen. A command takes the unit of work and the actor, finds what it acts on
*in the actor's scope* (outside it, a ticket does not exist: :class:`NotFound`),
checks the caller's copy is current (``version``: :class:`Conflict`), and calls
the domain (``lifecycle``, ``supervision``, ``followup``, ``alerts``, ``batch``),
which checks role and state and writes the timeline event and outbox row
through the one writer (``tickets.events``). Refusals are ``tickets.errors``
with a code and parameters. Commands flush; the caller's unit of work commits.

``at`` defaults to now; the simulator and tests pass their own clock.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from tickets import alerts as alert_rules
from tickets import batch, bulletin, dedup, duty, followup, lifecycle, personal, supervision
from tickets.errors import Conflict, IllegalStep, Invalid, NotAllowed, NotFound
from tickets.intake import NewRequest, Received, taken
from tickets.models import (
    Alert,
    DuplicateSuggestion,
    ExtensionRequest,
    FollowUp,
    ReminderLetter,
    SupervisionOrder,
    Ticket,
    Unit,
    could_be,
)
from tickets.roles import OWN_UNIT_STEPS, STEP_ROLES, SYSTEM, Actor, check
from tickets.uow import UnitOfWork


def _now(at: datetime | None) -> datetime:
    return at if at is not None else datetime.now(UTC)


# ------------------------------------------------------------------ lookups
def ticket_in_scope(uow: UnitOfWork, actor: Actor, number: str, version: int | None = None) -> Ticket:
    """The ticket ``number`` if the actor may see it (else :class:`NotFound`), at ``version`` if given."""
    ticket = uow.scalar(select(Ticket).where(Ticket.number == number)) \
        if could_be(number, Ticket.__table__.c.number) else None
    if ticket is None or not actor.sees_unit(ticket.unit_id):
        raise NotFound("unknown_ticket", number=number)
    if version is not None and ticket.version != version:
        raise Conflict("stale_version", number=number, version=version, current=ticket.version)
    return ticket


def unit_in_scope(uow: UnitOfWork, code: str, actor: Actor | None = None, *, active: bool = False) -> Unit:
    """The unit ``code`` (an active one if ``active``), one ``actor`` may see if given; else :class:`NotFound`."""
    unit = uow.scalar(select(Unit).where(Unit.code == code)) if could_be(code, Unit.__table__.c.code) else None
    if unit is None or (active and unit.active is False) or (actor is not None and not actor.sees_unit(unit.id)):
        raise NotFound("unknown_unit", unit=code)
    return unit


def order_in_scope(uow: UnitOfWork, actor: Actor, number: str) -> SupervisionOrder:
    order = uow.scalar(select(SupervisionOrder).where(SupervisionOrder.number == number)) \
        if could_be(number, SupervisionOrder.__table__.c.number) else None
    if order is None or not actor.sees_unit(order.unit_id):
        raise NotFound("unknown_order", order=number)
    return order


def letter_in_scope(uow: UnitOfWork, actor: Actor, number: str) -> ReminderLetter:
    letter = uow.scalar(select(ReminderLetter).where(ReminderLetter.number == number)) \
        if could_be(number, ReminderLetter.__table__.c.number) else None
    if letter is None or not actor.sees_unit(letter.unit_id):
        raise NotFound("unknown_letter", letter=number)
    return letter


def allowed_steps(actor: Actor, ticket: Ticket) -> list[str]:
    """The steps ``actor`` may take on ``ticket`` now (what a screen offers), by the API's names:
    ``dispatch`` routes a ticket (new, returned, or waiting at the platform office), ``pass_down``
    is a level-2 unit's 转办 to one of its own units."""
    out = []
    for step, (starts, _to) in lifecycle.TRANSITIONS.items():
        if ticket.status not in starts or step == "redo":
            continue
        if not actor.is_system:
            if actor.role not in STEP_ROLES.get(step, frozenset()) or not actor.sees_unit(ticket.unit_id):
                continue
            if actor.role == "handler" and step in OWN_UNIT_STEPS and ticket.unit_id != actor.unit_id:
                continue
        if step == "dispatch":
            if ticket.status == "dispatched" and not lifecycle.at_office(ticket):
                # 转办: only from the level-2 unit holding it, to one of its own
                if ticket.unit is None or ticket.unit.level != 2:
                    continue
                step = "pass_down"
            elif actor.role == "handler":
                continue  # routing a returned or unrouted ticket is the dispatcher's (lifecycle.dispatch)
        if step == "request_extension" and ticket.extension_pending:
            continue
        if step == "decide_extension" and not ticket.extension_pending:
            continue
        if step == "close" and (ticket.escalation_level or 1) < 3:
            continue  # the citizen's answer closes it; a person closes only a level-3 case (with findings)
        out.append(step)
    return out


# ------------------------------------------------------------------- intake
def receive(uow: UnitOfWork, requests: Sequence[NewRequest], *, now: datetime | None = None,
            actor: Actor = SYSTEM) -> list[Received]:
    """Take ``requests`` in from a channel, in one go: each becomes a ticket routed and
    dispatched with its deadlines, is merged into an open ticket it certainly duplicates (a
    likely duplicate gets a suggestion for the dispatcher), or is found to be a resubmission
    of the same (channel, external_id), which writes nothing. One outcome per request, in order.
    The events are recorded as the channel's (the system's); ``actor`` is who typed it in, if
    anyone (a front desk), and may be one whose role takes requests in."""
    now = _now(now)
    if not actor.is_system and actor.role not in ("admin", "dispatcher"):
        raise NotAllowed("role_may_not", user=actor.name, role=actor.role, step="receive")
    known = taken(uow, requests)
    out: list[Received | tuple[int, bool]] = []  # a Received already, or (position in fresh, repeated?)
    fresh: list[batch.Arrival] = []
    first: dict[tuple[str, str], int] = {}
    for request in requests:
        key = (request.channel, request.external_id)
        if key in known:
            out.append(Received("duplicate", *known[key]))
        elif key in first:
            out.append((first[key], True))  # sent twice in this batch: the first one's ticket
        else:
            first[key] = len(fresh)
            out.append((len(fresh), False))
            fresh.append(batch.Arrival(request, source=request.channel, due_from="sla", due_at=request.due_at,
                                       calendar=request.calendar))
    done: list[batch.Outcome] = []
    if fresh:
        index = dedup.index_for(uow)
        uow.hold_intake()  # the shared index holds this batch's provisional tickets until it commits
        try:
            done = batch.write_batch(uow, fresh, now, index=index, units=batch.units_for(uow))
        except BaseException:
            index.clear()  # it may hold this batch's provisional entries
            raise
    results: list[Received] = []
    for item in out:
        if isinstance(item, Received):
            results.append(item)
            continue
        position, repeated = item
        o = done[position]
        results.append(Received("duplicate" if repeated else ("accepted" if o.kind == "new" else "merged"),
                                o.ticket_id, o.number))
    return results


def receive_one(uow: UnitOfWork, request: NewRequest, *, now: datetime | None = None,
                actor: Actor = SYSTEM) -> Ticket:
    """:func:`receive` for one request; its ticket (for a merge, the open ticket it joined; for a
    resubmission, the ticket the first submission made)."""
    outcome = receive(uow, [request], now=now, actor=actor)[0]
    ticket = uow.get(Ticket, outcome.ticket_id)
    assert ticket is not None
    return ticket


def import_records(uow: UnitOfWork, arrivals: Sequence[batch.Arrival], *, provenance: dict[str, Any],
                   now: datetime | None = None, params: dedup.Params | None = None,
                   index: dedup.CandidateIndex | None = None, units: batch.UnitCache | None = None,
                   dry_run: bool = False) -> list[batch.Outcome]:
    """Another system's history (``feeds/importer.py``), checked for repeated external ids by the
    caller; ``provenance`` (run, file, mapping) goes into each record's timeline. An import keeps
    its own candidate index (``index``), so only the writing takes the intake locks."""
    return batch.write_batch(uow, arrivals, _now(now), provenance=provenance, params=params, index=index,
                             units=units, dry_run=dry_run)


# ---------------------------------------------------------------- lifecycle
# A step of the domain taken on a ticket, with its note, reason or text (``lifecycle.accept`` …).
Step = Callable[[UnitOfWork, Ticket, datetime, Actor, str | None], None]


def _take(uow: UnitOfWork, actor: Actor, number: str, version: int | None, at: datetime | None, step: Step,
          text: str | None, *, required: str | None = None) -> Ticket:
    """The body of a lifecycle command: the ticket ``number`` in the actor's scope (at ``version``),
    ``step`` taken on it at ``at`` (now) with ``text``, refused empty if ``required`` names it."""
    ticket = ticket_in_scope(uow, actor, number, version)
    step(uow, ticket, _now(at), actor, text if required is None else lifecycle.required(text, required, number))
    return ticket


def dispatch(uow: UnitOfWork, actor: Actor, number: str, unit_code: str, *, note: str | None = None,
             version: int | None = None, at: datetime | None = None) -> Ticket:
    """派单: to a unit (the first dispatch, again after a return, or from the platform office)."""
    ticket = ticket_in_scope(uow, actor, number, version)
    if ticket.status == "dispatched" and not lifecycle.at_office(ticket):
        raise IllegalStep("status_forbids_step", number=number, step="dispatch", status=ticket.status,
                          allowed=["received", "returned"])
    lifecycle.dispatch(uow, ticket, unit_in_scope(uow, unit_code, active=True), _now(at), actor, note)
    return ticket


def pass_down(uow: UnitOfWork, actor: Actor, number: str, unit_code: str, *, note: str | None = None,
              version: int | None = None, at: datetime | None = None) -> Ticket:
    """转办: the level-2 unit holding a dispatched ticket passes it to one of its own units."""
    ticket = ticket_in_scope(uow, actor, number, version)
    if ticket.status != "dispatched" or lifecycle.at_office(ticket):
        raise IllegalStep("status_forbids_step", number=number, step="pass_down", status=ticket.status,
                          allowed=["dispatched"])
    lifecycle.dispatch(uow, ticket, unit_in_scope(uow, unit_code, active=True), _now(at), actor, note)
    return ticket


def rehome(uow: UnitOfWork, actor: Actor, number: str, unit_code: str, *, note: str | None = None,
           version: int | None = None, at: datetime | None = None) -> Ticket:
    """转移: an open ticket, in any state, to another unit (before its unit is deactivated)."""
    ticket = ticket_in_scope(uow, actor, number, version)
    lifecycle.rehome(uow, ticket, unit_in_scope(uow, unit_code, active=True), _now(at), actor, note)
    return ticket


def return_ticket(uow: UnitOfWork, actor: Actor, number: str, reason: str, *, version: int | None = None,
                  at: datetime | None = None) -> Ticket:
    """退单, with the reason."""
    return _take(uow, actor, number, version, at, lifecycle.return_ticket, reason)


def accept(uow: UnitOfWork, actor: Actor, number: str, *, note: str | None = None, version: int | None = None,
           at: datetime | None = None) -> Ticket:
    """签收."""
    return _take(uow, actor, number, version, at, lifecycle.accept, note)


def contact(uow: UnitOfWork, actor: Actor, number: str, *, note: str | None = None, version: int | None = None,
            at: datetime | None = None) -> Ticket:
    """联系群众, with a note of the call."""
    return _take(uow, actor, number, version, at, lifecycle.contact, note)


def report(uow: UnitOfWork, actor: Actor, number: str, result: str, *, version: int | None = None,
           at: datetime | None = None) -> Ticket:
    """上报: the unit reports what it did."""
    return _take(uow, actor, number, version, at, lifecycle.report, result, required="result")


def approve(uow: UnitOfWork, actor: Actor, number: str, *, note: str | None = None, version: int | None = None,
            at: datetime | None = None) -> Ticket:
    """审核通过."""
    return _take(uow, actor, number, version, at, lifecycle.approve, note)


def send_back(uow: UnitOfWork, actor: Actor, number: str, reason: str, *, version: int | None = None,
              at: datetime | None = None) -> Ticket:
    """审核退回, with the reason (a supervision order follows)."""
    return _take(uow, actor, number, version, at, lifecycle.send_back, reason)


def reply(uow: UnitOfWork, actor: Actor, number: str, text: str, *, version: int | None = None,
          at: datetime | None = None) -> Ticket:
    """反馈: the answer to the citizen (the follow-up SMS and the sources' results follow)."""
    return _take(uow, actor, number, version, at, lifecycle.reply, text, required="reply")


def close(uow: UnitOfWork, actor: Actor, number: str, findings: str, *, version: int | None = None,
          at: datetime | None = None) -> Ticket:
    """办结 a level-3 case with the supervisors' findings (any other closes by the citizen's answer)."""
    return _take(uow, actor, number, version, at, followup.close_with_findings, findings)


def request_extension(uow: UnitOfWork, actor: Actor, number: str, hours: float, reason: str, *,
                      version: int | None = None, at: datetime | None = None) -> ExtensionRequest:
    """延期申请: working hours more, with the reason."""
    ticket = ticket_in_scope(uow, actor, number, version)
    return lifecycle.request_extension(uow, ticket, _now(at), actor, hours, reason)


def decide_extension(uow: UnitOfWork, actor: Actor, number: str, approve: bool, *, note: str | None = None,
                     version: int | None = None, at: datetime | None = None) -> Ticket:
    """The platform office decides the ticket's pending extension request."""
    ticket = ticket_in_scope(uow, actor, number, version)
    pending = uow.scalar(select(ExtensionRequest).where(ExtensionRequest.ticket_id == ticket.id,
                                                        ExtensionRequest.status == "pending")
                         .order_by(ExtensionRequest.id.desc()).limit(1))
    if pending is None:
        raise IllegalStep("no_extension_pending", number=number)
    lifecycle.decide_extension(uow, pending, _now(at), actor, approve, note)
    return ticket


def merge(uow: UnitOfWork, actor: Actor, number: str, into: str, *, note: str | None = None,
          version: int | None = None, at: datetime | None = None) -> Ticket:
    """合并: ``number`` is a duplicate of ``into``; its records move there."""
    ticket = ticket_in_scope(uow, actor, number, version)
    target = ticket_in_scope(uow, actor, into)
    lifecycle.merge(uow, ticket, target, _now(at), actor, note)
    return ticket


def unmerge(uow: UnitOfWork, actor: Actor, number: str, reason: str, *, version: int | None = None,
            at: datetime | None = None) -> Ticket:
    """拆分: undo the merge of ``number``."""
    ticket = uow.scalar(select(Ticket).where(Ticket.number == number))
    # A merged ticket is seen through the ticket it was merged into.
    holder = uow.get(Ticket, ticket.merged_into_id) if ticket is not None and ticket.merged_into_id else ticket
    if ticket is None or holder is None or not actor.sees_unit(holder.unit_id):
        raise NotFound("unknown_ticket", number=number)
    if version is not None and ticket.version != version:
        raise Conflict("stale_version", number=number, version=version, current=ticket.version)
    lifecycle.unmerge(uow, ticket, _now(at), actor, reason)
    return ticket


def decide_suggestion(uow: UnitOfWork, actor: Actor, suggestion_id: int, merge_it: bool, *,
                      note: str | None = None, at: datetime | None = None) -> DuplicateSuggestion:
    """The dispatcher confirms a likely duplicate (the new ticket is merged into the candidate) or rejects it."""
    suggestion = uow.get(DuplicateSuggestion, suggestion_id)
    ticket = uow.get(Ticket, suggestion.ticket_id) if suggestion is not None else None
    if suggestion is None or ticket is None or not actor.sees_unit(ticket.unit_id):
        raise NotFound("unknown_suggestion", suggestion=suggestion_id)
    check(actor, "decide_suggestion", ticket.unit_id)
    if suggestion.status != "open":
        raise IllegalStep("suggestion_decided", suggestion=suggestion_id, status=suggestion.status)
    at = _now(at)
    if merge_it:
        into = uow.get(Ticket, suggestion.candidate_id)
        assert into is not None
        lifecycle.merge(uow, ticket, into, at, actor, note or "；".join(suggestion.reasons))
    suggestion.status = "merged" if merge_it else "rejected"
    suggestion.decided_at, suggestion.decided_by_id = at, actor.user_id
    return suggestion


# ------------------------------------------------------------- follow-up
def answer_sms(uow: UnitOfWork, phone: str, text: str, *, at: datetime | None = None) -> str:
    """The citizen's SMS reply, from the gateway (``followup.handle_inbound``'s outcomes)."""
    return followup.handle_inbound(uow, phone, text, _now(at))


def record_phone_answer(uow: UnitOfWork, actor: Actor, number: str, answer: str, *, version: int | None = None,
                        at: datetime | None = None) -> str:
    """What the citizen said on the phone to the ticket's open follow-up."""
    ticket = ticket_in_scope(uow, actor, number, version)
    waiting = followup.open_follow_ups(uow, ticket)
    if not waiting:
        raise IllegalStep("nothing_to_answer", number=number, follow_up=None, status=ticket.status)
    return followup.record_phone_answer(uow, waiting[-1], answer, _now(at), actor)


def follow_up_in_scope(uow: UnitOfWork, actor: Actor, follow_up_id: int) -> FollowUp:
    follow_up = uow.get(FollowUp, follow_up_id)
    if follow_up is None or not actor.sees_unit(follow_up.ticket.unit_id):
        raise NotFound("unknown_follow_up", follow_up=follow_up_id)
    return follow_up


# ------------------------------------------------------------- supervision
def issue_supervision_order(uow: UnitOfWork, actor: Actor, number: str, *, note: str | None = None,
                            at: datetime | None = None) -> SupervisionOrder:
    """督办单 by hand (the duty officer's one click)."""
    ticket = ticket_in_scope(uow, actor, number)
    return supervision.issue_order(uow, ticket, _now(at), actor, (note or "").strip() or None)


def answer_supervision_order(uow: UnitOfWork, actor: Actor, order_number: str, answer: str, *,
                             at: datetime | None = None) -> SupervisionOrder:
    order = order_in_scope(uow, actor, order_number)
    supervision.answer_order(uow, order, _now(at), actor, answer)
    return order


def close_supervision_order(uow: UnitOfWork, actor: Actor, order_number: str, *, note: str | None = None,
                            at: datetime | None = None) -> SupervisionOrder:
    order = order_in_scope(uow, actor, order_number)
    supervision.close_order(uow, order, _now(at), actor, note)
    return order


def issue_reminder_letter(uow: UnitOfWork, actor: Actor, text: str, *, number: str | None = None,
                          unit_code: str | None = None, version: int | None = None,
                          at: datetime | None = None) -> ReminderLetter:
    """提醒函 on a leader's instruction (局领导批示), about a ticket or to a unit."""
    if (number is None) == (unit_code is None):
        raise Invalid("ticket_or_unit", number=number, unit=unit_code)
    if number is not None:
        target: Ticket | Unit = ticket_in_scope(uow, actor, number, version)
    else:
        assert unit_code is not None
        target = unit_in_scope(uow, unit_code, actor, active=True)
        if not actor.sees_unit(target.id):
            raise NotFound("unknown_unit", unit=unit_code)
    return supervision.issue_leader_instruction(uow, target, _now(at), actor, text)


def acknowledge_breach(uow: UnitOfWork, actor: Actor, number: str, clock: str, *, note: str | None = None,
                       version: int | None = None, at: datetime | None = None) -> Ticket:
    """值班台: take a ticket's amber or breached clock (``tickets.duty``); the version check
    refuses an acknowledgement that raced a change of the ticket."""
    ticket = ticket_in_scope(uow, actor, number, version)
    duty.acknowledge(uow, ticket, clock, _now(at), actor, note)
    return ticket


def _alert_in_scope(uow: UnitOfWork, actor: Actor, alert_id: int) -> Alert:
    alert = uow.get(Alert, alert_id)
    if alert is None or not (actor.sees_unit(alert.unit_id) or actor.visible_unit_ids is None):
        raise NotFound("unknown_alert", alert=alert_id)
    return alert


def acknowledge_alert(uow: UnitOfWork, actor: Actor, alert_id: int, *, note: str | None = None,
                      at: datetime | None = None) -> Alert:
    """已阅 an early warning."""
    alert = _alert_in_scope(uow, actor, alert_id)
    alert_rules.acknowledge(uow, alert, _now(at), actor, note)
    return alert


def close_alert(uow: UnitOfWork, actor: Actor, alert_id: int, note: str, *, at: datetime | None = None) -> Alert:
    """Close an early warning by hand, saying why (raised again only if it grows)."""
    alert = _alert_in_scope(uow, actor, alert_id)
    alert_rules.close(uow, alert, _now(at), actor, note)
    return alert


# ---------------------------------------------------------- personal data
def reveal_citizen(uow: UnitOfWork, actor: Actor, number: str, *, remote_addr: str | None = None,
                   user_agent: str | None = None, at: datetime | None = None) -> personal.Citizen:
    """A citizen's name and phone in full, for the handling unit and the platform office; audited."""
    ticket = ticket_in_scope(uow, actor, number)
    return personal.reveal(uow, actor, ticket, _now(at), remote_addr=remote_addr, user_agent=user_agent)


def citizen_reveals(uow: UnitOfWork, actor: Actor, number: str) -> list[personal.Reveal]:
    """Who saw the ticket's citizen in full (the audit), for supervisors."""
    return personal.reveals(uow, actor, ticket_in_scope(uow, actor, number))


# --------------------------------------------------------- weekly bulletin
def make_bulletin(uow: UnitOfWork, actor: Actor, week: str, *, now: datetime | None = None,
                  reissue: bool = False) -> bulletin.Made:
    """每周通报 of ISO ``week`` ("2026-W48"): frozen once (``reissue``: a corrected new version, with
    its changes); the running week's is provisional and not stored. The city's bulletin is made by
    someone who sees the whole city (the system, the platform office, the city's leaders)."""
    if not actor.is_system and actor.role not in STEP_ROLES["make_bulletin"]:
        raise NotAllowed("role_may_not", user=actor.name, role=actor.role, step="make_bulletin")
    if actor.visible_unit_ids is not None:
        raise NotAllowed("bulletin_city_only", user=actor.name)
    bulletin.parse_week(week)
    return bulletin.make(uow, week, _now(now), actor.name, reissue=reissue)
