"""The leadership lease (dashboard/live/leader.py): one leader at a time, a renewal never extends
another process's lease, a leader that cannot renew stops believing it leads before its lease can
run out in Redis, and a standing-by process looks again as the holder's lease ends."""
from __future__ import annotations

from typing import Any

import fakeredis
import pytest
import redis

from dashboard.live import leader as leader_module
from dashboard.live.keys import LEADER
from dashboard.live.leader import Leadership


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(leader_module.time, "monotonic", fake)
    return fake


def test_one_leads_the_others_stand_by_and_web_processes_never_campaign() -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    first, second = Leadership(client), Leadership(client)
    web = Leadership(client, campaign=False)
    assert first.is_leader() and not second.is_leader() and not web.is_leader()
    assert client.get(LEADER) == first.token
    assert 0 < client.pttl(LEADER) <= 5000


def test_a_lease_lost_to_another_is_never_renewed(clock: _Clock) -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    first, second = Leadership(client), Leadership(client)
    assert first.is_leader()
    client.delete(LEADER)  # first's lease ran out (it stalled) ...
    second._next_look = 0.0
    assert second.is_leader()  # ... and second took it
    client.pexpire(LEADER, 3000)
    clock.now += first.renew_seconds  # first's next renewal
    assert not first.is_leader()
    assert client.get(LEADER) == second.token and client.pttl(LEADER) <= 3000  # untouched


def test_a_leader_that_cannot_renew_stops_before_its_lease_runs_out(clock: _Clock,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    lead = Leadership(client, lease_seconds=5.0, renew_seconds=1.0)
    assert lead.is_leader()

    def unreachable(*_a: Any, **_k: Any) -> Any:
        raise redis.exceptions.ConnectionError("failover")

    monkeypatch.setattr(client, "pipeline", unreachable)
    clock.now += 3.9
    assert lead.is_leader()  # within lease - renew of its last renewal: still its own
    clock.now += 0.2
    assert not lead.is_leader()  # 4.1 s: Redis may let another take it at 5 s; it stops first


def test_a_standing_by_process_looks_again_as_the_lease_ends(clock: _Clock) -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    client.set(LEADER, "elsewhere:1:x", px=300)
    standby = Leadership(client)
    assert not standby.is_leader()
    assert standby._next_look - clock.now == pytest.approx(0.3, abs=0.05)


def test_a_clean_stop_resigns_and_a_renewal_must_fit_twice_in_the_lease() -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    lead, other = Leadership(client), Leadership(client)
    assert lead.is_leader()
    other.resign()  # not the holder: changes nothing
    assert client.get(LEADER) == lead.token
    lead.resign()
    assert not client.exists(LEADER) and not lead.holds()
    other._next_look = 0.0
    assert other.is_leader()
    with pytest.raises(ValueError):
        Leadership(client, lease_seconds=1.0, renew_seconds=0.8)
