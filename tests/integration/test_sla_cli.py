"""Deadlines from the command line (``app.py sla``, ``app.py calendar`` in their own
processes) and the calendar warnings of /api/v1/health."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import TZ, run_app, write
from tests.helpers import SLA_OVERRIDES as OVERRIDES
from tests.helpers import TEST_2027_CALENDAR as TEST_2027
from tickets import sla

pytestmark = pytest.mark.usefixtures("fresh_sla_state")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_cli_prints_the_resolve_deadline(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'none.db'}"  # no database yet: the package calendar alone
    done = run_app("sla", "deadline", "--sla-class", "consultation", "--dispatched-at", "2026-09-30T16:00:00+08:00",
                   DATABASE_URL=db, MINSHENG_SLA_POLICY=str(sla.DEFAULT_POLICY_FILE))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2026-10-08T10:45:00+08:00\n"
    done = run_app("sla", "deadline", "--sla-class", "service", "--dispatched-at", "2026-11-23T01:30:00Z", "--all",
                   DATABASE_URL=db, MINSHENG_SLA_POLICY=str(sla.DEFAULT_POLICY_FILE))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "contact", "2026-11-23T10:30:00+08:00", "contact_amber", "2026-11-23T10:15:00+08:00",
        "resolve_amber", "2026-11-23T16:37:30+08:00", "resolve", "2026-11-24T09:30:00+08:00"]


def test_cli_refuses_a_time_without_offset_and_uses_the_policy_setting(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'none.db'}"
    done = run_app("sla", "deadline", "--sla-class", "consultation", "--dispatched-at", "2026-09-30T16:00:00",
                   DATABASE_URL=db)
    assert done.returncode == 2 and done.stdout == ""
    assert "has no UTC offset" in done.stderr
    policy = write(tmp_path / "p.yaml", OVERRIDES)
    done = run_app("sla", "deadline", "--sla-class", "consultation", "--dispatched-at", "2026-11-23T08:30:00+08:00",
                   "--topic", "fraud", "--extra-hours", "1", DATABASE_URL=db, MINSHENG_SLA_POLICY=str(policy))
    assert done.stdout == "2026-11-25T09:30:00+08:00\n", done.stderr
    write(policy, "contact_hours: -1\n")
    done = run_app("sla", "deadline", "--sla-class", "consultation", "--dispatched-at", "2026-11-23T08:30:00+08:00",
                   DATABASE_URL=db, MINSHENG_SLA_POLICY=str(policy))
    assert done.returncode == 1 and f"{policy}: contact_hours: must be positive" in done.stderr


def test_cli_calendar_load_show_and_deadline_into_a_loaded_year(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cal.db'}"
    env = {"DATABASE_URL": db, "MINSHENG_SLA_POLICY": str(sla.DEFAULT_POLICY_FILE)}
    deadline = ("sla", "deadline", "--sla-class", "consultation", "--dispatched-at", "2026-12-31T16:00:00+08:00")
    assert run_app("db", "upgrade", **env).returncode == 0
    before = run_app(*deadline, **env)
    assert before.stdout == "2027-01-01T10:45:00+08:00\n"
    assert "2027: official calendar not loaded" in before.stderr
    assert run_app("calendar", "show", "2027", **env).returncode == 1
    year_file = write(tmp_path / "2027.yaml", TEST_2027)
    for _ in range(2):  # idempotent
        done = run_app("calendar", "load", str(year_file), **env)
        assert done.returncode == 0, done.stderr
    after = run_app(*deadline, **env)
    assert after.stdout == "2027-01-05T10:45:00+08:00\n"
    assert "not loaded" not in after.stderr
    shown = run_app("calendar", "show", "2027", **env)
    assert shown.returncode == 0
    assert "2027-01-04 (Mon)  test holiday on a Monday" in shown.stdout
    assert "2027-02-06..2027-02-13 (8 days)" in shown.stdout
    assert "2027-02-14 (Sun)" in shown.stdout.split("make-up")[1]
    bad = run_app("calendar", "load", str(write(tmp_path / "bad.yaml", "year: 2027\nholidays: [2027-01-01]\n"
                                                 "workdays: [2027-01-05]\n")), **env)
    assert bad.returncode == 1 and "2027-01-05 is a Tuesday" in bad.stderr
    assert run_app(*deadline, **env).stdout == "2027-01-05T10:45:00+08:00\n"  # a refused file changes nothing


def test_health_lists_the_calendar_warnings(small_bureau_platform: Any) -> None:
    client = small_bureau_platform.server.test_client()
    token = small_bureau_platform.tokens["admin"]

    def warnings() -> Any:
        response = client.get("/api/v1/health", headers={"Authorization": f"Bearer {token}"})
        return response.get_json()["calendar_warnings"]

    assert warnings() == []
    sla.schedule("consultation", at("2026-12-31T16:00:00+08:00"), TZ)
    assert warnings() == ["2027: official calendar not loaded; assuming Monday–Friday"]


def test_the_duty_console_tells_admins_only_about_an_unloaded_year(small_bureau_platform: Any) -> None:
    from tests.integration.test_auth import router_call

    client = small_bureau_platform.server.test_client()

    def notice(username: str) -> str | None:
        """The console's calendar notice as the user sees it (None: the console has none)."""
        headers = {"Authorization": f"Bearer {small_bureau_platform.tokens[username]}"}
        response = client.post("/_dash-update-component", json=router_call("/duty"), headers=headers)
        assert response.status_code == 200

        def find(node: Any) -> Any:
            if isinstance(node, dict):
                if node.get("props", {}).get("id") == "duty-calendar":
                    return node["props"]
                return next((f for f in map(find, node.values()) if f is not None), None)
            if isinstance(node, list):
                return next((f for f in map(find, node) if f is not None), None)
            return None

        found = find(response.get_json())
        return None if found is None else " ".join(p["props"]["children"] for p in found["children"])

    sla.schedule("consultation", at("2026-12-31T16:00:00+08:00"), TZ)  # 2027 assumed Monday–Friday
    said = notice("admin")
    assert said is not None and said.startswith("2027年官方节假日安排") and "python app.py calendar load" in said
    assert notice("duty") is None and notice("inspector") is None  # they see the console, not the notice
