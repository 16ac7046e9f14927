"""The deadline rules' versions (/admin/rules; tickets/sla_versions.py).

    GET  /api/v1/admin/rules/versions    admin, supervisor: every version, in the order they take effect
    POST /api/v1/admin/rules/preview     admin: a draft's rules applied to last week's tickets, per
                                         branch, beside the rules they had (nothing is stored)
    POST /api/v1/admin/rules/versions    admin: a new version, in force from ``effective_from``

``rules`` is the policy file's schema (tickets/sla_policy.yaml) as a JSON object;
``effective_from`` is ISO 8601, without an offset read in the bureau's time zone. A supervisor
may read and gets 403 on writes; rules that do not validate, an instant too soon or before a
version already made, or unchanged rules are 400 with their code.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Response, jsonify

from dashboard.api.base import blueprint, platform
from dashboard.api.errors import MESSAGES, BadParameter
from dashboard.api.openapi import STR, obj, operation, ref
from dashboard.api.serializers import BOOL, INT, SCHEMAS, STR_N, TIME_N, _object, _t
from dashboard.api.steps import IDEMPOTENCY, Body, _write
from dashboard.auth import require_login
from dashboard.read_models import admin_rules
from layouts.i18n import N_
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
})

_FIGURES = _object({"tickets": INT, "contact_breaches": INT, "resolve_breaches": INT, "due": INT, "on_time": INT,
                    "on_time_rate": _t("number", True)})
_ROW = _object({"code": STR, "name": STR, "before": _FIGURES, "after": _FIGURES})
SCHEMAS["SlaRuleVersion"] = _object({
    "number": INT, "effective_from": TIME_N, "created_by": STR, "created_at": TIME_N, "note": STR,
    "fingerprint": STR, "rules": _t("object", description="the policy file's schema (tickets/sla_policy.yaml)"),
    "stored": BOOL, "state": _t("string", enum=["past", "in_force", "pending"]),
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


@blueprint.post("/admin/rules/versions")
@operation("Make a new version of the deadline rules, in force from its instant (audited)",
           {201: ref("SlaRuleVersion")}, roles=WRITERS, params=(IDEMPOTENCY,),
           body={"application/json": obj({"rules": _RULES, "effective_from": {**STR, "format": "date-time"},
                                          "note": {**STR, "maxLength": sla_versions.MAX_NOTE}},
                                         required=("rules", "effective_from", "note"))})
@require_login(WRITERS)
def post_rule_version() -> Response:
    settings = platform().settings

    def run(uow: UnitOfWork, actor: Actor, body: Body) -> tuple[int, dict[str, Any]]:
        row = sla_versions.create_version(uow, actor, _rules(body), _instant(body, settings.tz), body.text("note"),
                                          lead=timedelta(minutes=settings.sla_version_lead_minutes))
        return 201, {"number": row.number}

    answer = _write(run)
    if answer.status_code == 201:
        with platform().factory() as session:  # this process knows it at once; the others within minutes
            sla.load_rule_versions(session)
            made = answer.get_json()["number"]
            item = next(v for v in admin_rules.versions(session, utcnow()) if v["number"] == made)
        answer = jsonify(item)
        answer.status_code = 201
    return answer


def _rules(body: Body) -> Any:
    rules = body.data.get("rules")
    if not isinstance(rules, dict):
        raise BadParameter("rules", "missing_parameter")
    return rules


def _instant(body: Body, tz: Any) -> datetime:
    text = body.required_text("effective_from")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadParameter("effective_from", "invalid_time", value=text[:40]) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)

