"""The weekly bulletin (每周通报) on PostgreSQL: a simulated month of tickets taking every path
(on-time and late acceptance and contact, returns and re-dispatch, review sent back,
satisfied, basically satisfied and unsatisfied follow-ups with redo, tickets left open
past their deadlines, supervision orders, reminder letters), then the bulletin of its
third week, made the Monday after at 07:00.

Every number of the bulletin must equal (1) plain COUNT queries written here from the
definitions of docs/FIGURES.md, for the bureau and for every unit's subtree, and (2) the
figures API over the same period at the same moment. A published week does not change
when its tickets do; a re-issue is version 2 with the differences; a branch head sees
their subtree only.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from tests.helpers import MADE_AT, TZ, WEEK, ApiWorld
from tickets import bulletin, lifecycle, services, sla
from tickets.errors import NotAllowed
from tickets.models import Bulletin, Ticket, Unit
from tickets.roles import SYSTEM
from tickets.stats import wilson
from tickets.uow import unit_of_work

def make(world: ApiWorld, *, at: datetime = MADE_AT, reissue: bool = False) -> bulletin.Made:
    with unit_of_work(world.platform.factory) as s:
        return services.make_bulletin(s, SYSTEM, WEEK, now=at, reissue=reissue)


# ------------------------------------------------------------ the reference
SUBTREE = """WITH RECURSIVE sub(id) AS (SELECT id FROM units WHERE code = :code
             UNION ALL SELECT u.id FROM units u JOIN sub ON u.parent_id = sub.id)"""


def reference(s: Any, start: datetime, end: datetime, now: datetime, code: str | None) -> dict[str, int]:
    """The figures' counts by plain COUNTs, from the written definitions (docs/FIGURES.md)."""
    scope = " AND t.unit_id IN (SELECT id FROM sub)" if code else ""
    head = SUBTREE if code else ""
    week = "t.received_at >= :start AND t.received_at < :end AND t.status <> 'merged'" + scope
    p = {"start": start, "end": end, "now": now, "code": code}

    def one(where: str, table: str = "tickets t") -> int:
        return int(s.execute(text(f"{head} SELECT count(*) FROM {table} WHERE {where}"), p).scalar())

    return {
        "received": one(week),
        "dispatched": one(f"{week} AND t.dispatched_at IS NOT NULL"),
        "direct": one(f"{week} AND t.direct_dispatch"),
        "response_due": one(f"{week} AND t.contact_due_at IS NOT NULL AND "
                            "(t.contacted_at IS NOT NULL OR t.contact_due_at <= :now)"),
        "responded_on_time": one(f"{week} AND t.contacted_at <= t.contact_due_at"),
        "due": one(f"{week} AND (t.status = 'closed' OR t.resolve_due_at <= :now)"),
        "closed": one(f"{week} AND t.status = 'closed'"),
        "closed_on_time": one(f"{week} AND t.status = 'closed' AND t.closed_at <= t.resolve_due_at"),
        "follow_ups_answered": one(f"{week} AND f.status = 'answered' AND f.answer IS NOT NULL",
                                   "follow_ups f JOIN tickets t ON t.id = f.ticket_id"),
        "follow_ups_satisfied": one(f"{week} AND f.status = 'answered' AND f.answer IN "
                                    "('satisfied', 'basically_satisfied')",
                                    "follow_ups f JOIN tickets t ON t.id = f.ticket_id"),
        "accept_due": one(f"{week} AND t.contact_due_at IS NOT NULL AND "
                          "(t.accepted_at IS NOT NULL OR t.contact_due_at <= :now)"),
        "accepted_on_time": one(f"{week} AND t.accepted_at <= t.contact_due_at"),
        "returned": one(f"{week} AND t.dispatched_at IS NOT NULL AND EXISTS (SELECT 1 FROM ticket_events e "
                        "WHERE e.ticket_id = t.id AND e.kind = 'return')"),
        "replied": one(f"{week} AND t.replied_at IS NOT NULL"),
        "redone": one(f"{week} AND t.replied_at IS NOT NULL AND t.redo_count > 0"),
        "breaches_now": one("t.status NOT IN ('closed', 'merged') AND ((t.contacted_at IS NULL AND "
                            f"t.contact_due_at <= :now) OR t.resolve_due_at <= :now){scope}"),
    }


def ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def expected_rates(c: dict[str, int]) -> dict[str, float | None]:
    return {
        "response_rate": ratio(c["responded_on_time"], c["response_due"]),
        "completion_rate": ratio(c["closed"], c["due"]),
        "on_time_rate": ratio(c["closed_on_time"], c["due"]),
        "satisfaction_rate": ratio(c["follow_ups_satisfied"], c["follow_ups_answered"]),
        "direct_dispatch_rate": ratio(c["direct"], c["dispatched"]),
        "acceptance_rate": ratio(c["accepted_on_time"], c["accept_due"]),
        "return_rate": ratio(c["returned"], c["dispatched"]),
        "redo_rate": ratio(c["redone"], c["replied"]),
    }


def agrees(section: dict[str, Any], ref: dict[str, int], where: str) -> None:
    counts = section["counts"]
    for name, value in ref.items():
        got = section[name] if name in ("received", "breaches_now") else counts[name]
        assert got == value, f"{where}: {name} {got} != {value}"
    assert counts["sub_dispatched"] == ref["dispatched"], where
    for rate, value in expected_rates(ref).items():
        assert section[rate] == pytest.approx(value, abs=1e-12) if value is not None else section[rate] is None, \
            f"{where}: {rate} {section[rate]} != {value}"


# ------------------------------------------------------------------ tests
@pytest.mark.real_servers
def test_every_number_equals_a_fresh_count_and_the_figures_api(bulletin_world: ApiWorld) -> None:
    import dashboard.api.figures as api_figures

    world = bulletin_world
    started = time.perf_counter()
    made = make(world)
    took = time.perf_counter() - started
    content = made.content
    assert made.made and made.row is not None and made.row.version == 1 and content["provisional"] is False
    _, _, start, end = bulletin.week_bounds(WEEK, TZ)
    with world.platform.factory() as s:
        total = s.scalar(text("SELECT count(*) FROM tickets"))
        bureau_ref = reference(s, start, end, MADE_AT, None)
        assert bureau_ref["received"] > 100 and bureau_ref["returned"] and bureau_ref["redone"]
        assert bureau_ref["follow_ups_answered"] > bureau_ref["follow_ups_satisfied"] > 0
        agrees(content["bureau"], bureau_ref, "bureau")
        for code, section in content["units"].items():
            agrees(section, reference(s, start, end, MADE_AT, code), code)
        groups = {"branches": {"branch", "county_bureau"}, "divisions": {"division"}}
        for group, kinds in groups.items():
            want = set(s.scalars(select(Unit.code).where(Unit.level == 2, Unit.kind.in_(kinds))))
            assert {r["unit"] for r in content["rankings"][group]["units"]} == want
        # the four weeks before, computed at the same moment
        for k, entry in enumerate(content["bureau"]["trend"]):
            _, _, a, b = bulletin.week_bounds(bulletin.shift(WEEK, -k), TZ)
            ref = reference(s, a, b, MADE_AT, None)
            assert entry["received"] == ref["received"]
            for rate, value in expected_rates(ref).items():
                assert entry[rate] == pytest.approx(value) if value is not None else entry[rate] is None
        # exceptions against their definitions
        overdue = set(s.scalars(text(
            "SELECT number FROM tickets WHERE status NOT IN ('closed', 'merged') AND received_at < :end AND "
            "((contacted_at IS NULL AND contact_due_at <= :now) OR resolve_due_at <= :now)"),
            {"end": end, "now": MADE_AT}))
        closed_late = set(s.scalars(text(
            "SELECT number FROM tickets WHERE status = 'closed' AND closed_at >= :start AND closed_at < :end "
            "AND closed_at > resolve_due_at"), {"start": start, "end": end}))
        unsatisfied = set(s.scalars(text(
            "SELECT DISTINCT t.number FROM follow_ups f JOIN tickets t ON t.id = f.ticket_id WHERE "
            "f.status = 'answered' AND f.answer = 'unsatisfied' AND f.answered_at >= :start AND f.answered_at < :end"),
            {"start": start, "end": end}))
        letters = set(s.scalars(text("SELECT number FROM reminder_letters WHERE issued_at >= :start "
                                     "AND issued_at < :end"), {"start": start, "end": end}))
        orders = set(s.scalars(text("SELECT number FROM supervision_orders WHERE issued_at < :end AND "
                                    "(issued_at >= :start OR status = 'open')"), {"start": start, "end": end}))
        topics = dict(s.execute(text("SELECT topic, count(*) FROM tickets WHERE received_at >= :start AND "
                                     "received_at < :end AND status <> 'merged' GROUP BY topic"),
                                {"start": start, "end": end}).all())
    ex = content["exceptions"]
    assert {r["number"] for r in ex["overdue"]} == overdue and overdue
    assert {r["number"] for r in ex["closed_late"]} == closed_late and closed_late
    assert {r["number"] for r in ex["unsatisfied"]} == unsatisfied and unsatisfied
    assert {r["number"] for r in ex["reminder_letters"]} == letters and letters
    assert {r["number"] for r in ex["supervision_orders"]} == orders and orders
    assert {i["key"]: i["count"] for i in content["topics"]["items"] if i["count"]} == topics
    # a unit's section counts its subtree's exceptions
    lx = content["units"]["JN-LX"]["exceptions"]["overdue"]
    assert lx["count"] == sum(1 for r in ex["overdue"] if r["branch"] == "JN-LX") == len(lx["numbers"])
    # units under the satisfaction threshold: ranked ones only
    threshold = content["rules"]["satisfaction_threshold"]
    named = {r["unit"] for r in ex["below_satisfaction"]}
    assert named == {c for c, u in content["units"].items() if u["rank"] is not None
                     and u["satisfaction_rate"] is not None and u["satisfaction_rate"] < threshold}
    # no personal data anywhere
    dumped = str(content)
    assert "张三" not in dumped and "137000" not in dumped

    # the figures API over the same week at the same moment says the same
    real_now = api_figures.utcnow
    api_figures.utcnow = lambda: MADE_AT
    try:
        for code in (None, "JN-LX", "JN-LX-01", "JN-TQ"):
            query = f"/api/v1/figures?from=2026-11-23&to=2026-11-29{'&unit=' + code if code else ''}"
            answer = world.get(query).get_json()
            section = content["bureau"] if code is None else content["units"][code]
            for key in api_figures.FIGURES:
                if key == "counts":
                    assert {k: section["counts"][k] for k in answer["counts"]} == answer["counts"]
                else:
                    assert section[key] == answer[key], f"{code}: {key}"
    finally:
        api_figures.utcnow = real_now
    print(f"\nbulletin of {WEEK} over {total} tickets: {took:.2f} s")


