"""The whole live path through a running platform process.

A ticket committed to the database reaches a Socket.IO client exactly once,
on the embedded default and on real PostgreSQL + Redis.
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import pytest
import socketio

from tests.helpers import new_request, submit
from tests.servers import PlatformProcess, demo_kiosk_token
from tickets.bootstrap import session_factory


class LiveClient:
    """A Socket.IO client on /live that records every pushed event.

    It authenticates as a wall does, with the demo kiosk token, given in the
    Socket.IO ``auth`` payload (a browser's wall uses its session cookie).
    """

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=True)
        self.sio.on("live", self._on_live, namespace="/live")
        self.sio.connect(base_url, namespaces=["/live"], transports=["websocket"], wait_timeout=10,
                         auth={"token": token or demo_kiosk_token()})

    def _on_live(self, message: str) -> None:
        with self.lock:
            self.messages.append(json.loads(message))  # frames are JSON text (dashboard.push)

    def events(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for m in self.messages for e in m["events"] if e["event"] == kind]

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError("timed out waiting for pushed events")

    def close(self) -> None:
        self.sio.disconnect()


def test_each_ticket_reaches_a_socket_client_exactly_once(served_platform: PlatformProcess) -> None:
    factory = session_factory(served_platform.database_url)
    client = LiveClient(served_platform.base_url)
    try:
        start_seq = served_platform.get("/api/v1/live/snapshot")["counters"]["seq"]
        numbers = [submit(factory, new_request()).number for _ in range(40)]
        client.wait_for(lambda: len({e["ticket"]["number"] for e in client.events("received")}) >= 40)
        time.sleep(1.0)  # anything doubled would arrive by now
        received = Counter(e["ticket"]["number"] for e in client.events("received"))
        assert set(received) == set(numbers)
        assert max(received.values()) == 1
        seqs = [e["seq"] for m in client.messages for e in m["events"] if e["seq"] > start_seq]
        assert seqs == list(range(start_seq + 1, start_seq + 1 + len(seqs))), "pushes carry a gap-free seq"
        snapshot = served_platform.get("/api/v1/live/snapshot")
        assert snapshot["counters"]["received_today"] == 40
        assert snapshot["counters"]["open_now"] == 40
        # Shared screens never carry personal data.
        pushed = repr(client.messages) + repr(snapshot)
        assert "张三" not in pushed and "13812345678" not in pushed
    finally:
        client.close()


@pytest.mark.real_servers
def test_two_server_processes_share_one_live_path(pg_url: str, redis_url: str) -> None:
    """Behind a load balancer: a screen on either process gets every event once."""
    first = PlatformProcess(pg_url, redis_url).start()
    second = PlatformProcess(pg_url, redis_url).start()
    clients = [LiveClient(first.base_url), LiveClient(second.base_url)]
    try:
        factory = session_factory(pg_url)
        numbers = {submit(factory, new_request()).number for _ in range(20)}
        for client in clients:
            client.wait_for(lambda c=client: {e["ticket"]["number"] for e in c.events("received")} >= numbers)
        time.sleep(1.0)
        for client in clients:
            received = Counter(e["ticket"]["number"] for e in client.events("received"))
            assert set(received) == numbers and max(received.values()) == 1
        assert [p.get("/api/v1/live/snapshot")["counters"]["received_today"] for p in (first, second)] == [20, 20]
        leaders = [p.get("/api/v1/health")["leader"] for p in (first, second)]
        assert sorted(leaders) == [False, True], "exactly one process runs the relay and the aggregator"
    finally:
        for client in clients:
            client.close()
        first.stop()
        second.stop()


def test_make_run_feeds_the_wall_within_seconds(tmp_path: Any) -> None:
    """`make run`'s command: the simulated feed moves the numbers by push, no reload."""
    proc = PlatformProcess(f"sqlite:///{tmp_path / 'run.db'}", extra_args=["--simulate", "--rate", "36000"]).start()
    try:
        client = LiveClient(proc.base_url)
        try:
            client.wait_for(lambda: len(client.events("received")) >= 3, timeout=20)
            districts = {e["ticket"]["district"] for e in client.events("received")}
            assert districts and None not in districts
        finally:
            client.close()
        assert proc.get("/api/v1/live/snapshot")["counters"]["received_today"] >= 3
    finally:
        proc.stop()
