"""Run the real platform (``python app.py run``) as a child process for end-to-end tests.

``app.py run`` loads the demo accounts into an empty database, so the demo
kiosk token (examples/demo_accounts.yaml) opens the wall, the snapshot and the
Socket.IO stream: ``kiosk_token``, ``wall_url()``, and ``get()`` sends it.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO_ACCOUNTS = ROOT / "examples" / "demo_accounts.yaml"


def demo_kiosk_token() -> str:
    from tickets.accounts import demo_kiosk_token as read

    token = read(DEMO_ACCOUNTS)
    assert token, f"{DEMO_ACCOUNTS} has no kiosk_token"
    return token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PlatformProcess:
    def __init__(
        self, database_url: str, redis_url: str | None = None, extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.env = env or {}
        self.database_url = database_url
        self.redis_url = redis_url
        self.port = free_port()
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(tempfile.mkdtemp(prefix="minsheng-platform-")) / "platform.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def kiosk_token(self) -> str:
        return demo_kiosk_token()

    def wall_url(self, path: str = "/wall") -> str:
        """A screen URL that opens without a login, as on a command-centre wall."""
        return f"{self.base_url}{path}{'&' if '?' in path else '?'}kiosk={self.kiosk_token}"

    def start(self, timeout: float = 60.0) -> PlatformProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MINSHENG_", "DATABASE_URL", "REDIS_URL"))}
        env.update(DATABASE_URL=self.database_url, MINSHENG_PORT=str(self.port), PYTHONUNBUFFERED="1")
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        env.update(self.env)
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "app.py", "run", *self.extra_args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"platform exited with {self.proc.returncode}:\n{self.log()}")
            try:
                self.get("/api/v1/live/snapshot")
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        raise TimeoutError(f"platform not ready after {timeout}s:\n{self.log()}")

    def get(self, path: str, token: str | None = None) -> Any:
        """GET JSON with a bearer token (the demo kiosk token unless another is given)."""
        request = urllib.request.Request(
            self.base_url + path, headers={"Authorization": f"Bearer {token or self.kiosk_token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
