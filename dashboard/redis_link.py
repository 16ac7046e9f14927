"""The Redis connection: a real server, or the in-process stand-in.

With ``REDIS_URL`` unset (the embedded default) every caller in this process
shares one fakeredis server, so the relay, the aggregator and the API run the
same code they run against a real Redis.
"""
from __future__ import annotations

import threading

import redis

from settings import Settings

_embedded_lock = threading.Lock()
_embedded_server = None


def embedded_server():
    """The process-wide fakeredis server (created on first use)."""
    global _embedded_server
    with _embedded_lock:
        if _embedded_server is None:
            import fakeredis

            _embedded_server = fakeredis.FakeServer()
        return _embedded_server


def connect(settings: Settings) -> redis.Redis:
    if settings.embedded_redis:
        import fakeredis

        return fakeredis.FakeRedis(server=embedded_server(), decode_responses=True)
    # redis-py 8 defaults socket_timeout to 5 s; our stream reads block for
    # at most 1 s, so 10 s only fires on a dead connection.
    return redis.Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_timeout=10,
        socket_connect_timeout=2,
        health_check_interval=15,
    )
