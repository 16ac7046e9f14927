"""One process runs the relay and the aggregator; the others stand by.

Several server processes may share one Redis behind a load balancer. The
aggregator must be the single writer of the live keys, so leadership is a
Redis key with a short lease that the leader keeps renewing; if it dies, the
lease runs out and another process takes over within ``lease_seconds``.

Under ``app.py serve`` the web processes never campaign (``campaign=False``): only the
``app.py worker`` processes compete, and a worker that stops cleanly resigns at once.
"""
from __future__ import annotations

import os
import socket
import time
import uuid

import redis

from dashboard.live.keys import LEADER



class Leadership:
    def __init__(self, client: redis.Redis, lease_seconds: float = 10.0, *, campaign: bool = True) -> None:
        self.redis = client
        self.campaign = campaign  # False: a web process under ``serve``, never the leader
        self.lease_ms = int(lease_seconds * 1000)
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._checked_at = 0.0
        self._leader = False

    def is_leader(self) -> bool:
        """Cheap to call in a loop: talks to Redis at most every lease/4."""
        if not self.campaign:
            return False
        now = time.monotonic()
        if now - self._checked_at < self.lease_ms / 4000:
            return self._leader
        self._checked_at = now
        try:
            if self.redis.set(LEADER, self.token, nx=True, px=self.lease_ms):
                self._leader = True
            elif self.redis.get(LEADER) == self.token:
                # Not atomic without Lua (fakeredis lacks it by default); a lost
                # race here only costs one lease period of stand-by.
                self.redis.pexpire(LEADER, self.lease_ms)
                self._leader = True
            else:
                self._leader = False
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            # Keep the role through an outage: only the leader was writing.
            pass
        return self._leader

    def resign(self) -> None:
        """Give the lease up now if this process holds it (a clean stop): a standing-by
        process takes over at its next look (within lease/4) instead of after the lease runs out."""
        try:
            if self.redis.get(LEADER) == self.token:
                self.redis.delete(LEADER)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            pass
        self._leader = False
