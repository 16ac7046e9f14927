"""Frames go only to the rooms someone is in (dashboard/push.py), and a desk misses nothing for it."""
from __future__ import annotations

import json
import time
from typing import Any

import fakeredis

from dashboard import push


class Emits:
    """A stand-in for Flask-SocketIO's ``emit``: what went to which room."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def emit(self, event: str, data: str, namespace: str, to: str) -> None:
        assert namespace == push.NAMESPACE
        self.sent.append((event, to, json.loads(data)))

    def rooms(self) -> list[str]:
        return [to for _e, to, _d in self.sent]


def scope_rooms() -> push.ScopeRooms:
    """City 1 > branch 2 > stations 3 and 4; branch 5 under the city."""
    rooms = push.ScopeRooms(factory=None)  # type: ignore[arg-type]
    rooms._parents = {1: None, 2: 1, 3: 2, 4: 2, 5: 1}
    rooms._city = 1
    rooms._loaded = time.monotonic()  # no database: the tree above is the one
    return rooms


def frame(seq: int, unit_id: int) -> dict[str, Any]:
    return {"events": [{"seq": seq, "event": "received", "ticket": {"ticket_id": seq, "number": f"MS{seq}",
                                                                    "unit_id": unit_id}}],
            "counters": {"epoch": "e1", "seq": seq}, "server_time": "2026-12-04T10:00:00+00:00"}


def test_only_rooms_someone_is_in_get_frames_and_a_newly_heard_room_learns_what_it_missed() -> None:
    socketio, rooms = Emits(), scope_rooms()
    heard: list[set[str] | None] = [{"live"}]
    publish = push.publisher(socketio, rooms, lambda: heard[0])  # type: ignore[arg-type]

    publish(frame(1, 3))  # only the wall listens: one message, not four
    assert socketio.rooms() == ["live"]
    assert rooms.last == {"unit:3": 1, "unit:2": 1, "unit:1": 1}  # the skipped rooms' prev moved on

    socketio.sent.clear()
    heard[0] = {"live", "unit:2"}  # a branch's desk joined
    publish(frame(2, 5))  # a ticket of the other branch: nothing for unit:2 in it ...
    assert socketio.rooms() == ["live", "unit:2"]
    _event, _to, catch_up = socketio.sent[1]
    # ... but an empty frame naming seq 1, which its desk (loaded before it) then reloads for.
    assert catch_up["events"] == [] and catch_up["prev"] == 1 and catch_up["epoch"] == "e1"

    socketio.sent.clear()
    publish(frame(3, 4))  # under the branch: its frame follows on from seq 1
    assert socketio.rooms() == ["live", "unit:2"]
    assert socketio.sent[1][2]["prev"] == 1 and [e["seq"] for e in socketio.sent[1][2]["events"]] == [3]

    socketio.sent.clear()
    heard[0] = None  # not known (a process of an earlier release): every room
    publish(frame(4, 3))
    assert socketio.rooms() == ["live", "unit:3", "unit:2", "unit:1"]


def test_listeners_say_which_rooms_are_heard_and_an_old_process_means_every_room() -> None:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    web1 = push.Listeners(client, "web-1", lambda: 2, rooms=lambda: ["live", "unit:7"])
    web2 = push.Listeners(client, "web-2", lambda: 1, rooms=lambda: ["unit:9"])
    idle = push.Listeners(client, "web-3", lambda: 0, rooms=lambda: [])
    worker = push.Listeners(client, "worker", lambda: 0)
    for process in (web1, web2, idle):
        process.publish()
    assert worker.any() is True
    assert worker.heard() == {"live", "unit:7", "unit:9"}

    client.hset(push.LISTENERS_KEY, "web-old", f"1:{time.time():.0f}")  # no rooms in its field
    worker._answer = (float("-inf"), True)  # look again now
    assert worker.heard() is None

    client.delete(push.LISTENERS_KEY)
    idle.publish()
    worker._answer = (float("-inf"), True)
    assert worker.any() is False and worker.heard() == set()


def test_the_counts_stay_as_a_leader_of_the_release_before_reads_them() -> None:
    """An upgrade restarts the web processes before the worker: the counts' fields keep their
    "count:time" form (the rooms are in a hash of their own), which the release before split
    in two and would have failed on."""
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    push.Listeners(client, "web-1", lambda: 3, rooms=lambda: ["live", "unit:7"]).publish()
    (value,) = client.hvals(push.LISTENERS_KEY)
    n, at = value.split(":")  # as the release before reads it
    assert int(n) == 3 and float(at) > 0
    assert client.hget(push.ROOMS_KEY, "web-1") == "live,unit:7"


def test_events_pushed_to_nobody_still_move_each_rooms_prev_on() -> None:
    """No screen counted anywhere: no frame is built, but a desk whose socket was not counted
    yet must still see, on its room's next frame, that it missed these events."""
    socketio, rooms = Emits(), scope_rooms()
    publish = push.publisher(socketio, rooms, lambda: {"unit:3"})  # type: ignore[arg-type]
    rooms.note(frame(5, 3)["events"])  # what the aggregator tells while nobody listens
    assert rooms.last["unit:3"] == 5 and socketio.sent == []
    publish(frame(6, 3))
    (_event, to, sent), *_ = socketio.sent
    assert to == "unit:3" and sent["prev"] == 5  # a desk loaded before seq 5 reloads


def test_a_new_leaders_first_frames_name_the_seq_it_started_from() -> None:
    """A new leader knows no room's last frame: a room's first frame names the seq before the
    leader's first, so a desk behind it (what the leader before may not have sent) reloads once."""
    socketio, rooms = Emits(), scope_rooms()
    publish = push.publisher(socketio, rooms, lambda: {"unit:3", "unit:4"})  # type: ignore[arg-type]
    publish(frame(41, 3))
    assert [d["prev"] for _e, to, d in socketio.sent if to == "unit:3"] == [40]
    socketio.sent.clear()
    publish(frame(42, 4))
    assert [d["prev"] for _e, to, d in socketio.sent if to == "unit:4"] == [40]
