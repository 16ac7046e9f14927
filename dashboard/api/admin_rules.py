"""The deadline rules' versions (/admin/rules; tickets/sla_versions.py).

    GET  /api/v1/admin/rules/versions    admin, supervisor: every version, in the order they take effect
    POST /api/v1/admin/rules/preview     admin: a draft's rules applied to last week's tickets, per
                                         branch, beside the rules they had (nothing is stored)
    POST /api/v1/admin/rules/versions    admin: a new version, in force from ``effective_from``
    POST /api/v1/admin/rules/versions/<n>/withdraw   admin: withdraw a version not yet in force

``rules`` is the policy file's schema (tickets/sla_policy.yaml) as a JSON object;
``effective_from`` is ISO 8601, without an offset read in the bureau's time zone. A supervisor
may read and gets 403 on writes; rules that do not validate, an instant too soon or before a
version already made, or unchanged rules are 400 with their code.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import jsonify

from dashboard.api.admin import admin_post, after_commit
from dashboard.api.base import blueprint, platform
from dashboard.api.errors import MESSAGES, BadParameter
from dashboard.api.openapi import STR, obj, operation, ref
from dashboard.api.serializers import BOOL, INT, SCHEMAS, STR_N, TIME_N, _object, _t
from dashboard.api.steps import Body
from dashboard.auth import require_login
from dashboard.i18n import request_lang
from dashboard.read_models import admin_rules
from layouts.i18n import N_, gettext
from tickets import sla, sla_versions
from tickets.models import utcnow
from tickets.roles import Actor
from tickets.uow import UnitOfWork

READERS = frozenset({"admin", "supervisor"})
WRITERS = frozenset({"admin"})

MESSAGES.update({
    "sla_rules_invalid": N_("The rules are not valid: %(reason)s"),
    "sla_version_too_soon": N_("A new version takes effect no sooner than %(earliest)s (every process must "
                               "know it first), not %(at)s"),
    "sla_version_not_after": N_("Version %(number)s takes effect at %(at)s: a new version must take effect after it"),
    "sla_version_unchanged": N_("These are the rules of version %(number)s: nothing to change"),
    "sla_note_too_long": N_("The note is at most %(most)s characters"),
    "not_an_object": N_("'%(field)s' must be an object"),
    "unknown_sla_version": N_("No version %(number)s of the deadline rules"),
    "sla_version_withdrawn": N_("Version %(number)s was already withdrawn at %(at)s"),
    "sla_version_too_late": N_("Version %(number)s takes effect at %(at)s: too late to withdraw (it must be after "
                               "%(earliest)s); make a new version instead"),
})

_FIGURES = _object({"tickets": INT, "contact_breaches": INT, "resolve_breaches": INT, "due": INT, "on_time": INT,
                    "on_time_rate": _t("number", True)})
_ROW = _object({"code": STR, "name": STR, "before": _FIGURES, "after": _FIGURES})
SCHEMAS["SlaRuleVersion"] = _object({
    "number": INT, "effective_from": TIME_N, "created_by": STR, "created_at": TIME_N, "note": STR,
    "fingerprint": STR, "rules": _t("object", description="the policy file's schema (tickets/sla_policy.yaml)"),
    "stored": BOOL, "state": _t("string", enum=["past", "in_force", "pending", "withdrawn"]),
    "withdrawn_at": TIME_N, "withdrawn_by": STR_N,
})
SCHEMAS["SlaRejudged"] = _object({"week": STR, "as_of": STR, "total": _ROW, "branches": _t("array", items=_ROW)})
_RULES = {"type": "object", "description": "the policy file's schema (tickets/sla_policy.yaml)"}


@blueprint.get("/admin/rules/versions")
@operation("The deadline rules' versions, in the order they take effect",
           {200: obj({"items": {"type": "array", "items": ref("SlaRuleVersion")}})}, roles=READERS)
@require_login(READERS)
def get_rule_versions() -> Any:
    with platform().factory() as session:
        return jsonify(items=admin_rules.versions(session, utcnow()))


@blueprint.post("/admin/rules/preview")
@operation("Last week's tickets re-judged under draft rules, per branch (nothing is stored)",
           {200: ref("SlaRejudged")}, roles=WRITERS,
           body={"application/json": obj({"rules": _RULES}, required=("rules",))})
@require_login(WRITERS)
def preview_rules() -> Any:
    rules = _rules(Body())
    with platform().factory() as session:
        return jsonify(admin_rules.preview(session, rules, utcnow(), platform().settings.tz))


_NUMBER_TEXT = {"type": ["string", "number"]}
_FIELDS = {
    "rules": _RULES, "effective_from": {**STR, "format": "date-time"},
    "note": {**STR, "maxLength": sla_versions.MAX_NOTE},
    # or the page's form: the rules of the last version made, with these changed
    "contact_hours": _NUMBER_TEXT, "resolve_consultation": _NUMBER_TEXT, "resolve_enforcement": _NUMBER_TEXT,
    "resolve_service": _NUMBER_TEXT, "working_hours": {**STR, "description": "08:30-12:00, 13:30-17:30"},
    "amber_percent": _NUMBER_TEXT, "pause_while_extension_pending": {"type": ["boolean", "string"]},
    "overrides": {**STR, "description": "YAML: channels: and topics:"},
    "from_form": {**STR, "description": "the whole form was sent: no overrides text means none"},
}
SAVED = N_("Version %(number)s saved: it applies to tickets dispatched from %(at)s")


@admin_post("rules/versions", "Make a new version of the deadline rules, in force from its instant (audited)",
            _FIELDS, ("effective_from", "note"), answer=ref("SlaRuleVersion"))
def rule_version(uow: UnitOfWork, actor: Actor, body: Body) -> dict[str, Any]:
    settings = platform().settings
    rules = body.data.get("rules")
    if rules is None:  # the form: over the rules of the last version made
        last = admin_rules.last_made(admin_rules.versions(uow, utcnow()))
        rules = sla_versions.draft_from_fields(body.data, last["rules"])
    elif not isinstance(rules, dict):
        raise BadParameter("rules", "not_an_object")
    row = sla_versions.create_version(uow, actor, rules, _instant(body, settings.tz), body.text("note"),
                                      lead=timedelta(minutes=settings.sla_version_lead_minutes))
    factory = platform().factory
    # This process uses it at once (once committed); the others re-read the versions within minutes.
    after_commit(uow, lambda: _reload(factory))
    answer = {"number": row.number, "effective_from": row.effective_from.isoformat() if row.effective_from else None,
              "created_by": row.created_by, "created_at": row.created_at.isoformat(), "note": row.note,
              "fingerprint": row.fingerprint, "rules": row.rules, "stored": True, "state": "pending",
              "withdrawn_at": None, "withdrawn_by": None}
    local = row.effective_from.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M") if row.effective_from else ""
    answer["message"] = gettext(SAVED, request_lang(), number=row.number, at=local)
    return answer


WITHDRAWN = N_("Version %(number)s withdrawn: it will not apply")


@admin_post("rules/versions/<int:number>/withdraw", "Withdraw a version before it takes effect (audited)", {})
def withdraw_rule_version(uow: UnitOfWork, actor: Actor, body: Body, number: int) -> dict[str, Any]:
    settings = platform().settings
    sla_versions.withdraw_version(uow, actor, number, lead=timedelta(minutes=settings.sla_version_lead_minutes))
    factory = platform().factory
    after_commit(uow, lambda: _reload(factory))
    return {"number": number, "state": "withdrawn", "message": gettext(WITHDRAWN, request_lang(), number=number)}


def _reload(factory: Any) -> None:
    with factory() as session:
        sla.load_rule_versions(session)


def _rules(body: Body) -> Any:
    rules = body.data.get("rules")
    if not isinstance(rules, dict):
        raise BadParameter("rules", "missing_parameter" if rules is None else "not_an_object")
    return rules


def _instant(body: Body, tz: Any) -> datetime:
    text = body.required_text("effective_from")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadParameter("effective_from", "invalid_time", value=text[:40]) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)

