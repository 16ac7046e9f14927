"""Socket.IO events beside the routes (as in Flask-SocketIO-Chat).

Screens connect to the ``/live`` namespace and join the ``live`` room. The
aggregator publishes one message per batch of applied events; with Redis
configured, Flask-SocketIO's message queue carries it to every server
process, so it does not matter which process leads.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import request
from flask_socketio import SocketIO, join_room

from dashboard import auth
from tickets import jsontext

log = logging.getLogger(__name__)

NAMESPACE = "/live"
ROOM = "live"
EVENT = "live"


def register(socketio: SocketIO) -> None:
    @socketio.on("connect", namespace=NAMESPACE)
    def _connect(auth_data: Any = None) -> bool:
        # The session cookie (login or kiosk grant), or auth={"token": ...}.
        if auth.admit_socket(request.sid, auth_data) is None:  # type: ignore[attr-defined]
            return False
        join_room(ROOM)
        return True

    @socketio.on("disconnect", namespace=NAMESPACE)
    def _disconnect(*_args: Any) -> None:
        auth.forget_socket(request.sid)  # type: ignore[attr-defined]


def drop(socketio: SocketIO) -> Callable[[str], None]:
    """Disconnect one of this process's /live sockets (its grant was revoked)."""
    return lambda sid: socketio.server.disconnect(sid, namespace=NAMESPACE)


def publisher(socketio: SocketIO) -> Callable[[dict[str, Any]], None]:
    def publish(message: dict[str, Any]) -> None:
        # The frame leaves as JSON text, encoded once here (orjson): handed a dict,
        # python-socketio walks it for binary parts and encodes it with the stdlib
        # json, which under a burst of intake (a thousand events a frame) cost the
        # leading process more than applying the events did. Screens parse the text.
        try:
            socketio.emit(EVENT, jsontext.dumps(message), namespace=NAMESPACE, to=ROOM)
        except Exception:
            # Pub/sub loses messages while Redis is down (python-socketio #1411);
            # screens notice the seq gap and reload the snapshot.
            log.exception("push failed; screens will resync from the snapshot")

    return publish
