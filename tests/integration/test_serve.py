"""The production layout (issue 18): ``serve`` refuses the published SECRET_KEY, and both
``serve`` and ``worker`` the embedded Redis stand-in.

The layout running (several ``serve`` processes, one with two gunicorn workers, and workers
behind nginx: every event once, a killed web process, a killed and a cleanly stopped leading
worker, the health check, kiosk tokens out of the access log) is tests/integration/test_cluster.py,
on one shared set-up.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.servers import ROOT

pytestmark = pytest.mark.real_servers

SECRET = "serve-test-" + "5e" * 24
ENV = {"SECRET_KEY": SECRET, "MINSHENG_DEDUP_MODE": "off"}  # every test ticket is its own


def _app(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MINSHENG_", "DATABASE_URL", "REDIS_URL",
                                                                      "SECRET_KEY"))}
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, env={**clean, **env}, capture_output=True,
                          text=True, timeout=timeout)


def test_serve_refuses_the_published_secret_key(pg_url: str, redis_url: str) -> None:
    # Even on the loopback host with the demo accounts: only `app.py run` (the demo) may.
    done = _app("serve", "--host", "127.0.0.1", env={"DATABASE_URL": pg_url, "REDIS_URL": redis_url}, timeout=60)
    assert done.returncode == 2
    assert "SECRET_KEY is the published development value" in done.stderr
    # And the embedded Redis stand-in: the web processes and the worker must share a real one.
    done = _app("serve", env={"DATABASE_URL": pg_url, "SECRET_KEY": SECRET}, timeout=60)
    assert done.returncode == 2 and "REDIS_URL" in done.stderr
    done = _app("worker", env={"DATABASE_URL": pg_url}, timeout=60)
    assert done.returncode == 2 and "REDIS_URL" in done.stderr
