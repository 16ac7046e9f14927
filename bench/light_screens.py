"""Hundreds of wall screens for the benchmarks, each as light as the protocol allows.

python-socketio's client spends two or three threads and a few hundred microseconds of Python per
frame: 500 of them on the benchmark's two cores measured the clients, not the server (a first
500-screen run lost 90% of its frames with the server at a fifth of a core). A screen here is
what ``dashboard/assets/live.js`` asks of the server and no more: one WebSocket
(``/socket.io/?EIO=4&transport=websocket``, wsproto over asyncio), the ``/live`` namespace
joined with the kiosk token as its auth, the server's pings answered, and each ``live`` frame's
JSON read for its "received" events (the instant a ticket's number first arrives; a number
twice is a frame doubled). All the screens of a process share one event loop.

    from bench.light_screens import ScreenProcess
    pool = [ScreenProcess(url, token, 250) for _ in range(2)]
    for p in pool: p.ready()
    ...
    arrivals = [a for p in pool for a in p.results()]   # (number → perf_counter instant, doubled) each
"""
from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from typing import Any
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Ping, RejectConnection, Request, TextMessage

NAMESPACE = "/live"


class LightScreen:
    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.arrivals: dict[str, float] = {}
        self.doubled = 0
        self.bytes = 0  # as received: WebSocket frames, their headers included
        self.joined = asyncio.Event()
        self.closed = False
        self._writer: asyncio.StreamWriter | None = None
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._parts: list[str] = []

    def _send(self, text: str) -> None:
        assert self._writer is not None
        self._writer.write(self._ws.send(TextMessage(data=text)))

    async def run(self) -> None:
        reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._writer.write(self._ws.send(Request(host=f"{self.host}:{self.port}",
                                                 target="/socket.io/?EIO=4&transport=websocket")))
        try:
            while not self.closed:
                data = await reader.read(65536)
                if not data:
                    break
                self.bytes += len(data)
                self._ws.receive_data(data)
                for event in self._ws.events():
                    if isinstance(event, TextMessage):
                        self._parts.append(event.data)
                        if event.message_finished:
                            self._packet("".join(self._parts))
                            self._parts = []
                    elif isinstance(event, Ping):
                        self._writer.write(self._ws.send(event.response()))
                    elif isinstance(event, (CloseConnection, RejectConnection)):
                        self.closed = True
                    elif isinstance(event, AcceptConnection):
                        pass
        finally:
            self.closed = True
            self._writer.close()

    def _packet(self, text: str) -> None:
        """One Engine.IO packet: 0 open, 2 ping, 4 a Socket.IO packet (0 connect, 2 event, 4 error)."""
        kind = text[:1]
        if kind == "0":  # the server's open: join the namespace with the grant
            self._send(f"40{NAMESPACE},{json.dumps({'token': self.token})}")
        elif kind == "2":
            self._send("3")
        elif text.startswith(f"40{NAMESPACE},"):
            self.joined.set()
        elif text.startswith(f"42{NAMESPACE},"):
            now = time.perf_counter()
            name, frame = json.loads(text[len(NAMESPACE) + 3:])[:2]
            if name == "live":
                for event in json.loads(frame)["events"]:
                    if event["event"] == "received":
                        number = event["ticket"]["number"]
                        if number in self.arrivals:
                            self.doubled += 1
                        else:
                            self.arrivals[number] = now
        elif text.startswith(f"44{NAMESPACE},"):
            raise RuntimeError(f"the server refused the screen: {text}")


async def _screens(url: str, token: str, count: int, pipe: Any) -> None:
    parts = urlsplit(url)
    screens = [LightScreen(parts.hostname or "127.0.0.1", parts.port or 80, token) for _ in range(count)]
    tasks = []
    for s in screens:  # a few at a time: 500 handshakes at once are a burst no wall makes
        tasks.append(asyncio.create_task(s.run()))
        await asyncio.wait_for(s.joined.wait(), 30)
    pipe.send("connected")
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, pipe.recv) == "bytes":
        pipe.send(sum(s.bytes for s in screens))
    pipe.send([(dict(s.arrivals), s.doubled) for s in screens])  # on "stop"
    for s in screens:
        s.closed = True
    for t in tasks:
        t.cancel()


def _process(pipe: Any, url: str, token: str, count: int) -> None:
    asyncio.run(_screens(url, token, count, pipe))


class ScreenProcess:
    """``count`` light screens in a process of their own. Arrival instants are
    ``time.perf_counter``, CLOCK_MONOTONIC on Linux: the same clock in every process."""

    def __init__(self, url: str, token: str, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.proc = context.Process(target=_process, args=(child, url, token, count), daemon=True)
        self.proc.start()

    def ready(self, timeout: float = 180) -> None:
        if not self.pipe.poll(timeout) or self.pipe.recv() != "connected":
            raise SystemExit("a screen process did not connect its screens")

    def bytes(self) -> int:
        """What its screens have received so far, in bytes."""
        self.pipe.send("bytes")
        return int(self.pipe.recv())

    def results(self) -> list[tuple[dict[str, float], int]]:
        self.pipe.send("stop")
        answer: list[tuple[dict[str, float], int]] = self.pipe.recv()
        self.proc.join(30)
        return answer
