"""/api/v1/admin/rules: the deadline rules' versions over the API (dashboard/api/admin_rules.py)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.helpers import TZ, ApiWorld
from tickets import sla
from tickets.models import AuditEntry, SlaRuleVersion

pytestmark = pytest.mark.usefixtures("fresh_sla_state")


def test_admins_make_versions_supervisors_read_them(api_world: ApiWorld) -> None:
    api_world.add_person("pt_super", "supervisor", "JN-PTB")
    listed = api_world.get("/api/v1/admin/rules/versions", "pt_super")
    assert listed.status_code == 200
    [first] = listed.get_json()["items"]
    assert (first["number"], first["state"], first["stored"]) == (1, "in_force", False)
    assert first["rules"] == sla.to_document(sla.file_policy())
    assert api_world.get("/api/v1/admin/rules/versions", "viewer").status_code == 403
    slower = {**first["rules"], "contact_hours": 2}
    tomorrow = (datetime.now(TZ) + timedelta(days=1)).replace(microsecond=0)
    body = {"rules": slower, "effective_from": tomorrow.replace(tzinfo=None).isoformat(), "note": "放宽联系时限"}
    assert api_world.post("/api/v1/admin/rules/versions", "pt_super", json=body).status_code == 403
    assert api_world.post("/api/v1/admin/rules/preview", "pt_super", json={"rules": slower}).status_code == 403

    # Refusals are 400 with their code, and store nothing.
    for bad, code in [({**body, "rules": {**slower, "amber_share": 75}}, "sla_rules_invalid"),
                      ({**body, "effective_from": (tomorrow - timedelta(days=2)).isoformat()}, "sla_version_too_soon"),
                      ({**body, "effective_from": "明天"}, "invalid_time"),
                      ({**body, "rules": first["rules"]}, "sla_version_unchanged"),
                      ({**body, "rules": [1]}, "not_an_object"),
                      ({key: value for key, value in body.items() if key != "rules"}, "sla_version_unchanged"),
                      ({**body, "rules": None, "overrides": "topics: [1"}, "sla_rules_invalid"),
                      ({**body, "effective_from": None}, "missing_parameter")]:
        answer = api_world.post("/api/v1/admin/rules/versions", json=bad)
        assert answer.status_code == 400 and answer.get_json()["error"]["code"] == code, (code, answer.get_json())
    with api_world.platform.factory() as s:
        assert s.scalars(select(SlaRuleVersion)).all() == []

    preview = api_world.post("/api/v1/admin/rules/preview", json={"rules": slower})
    assert preview.status_code == 200 and preview.get_json()["week"].count("-W") == 1
    made = api_world.post("/api/v1/admin/rules/versions", json=body)
    assert made.status_code == 200, made.get_json()
    version = made.get_json()
    # a time without an offset is the bureau's local time
    assert (version["number"], version["state"], version["created_by"]) == (2, "pending", "admin")
    assert datetime.fromisoformat(version["effective_from"]) == tomorrow
    assert [v["number"] for v in api_world.get("/api/v1/admin/rules/versions").get_json()["items"]] == [1, 2]
    assert sla.version_at(tomorrow).number == 2 and sla.version_at(tomorrow - timedelta(seconds=1)).number == 1
    # The page's form: text fields over the last version made (the amber share in percent, the
    # overrides as YAML), from an instant after it.
    form = {"contact_hours": "1.5", "resolve_service": "2", "amber_percent": "80",
            "working_hours": "08:00-12:00，14:00-17:30", "pause_while_extension_pending": True,
            "overrides": "topics:\n  fraud:\n    contact_hours: 0.5\n",
            "effective_from": (tomorrow + timedelta(days=1)).isoformat(), "note": "表单"}
    made = api_world.post("/api/v1/admin/rules/versions", json=form)
    assert made.status_code == 200, made.get_json()
    rules = made.get_json()["rules"]
    assert (rules["contact_hours"], rules["resolve_working_days"]["service"], rules["amber_share"]) == (1.5, 2, 0.8)
    assert rules["working_hours"] == ["08:00-12:00", "14:00-17:30"] and rules["pause_while_extension_pending"]
    assert rules["topics"] == {"fraud": {"contact_hours": 0.5}} and rules["resolve_working_days"]["consultation"] == 0.5
    # Version 3 is withdrawn before it takes effect (supervisors may not); again is a 409.
    assert api_world.post("/api/v1/admin/rules/versions/3/withdraw", "pt_super", json={}).status_code == 403
    withdrawn = api_world.post("/api/v1/admin/rules/versions/3/withdraw", json={})
    assert withdrawn.status_code == 200 and withdrawn.get_json()["state"] == "withdrawn"
    assert api_world.post("/api/v1/admin/rules/versions/3/withdraw", json={}).status_code == 409
    assert api_world.post("/api/v1/admin/rules/versions/1/withdraw", json={}).status_code == 400
    listed = {v["number"]: v["state"] for v in api_world.get("/api/v1/admin/rules/versions").get_json()["items"]}
    assert listed == {1: "in_force", 2: "pending", 3: "withdrawn"}
    assert sla.version_at(tomorrow + timedelta(days=2)).number == 2
    with api_world.platform.factory() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "sla_version_create")).all()
    assert [(r.actor, r.target, r.details["note"]) for r in rows] == [("admin", "v2", "放宽联系时限"),
                                                                      ("admin", "v3", "表单")]
