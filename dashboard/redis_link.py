"""The Redis connection: a real server, or the in-process stand-in.

With ``REDIS_URL`` unset (the embedded default) every caller in this process
shares one fakeredis server, so the relay, the aggregator and the API run the
same code they run against a real Redis.

``REDIS_URL`` may name Redis Sentinels instead of one server (deploy/redis/sentinel.conf):
``redis+sentinel://[:password@]host1:26379,host2:26379,host3:26379/0/minsheng`` (the
database, then the name the Sentinels monitor). The connection then asks the Sentinels
which server is the primary, and asks again when a failover moves it; python-socketio's
Redis message queue reads the same URL form.
"""
from __future__ import annotations

import threading
from typing import Any

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


SENTINEL_SCHEME = "redis+sentinel://"
# redis-py 8 defaults socket_timeout to 5 s; our stream reads block for
# at most 1 s, so 10 s only fires on a dead connection.
_OPTIONS: dict[str, Any] = {"socket_timeout": 10, "socket_connect_timeout": 2, "health_check_interval": 15}


def connect(settings: Settings) -> redis.Redis:
    if settings.embedded_redis:
        import fakeredis

        return fakeredis.FakeRedis(server=embedded_server(), decode_responses=True)
    if settings.redis_url.startswith(SENTINEL_SCHEME):
        return _through_sentinels(settings.redis_url)
    return redis.Redis.from_url(settings.redis_url, decode_responses=True, **_OPTIONS)


def _through_sentinels(url: str) -> redis.Redis:
    """The primary the Sentinels at ``url`` name (and name again after a failover)."""
    from redis.sentinel import Sentinel
    from socketio.redis_manager import parse_redis_sentinel_url  # the message queue's own reading

    sentinels, service, credentials = parse_redis_sentinel_url(url)
    if not service:
        raise ValueError("REDIS_URL redis+sentinel://…/DB/NAME: the name the Sentinels monitor is missing")
    sentinel = Sentinel(sentinels, socket_timeout=2, socket_connect_timeout=2)
    client: redis.Redis = sentinel.master_for(service, decode_responses=True, **_OPTIONS, **credentials)
    return client


def message_queue(settings: Settings, *, write_only: bool) -> dict[str, Any]:
    """Flask-SocketIO's keyword arguments for the queue the processes share their pushes through
    (none on the embedded stand-in). Flask-SocketIO would hand a Sentinel URL to Kombu, so the
    Redis manager, which reads it, is made here."""
    if settings.embedded_redis:
        return {"message_queue": None}
    url = settings.redis_url
    if url.startswith(SENTINEL_SCHEME):
        import socketio

        return {"message_queue": url, "client_manager": socketio.RedisManager(
            url, channel=settings.live_channel, write_only=write_only)}
    return {"message_queue": url, "channel": settings.live_channel}
