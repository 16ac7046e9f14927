"""Benchmark: a killed leading worker's duties resume on a standing-by one (issue 18, item 2).

Starts the throwaway PostgreSQL and Redis, one ``app.py serve`` web process and two ``app.py
worker`` processes, and a light wall screen (tests/wall_client.py). Each round kills the leading
worker (SIGKILL: its lease must run out), commits a ticket at once from this process (a feed),
and measures the time from the kill to the screen counting that ticket: the handover of the live
path (relay + aggregator + push). Then it starts a new worker, the next round's stand-by.
At the end every screen's count must equal the tickets committed, none applied twice.

    python bench/handover.py                            # 7 kills, the settings' lease (5 s, renew 1 s)
    python bench/handover.py --kills 5 --lease 10 --renew 2.5   # the lease before issue 18
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from dashboard.live.keys import LEADER  # noqa: E402
from tests.helpers import bureau_database, new_request, submit, wait_until  # noqa: E402
from tests.servers import (DEMO_ACCOUNTS, PlatformProcess, PostgresServer, RedisServer, WorkerProcess,  # noqa: E402
                           demo_kiosk_token)
from tests.wall_client import WallScreen  # noqa: E402
from tickets.accounts import load_demo_accounts  # noqa: E402
from tickets.uow import unit_of_work  # noqa: E402


def leader_pid(client: redis.Redis) -> int | None:
    token = client.get(LEADER)
    return int(str(token).split(":")[1]) if token else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=7)
    parser.add_argument("--lease", type=float, help="MINSHENG_LEADER_LEASE_SECONDS (default: the setting's)")
    parser.add_argument("--renew", type=float, help="MINSHENG_LEADER_RENEW_SECONDS (default: the setting's)")
    args = parser.parse_args()
    env = {"SECRET_KEY": "handover-bench-" + "ab" * 24, "MINSHENG_DEDUP_MODE": "off"}
    if args.lease:
        env["MINSHENG_LEADER_LEASE_SECONDS"] = str(args.lease)
    if args.renew:
        env["MINSHENG_LEADER_RENEW_SECONDS"] = str(args.renew)
    with PostgresServer() as pg, RedisServer() as rs:
        url = pg.create_database(f"handover_{uuid.uuid4().hex[:8]}")
        factory = bureau_database(url)
        with unit_of_work(factory) as session:
            load_demo_accounts(session, DEMO_ACCOUNTS)
        client = redis.Redis.from_url(rs.url, decode_responses=True)
        web = PlatformProcess(url, rs.url, command=["serve", "--workers", "1", "--threads", "8"], ready="health",
                              env=env).start()
        workers = [WorkerProcess(url, rs.url, env=env).start() for _ in range(2)]
        screen: WallScreen | None = None
        times: list[float] = []
        try:
            wait_until(lambda: leader_pid(client) is not None, timeout=30, what="a leader")
            wait_until(lambda: client.exists("ms:live:epoch"), timeout=30, what="the live state")
            screen = WallScreen(web.base_url, demo_kiosk_token(), name="bench")
            committed = 0
            for n in range(args.kills):
                pid = leader_pid(client)
                leader = next(w for w in workers if w.proc is not None and w.proc.pid == pid)
                time.sleep(random.uniform(0.2, 1.5))  # anywhere in the renewal cycle, as a host lost
                leader.kill()
                killed = time.monotonic()
                submit(factory, new_request())
                committed += 1
                wait_until(lambda: screen.received >= committed, timeout=60, what="the handover", every=0.01)
                times.append(time.monotonic() - killed)
                print(f"kill {n + 1}: live path resumed after {times[-1]:.2f} s", flush=True)
                workers.remove(leader)
                workers.append(WorkerProcess(url, rs.url, env=env).start())  # the next stand-by
            time.sleep(1.0)
            doubled = [k for k, v in screen.numbers.items() if v > 1]
            print(f"handover over {len(times)} kills: median {statistics.median(times):.2f} s, "
                  f"min {min(times):.2f} s, max {max(times):.2f} s; screen counted {screen.received} of "
                  f"{committed} tickets, {len(doubled)} twice, {screen.resyncs - 1} resyncs")
        finally:
            if screen is not None:
                screen.close()
            for process in [*workers, web]:
                process.stop()
            client.close()


if __name__ == "__main__":
    main()
