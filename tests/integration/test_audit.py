"""The audit log (issue 19): a reveal, an admin change and a lifecycle step each appear once with
their actor; editing a past row in the database is found by the chain check (``audit verify``
names the row); ``GET /api/v1/audit`` filters by person, ticket, action and time, for admins
and supervisors only. On SQLite and on PostgreSQL."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select, text

from tests.helpers import new_request, run_app
from tickets import accounts, audit, services
from tickets.errors import IllegalStep
from tickets.models import AuditEntry, User
from tickets.roles import actor_for
from tickets.uow import unit_of_work


def _entries(platform: Any, **where: Any) -> list[AuditEntry]:
    with platform.test_factory() as s:
        stmt = select(AuditEntry).order_by(AuditEntry.id)
        for column, value in where.items():
            stmt = stmt.where(getattr(AuditEntry, column) == value)
        return list(s.scalars(stmt))


def _ticket_with_changes(platform: Any) -> str:
    """A ticket taken in (dispatched by the system), accepted by its officer, its citizen revealed
    to the platform office's dispatcher; an account created by the admin. The ticket's number."""
    factory = platform.test_factory
    with unit_of_work(factory) as s:
        number = services.receive_one(s, new_request(datetime.now(UTC) - timedelta(hours=1))).number
    with unit_of_work(factory) as s:
        ticket = services.ticket_in_scope(s, actor_for(s, accounts.find_user(s, "admin")), number)
        holder = s.scalar(select(User).where(User.unit_id == ticket.unit_id, User.role == "handler"))
        assert holder is not None, "the small bureau routes it to a station with an officer"
        services.accept(s, actor_for(s, holder), number)
    answer = platform.server.test_client().post(f"/api/v1/tickets/{number}/reveal",
                                                headers={"Authorization": f"Bearer {platform.tokens['dispatcher']}"})
    assert answer.status_code == 200, answer.get_json()
    with unit_of_work(factory) as s:
        accounts.create_user(s, "new_officer", "新民警", None, "JN-LX-02", "handler", "audit-tests-2026", by="admin")
    return number


def test_a_reveal_an_admin_change_and_a_step_appear_once_with_their_actor(
        small_bureau_platform_each_db: Any) -> None:
    platform = small_bureau_platform_each_db
    number = _ticket_with_changes(platform)
    reveals = _entries(platform, action="reveal")
    assert [(e.actor, e.ticket) for e in reveals] == [("dispatcher", number)]
    created = _entries(platform, action="user_create", target="new_officer")
    assert [(e.actor, e.details["role"]) for e in created] == [("admin", "handler")]
    accepted = _entries(platform, action="accept")
    assert [(e.ticket, e.details["status"]) for e in accepted] == [(number, "accepted")]
    assert accepted[0].actor not in ("system", "admin")  # the officer who took it
    assert [(e.actor, e.details["numbers"]) for e in _entries(platform, action="intake")] == [("system", [number])]
    with platform.test_factory() as s:
        checked, broken = audit.verify(s)
    assert broken is None and checked == len(_entries(platform))


def test_a_refused_step_leaves_no_audit_row(small_bureau_platform_each_db: Any) -> None:
    platform = small_bureau_platform_each_db
    number = _ticket_with_changes(platform)
    before = len(_entries(platform))
    with pytest.raises(IllegalStep), unit_of_work(platform.test_factory) as s:
        services.accept(s, actor_for(s, accounts.find_user(s, "admin")), number)  # already accepted
    assert len(_entries(platform)) == before


def test_an_edited_past_row_breaks_the_chain_at_that_row(small_bureau_platform_each_db: Any) -> None:
    platform = small_bureau_platform_each_db
    _ticket_with_changes(platform)
    rows = _entries(platform)
    assert len(rows) >= 4
    target = rows[len(rows) // 2]
    url = str(platform.test_factory.kw["bind"].url.render_as_string(hide_password=False))
    assert run_app("audit", "verify", DATABASE_URL=url).returncode == 0
    with platform.test_factory() as s:  # someone with the database's password covers their tracks
        s.execute(text("UPDATE audit_log SET actor = 'nobody' WHERE id = :id"), {"id": target.id})
        s.commit()
    with platform.test_factory() as s:
        checked, broken = audit.verify(s)
    assert broken is not None and (broken.id, broken.reason) == (target.id, "hash")
    assert checked == rows.index(target)
    done = run_app("audit", "verify", DATABASE_URL=url)
    assert done.returncode == 1 and f"row {target.id}" in done.stderr, done.stderr


def test_the_api_filters_by_person_ticket_action_and_time_for_admins_and_supervisors(
        small_bureau_platform_each_db: Any) -> None:
    platform = small_bureau_platform_each_db
    start = datetime.now(UTC) - timedelta(seconds=1)
    number = _ticket_with_changes(platform)
    client = platform.server.test_client()

    def get(query: str, who: str = "admin") -> Any:
        return client.get(f"/api/v1/audit{query}", headers={"Authorization": f"Bearer {platform.tokens[who]}"})

    everything = get("?limit=500").get_json()
    ids = [e["id"] for e in everything["items"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(_entries(platform))
    assert {e["action"] for e in get(f"?ticket={number}").get_json()["items"]} == {"accept", "reveal"}
    assert [e["actor"] for e in get("?action=reveal").get_json()["items"]] == ["dispatcher"]
    assert {e["action"] for e in get("?actor=dispatcher").get_json()["items"]} == {"reveal"}
    assert get("?actor=admin&action=user_create").get_json()["items"][0]["target"] == "new_officer"
    later = quote((datetime.now(UTC) + timedelta(minutes=1)).isoformat())
    assert get(f"?since={later}").get_json()["items"] == []
    assert len(get(f"?since={quote(start.isoformat())}&until={later}&limit=500").get_json()["items"]) == len(ids)
    assert get(f"?until={quote(start.isoformat())}").get_json()["items"] == []
    first = get("?limit=2").get_json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    assert get(f"?limit=2&cursor={first['next_cursor']}").get_json()["items"][0]["id"] == ids[2]
    assert get("?action=reveal", "inspector").status_code == 200  # a city supervisor reads it all
    assert len(get("?limit=500", "inspector").get_json()["items"]) == len(ids)
    with unit_of_work(platform.test_factory) as s:
        accounts.create_user(s, "branch_inspector", "分局督察", None, "JN-LX", "supervisor", "audit-tests-2026")
        platform.tokens["branch_inspector"] = accounts.issue_token(s, "api", accounts.find_user(s, "branch_inspector"))
    assert {e["ticket"] for e in get("?limit=500", "branch_inspector").get_json()["items"]} == {number}
    for who in ("officer", "dispatcher", "viewer"):
        refused = get("", who)
        assert refused.status_code == 403 and refused.get_json()["error"]["status"] == 403, who
    assert get("?since=yesterday").get_json()["error"]["code"] == "invalid_time"
    assert get("?action=delete").status_code == 400


def test_logins_exports_and_command_line_changes_are_recorded(small_bureau_platform_each_db: Any) -> None:
    from tests.helpers import log_in

    platform = small_bureau_platform_each_db
    with unit_of_work(platform.test_factory) as s:
        accounts.create_user(s, "audited", "审计员", None, "JN-DC", "supervisor", "audit-tests-2026", by="admin")
    assert log_in(platform.server.test_client(), "audited", "wrong-password").status_code == 401
    assert log_in(platform.server.test_client(), "audited", "audit-tests-2026").status_code == 302
    assert [(e.action, e.details["reason"]) for e in _entries(platform, actor="audited")] == [
        ("login_failed", "wrong_password"), ("login", "ok")]
    year, week, _ = datetime.now(UTC).isocalendar()
    exported = platform.server.test_client().get(
        f"/api/v1/bulletins/{year}-W{week:02d}.xlsx", headers={"Authorization": f"Bearer {platform.tokens['chief']}"})
    assert exported.status_code == 200
    assert [(e.actor, e.target, e.details["format"]) for e in _entries(platform, action="bulletin_export")] == [
        ("chief", f"{year}-W{week:02d}", "xlsx")]
    url = str(platform.test_factory.kw["bind"].url.render_as_string(hide_password=False))
    done = run_app("user", "set-phone", "officer", "13905310000", DATABASE_URL=url)
    assert done.returncode == 0, done.stderr
    changed = _entries(platform, action="user_set_phone")
    assert [(e.target, e.actor.startswith("cli")) for e in changed] == [("officer", True)]
    listed = run_app("audit", "list", "--action", "user_set_phone", DATABASE_URL=url)
    assert listed.returncode == 0 and "officer" in listed.stdout


def test_concurrent_writers_keep_one_chain(small_bureau_platform_each_db: Any) -> None:
    import threading

    platform = small_bureau_platform_each_db
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(8):
                with unit_of_work(platform.test_factory) as s:
                    audit.record(s, f"writer{n}", "calendar_load", target=str(i))
                    audit.record(s, f"writer{n}", "calendar_load", target=f"{i}b")
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with platform.test_factory() as s:
        checked, broken = audit.verify(s)
    assert broken is None and checked == len(_entries(platform)) >= 64


def test_a_savepoint_rolled_back_takes_its_audit_rows_with_it(small_bureau_platform_each_db: Any) -> None:
    platform = small_bureau_platform_each_db
    before = len(_entries(platform))
    with unit_of_work(platform.test_factory) as s:
        savepoint = s.begin_nested()
        audit.record(s, "someone", "calendar_load", target="undone")
        savepoint.rollback()
        with s.begin_nested():
            audit.record(s, "someone", "calendar_load", target="kept inside")
        audit.record(s, "someone", "calendar_load", target="kept")
    assert [e.target for e in _entries(platform)[before:]] == ["kept inside", "kept"]


def test_no_code_updates_or_deletes_the_log() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    writes = re.compile(r"(update|delete)\(\s*AuditEntry|(UPDATE|DELETE FROM)\s+audit_log", re.IGNORECASE)
    found = [str(p.relative_to(root)) for folder in ("tickets", "dashboard", "feeds", "callbacks", "layouts")
             for p in (root / folder).rglob("*.py") if writes.search(p.read_text(encoding="utf-8"))]
    found += [name for name in ("app.py", "settings.py") if writes.search((root / name).read_text(encoding="utf-8"))]
    assert found == []
