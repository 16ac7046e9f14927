"""A light wall screen: what dashboard/assets/live.js does, in Python, for the multi-process
tests (tests/integration/test_cluster.py, test_sentinel.py).

It connects its Socket.IO socket (WebSocket only, the kiosk token as ``auth``), loads the
snapshot (its (epoch, seq) and counters), then applies the frames that follow it: the events
after its seq, in order. A frame whose epoch differs, whose first new event is not seq + 1, or
whose seq is ahead with no new events means something was missed: it reloads the snapshot, as
after every reconnect. Its state is what the wall would show: ``received`` (today's received
count: the snapshot's, plus each "received" event applied after it) and ``numbers`` (each
ticket number seen in an applied "received" event, counted: a number twice is an event applied
twice).
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import requests
import socketio
import urllib3

SNAPSHOT = "/api/v1/live/snapshot"


class WallScreen:
    def __init__(self, base_url: str, token: str, *, query: str = "", name: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name or query
        self.http = requests.Session()
        self.http.verify = False  # the test's self-signed certificate
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.lock = threading.RLock()
        self.epoch: str | None = None
        self.seq = 0
        self.received = 0
        self.counters: dict[str, Any] = {}
        self.numbers: Counter[str] = Counter()
        self.resyncs = 0
        self.connects = 0
        self.connected = False
        self._buffer: list[dict[str, Any]] = []
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.3, reconnection_delay_max=1.0,
                                   randomization_factor=0.2, ssl_verify=False)
        self.sio.on("connect", self._on_connect, namespace="/live")
        self.sio.on("disconnect", self._on_disconnect, namespace="/live")
        self.sio.on("live", self._on_live, namespace="/live")
        url = self.base_url + (f"?{query}" if query else "")
        # Frames wait in the buffer until the first snapshot is in (no epoch yet).
        self.sio.connect(url, namespaces=["/live"], transports=["websocket"], wait_timeout=10, auth={"token": token})
        self.resync()

    # ------------------------------------------------------------- the socket
    def _on_connect(self) -> None:
        with self.lock:
            self.connected = True
            self.connects += 1
            if self.connects > 1:  # a reconnect: what was missed meanwhile
                self.resync()

    def _on_disconnect(self, *_reason: Any) -> None:
        self.connected = False

    def _on_live(self, message: str) -> None:
        with self.lock:
            self._buffer.append(json.loads(message))
            self._flush()

    # ------------------------------------------------------------ the state
    def resync(self) -> None:
        """Reload the snapshot (retrying while the platform cannot answer), then apply what
        arrived meanwhile."""
        with self.lock:
            self.resyncs += 1
            deadline = time.monotonic() + 30
            last = ""
            while True:
                try:
                    answer = self.http.get(self.base_url + SNAPSHOT, timeout=5, verify=False)
                    if answer.status_code == 200:
                        break
                    last = f"{answer.status_code} {answer.text[:300]}"
                except requests.RequestException as exc:
                    last = str(exc)
                if time.monotonic() > deadline:
                    raise AssertionError(f"screen {self.name}: no snapshot for 30 s ({last})")
                time.sleep(0.2)
            counters = answer.json()["counters"]
            self.epoch, self.seq = counters["epoch"], int(counters["seq"])
            self.counters = dict(counters)
            self.received = int(counters["received_today"])
            self._flush()

    def _flush(self) -> None:
        while self._buffer and self.epoch is not None:
            if not self._apply(self._buffer.pop(0)):
                self._buffer.clear()  # the snapshot covers everything buffered so far
                self.resync()
                return

    def _apply(self, frame: dict[str, Any]) -> bool:
        counters = frame["counters"]
        if counters["epoch"] != self.epoch:
            return False
        events = [e for e in frame["events"] if e["seq"] > self.seq]
        if events and events[0]["seq"] != self.seq + 1:
            return False  # a gap
        if not events and counters["seq"] > self.seq:
            return False  # missed a whole frame
        for event in events:
            if event["event"] == "received":
                self.received += 1
                self.numbers[event["ticket"]["number"]] += 1
        if events:
            self.seq = events[-1]["seq"]
        self.counters.update(counters)
        return True

    def close(self) -> None:
        self.sio.disconnect()
        self.http.close()


urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