@pytest.mark.real_servers
def test_rankings_intervals_ties_and_lists(bulletin_world: ApiWorld) -> None:
    content = make(bulletin_world).content
    rules = content["rules"]
    weights = rules["weights"]
    for group in (content["rankings"]["branches"], *content["rankings"]["stations"].values()):
        ranked = [r for r in group["units"] if r["rank"] is not None]
        assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
        scores = [r["composite_score"] for r in ranked]
        assert scores == sorted(scores, reverse=True)
        for r in group["units"]:
            section = content["units"][r["unit"]]
            if r["rank"] is None:
                assert r["unranked_code"] == "min_tickets" and r["received"] < rules["min_tickets"]
                continue
            assert r["received"] >= rules["min_tickets"]
            # the composite's interval: the weighted mean of the rates' Wilson bounds
            c = section["counts"]
            parts = [(weights["response"], c["responded_on_time"], c["response_due"]),
                     (weights["completion"], c["closed_on_time"], c["due"]),
                     (weights["satisfaction"], c["follow_ups_satisfied"], c["follow_ups_answered"])]
            parts = [(w, wilson(k, n)) for w, k, n in parts if n]
            total = sum(w for w, _ in parts)
            low = sum(w * b[0] for w, b in parts) / total  # type: ignore[index]
            high = sum(w * b[1] for w, b in parts) / total  # type: ignore[index]
            assert r["composite_interval"] == pytest.approx([low, high])
            assert low <= r["composite_score"] <= high
        for a, b in zip(ranked, ranked[1:]):
            overlapping = a["composite_interval"][0] <= b["composite_interval"][1] \
                and b["composite_interval"][0] <= a["composite_interval"][1]
            assert (b["unit"] in a["tied_with"]) == overlapping == (a["unit"] in b["tied_with"])
        n = rules["top_n"]
        assert group["top"] == [r["unit"] for r in ranked[:n]]
        assert group["bottom"] == [r["unit"] for r in ranked[max(n, len(ranked) - n):]][::-1]
        assert not set(group["top"]) & set(group["bottom"])
    assert any(r["tied"] for r in content["rankings"]["branches"]["units"])


