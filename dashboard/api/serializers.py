"""Rows into JSON: the one place the API says what a ticket, an order, a user … looks like.

Each function has its JSON Schema beside it in ``SCHEMAS`` (the OpenAPI
document's components), so the description cannot drift from the code
without the schema tests noticing. Tickets go out as their public view
(``tickets.events.public_view``, the same the live path pushes to shared
screens): never a citizen's name or phone number.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.read_models.queues import SCREEN_LEAVES_OUT
from tickets.alerts import alert_view
from tickets.events import public_view
from tickets.models import Alert, ApiToken, AuditEntry, Bulletin, ReminderLetter, SupervisionOrder, Ticket, TicketEvent, Unit, User
from tickets.roles import ROLES, Actor
from tickets.services import allowed_steps
from tickets.supervision import LETTER_REASONS, ORDER_REASONS


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# ------------------------------------------------------------- schemas
def _t(kind: str, nullable: bool = False, **more: Any) -> dict[str, Any]:
    return {"type": [kind, "null"] if nullable else kind, **more}


def _object(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties,
            "required": [name for name in properties if name not in optional]}


STR, INT, NUM, BOOL = _t("string"), _t("integer"), _t("number"), _t("boolean")
STR_N, INT_N, NUM_N = _t("string", True), _t("integer", True), _t("number", True)
TIME, TIME_N = _t("string", format="date-time"), _t("string", True, format="date-time")

SCHEMAS: dict[str, dict[str, Any]] = {
    "Ticket": _object({
        "ticket_id": INT, "number": STR, "channel": STR, "kind": STR, "sla_class": STR, "topic": STR,
        "district": STR_N, "status": STR, "unit_id": INT_N, "unit_code": STR_N, "unit_name": STR_N,
        "received_at": TIME, "closed_at": TIME_N, "dispatched_at": TIME_N, "contacted_at": TIME_N,
        "contact_due_at": TIME_N, "contact_warn_at": TIME_N, "resolve_due_at": TIME_N, "resolve_warn_at": TIME_N,
        "direct_dispatch": BOOL, "escalation_level": INT, "satisfaction": STR_N, "lat": NUM_N, "lon": NUM_N,
        "version": INT,
    }),
    "TimelineEvent": _object({
        "id": INT, "kind": STR, "at": TIME, "actor": STR, "unit_code": STR_N, "note": STR_N,
        "data": {"type": "object"},
    }),
    "SupervisionOrder": _object({
        "number": STR, "ticket_number": STR, "ticket_title": STR, "ticket_status": STR, "unit_code": STR,
        "unit_name": STR, "reason": STR, "reason_label": STR, "status": STR, "issued_at": TIME, "issued_by": STR,
        "due_at": TIME, "overdue": BOOL, "addressee_id": INT_N, "answered_at": TIME_N, "answer": STR_N, "note": STR_N,
    }),
    "ReminderLetter": _object({
        "number": STR, "ticket_number": STR_N, "unit_code": STR, "unit_name": STR, "reason": STR,
        "reason_label": STR, "issued_at": TIME, "issued_by": STR, "text": STR, "acknowledged_at": TIME_N,
    }),
    "Alert": _object({
        "id": INT, "kind": STR, "kind_label": STR, "topic": STR, "topic_label": STR, "area_kind": STR, "area": STR,
        "area_name": STR, "lat": NUM_N, "lon": NUM_N, "unit_id": INT_N, "unit_code": STR_N, "unit_name": STR_N,
        "day": _t("string", True, format="date"), "window_days": INT_N, "count": INT, "baseline": NUM_N,
        "threshold": INT_N, "p_value": NUM_N, "reason": STR, "status": STR, "first_seen_at": TIME_N,
        "last_seen_at": TIME_N, "closed_at": TIME_N, "acknowledged_at": TIME_N, "acknowledged_by_id": INT_N,
        "acknowledgement": STR_N, "closed_by_id": INT_N, "closing_note": STR_N,
    }),
    "User": _object({
        "id": INT, "username": STR, "real_name": STR, "police_number": STR_N, "unit_code": STR, "role": STR,
        "active": BOOL,
    }),
    "Token": _object({
        "id": INT, "kind": _t("string", enum=["api", "kiosk"]), "owner": STR_N, "label": STR, "created_at": TIME,
        "last_used_at": TIME_N, "revoked_at": TIME_N,
    }),
    "AuditEntry": _object({
        "id": INT, "at": TIME, "actor": STR, "action": STR, "ticket": STR_N, "target": STR_N,
        "details": {"type": "object"}, "prev_hash": STR, "hash": STR,
    }),
    "Me": _object({
        "name": STR, "real_name": STR_N, "police_number": STR_N, "role": STR, "role_label": STR,
        "unit_code": STR_N, "unit_name": STR_N, "label": STR, "scope": _t("string", enum=["city", "subtree"]),
        "read_only": BOOL,
    }, optional=("police_number", "label", "scope")),
}


SCHEMAS["QueueRow"] = _object({
    "number": STR, "version": INT, "status": STR, "title": STR, "topic": STR, "channel": STR, "kind": STR,
    "district": STR_N, "address": STR_N, "unit_code": STR_N, "unit_name": STR_N, "received_at": TIME,
    "dispatched_at": TIME_N, "contacted_at": TIME_N, "clock": _t("string", True, enum=["contact", "resolve", None]),
    "due_at": TIME_N, "warn_at": TIME_N, "clock_state": _t("string", enum=["ok", "amber", "breached"]),
    "contact_due_at": TIME_N, "resolve_due_at": TIME_N, "extension_pending": BOOL, "escalation_level": INT,
    "citizen": _t("string", description="masked: 张**"), "phone": _t("string", description="masked: 138****5678"),
    "allowed_steps": {"type": "array", "items": STR},
})
SCHEMAS["DutyRow"] = _object({
    "id": _t("string", description="<number>:<clock>"), "number": STR, "version": INT, "status": STR,
    "clock": _t("string", enum=["contact", "resolve"]), "state": _t("string", enum=["amber", "breached"]),
    "due_at": TIME, "warn_at": TIME_N, "minutes_late": INT, "title": STR, "topic": STR, "channel": STR,
    "district": STR_N, "unit_code": STR_N, "unit_name": STR_N, "unit_id": INT_N, "branch_code": STR_N,
    "branch_name": STR_N,
    "order": _t("object", description="the latest supervision order: state none | open | overdue | answered | closed"),
    "letter": _t("object", True, description="the latest reminder letter"),
    "acknowledged": _t("object", True, description="the acknowledgement that holds now: by, name, at, note, lapses_at"),
    "allowed_steps": {"type": "array", "items": _t("string", enum=["acknowledge", "order", "remind"])},
})
SCHEMAS["PredictedBreach"] = _object({
    "number": STR, "title": STR, "topic": STR, "channel": STR, "unit_name": STR_N,
    "probability": _t("number", minimum=0, maximum=1), "resolve_due_at": TIME,
    "reason": _t("object", description="code (backlog | slow_unit | time_short) and the numbers behind it"),
})
SCHEMAS["Clock"] = _object({
    "name": _t("string", enum=["contact", "resolve"]), "due_at": TIME_N, "warn_at": TIME_N,
    "done_at": _t("string", True, format="date-time", description="when it was met: contacted, or closed"),
    "running": _t("boolean", description="counting down now"),
    "paused": _t("boolean", description="stopped while an extension is pending (if the policy says so)"),
    "off_hours": _t("boolean", description="a working-time clock outside working hours: not counting"),
}, optional=("paused", "off_hours"))
SCHEMAS["TicketPage"] = {**SCHEMAS["Ticket"], "properties": {
    **SCHEMAS["Ticket"]["properties"], "allowed_steps": {"type": "array", "items": STR},
    "records": {"type": "array"}, "timeline": {"type": "array"},
    "clocks": {"type": "array", "items": {"$ref": "#/components/schemas/Clock"}},
    "sms": {"type": "array"}, "orders": {"type": "array"}, "letters": {"type": "array"},
    "citizen": STR, "phone": STR, "may_reveal": BOOL}}
SCHEMAS["ScreenRow"] = _object({k: v for k, v in SCHEMAS["QueueRow"]["properties"].items()
                                if k not in SCREEN_LEAVES_OUT})
SCHEMAS["WorkTicket"] = {**SCHEMAS["Ticket"], "properties": {
    **SCHEMAS["Ticket"]["properties"], "allowed_steps": {"type": "array", "items": STR}},
    "required": [*SCHEMAS["Ticket"]["required"], "allowed_steps"]}
_SECTION = _t("object", True)
SCHEMAS["BulletinVersion"] = _object({
    "id": INT, "week": _t("string", pattern=r"^\d{4}-W\d{2}$"), "version": INT, "created_at": TIME,
    "created_by": STR, "policy_version": STR, "changes": INT,
})
SCHEMAS["Bulletin"] = _object({
    "id": INT_N, "schema": INT, "week": STR, "from": _t("string", format="date"), "to": _t("string", format="date"),
    "start": TIME, "end": TIME, "timezone": STR, "as_of": TIME, "provisional": BOOL, "version": INT_N,
    "policy_version": STR, "created_at": TIME_N, "created_by": STR_N, "rules": _t("object"),
    "bureau": _t("object", True, description="the bureau's figures, trend and week-on-week: the city only"),
    "rankings": _t("object", description="branches, divisions, and stations per branch"),
    "exceptions": _t("object"), "topics": _SECTION, "channels": _SECTION, "hotspots": _t("object"),
    "units": _t("object", description="a section per unit, by code"),
    "changes": {"type": "array", "items": _t("object"), "description": "what this version changed"},
    "scope": _t("object", description="city_wide, and the units a subtree's user sees"),
})


# ---------------------------------------------------------- serializers
def ticket(row: Ticket, unit: Unit | None) -> dict[str, Any]:
    return public_view(row, unit)


def work_ticket(row: Ticket, unit: Unit | None, actor: Actor) -> dict[str, Any]:
    """A ticket as someone working on it sees it: its public view and the steps they may take now."""
    return {**public_view(row, unit), "allowed_steps": allowed_steps(actor, row)}


def timeline_event(event: TicketEvent, unit: Unit | None) -> dict[str, Any]:
    return {"id": event.id, "kind": event.kind, "at": event.at.isoformat(), "actor": event.actor,
            "unit_code": unit.code if unit else None, "note": event.note, "data": event.data or {}}


def supervision_order(order: SupervisionOrder, row: Ticket, unit: Unit, now: datetime) -> dict[str, Any]:
    return {
        "number": order.number,
        "ticket_number": row.number,
        "ticket_title": row.title,
        "ticket_status": row.status,
        "unit_code": unit.code,
        "unit_name": unit.name,
        "reason": order.reason,
        "reason_label": ORDER_REASONS.get(order.reason, order.reason),
        "status": order.status,
        "issued_at": order.issued_at.isoformat(),
        "issued_by": order.issued_by,
        "due_at": order.due_at.isoformat(),
        "overdue": order.status == "open" and order.due_at <= now,
        "addressee_id": order.addressee_id,
        "answered_at": _iso(order.answered_at),
        "answer": order.answer,
        "note": order.note,
    }


def reminder_letter(letter: ReminderLetter, ticket_number: str | None, unit: Unit) -> dict[str, Any]:
    return {"number": letter.number, "ticket_number": ticket_number, "unit_code": unit.code, "unit_name": unit.name,
            "reason": letter.reason, "reason_label": LETTER_REASONS.get(letter.reason, letter.reason),
            "issued_at": letter.issued_at.isoformat(), "issued_by": letter.issued_by, "text": letter.text,
            "acknowledged_at": _iso(letter.acknowledged_at)}


def alert(row: Alert, unit: Unit | None) -> dict[str, Any]:
    return alert_view(row, unit)


def user(row: User, unit_code: str) -> dict[str, Any]:
    return {"id": row.id, "username": row.username, "real_name": row.real_name, "police_number": row.police_number,
            "unit_code": unit_code, "role": row.role, "active": row.active}


def token(row: ApiToken, owner: User | None) -> dict[str, Any]:
    """A token without its secret (only its hash is stored anyway)."""
    return {"id": row.id, "kind": row.kind, "owner": owner.username if owner else None, "label": row.label,
            "created_at": row.created_at.isoformat(), "last_used_at": _iso(row.last_used_at),
            "revoked_at": _iso(row.revoked_at)}


def audit_entry(row: AuditEntry) -> dict[str, Any]:
    return {"id": row.id, "at": row.at.isoformat(), "actor": row.actor, "action": row.action, "ticket": row.ticket,
            "target": row.target, "details": row.details, "prev_hash": row.prev_hash, "hash": row.hash}


def me(actor: Actor, kiosk: bool) -> dict[str, Any]:
    """Who is asking, and what they may see."""
    if kiosk:
        return {"name": actor.name, "real_name": None, "role": actor.role, "role_label": "大屏（只读）",
                "unit_code": actor.extra.get("unit_code") or None, "unit_name": actor.extra.get("unit_name") or None,
                "label": actor.extra.get("label", ""), "read_only": True,
                "scope": "city" if actor.visible_unit_ids is None else "subtree"}
    return {
        "name": actor.name, "real_name": actor.extra.get("real_name"),
        "police_number": actor.extra.get("police_number"),
        "role": actor.role, "role_label": ROLES.get(actor.role, actor.role),
        "unit_code": actor.extra.get("unit_code"), "unit_name": actor.extra.get("unit_name"),
        # What the actor may see: every unit ("city") or their unit's subtree.
        "scope": "city" if actor.visible_unit_ids is None else "subtree", "read_only": False,
    }


def bulletin_version(row: Bulletin) -> dict[str, Any]:
    """A frozen bulletin's version, without its content."""
    return {"id": row.id, "week": row.week, "version": row.version, "created_at": row.created_at.isoformat(),
            "created_by": row.created_by, "policy_version": row.policy_version, "changes": len(row.changes or [])}
