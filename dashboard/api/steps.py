"""The work on tickets: one POST per step of the service layer.

    POST /api/v1/tickets/<number>/<step>               dispatch, pass_down, return, accept, contact, report,
                                                       approve, send_back, reply, close, request_extension,
                                                       decide_extension, merge, unmerge, follow_up_answer, remind,
                                                       acknowledge
    POST /api/v1/suggestions/<id>/merge | reject       a likely duplicate: merge it, or not
    POST /api/v1/supervision/orders/<number>/answer | close
    POST /api/v1/alerts/<id>/acknowledge | close

Each calls one command of ``tickets.services`` with the caller as actor: scope,
role and state are the domain's to check, and a refusal answers in the one
error shape (``errors.py``). The body is a JSON object; a ticket's step takes
``version`` (the caller's copy: a stale one is 409 ``stale_version`` with the
ticket as it is now). Every write takes an ``Idempotency-Key`` header: the
same key again answers as the first time and changes nothing
(``tickets/idempotency.py``). A ticket's step answers the ticket as the caller
now sees it, with the steps the caller may take next.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Response, jsonify, request
from sqlalchemy.exc import IntegrityError

from dashboard.api import serializers
from dashboard.api.base import blueprint
from dashboard.api.base import platform as _platform
from dashboard.api.errors import ApiError, BadParameter
from dashboard.api.openapi import BOOL, INT, NUM, STR, obj, operation, ref
from dashboard.auth import current_actor, require_login
from tickets import idempotency, services
from tickets.errors import Conflict
from tickets.models import NOT_TEXT, Ticket, utcnow
from tickets.roles import STEP_ROLES, Actor
from tickets.uow import UnitOfWork, unit_of_work

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_TEXT = 4000


class Body:
    """The request's JSON object, read field by field (a wrong type is a 400 naming the field)."""

    def __init__(self) -> None:
        data = request.get_json(silent=True) if request.data else {}
        if not isinstance(data, dict):
            raise ApiError(400, "body_not_object")
        self.data: dict[str, Any] = data

    def text(self, name: str, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise BadParameter(name, "missing_parameter")
            return None
        if not isinstance(value, str):
            raise BadParameter(name, "not_a_string")
        if NOT_TEXT.search(value):
            raise BadParameter(name, "nul_character")
        if len(value) > MAX_TEXT:
            raise BadParameter(name, "out_of_range", min=1, max=MAX_TEXT, value=len(value))
        return value

    def required_text(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def file_text(self, name: str, max_bytes: int, field: str | None = None) -> str:
        """A file's content the page read and posted as text (longer than a note may be), at most
        ``max_bytes`` in UTF-8; ``field``: the name errors give it (the form's file input)."""
        field = field or name
        value = self.data.get(name)
        if not isinstance(value, str) or not value:
            raise BadParameter(field, "missing_parameter")
        if NOT_TEXT.search(value):  # a lone surrogate cannot even be encoded to count its bytes
            raise BadParameter(field, "nul_character")
        size = len(value.encode("utf-8"))
        if size > max_bytes:
            raise BadParameter(field, "out_of_range", min=1, max=max_bytes, value=size)
        return value

    def number(self, name: str, low: float, high: float) -> float:
        value = self.data.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadParameter(name, "missing_parameter" if value is None else "not_a_number")
        if not low <= value <= high:
            raise BadParameter(name, "out_of_range", min=low, max=high, value=value)
        return float(value)

    def flag(self, name: str) -> bool:
        value = self.data.get(name)
        if not isinstance(value, bool):
            raise BadParameter(name, "missing_parameter" if value is None else "not_a_boolean")
        return value

    def version(self) -> int | None:
        value = self.data.get("version")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**31 - 1:
            raise BadParameter("version", "not_integer", min=1, max=2**31 - 1, value=value)
        return value


def _write(run: Callable[[UnitOfWork, Actor, Body], tuple[int, dict[str, Any]]],
           kept_as: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> Response:
    """Run one write in its unit of work, once per idempotency key. ``kept_as``: what of the
    answer a repeat gets back (a secret shown once is not kept: ``admin.without_secret``)."""
    actor = current_actor()
    assert actor is not None  # require_login
    key = request.headers.get(IDEMPOTENCY_HEADER)
    owner = f"user:{actor.user_id}"
    print_ = idempotency.fingerprint(request.method, request.path, request.get_data())
    factory = _platform().factory
    body = Body()
    try:
        with unit_of_work(factory) as uow:
            kept = idempotency.recall(uow, owner, key, print_) if key is not None else None
            if kept is None:
                status, answer = run(uow, actor, body)
                if key is not None:
                    idempotency.remember(uow, owner, key, print_,
                                         idempotency.Answer(status, kept_as(answer) if kept_as else answer), utcnow())
    except IntegrityError:
        if key is None:
            raise
        with factory() as uow:  # the same key at the same moment: the other request made the change
            kept = idempotency.recall(uow, owner, key, print_)
        if kept is None:
            raise
    if kept is not None:
        status, answer = kept.status, kept.body
    response = jsonify(answer)
    response.status_code = status
    return response


# ---------------------------------------------------------------- tickets
@dataclass(frozen=True)
class Step:
    """A ticket's step: the service command, called as ``command(uow, actor, number, body, version)``."""

    summary: str
    fields: Mapping[str, Any]  # body fields besides ``version``
    required: tuple[str, ...]
    command: Callable[[UnitOfWork, Actor, str, Body, int | None], Any]


def _text_field(description: str) -> dict[str, Any]:
    return {**STR, "maxLength": MAX_TEXT, "description": description}


UNIT_FIELD = {**STR, "maxLength": 32, "description": "the unit's code, e.g. JN-LX-01"}
NOTE = _text_field("a note for the timeline")
TICKET_STEPS: dict[str, Step] = {
    "dispatch": Step("派单: send the ticket to a unit", {"unit": UNIT_FIELD, "note": NOTE}, ("unit",),
                     lambda u, a, n, b, v: services.dispatch(u, a, n, b.required_text("unit"), note=b.text("note"),
                                                             version=v)),
    "pass_down": Step("转办: a level-2 unit passes its ticket to one of its units", {"unit": UNIT_FIELD, "note": NOTE},
                      ("unit",), lambda u, a, n, b, v: services.pass_down(u, a, n, b.required_text("unit"),
                                                                          note=b.text("note"), version=v)),
    "return": Step("退单: not this unit's ticket; back to the dispatcher", {"reason": _text_field("why")}, ("reason",),
                   lambda u, a, n, b, v: services.return_ticket(u, a, n, b.required_text("reason"), version=v)),
    "accept": Step("签收", {"note": NOTE}, (),
                   lambda u, a, n, b, v: services.accept(u, a, n, note=b.text("note"), version=v)),
    "contact": Step("联系群众, with a note of the call", {"note": NOTE}, (),
                    lambda u, a, n, b, v: services.contact(u, a, n, note=b.text("note"), version=v)),
    "report": Step("上报: what the unit did", {"result": _text_field("the result")}, ("result",),
                   lambda u, a, n, b, v: services.report(u, a, n, b.required_text("result"), version=v)),
    "approve": Step("审核通过", {"note": NOTE}, (),
                    lambda u, a, n, b, v: services.approve(u, a, n, note=b.text("note"), version=v)),
    "send_back": Step("审核退回: back to the unit, under a supervision order", {"reason": _text_field("why")},
                      ("reason",),
                      lambda u, a, n, b, v: services.send_back(u, a, n, b.required_text("reason"), version=v)),
    "reply": Step("反馈: the answer to the citizen (the follow-up SMS follows)", {"text": _text_field("the answer")},
                  ("text",), lambda u, a, n, b, v: services.reply(u, a, n, b.required_text("text"), version=v)),
    "close": Step("办结 a level-3 case with the findings", {"findings": _text_field("the findings")}, ("findings",),
                  lambda u, a, n, b, v: services.close(u, a, n, b.required_text("findings"), version=v)),
    "request_extension": Step("延期申请", {"hours": {**NUM, "exclusiveMinimum": 0, "maximum": 75,
                                                 "description": "working hours more"},
                                          "reason": _text_field("why")}, ("hours", "reason"),
                              lambda u, a, n, b, v: services.request_extension(
                                  u, a, n, b.number("hours", 0, 75), b.required_text("reason"), version=v)),
    "decide_extension": Step("Decide the pending extension request", {"approve": BOOL, "note": NOTE}, ("approve",),
                             lambda u, a, n, b, v: services.decide_extension(u, a, n, b.flag("approve"),
                                                                             note=b.text("note"), version=v)),
    "merge": Step("合并 into another ticket (this one is its duplicate)",
                  {"into": {**STR, "maxLength": 32, "description": "the other ticket's number"}, "note": NOTE},
                  ("into",), lambda u, a, n, b, v: services.merge(u, a, n, b.required_text("into"),
                                                                  note=b.text("note"), version=v)),
    "unmerge": Step("拆分: undo a merge", {"reason": _text_field("why")}, ("reason",),
                    lambda u, a, n, b, v: services.unmerge(u, a, n, b.required_text("reason"), version=v)),
    "follow_up_answer": Step("What the citizen answered on the phone (满意, 基本满意, 不满意)",
                             {"answer": {**STR, "maxLength": 40}}, ("answer",),
                             lambda u, a, n, b, v: services.record_phone_answer(u, a, n, b.required_text("answer"),
                                                                                version=v)),
    "acknowledge": Step("值班台: take the ticket's amber or breached clock (it never stops the deadline)",
                        {"clock": {**STR, "enum": ["contact", "resolve"]}, "note": NOTE}, ("clock",),
                        lambda u, a, n, b, v: services.acknowledge_breach(u, a, n, b.required_text("clock"),
                                                                          note=b.text("note"), version=v)),
    "remind": Step("提醒函 on a leader's instruction (局领导批示)", {"text": _text_field("the instruction")}, ("text",),
                   lambda u, a, n, b, v: services.issue_reminder_letter(u, a, b.required_text("text"), number=n,
                                                                        version=v)),
}
# The role a step is checked against (the gate's 403 comes before the domain's).
STEP_ROLE = {"return": "return", "pass_down": "dispatch", "follow_up_answer": "record_follow_up",
             "acknowledge": "acknowledge_breach",
             "remind": "remind", "close": "close"}


def _ticket_step(name: str, step: Step) -> Callable[[str], Response]:
    def view(number: str) -> Response:
        def run(uow: UnitOfWork, actor: Actor, body: Body) -> tuple[int, dict[str, Any]]:
            try:
                done = step.command(uow, actor, number, body, body.version())
            except Conflict as exc:
                if exc.code != "stale_version":
                    raise
                current = services.ticket_in_scope(uow, actor, number)
                raise ApiError(409, "stale_version", **exc.params,
                               ticket=serializers.work_ticket(current, current.unit, actor)) from None
            uow.flush()  # the version the answer carries is the one written
            # Most steps answer the ticket they moved; the others (an extension request, a letter …) are read again.
            ticket = done if isinstance(done, Ticket) else services.ticket_in_scope(uow, actor, number)
            return 200, serializers.work_ticket(ticket, ticket.unit, actor)

        return _write(run)

    view.__name__ = f"ticket_{name}"
    roles = STEP_ROLES[STEP_ROLE.get(name, name)]
    body = obj({**step.fields, "version": {**INT, "minimum": 1, "description": "the copy acted on"}},
               required=step.required, additionalProperties=False)
    described = operation(step.summary, {200: ref("WorkTicket")}, roles=roles, params=(IDEMPOTENCY,),
                          body={"application/json": body}, body_required=bool(step.required))
    return described(require_login(roles)(view))


def _register_ticket_steps() -> None:
    for name, step in TICKET_STEPS.items():
        view = _ticket_step(name, step)
        blueprint.add_url_rule(f"/tickets/<number>/{name}", view.__name__, view, methods=["POST"])


# -------------------------------------------------- suggestions, orders, alerts
def _suggestion(merge_it: bool) -> Callable[[int], Response]:
    def view(suggestion_id: int) -> Response:
        def run(uow: UnitOfWork, actor: Actor, body: Body) -> tuple[int, dict[str, Any]]:
            s = services.decide_suggestion(uow, actor, suggestion_id, merge_it, note=body.text("note"))
            return 200, {"id": s.id, "status": s.status, "ticket_id": s.ticket_id, "candidate_id": s.candidate_id}

        return _write(run)

    view.__name__ = f"suggestion_{'merge' if merge_it else 'reject'}"
    roles = STEP_ROLES["decide_suggestion"]
    summary = "Merge the new ticket into the candidate" if merge_it else "Not a duplicate: keep both tickets"
    answer = obj({"id": INT, "status": STR, "ticket_id": INT, "candidate_id": INT})
    return operation(summary, {200: answer}, roles=roles, params=(IDEMPOTENCY,),
                     body={"application/json": obj({"note": NOTE}, required=(), additionalProperties=False)},
                     body_required=False)(require_login(roles)(view))


def _order(action: str) -> Callable[[str], Response]:
    def view(order_number: str) -> Response:
        def run(uow: UnitOfWork, actor: Actor, body: Body) -> tuple[int, dict[str, Any]]:
            if action == "answer":
                order = services.answer_supervision_order(uow, actor, order_number, body.required_text("answer"))
            else:
                order = services.close_supervision_order(uow, actor, order_number, note=body.text("note"))
            return 200, serializers.supervision_order(order, order.ticket, order.unit, utcnow())

        return _write(run)

    view.__name__ = f"order_{action}"
    roles = STEP_ROLES["answer_order" if action == "answer" else "supervise"]
    fields, required = ({"answer": _text_field("what the unit did, and why it was late")}, ("answer",)) \
        if action == "answer" else ({"note": NOTE}, ())
    summary = "The unit answers its supervision order" if action == "answer" else "Close a supervision order"
    return operation(summary, {200: ref("SupervisionOrder")}, roles=roles,
                     params=(IDEMPOTENCY,), body_required=bool(required),
                     body={"application/json": obj(fields, required=required, additionalProperties=False)},
                     )(require_login(roles)(view))


def _alert(action: str) -> Callable[[int], Response]:
    def view(alert_id: int) -> Response:
        def run(uow: UnitOfWork, actor: Actor, body: Body) -> tuple[int, dict[str, Any]]:
            if action == "acknowledge":
                alert = services.acknowledge_alert(uow, actor, alert_id, note=body.text("note"))
            else:
                alert = services.close_alert(uow, actor, alert_id, body.required_text("note"))
            return 200, serializers.alert(alert, alert.unit)

        return _write(run)

    view.__name__ = f"alert_{action}"
    roles = STEP_ROLES["acknowledge_alert"]
    summary = "已阅: acknowledge an early warning" if action == "acknowledge" else \
        "Close an early warning by hand, saying why (raised again only if its count grows)"
    required = () if action == "acknowledge" else ("note",)
    return operation(summary, {200: ref("Alert")}, roles=roles,
                     params=(IDEMPOTENCY,), body_required=bool(required),
                     body={"application/json": obj({"note": NOTE}, required=required, additionalProperties=False)},
                     )(require_login(roles)(view))


from dashboard.api.openapi import Param  # noqa: E402  (beside its one use)

IDEMPOTENCY = Param(IDEMPOTENCY_HEADER, {**STR, "maxLength": idempotency.MAX_KEY_LENGTH},
                    "the same key again answers as the first time and changes nothing", where="header")

_register_ticket_steps()
for _merge in (True, False):
    _view = _suggestion(_merge)
    blueprint.add_url_rule(f"/suggestions/<int:suggestion_id>/{'merge' if _merge else 'reject'}", _view.__name__,
                           _view, methods=["POST"])
for _action in ("answer", "close"):
    _order_view = _order(_action)
    blueprint.add_url_rule(f"/supervision/orders/<order_number>/{_action}", _order_view.__name__, _order_view,
                           methods=["POST"])
for _action in ("acknowledge", "close"):
    _alert_view = _alert(_action)
    blueprint.add_url_rule(f"/alerts/<int:alert_id>/{_action}", _alert_view.__name__, _alert_view, methods=["POST"])
