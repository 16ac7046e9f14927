"""Socket.IO events beside the routes (as in Flask-SocketIO-Chat).

Screens connect to the ``/live`` namespace. The aggregator publishes one
message per batch of applied events; with Redis configured, Flask-SocketIO's
message queue carries it to every server process, so it does not matter which
process leads. Two streams leave:

- ``live`` to the ``live`` room: every event with the city's counters, for the
  wall (public views only: no names, no phone numbers).
- ``scoped`` to the room of each unit's subtree (``unit:<id>``): a ticket's
  event (its seq, its kind and the ticket's number) goes to the room of its unit and of every unit above it, and a socket
  joins only the room of the unit its user's scope starts from (a station
  officer hears their station, a branch its stations, the city everything
  through ``unit:<city>``). A work desk applies those. Each frame names the
  ``seq`` of the frame its room got before (``prev``): a desk that has not
  seen that one missed a frame and reloads.

A branch bureau's wall (``/wall?unit=JN-LX``) connects with ``auth={"unit": code}``: it
joins that unit's scoped room and not the ``live`` room, so nothing of another subtree
reaches it; on a frame it reloads its subtree's snapshot (``dashboard/live/branch.py``).
The ``live`` room is only for those who see the whole city: the wall of a station's officer
or of a branch's kiosk token is its unit's branch wall (``callbacks/wall.py``).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import request
from flask_socketio import SocketIO, join_room
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from dashboard import auth
from dashboard.live import keys as K
from tickets import jsontext
from tickets.uow import UnitOfWork
from tickets.models import Unit

log = logging.getLogger(__name__)

NAMESPACE = "/live"
ROOM = "live"
EVENT = "live"
SCOPED_EVENT = "scoped"
UNITS_TTL_SECONDS = 60.0  # a unit an admin moved reaches the rooms within a minute

# What the shared screens draw of a ticket's step, by the step: a "received" ticket counts in
# the wall's flow chart (its minute and channel) and lands on the heat map; a first "dispatched"
# one becomes a ticker row. Any other step changes counters only, which travel beside the
# events. A frame carries these fields, not the ticket's whole public view (~800 bytes a step).
WALL_FIELDS: dict[str, tuple[str, ...]] = {
    "received": ("ticket_id", "number", "channel", "topic", "district", "received_at", "lat", "lon"),
    "dispatched": ("ticket_id", "number", "channel", "topic", "district", "unit_name", "received_at"),
}
NAMED_ONLY = ("ticket_id", "number")

# Who listens: each process keeps the number of its /live sockets in this Redis hash, field =
# the process, refreshed every LISTENERS_SECONDS; the leader's aggregator builds and emits no
# frame while the sum is zero (no screen connected: nothing to push).
LISTENERS_KEY = K.LISTENERS
ROOMS_KEY = K.LISTENER_ROOMS
LISTENERS_SECONDS = 5.0


def unit_room(unit_id: int) -> str:
    return f"unit:{unit_id}"


def scope_room(actor: Any, city_unit_id: int | None) -> str | None:
    """The one scoped room a socket joins: its user's unit (their subtree), the city's for
    a city-wide user; none for a city kiosk (walls take the ``live`` stream)."""
    if actor.role == auth.KIOSK_ROLE and actor.visible_unit_ids is None:
        return None
    root = actor.unit_id if actor.visible_unit_ids is not None else city_unit_id
    return unit_room(root) if root is not None else None


def register(socketio: SocketIO, rooms: ScopeRooms, listeners: Listeners) -> None:
    @socketio.on("connect", namespace=NAMESPACE)
    def _connect(auth_data: Any = None) -> bool:
        # The session cookie (login or kiosk grant), or auth={"token": ...}.
        actor = auth.admit_socket(request.sid, auth_data)  # type: ignore[attr-defined]
        if actor is None:
            return False
        wall_unit = auth_data.get("unit") if isinstance(auth_data, dict) else None
        if isinstance(wall_unit, str):  # a branch's wall: its subtree's room, nothing else
            uid = rooms.unit_id(wall_unit)
            if uid is None or (actor.visible_unit_ids is not None and uid not in actor.visible_unit_ids):
                auth.forget_socket(request.sid)  # type: ignore[attr-defined]
                return False
            join_room(unit_room(uid))
            listeners.publish()
            return True
        if actor.visible_unit_ids is None:  # the city's stream only for whoever sees the whole city
            join_room(ROOM)
        room = scope_room(actor, rooms.city())
        if room is not None:
            join_room(room)
        listeners.publish()
        return True

    @socketio.on("disconnect", namespace=NAMESPACE)
    def _disconnect(*_args: Any) -> None:
        auth.forget_socket(request.sid)  # type: ignore[attr-defined]
        listeners.publish()


def drop(socketio: SocketIO) -> Callable[[str], None]:
    """Disconnect one of this process's /live sockets (its grant was revoked)."""
    return lambda sid: socketio.server.disconnect(sid, namespace=NAMESPACE)  # type: ignore[attr-defined]  # set by init_app


