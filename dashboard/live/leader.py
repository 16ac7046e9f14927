"""One process runs the relay and the aggregator; the others stand by.

Several server processes may share one Redis behind a load balancer. The
aggregator must be the single writer of the live keys, so leadership is a
Redis key with a short lease (``leader_lease_seconds``) that the leader renews
every ``leader_renew_seconds``; if it dies, the lease runs out and a standing-by
process, which looks again the moment the lease's time-to-live says it ends,
takes over.

Safety (never two leaders at once): taking and renewing the key are one
WATCH/MULTI transaction each (no renewal can extend another process's lease),
and a leader believes it leads only until ``lease - renew`` after the start of
its last successful renewal, on its own monotonic clock: the key in Redis lives
at least ``renew`` seconds longer than that belief, the fence within which a
step started under the lease finishes (the aggregator asks again just before it
writes). A leader that cannot reach Redis stops leading when that belief runs out.

Under ``app.py serve`` the web processes never campaign (``campaign=False``): only the
``app.py worker`` processes compete, and a worker that stops cleanly resigns at once.
"""
from __future__ import annotations

import os
import socket
import threading
import time
import uuid

import redis

from dashboard.live.keys import LEADER

# How often a standing-by process's loops ask whether it leads now (a local look: Leadership
# talks to Redis only when a renewal is due or the holder's lease runs out).
STANDBY_LOOK_SECONDS = 0.25
# A standing-by process looks again at most this soon after a look (a lease about to run out).
_SOONEST_LOOK_SECONDS = 0.02


class Leadership:
    def __init__(self, client: redis.Redis, lease_seconds: float = 5.0, renew_seconds: float = 1.0, *,
                 campaign: bool = True) -> None:
        if not 0 < 2 * renew_seconds <= lease_seconds:
            raise ValueError(f"the leader's renewal ({renew_seconds} s) must be at most half its lease "
                             f"({lease_seconds} s)")
        self.redis = client
        self.campaign = campaign  # False: a web process under ``serve``, never the leader
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._next_look = 0.0  # time.monotonic()
        self._valid_until = 0.0  # time.monotonic(): this process leads until then, at most

    def is_leader(self) -> bool:
        """Cheap to call in a loop: talks to Redis at most every ``renew_seconds`` (a
        standing-by process also when the holder's lease runs out)."""
        if not self.campaign:
            return False
        if time.monotonic() >= self._next_look and self._lock.acquire(blocking=False):
            try:
                self._look()
            finally:
                self._lock.release()
        return self.holds()

    def holds(self) -> bool:
        """Whether the lease is still this process's, by its own clock alone (no Redis)."""
        return time.monotonic() < self._valid_until

    def _look(self) -> None:
        started = time.monotonic()
        self._next_look = started + self.renew_seconds
        try:
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.watch(LEADER)
                holder = pipe.get(LEADER)
                if holder is not None and holder != self.token:
                    ttl_ms = pipe.pttl(LEADER)
                    self._valid_until = 0.0
                    if ttl_ms is not None and ttl_ms >= 0:  # look again as the holder's lease ends
                        self._next_look = started + max(_SOONEST_LOOK_SECONDS,
                                                        min(self.renew_seconds, ttl_ms / 1000))
                    return
                pipe.multi()  # free, or ours: take or renew, unless it changed since WATCH
                pipe.set(LEADER, self.token, px=int(self.lease_seconds * 1000))
                pipe.execute()
                self._valid_until = started + self.lease_seconds - self.renew_seconds
        except redis.exceptions.WatchError:
            # Another process took it between our GET and EXEC: look again soon.
            self._valid_until = 0.0
            self._next_look = started + _SOONEST_LOOK_SECONDS
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            # Redis away (a failover): keep what we had, until it runs out by our clock.
            self._next_look = started + min(self.renew_seconds, 0.25)

    def resign(self) -> None:
        """Give the lease up now if this process holds it (a clean stop): a standing-by
        process takes over at its next look (within ``renew_seconds``) instead of after the
        lease runs out."""
        self._valid_until = 0.0
        try:
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.watch(LEADER)
                if pipe.get(LEADER) == self.token:
                    pipe.multi()
                    pipe.delete(LEADER)
                    pipe.execute()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.WatchError):
            pass
