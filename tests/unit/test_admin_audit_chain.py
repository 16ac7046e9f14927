"""/admin's audit page walks the hash chain in full only now and then; in between it checks the
rows appended since its last walk (dashboard/read_models/admin_audit.chain)."""
from __future__ import annotations

from pathlib import Path

from dashboard.read_models import admin_audit
from tickets import audit
from tickets.bootstrap import session_factory
from tickets.models import AuditEntry
from tickets.schema import upgrade
from tickets.uow import unit_of_work


def test_an_incremental_walk_checks_the_new_rows_and_a_full_walk_the_old(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    upgrade(url)
    factory = session_factory(url)

    def append(n: int) -> None:
        with unit_of_work(factory) as s:
            for i in range(n):
                audit.record(s, "admin", "login", target=f"u{i}")

    append(3)
    with factory() as s:
        first = admin_audit.chain(s)
    assert first["checked"] == 3 and first["broken_at"] is None
    append(2)
    with factory() as s:
        grown = admin_audit.chain(s, *first["head"], first["checked"])
    assert grown["checked"] == 5 and grown["broken_at"] is None and grown["head"][0] == 5
    with factory() as s:
        old, new = s.get(AuditEntry, 2), s.get(AuditEntry, 5)
        assert old is not None and new is not None
        old.target = new.target = "someone else"
        s.commit()
    with factory() as s:
        assert admin_audit.chain(s, *first["head"], first["checked"])["broken_at"] == 5  # a new row edited
        full = admin_audit.chain(s)
    assert full["broken_at"] == 2 and full["checked"] == 1 and full["reason"] == "hash"


def test_every_action_the_log_records_has_a_name_on_the_page() -> None:
    """The audit page names each action in words (a code on the page is an action added without
    its name); and every action the code records is one the log lists for its filter."""
    import re

    from layouts.admin_audit import ACTION_TEXT

    assert set(audit.ACTIONS) - set(ACTION_TEXT) == set()
    root = Path(__file__).resolve().parents[2]
    recorded = {m for path in [*root.glob("tickets/*.py"), *root.glob("dashboard/**/*.py")]
                for m in re.findall(r"audit\.record\([^,]+,[^,]+,\s*\"([a-z_]+)\"", path.read_text(encoding="utf-8"))}
    assert recorded and recorded - set(audit.ACTIONS) == set()
