"""``app.py serve``: the web app under gunicorn, for production.

Gunicorn runs from here (a ``BaseApplication``), so serving is one command with the one
settings module: the worker class, the worker and thread counts are settings
(``serve_worker_class``, ``serve_workers``, ``serve_threads``; MINSHENG_SERVE_…), the
address is ``host``/``port``. Flask-SocketIO in threading mode runs on gunicorn's
"gthread" workers (simple-websocket takes the socket gunicorn hands over); with several
workers the pushes go through Redis (the message queue), and since the wall's Socket.IO
client uses the WebSocket transport only, a screen's whole session stays on one
connection to one worker: no sticky sessions.

The web processes only serve: the background duties (outbox relay, live aggregator,
sweeps, SMS, bulletin) run in ``app.py worker`` (``create_platform(role="worker")``).
Each gunicorn worker builds its own platform after the fork (no connection, pool or
thread crosses a fork); the migrations run once in the master, before any fork.
"""
from __future__ import annotations

import gc
import logging
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from settings import Settings

log = logging.getLogger(__name__)

# The worker classes that serve Flask-SocketIO's WebSockets in each async mode.
WORKER_CLASSES = {"threading": ("gthread",)}

# A stopping worker waits this long for its requests; a screen's WebSocket never ends by
# itself, and its screen reconnects to another worker anyway (gunicorn's default: 30 s).
GRACEFUL_TIMEOUT_SECONDS = 10


class KioskSafeLogger(Logger):  # gunicorn ships no types (its names are Any here)
    """Gunicorn's logger, with kiosk tokens hidden from its access log: gunicorn sets its
    loggers up itself (and again on SIGHUP), so the filter is added after each setup."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        from dashboard.security import hide_kiosk_tokens

        hide_kiosk_tokens("gunicorn.access", "gunicorn.error")


def check(settings: Settings) -> None:
    """Refuse a configuration gunicorn would run wrongly (before any fork)."""
    allowed = WORKER_CLASSES.get(settings.async_mode, ())
    if settings.serve_worker_class not in allowed:
        raise ValueError(f"serve_worker_class {settings.serve_worker_class!r} does not serve Socket.IO in "
                         f"async_mode {settings.async_mode!r}; use one of {list(allowed)}")
    if settings.serve_workers < 1 or settings.serve_threads < 1:
        raise ValueError("serve_workers and serve_threads must be at least 1")
    if settings.embedded_redis:
        raise ValueError("serve needs a Redis server shared with app.py worker: set REDIS_URL")


def _post_worker_init(worker: Any) -> None:
    from dashboard.security import hide_kiosk_tokens

    hide_kiosk_tokens()  # the platform did at its start; again, after gunicorn's own setup
    # Started: what exists now stays for the life of the process (app.tune_gc(freeze=True); the
    # collector's thresholds were set in the master before the fork).
    gc.collect()
    gc.freeze()


class PlatformServer(BaseApplication):  # gunicorn ships no types (its names are Any here)
    """Gunicorn with the platform as its WSGI app, one platform per worker process."""

    def __init__(self, settings: Settings, access_log: str = "-") -> None:
        self.settings = settings
        self.access_log = access_log
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        options: dict[str, Any] = {
            "bind": f"[{s.host}]:{s.port}" if ":" in s.host else f"{s.host}:{s.port}",
            "worker_class": s.serve_worker_class,
            "workers": s.serve_workers,
            "threads": s.serve_threads,
            "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
            "accesslog": self.access_log,
            "errorlog": "-",
            "logger_class": KioskSafeLogger,
            "post_worker_init": _post_worker_init,
            "proc_name": "minsheng-web",
            "preload_app": False,  # each worker makes its own platform after the fork
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from dashboard import create_platform

        platform = create_platform(self.settings, role="web")
        log.info("worker serving on %s:%s (%s, %d threads)", self.settings.host, self.settings.port,
                 self.settings.serve_worker_class, self.settings.serve_threads)
        return platform.server