class ScopeRooms:
    """Which rooms a ticket's event goes to (its unit's and its ancestors'), and the ``seq``
    each room got last. Kept by the leading process only: a new leader starts afresh, and a
    desk whose next frame says ``prev: 0`` simply carries on."""

    def __init__(self, factory: sessionmaker[UnitOfWork]) -> None:
        self.factory = factory
        self._parents: dict[int, int | None] = {}
        self._codes: dict[str, int] = {}
        self._city: int | None = None
        self._loaded = float("-inf")
        self._lock = threading.Lock()
        self.last: dict[str, int] = {}
        # The seq before the first frame this leader built: a room's first frame names it as its
        # prev, so a desk behind it (events the leader before may not have sent it) reloads once.
        self.since: int | None = None

    def _load(self) -> None:
        with self._lock:
            if time.monotonic() - self._loaded < UNITS_TTL_SECONDS:
                return
            with self.factory() as session:
                rows = session.execute(select(Unit.id, Unit.parent_id, Unit.level, Unit.code)).all()
            self._parents = {uid: parent for uid, parent, _level, _code in rows}
            self._codes = {code: uid for uid, _p, _level, code in rows}
            self._city = min((uid for uid, _p, level, _code in rows if level == 1), default=None)
            self._loaded = time.monotonic()

    def city(self) -> int | None:
        self._load()
        return self._city

    def unit_id(self, code: str) -> int | None:
        self._load()
        return self._codes.get(code)

    def chain(self, unit_id: int | None) -> Iterable[int]:
        seen: set[int] = set()
        while unit_id is not None and unit_id not in seen:
            seen.add(unit_id)
            yield unit_id
            unit_id = self._parents.get(unit_id)

    def _start(self, message: dict[str, Any]) -> None:
        if self.since is None:
            events = message.get("events") or ()
            seq = events[0]["seq"] - 1 if events else message.get("counters", {}).get("seq")
            self.since = int(seq) if seq is not None else None

    def note(self, events: list[dict[str, Any]]) -> None:
        """Events pushed to nobody (no screen connected anywhere): each room's prev moves on, so
        a desk whose socket was not counted yet sees on its next frame that it missed them."""
        self.frames({"events": events})  # built and dropped: only their prev is kept

    def frames(self, message: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Room → its frame of ``message``: the events of tickets under it, and ``prev``."""
        self._load()
        self._start(message)
        by_room: dict[str, list[dict[str, Any]]] = {}
        for event in message.get("events", ()):
            view = event.get("ticket")
            if view is None:
                continue
            # A work screen fetches the rows a frame names (in its user's scope, masked): the frame
            # names the ticket and the step, nothing more, so the fan-out to the rooms stays small.
            named = {"seq": event["seq"], "event": event["event"], "number": view["number"]}
            for uid in self.chain(view.get("unit_id")):
                by_room.setdefault(unit_room(uid), []).append(named)
        out = {}
        for room, events in by_room.items():
            out[room] = {"events": events, "prev": self.last.get(room, self.since or 0),
                         "epoch": message.get("counters", {}).get("epoch"), "server_time": message.get("server_time")}
            self.last[room] = events[-1]["seq"]
        return out


def wall_event(event: dict[str, Any]) -> dict[str, Any]:
    """An event as the ``live`` room gets it: the ticket's fields its step changes on a shared screen."""
    view = event.get("ticket")
    if view is None:
        return event
    keep = WALL_FIELDS.get(event["event"], NAMED_ONLY)
    return {**event, "ticket": {k: view.get(k) for k in keep}}


def wall_frame(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "events": [wall_event(e) for e in message.get("events", ())]}


def occupied_rooms(socketio: SocketIO) -> list[str]:
    """This process's rooms of ``/live`` that a socket is in: the wall's and the units' (not each
    socket's own)."""
    server = getattr(socketio, "server", None)
    if server is None:  # a worker: it emits, it has no sockets
        return []
    rooms = server.manager.rooms.get(NAMESPACE, {})
    return [room for room, members in list(rooms.items())
            if members and isinstance(room, str) and (room == ROOM or room.startswith("unit:"))]


class Listeners:
    """Whether any process has a /live socket (``any``) and which rooms they are in (``heard``);
    this process's count comes from ``count`` (the gate's admitted sockets), its rooms from
    ``rooms``."""

    def __init__(self, client: Any, token: str, count: Callable[[], int],
                 rooms: Callable[[], Iterable[str]] = lambda: ()) -> None:
        self.redis = client
        self.token = token
        self.count = count
        self.rooms = rooms
        self._answer = (float("-inf"), True)  # (when asked, whether anyone listened)
        self._heard: set[str] | None = None  # the rooms someone is in; None: not known (say all)

    def publish(self) -> None:
        """Say this process's count and rooms (on every change, and every LISTENERS_SECONDS: a
        process that died leaves a stale field, which ``any`` ignores after three periods)."""
        count = self.count()
        rooms = sorted(self.rooms())
        if count:
            self._answer = (time.monotonic(), True)  # this process's aggregator pushes at once
            if self._heard is not None:
                self._heard = self._heard | set(rooms)  # ... to these rooms too (a new set: see publisher)
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.hset(LISTENERS_KEY, self.token, f"{count}:{time.time():.0f}")
            # The rooms in a hash of their own: a leader of the release before reads the counts'
            # fields as "count:time" and would fail on a third part (an upgrade, web first).
            pipe.hset(ROOMS_KEY, self.token, ",".join(rooms))
            for key in (LISTENERS_KEY, ROOMS_KEY):
                pipe.expire(key, int(LISTENERS_SECONDS * 6))
            pipe.execute()
        except Exception:  # Redis away: the aggregator is stopped too; the next refresh says it
            log.debug("could not publish the listener count", exc_info=True)

    def any(self) -> bool:
        """Whether a screen is connected to any process; asked of Redis at most once a second
        while some are, five times a second while none is: a screen that connects to another
        process (``app.py serve``'s, this being ``app.py worker``) gets pushes within 0.2 s,
        where the frames skipped meanwhile would have cost it a reload of the snapshot."""
        asked, answer = self._answer
        if time.monotonic() - asked < (1.0 if answer else 0.2):
            return answer
        fresh = time.time() - 3 * LISTENERS_SECONDS
        answer, known = False, True
        heard: set[str] = set()
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(LISTENERS_KEY)
        pipe.hgetall(ROOMS_KEY)
        counts, rooms_of = pipe.execute()
        for token, value in counts.items():
            n, at = value.split(":")[:2]
            if int(n) <= 0 or float(at) < fresh:
                continue
            answer = True
            if token in rooms_of:
                heard.update(r for r in rooms_of[token].split(",") if r)
            else:  # a process of an earlier release (an upgrade under way): it may hear any room
                known = False
        self._answer = (time.monotonic(), answer)
        self._heard = heard if known else None
        return answer

    def heard(self) -> set[str] | None:
        """The rooms a socket of any process is in, as of the last look (``any``); None: not
        known, every room may be."""
        self.any()
        return self._heard

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(LISTENERS_SECONDS):
            self.publish()


def publisher(socketio: SocketIO, rooms: ScopeRooms,
              heard: Callable[[], set[str] | None] = lambda: None) -> Callable[[dict[str, Any]], None]:
    """The aggregator's ``publish``: a frame to each room someone is in (``heard``). A ticket's
    step has a frame for the wall's room and for its unit's and every unit above it: four
    messages through Redis, each read by every web process, where usually only the wall
    listens. A skipped room's ``prev`` moves on all the same, so a desk that joined it meanwhile
    sees the gap on its next frame; a room newly heard gets an empty frame at once, naming the
    seq its room got last, so that desk need not wait for its unit's next ticket."""
    before: set[str] = set()

    def publish(message: dict[str, Any]) -> None:
        nonlocal before
        listening = heard()
        # The frame leaves as JSON text, encoded once here (orjson): handed a dict,
        # python-socketio walks it for binary parts and encodes it with the stdlib
        # json, which under a burst of intake (a thousand events a frame) cost the
        # leading process more than applying the events did. Screens parse the text.
        frames = rooms.frames(message)  # first: the rooms' prev moves on whatever is sent
        try:
            if listening is None or ROOM in listening:
                socketio.emit(EVENT, jsontext.dumps(wall_frame(message)), namespace=NAMESPACE, to=ROOM)
            for room, frame in frames.items():
                if listening is None or room in listening:
                    socketio.emit(SCOPED_EVENT, jsontext.dumps(frame), namespace=NAMESPACE, to=room)
            if listening is not None:
                for room in sorted(listening - before - frames.keys()):
                    if room in rooms.last or rooms.since:
                        socketio.emit(SCOPED_EVENT, jsontext.dumps({
                            "events": [], "prev": rooms.last.get(room, rooms.since or 0), "epoch": message.get("counters", {}).get("epoch"),
                            "server_time": message.get("server_time")}), namespace=NAMESPACE, to=room)
                before = set(listening)
        except Exception:
            # Pub/sub loses messages while Redis is down (python-socketio #1411);
            # screens notice the seq gap and reload the snapshot.
            log.exception("push failed; screens will resync from the snapshot")

    return publish
