"""What running behind nginx and on Redis Sentinel needs of the app (deploy/, docs/DEPLOY.md):
the client's address and scheme through the proxy, and a Sentinel REDIS_URL."""
from __future__ import annotations

import pytest
from flask import Flask, request

import settings as settings_module
from dashboard import redis_link
from dashboard.security import trust_proxies


def _app(hops: int) -> Flask:
    app = Flask(__name__)

    @app.get("/who")
    def who() -> dict[str, object]:
        return {"addr": request.remote_addr, "secure": request.is_secure, "host": request.host}

    trust_proxies(app, hops)
    return app


def test_behind_one_proxy_the_client_address_and_https_are_the_ones_nginx_saw() -> None:
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "Host": "minsheng.example"}
    answer = _app(1).test_client().get("/who", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_json()
    assert answer == {"addr": "203.0.113.9", "secure": True, "host": "minsheng.example"}


def test_a_client_naming_another_address_is_not_believed_beyond_the_proxies() -> None:
    # nginx appends the address it saw ($proxy_add_x_forwarded_for): only that last entry counts.
    headers = {"X-Forwarded-For": "10.9.9.9, 203.0.113.9", "X-Forwarded-Proto": "https"}
    answer = _app(1).test_client().get("/who", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_json()
    assert answer["addr"] == "203.0.113.9"


def test_with_no_proxy_set_the_forwarded_headers_are_ignored() -> None:
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    answer = _app(0).test_client().get("/who", headers=headers, environ_base={"REMOTE_ADDR": "192.0.2.1"}).get_json()
    assert (answer["addr"], answer["secure"]) == ("192.0.2.1", False)


def test_proxy_hops_is_a_setting() -> None:
    assert settings_module.load(environ={}).proxy_hops == 0
    assert settings_module.load(environ={"MINSHENG_PROXY_HOPS": "1"}).proxy_hops == 1


def test_a_sentinel_url_asks_the_sentinels_for_the_primary() -> None:
    from redis.sentinel import SentinelConnectionPool

    cfg = settings_module.load(environ={"REDIS_URL": "redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26379/2/minsheng"})
    client = redis_link.connect(cfg)  # lazy: nothing is contacted yet
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "minsheng"
    assert [(c.connection_pool.connection_kwargs["host"], c.connection_pool.connection_kwargs["port"])
            for c in pool.sentinel_manager.sentinels] == [("10.0.0.1", 26379), ("10.0.0.2", 26379)]
    assert pool.connection_kwargs["db"] == 2 and pool.connection_kwargs["password"] == "s3cret"
    assert pool.connection_kwargs["decode_responses"] is True
    client.close()


def test_a_sentinel_url_without_the_monitored_name_is_refused() -> None:
    cfg = settings_module.load(environ={"REDIS_URL": "redis+sentinel://10.0.0.1:26379/0"})
    with pytest.raises(ValueError, match="name the Sentinels monitor"):
        redis_link.connect(cfg)


def test_the_pushes_go_through_the_sentinels_primary_too() -> None:
    import socketio

    cfg = settings_module.load(environ={"REDIS_URL": "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/0/minsheng"})
    for write_only in (True, False):
        manager = redis_link.message_queue(cfg, write_only=write_only)["client_manager"]
        assert isinstance(manager, socketio.RedisManager) and manager.write_only is write_only
    plain = settings_module.load(environ={"REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert redis_link.message_queue(plain, write_only=True) == {"message_queue": "redis://127.0.0.1:6379/0",
                                                                "channel": "flask-socketio"}
    # A second platform on the same Redis (the training space) pushes on a channel of its own.
    drill = settings_module.load(environ={"REDIS_URL": "redis://127.0.0.1:6379/1", "MINSHENG_LIVE_CHANNEL": "x"})
    assert redis_link.message_queue(drill, write_only=True)["channel"] == "x"
    assert redis_link.message_queue(settings_module.load(environ={}), write_only=False) == {"message_queue": None}
