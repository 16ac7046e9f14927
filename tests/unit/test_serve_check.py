"""``app.py serve``'s configuration check (dashboard/serve.py): each gunicorn worker class with the
one Socket.IO async mode it serves, and ``app.py``'s early gevent patching only where it is needed."""
from __future__ import annotations

from dataclasses import replace

import pytest

import settings as settings_module
from dashboard.serve import check

SERVING = settings_module.load(environ={}, redis_url="redis://127.0.0.1:6379/0")


@pytest.mark.parametrize("worker_class, mode", [("gthread", "threading"), ("gevent", "gevent")])
def test_each_worker_class_serves_in_its_mode(worker_class: str, mode: str) -> None:
    check(replace(SERVING, serve_worker_class=worker_class, async_mode=mode))


@pytest.mark.parametrize("worker_class, mode, says", [
    ("gevent", "threading", "MINSHENG_ASYNC_MODE=gevent"),
    ("gthread", "gevent", "MINSHENG_ASYNC_MODE=threading"),
    ("eventlet", "eventlet", "not one of ['gevent', 'gthread']"),
])
def test_a_class_in_another_mode_is_refused_saying_what_to_set(worker_class: str, mode: str, says: str) -> None:
    with pytest.raises(ValueError, match=says.replace("[", r"\[").replace("]", r"\]")):
        check(replace(SERVING, serve_worker_class=worker_class, async_mode=mode))


def test_the_worker_connections_must_be_positive() -> None:
    with pytest.raises(ValueError, match="serve_worker_connections"):
        check(replace(SERVING, serve_worker_class="gevent", async_mode="gevent", serve_worker_connections=0))


def test_the_setting_is_read_from_the_environment() -> None:
    loaded = settings_module.load(environ={"MINSHENG_SERVE_WORKER_CLASS": "gevent",
                                           "MINSHENG_SERVE_WORKER_CONNECTIONS": "500"})
    assert (loaded.serve_worker_class, loaded.serve_worker_connections) == ("gevent", 500)
