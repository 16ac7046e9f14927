"""Several processes, as a bureau runs them (issue 18, item 3): Debian's nginx with the shipped
site (deploy/nginx/minsheng.conf, on private ports) in front of THREE ``app.py serve`` web
processes (the third with two gunicorn workers) and ``app.py worker`` processes (two, and a
third for the clean stop at the end of the first test), on the real PostgreSQL and on Redis
with Sentinel as deploy/redis/sentinel.conf has it (a primary, a replica, three Sentinels; the
platform on ``redis+sentinel://``). The two tests share that one set-up (its start is most of
their time); the second goes on with the processes the first left running.

The set-up follows docs/DEPLOY.md where a machine without systemd can: the settings file is
deploy/minsheng.env.example with its placeholders filled in, the schema, the bureau and the
walls' kiosk token come from deploy/minsheng-app, and the processes run what the units'
ExecStart lines say.

Light wall screens (tests/wall_client.py: what assets/live.js does) connect through nginx over
HTTPS. To pin screens to each web process, the test adds to the shipped site one upstream per
web process, that process first and the other two as ``backup`` ones, chosen by the handshake's
``?pin=N`` (a ``map`` in front of the /socket.io/ location's proxy_pass): a pinned screen whose
process dies reconnects through nginx to the others, as through the shipped upstream. Two more
screens use the shipped round-robin upstream itself. Everything else is the shipped site.

- Every screen gets every committed ticket's event exactly once (tickets through nginx's
  Open311 and from a feed process).
- Web process 1 is killed (SIGKILL, its gunicorn worker too): its screens reconnect to the
  others, reload the snapshot, and every ticket committed while they were away is in their
  count, none twice.
- The leading worker is killed: another takes the live path over within 10 s, nothing lost or
  doubled on any screen; the next one stopped cleanly (SIGTERM) resigns, and the last takes
  over within 5 s (it resigns once its threads have stopped: a step waits up to 2 s for
  entries). The health check answers through nginx (no web process leads); the access logs
  never show a kiosk token. (These were test_serve.py's, on its own set-up.)
- The Redis primary is killed: the Sentinels promote the replica, the platform follows it, keeps
  taking tickets, and every screen ends with every ticket counted once.
"""
from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests
from redis.sentinel import Sentinel
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from dashboard.live.keys import EPOCH, LEADER
from dashboard.push import LISTENERS_KEY
from tests.deploy import ENV_EXAMPLE, filled_in, open311_ticket, unit_command
from tests.helpers import new_request, submit, wait_until
from tests.integration.test_deploy_nginx import NGINX, _site_for_test, _write_config, running_nginx, with_port_in_host
from tests.servers import ROOT, AppProcess, PlatformProcess, PostgresServer, SentinelRedis, WorkerProcess, free_port
from tests.wall_client import WallScreen
from tickets.bootstrap import session_factory
from tickets.models import Ticket
from tickets.uow import UnitOfWork

pytestmark = [
    pytest.mark.real_servers,
    pytest.mark.skipif(not (os.path.exists(NGINX) and shutil.which("openssl"))
                       and not os.environ.get("MINSHENG_REQUIRE_REAL_SERVERS"),
                       reason="nginx (Debian package nginx-light or nginx) and openssl are needed"),
]

DEPLOY_GUIDE = (ROOT / "docs" / "DEPLOY.md").read_text(encoding="utf-8")


@dataclass
class Cluster:
    webs: list[PlatformProcess]
    workers: list[WorkerProcess]
    https_url: str
    redis: redis.Redis  # the primary, as the Sentinels name it
    sentinel: SentinelRedis
    pg_url: str
    token: str  # the walls' kiosk token, as `minsheng-app token kiosk` printed it

    def leader(self) -> WorkerProcess:
        token = self.redis.get(LEADER)
        assert token, "no worker leads"
        pid = int(str(token).split(":")[1])
        return next(w for w in self.workers if w.proc is not None and w.proc.pid == pid)