@pytest.mark.real_servers
def test_a_published_week_stays_and_a_reissue_lists_what_changed(bulletin_world: ApiWorld) -> None:
    world = bulletin_world
    first = make(world)
    published = world.get(f"/api/v1/bulletins/{WEEK}").get_json()
    assert published["version"] == 1 and published["changes"] == []
    _, _, start, end = bulletin.week_bounds(WEEK, TZ)
    number = next(r["number"] for r in first.content["exceptions"]["overdue"]
                  if start <= datetime.fromisoformat(r["received_at"]) < end)  # a ticket of the week
    later = MADE_AT + timedelta(hours=2)
    with unit_of_work(world.platform.factory) as s:  # a ticket of the week is dealt with after publication
        t = s.scalar(select(Ticket).where(Ticket.number == number))
        if t.status in ("dispatched", "accepted"):
            lifecycle.contact(s, t, later)
        lifecycle.report(s, t, later)
        lifecycle.approve(s, t, later)
        lifecycle.reply(s, t, later, text="已处理")
        t.status, t.closed_at = "closed", later + timedelta(minutes=5)
    assert world.get(f"/api/v1/bulletins/{WEEK}").get_json() == published
    again = make(world, at=later + timedelta(hours=1))
    assert not again.made and again.row is not None and again.row.version == 1  # idempotent

    reissued = make(world, at=later + timedelta(hours=1), reissue=True)
    assert reissued.made and reissued.row is not None and reissued.row.version == 2
    body = world.get(f"/api/v1/bulletins/{WEEK}").get_json()
    assert body["version"] == 2
    changes = {c["path"]: c for c in body["changes"]}
    before, after = first.content["bureau"]["counts"], body["bureau"]["counts"]
    assert after["closed"] == before["closed"] + 1
    assert changes["bureau.counts.closed"] == {"path": "bureau.counts.closed", "before": before["closed"],
                                               "after": after["closed"]}
    assert number in changes["exceptions.overdue.tickets"]["removed"]
    assert world.get(f"/api/v1/bulletins/{WEEK}?version=1").get_json() == published
    listing = world.get("/api/v1/bulletins").get_json()
    assert [(i["week"], i["version"]) for i in listing["items"]] == [(WEEK, 2), (WEEK, 1)]
    # the week after: last week's exceptions and what became of them
    with unit_of_work(world.platform.factory) as s:
        nxt = services.make_bulletin(s, SYSTEM, bulletin.shift(WEEK, 1), now=MADE_AT + timedelta(days=7))
    last = nxt.content["exceptions"]["last_week"]
    assert last["week"] == WEEK and last["version"] == 2
    listed = {r["number"] for name in ("overdue", "unsatisfied") for r in body["exceptions"][name]} | {
        r["ticket_number"] for name in ("supervision_orders", "reminder_letters") for r in body["exceptions"][name]}
    assert {i["number"] for i in last["items"]} == listed
    with world.platform.factory() as s:
        status = dict(s.execute(select(Ticket.number, Ticket.status).where(Ticket.number.in_(listed))).all())
    for item in last["items"]:
        assert item["status"] == status[item["number"]]
        assert (item["outcome"] == "closed") == (status[item["number"]] == "closed")


