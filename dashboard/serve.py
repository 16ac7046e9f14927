"""``app.py serve``: the web app under gunicorn, for production.

Gunicorn runs from here (a ``BaseApplication``), so serving is one command with the one
settings module: the worker class, the worker and thread counts are settings
(``serve_worker_class``, ``serve_workers``, ``serve_threads``; MINSHENG_SERVE_…), the
address is ``host``/``port``. Flask-SocketIO in threading mode runs on gunicorn's
"gthread" workers, in gevent mode on its "gevent" workers (in both simple-websocket takes
the socket gunicorn hands over; python-engineio gives it gevent's primitives); with several
workers the pushes go through Redis (the message queue), and since the wall's Socket.IO
client uses the WebSocket transport only, a screen's whole session stays on one
connection to one worker: no sticky sessions.

The web processes only serve: the background duties (outbox relay, live aggregator,
sweeps, SMS, bulletin) run in ``app.py worker`` (``create_platform(role="worker")``).
Each gunicorn worker builds its own platform after the fork (no connection, pool or
thread crosses a fork); the migrations run once in the master, before any fork.

gevent: every module must see gevent's socket, select, threading and time, so ``app.py``
monkey-patches the master before it imports anything else (:func:`app.patch_for_gevent`);
gunicorn's own patching in the worker comes after the master imported SQLAlchemy, psycopg,
redis-py and Flask, too late. What that buys, checked in each worker (:func:`_check_gevent`):
psycopg 3 picks its wait function when imported, ``wait_c`` (a poll() in C that blocks the
whole process: measured, a 1 s ``pg_sleep`` froze every other greenlet for 1.05 s) unless
gevent has patched ``select`` by then, when it takes ``wait_poll`` on the patched poll(), which
yields (the same query: the others ran every 0.1 s throughout). So the database calls run on
the hub, cooperatively, with no thread pool; redis-py and python-socketio's Redis listener
yield on the patched socket; the web process's threads (dashboard/__init__.py) are greenlets,
their Events, locks and sleeps gevent's. CPU-bound work (a figure, a PDF) still holds its
worker's hub while it runs: those are short, and the workers are several.
"""
from __future__ import annotations

import gc
import logging
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from settings import SERVE_ASYNC_MODES, Settings

log = logging.getLogger(__name__)

# The async mode each worker class serves Flask-SocketIO's WebSockets in (``app.py serve
# --worker-class`` sets both).
ASYNC_MODES = SERVE_ASYNC_MODES

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
    mode = ASYNC_MODES.get(settings.serve_worker_class)
    if mode is None:
        raise ValueError(f"serve_worker_class {settings.serve_worker_class!r} is not one of {sorted(ASYNC_MODES)}")
    if settings.async_mode != mode:
        raise ValueError(f"serve_worker_class {settings.serve_worker_class!r} serves Socket.IO only in async_mode "
                         f"{mode!r}, not {settings.async_mode!r}: set MINSHENG_ASYNC_MODE={mode} too "
                         f"(or pass --worker-class {settings.serve_worker_class}, which sets both)")
    if settings.serve_workers < 1 or settings.serve_threads < 1 or settings.serve_worker_connections < 1:
        raise ValueError("serve_workers, serve_threads and serve_worker_connections must be at least 1")
    if mode == "gevent":
        try:
            import gevent  # noqa: F401
        except ImportError:
            raise ValueError("serve_worker_class 'gevent' needs gevent installed: pip install 'minsheng[gevent]'")
    if settings.embedded_redis:
        raise ValueError("serve needs a Redis server shared with app.py worker: set REDIS_URL")


def _check_gevent() -> None:
    """A gevent worker whose database or Redis calls would block its hub serves one request at a
    time while every screen waits: refuse to serve rather than run so (see the module's doc)."""
    from gevent import monkey
    from psycopg import waiting

    unpatched = [name for name in ("socket", "select", "threading", "time") if not monkey.is_module_patched(name)]
    if unpatched:
        raise RuntimeError(f"gevent worker: {unpatched} not monkey-patched")
    if waiting.wait is getattr(waiting, "wait_c", None):
        raise RuntimeError("gevent worker: psycopg was imported before gevent patched select, and its C wait "
                           "would block every greenlet during a query; app.py serve patches first")


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
            "threads": s.serve_threads,  # gthread only
            "worker_connections": s.serve_worker_connections,
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

        s = self.settings
        if ASYNC_MODES[s.serve_worker_class] == "gevent":
            _check_gevent()
        platform = create_platform(s, role="web")
        log.info("worker serving on %s:%s (%s, %s)", s.host, s.port, s.serve_worker_class,
                 f"{s.serve_worker_connections} connections" if s.serve_worker_class == "gevent"
                 else f"{s.serve_threads} threads")
        return platform.server