def pinned_site(site: str, ports: list[int]) -> str:
    """The shipped site (already on the test's first web port) with all three web processes in
    its upstream, and one upstream per process chosen by ``?pin=`` for /socket.io/."""
    first = f"server 127.0.0.1:{ports[0]} max_fails=1 fail_timeout=10s;"
    assert first in site
    site = site.replace(first, "\n    ".join(f"server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in ports))
    pins = "".join(
        f"upstream minsheng_pin{n} {{\n"
        + "".join(f"    server 127.0.0.1:{p}{'' if p == port else ' backup'};\n" for p in ports) + "}\n"
        for n, port in enumerate(ports, 1))
    choose = ("map $arg_pin $minsheng_pool {\n    default minsheng_web;\n"
              + "".join(f"    {n} minsheng_pin{n};\n" for n in range(1, len(ports) + 1)) + "}\n")
    shipped = "location /socket.io/ {\n        proxy_pass http://minsheng_web;"
    assert shipped in site
    site = site.replace(shipped, "location /socket.io/ {\n        proxy_pass http://$minsheng_pool;")
    return pins + choose + with_port_in_host(site)


def bureau_settings(tmp: Path, database_url: str, redis_url: str) -> dict[str, str]:
    """deploy/minsheng.env.example filled in as docs/DEPLOY.md (section 7) says, for this machine
    (tests/deploy.filled_in), the YAML settings file copied beside it. Each process gets its own
    port (MINSHENG_PORT), and de-duplication is off (test tickets look alike): nothing else
    differs from the example."""
    yaml_file = tmp / "minsheng.yaml"
    shutil.copy(ROOT / "deploy" / "minsheng.yaml.example", yaml_file)
    values = filled_in(ENV_EXAMPLE.read_text(encoding="utf-8"), database_url, redis_url, str(yaml_file))
    del values["MINSHENG_PORT"]
    (tmp / "minsheng.env").write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    return {**values, "MINSHENG_DEDUP_MODE": "off"}


def minsheng_app(tmp: Path, *args: str) -> str:
    """deploy/minsheng-app with the test's settings file, as this account: a command docs/DEPLOY.md
    gives (its words up to the first option, e.g. ``minsheng-app demo load --file``)."""
    first_option = next((i for i, a in enumerate(args) if a.startswith("--")), len(args))
    said = " ".join(["minsheng-app", *args[:first_option + 1]])
    assert f"\n{said}" in DEPLOY_GUIDE, f"docs/DEPLOY.md no longer says {said!r}"
    done = subprocess.run([str(ROOT / "deploy" / "minsheng-app"), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MINSHENG_ENV_FILE": str(tmp / "minsheng.env"), "MINSHENG_HOME": str(ROOT),
                               "MINSHENG_ACCOUNT": getpass.getuser(), "MINSHENG_DEDUP_MODE": "off"})
    assert done.returncode == 0, f"minsheng-app {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def cluster(postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    name = f"cluster_{uuid.uuid4().hex[:12]}"
    pg_url = postgres_server.create_database(name)
    tmp = tmp_path_factory.mktemp("nginx")
    processes: list[AppProcess] = []
    try:
        with SentinelRedis() as sentinel:
            # docs/DEPLOY.md, sections 7 and 8: the settings, the schema, the bureau, a wall's token.
            env = bureau_settings(tmp, pg_url, sentinel.url)
            minsheng_app(tmp, "db", "upgrade")
            minsheng_app(tmp, "demo", "load", "--file", str(ROOT / "examples" / "jinan_bureau.yaml"), "--no-accounts")
            # Section 9: what the units run (one gunicorn worker per web process here, to spare
            # the machine; the third has two, as serve's default, and its screens land on either).
            web = [*unit_command("minsheng-web.service"), "--threads", "16"]
            assert unit_command("minsheng-worker.service") == ["worker"]  # WorkerProcess runs that
            webs = [PlatformProcess(pg_url, sentinel.url, command=[*web, "--workers", str(n)], ready="health", env=env)
                    for n in (1, 1, 2)]
            workers = [WorkerProcess(pg_url, sentinel.url, env=env) for _ in range(3)]
            processes = [*workers, *webs]
            http_port, https_port = free_port(), free_port()
            conf = _write_config(tmp, pinned_site(_site_for_test(tmp, webs[0].port, http_port, https_port),
                                                  [w.port for w in webs]))
            client = Sentinel([("127.0.0.1", s.port) for s in sentinel.sentinels], socket_timeout=2).master_for(
                sentinel.name, decode_responses=True, socket_timeout=2)
            https_url = f"https://127.0.0.1:{https_port}"
            with ThreadPoolExecutor(len(processes) + 1) as pool:  # all start at once
                kiosk = pool.submit(minsheng_app, tmp, "token", "kiosk", "--label", "指挥中心 1 号屏",
                                    "--base-url", https_url)
                for started in [pool.submit(p.start) for p in processes]:
                    started.result()
                token = re.search(r"/wall\?kiosk=(\S+)", kiosk.result())
            assert token, "minsheng-app token kiosk printed no wall URL"
            with running_nginx(conf, http_port):
                yield Cluster(webs, workers, https_url, client, sentinel, pg_url, token.group(1))
    finally:
        for process in processes:  # clean stops are test_serve.py's; here they only cost time
            process.kill()
        postgres_server.drop_database(name)


def _live(web: PlatformProcess, token: str) -> bool:
    try:
        return bool(web.get("/api/v1/live/snapshot", token=token)["counters"]["epoch"])
    except OSError:  # 503 until the leading worker has built the live state
        return False


def _all_have(screens: list[WallScreen], total: int, timeout: float = 20.0) -> None:
    wait_until(lambda: all(s.connected and s.received == total for s in screens), timeout=timeout,
               what=f"every screen to count {total} tickets: "
                    + ", ".join(f"{s.name}={s.received}{'' if s.connected else ' (away)'}" for s in screens))


def _committed(factory: sessionmaker[UnitOfWork]) -> int:
    """Tickets in the database (all received today; none merged: de-duplication is off)."""
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


def _none_doubled(screens: list[WallScreen], total: int) -> None:
    for screen in screens:
        assert screen.received == total, f"screen {screen.name} counts {screen.received} of {total}"
        assert screen.counters["received_today"] == total, f"screen {screen.name}'s counter"
        doubled = [n for n, times in screen.numbers.items() if times > 1]
        assert not doubled, f"screen {screen.name} applied {doubled} twice"


def test_three_web_processes_and_two_workers_behind_nginx(cluster: Cluster) -> None:
    token = cluster.token
    wait_until(lambda: _live(cluster.webs[0], cluster.token), timeout=30,
               what="a worker to lead and build the live state")
    screens: list[WallScreen] = []
    factory = session_factory(cluster.pg_url)
    try:
        for n, k in [(n, k) for n in (1, 2, 3) for k in (1, 2)]:
            screens.append(WallScreen(cluster.https_url, token, query=f"pin={n}", name=f"pin{n}.{k}"))
        screens += [WallScreen(cluster.https_url, token, name=f"rr{k}") for k in (1, 2)]
        # Each web process serves screens, the third's two gunicorn workers both: the listener
        # counts, one per gunicorn worker (the kernel picks the worker of a connection).
        def serving() -> int:
            return sum(int(v.split(":")[0]) > 0 for v in cluster.redis.hvals(LISTENERS_KEY))

        wait_until(lambda: serving() >= 3, timeout=10, what="screens on all three web processes")
        for k in range(3, 13):
            if serving() >= 4:
                break
            screens.append(WallScreen(cluster.https_url, token, query="pin=3", name=f"pin3.{k}"))
            time.sleep(0.5)
        wait_until(lambda: serving() >= 4, timeout=5, what="screens on both gunicorn workers of web process 3")

        # 1. Every event to every screen, once: through nginx (Open311) and from a feed.
        numbers = {open311_ticket(cluster.https_url, n) for n in range(6)}
        numbers |= {submit(factory, new_request()).number for _ in range(6)}
        _all_have(screens, len(numbers))
        time.sleep(1.0)  # anything doubled would arrive by now
        for screen in screens:
            assert set(screen.numbers) == numbers and max(screen.numbers.values()) == 1, screen.name

        # 2. Web process 1 is lost: its screens reconnect through nginx to the others.
        away = [s for s in screens if s.name.startswith("pin1")]
        resyncs = {s.name: s.resyncs for s in away}
        cluster.webs[0].kill()
        while_away = {submit(factory, new_request()).number for _ in range(5)}
        numbers |= while_away
        _all_have(screens, len(numbers))
        for screen in away:
            assert screen.resyncs > resyncs[screen.name], f"{screen.name} did not reload its snapshot"
        more = {open311_ticket(cluster.https_url, n) for n in range(6, 9)}
        numbers |= more
        _all_have(screens, len(numbers))

        # The health check through nginx: public, and with a token the details (no web process leads).
        public = requests.get(cluster.https_url + "/api/v1/health", timeout=10, verify=False)
        assert public.status_code == 200 and public.json() == {"status": "ok"}
        health = requests.get(cluster.https_url + "/api/v1/health", timeout=10, verify=False,
                              headers={"Authorization": f"Bearer {token}"}).json()
        assert (health["database"], health["redis"], health["leader"]) == ("ok", "ok", False)

        # 3. The leading worker is lost: another takes the live path over within 10 s.
        before = set(numbers)
        leader = cluster.leader()
        leader.kill()
        killed_at = time.monotonic()
        handed = {submit(factory, new_request()).number for _ in range(3)}  # while nobody leads
        numbers |= handed
        _all_have(screens, len(numbers), timeout=20)
        handover = time.monotonic() - killed_at
        print(f"\nlive path handed over {handover:.1f} s after the leading worker was killed")
        assert handover <= 10.0, f"the live path resumed only {handover:.1f} s after the leader was killed"
        numbers |= {submit(factory, new_request()).number for _ in range(3)}
        _all_have(screens, len(numbers))

        # 4. A clean stop (SIGTERM) resigns the lease: the last worker takes over at its next look.
        second = cluster.leader()
        second.stop()
        stopped_at = time.monotonic()
        numbers |= {submit(factory, new_request()).number}
        _all_have(screens, len(numbers))
        resigned = time.monotonic() - stopped_at
        print(f"live path handed over {resigned:.1f} s after the leading worker stopped cleanly")
        assert resigned < 5.0, f"a clean stop handed over only after {resigned:.1f} s"
        time.sleep(1.0)
        _none_doubled(screens, len(numbers))
        for screen in screens:  # those that never left had every earlier ticket by its own event
            if screen.name.startswith(("pin2", "pin3")):
                assert set(screen.numbers) >= before, screen.name

        # The access logs show a wall's URL, never its kiosk token.
        assert requests.get(f"{cluster.https_url}/wall?kiosk={token}", timeout=10, verify=False).status_code == 200
        time.sleep(0.5)
        logs = "".join(web.log_path.read_text(errors="replace") for web in cluster.webs)
        assert "/wall?kiosk=***" in logs and token not in logs
    finally:
        for screen in screens:
            screen.close()


def test_a_redis_sentinel_failover_is_survived(cluster: Cluster) -> None:
    token = cluster.token
    factory = session_factory(cluster.pg_url)
    sentinel = cluster.sentinel
    assert sentinel.replica is not None
    wait_until(sentinel.ready_for_failover, timeout=30, what="the Sentinels to know the replica and each other")
    alive = [w for w in cluster.webs if w.proc is not None and w.proc.poll() is None]
    wait_until(lambda: any(_live(w, cluster.token) for w in alive), timeout=30, what="a worker to lead")
    screens: list[WallScreen] = []
    try:
        screens += [WallScreen(cluster.https_url, token, query=f"pin={n}", name=f"pin{n}") for n in (1, 2, 3)]
        screens.append(WallScreen(cluster.https_url, token, name="rr"))
        for _ in range(3):
            submit(factory, new_request())
        _all_have(screens, _committed(factory))
        epoch = cluster.redis.get(EPOCH)

        # The primary is lost; tickets keep coming (the database is not Redis: intake goes on).
        sentinel.primary.kill()
        killed_at = time.monotonic()
        for _ in range(3):
            submit(factory, new_request())
        wait_until(lambda: sentinel.sentinels[0].primary() == sentinel.replica.port, timeout=30,
                   what="the Sentinels to promote the replica")
        promoted = time.monotonic() - killed_at
        _all_have(screens, _committed(factory), timeout=40)
        caught_up = time.monotonic() - killed_at
        print(f"\nSentinel promoted the replica {promoted:.1f} s after the primary was killed; "
              f"every screen had every ticket {caught_up:.1f} s after")
        # The live state was rebuilt on the new primary (it may lack the old one's last writes).
        assert cluster.redis.get(EPOCH) != epoch

        # The platform goes on, on the new primary: through the web and from a feed.
        for n in range(20, 22):
            open311_ticket(cluster.https_url, n)
        submit(factory, new_request())
        total = _committed(factory)
        _all_have(screens, total)
        time.sleep(1.0)  # anything doubled would arrive by now
        _none_doubled(screens, total)
    finally:
        for screen in screens:
            screen.close()