@pytest.mark.real_servers
def test_a_branch_head_sees_their_subtree_only(bulletin_world: ApiWorld) -> None:
    world = bulletin_world
    make(world)
    city = world.get(f"/api/v1/bulletins/{WEEK}", "chief").get_json()
    branch = world.get(f"/api/v1/bulletins/{WEEK}", "lx_head").get_json()
    assert city["scope"]["city_wide"] and city["bureau"]["received"] > 0
    with world.platform.factory() as s:
        lx = set(s.scalars(text(f"{SUBTREE} SELECT code FROM units WHERE id IN (SELECT id FROM sub)"),
                           {"code": "JN-LX"}))
    assert branch["bureau"] is None and branch["topics"] is None and branch["channels"] is None
    assert set(branch["units"]) == {c for c in city["units"] if c in lx} and "JN-LX" in branch["units"]
    assert branch["units"]["JN-LX"] == city["units"]["JN-LX"]
    assert [r["unit"] for r in branch["rankings"]["branches"]["units"]] == ["JN-LX"]
    assert set(branch["rankings"]["stations"]) == {"JN-LX"} and not branch["rankings"]["divisions"]["units"]
    for name in bulletin.EXCEPTION_LISTS:
        assert {r["unit"] for r in branch["exceptions"][name]} <= lx
        assert [r for r in city["exceptions"][name] if r["unit"] in lx] == branch["exceptions"][name]
    assert branch["exceptions"]["overdue"]
    assert all(c["unit"] in lx for c in branch["hotspots"]["cells"])
    # the branch head may not make the city's bulletin
    with unit_of_work(world.platform.factory) as s:
        from tickets.roles import actor_for
        from tickets.models import User

        head = actor_for(s, s.scalar(select(User).where(User.username == "lx_head")))
        with pytest.raises(NotAllowed):
            services.make_bulletin(s, head, bulletin.shift(WEEK, -1), now=MADE_AT)


@pytest.mark.real_servers
def test_the_leader_makes_last_week_once_from_monday_seven(bulletin_world: ApiWorld) -> None:
    factory = bulletin_world.platform.factory
    assert bulletin.make_due(factory, MADE_AT - timedelta(minutes=1)) is None
    made = bulletin.make_due(factory, MADE_AT)
    assert made is not None and made.row is not None and made.row.week == WEEK and made.made
    assert bulletin.make_due(factory, MADE_AT + timedelta(hours=3)) is None  # frozen: not made again
    with factory() as s:
        assert s.scalar(text("SELECT count(*) FROM bulletins")) == 1
        # the week was judged by version 1 of the rules, the policy file's: its fingerprint
        assert s.scalar(select(Bulletin.policy_version)) == f"v1 ({sla.file_policy().fingerprint})"


@pytest.mark.real_servers
def test_the_running_week_is_provisional_and_not_kept(bulletin_world: ApiWorld) -> None:
    from tickets.models import utcnow

    world = bulletin_world
    running = bulletin.week_of(utcnow().astimezone(TZ).date())
    body = world.get(f"/api/v1/bulletins/{running}").get_json()
    assert body["provisional"] is True and body["version"] is None and body["id"] is None
    with unit_of_work(world.platform.factory) as s:
        made = services.make_bulletin(s, SYSTEM, running)
        assert made.row is None and made.content["provisional"] is True
    assert world.get("/api/v1/bulletins").get_json()["items"] == []
    assert world.get(f"/api/v1/bulletins/{bulletin.shift(running, 1)}").status_code == 400
    assert world.get(f"/api/v1/bulletins/{WEEK}").get_json()["error"]["code"] == "unknown_bulletin"
    assert world.get("/api/v1/bulletins/2026-W99").status_code == 400
    assert world.get(f"/api/v1/bulletins/{WEEK}", "kiosk").status_code == 403
