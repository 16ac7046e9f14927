"""Redis key names of the live path, in one place."""
from __future__ import annotations

PREFIX = "ms:"
#: Ticket events, replayable; trimmed to roughly the last STREAM_MAXLEN entries.
EVENTS_STREAM = PREFIX + "events"
STREAM_MAXLEN = 200_000

LIVE = PREFIX + "live:"
EPOCH = LIVE + "epoch"  # changes whenever the live state is rebuilt from the database
SEQ = LIVE + "seq"  # one number per applied change; screens detect gaps with it
CURSOR = LIVE + "cursor"  # last stream entry the aggregator consumed
COUNTERS = LIVE + "counters"
OPEN = LIVE + "open"  # ticket id -> public summary, for open tickets
DEADLINES = LIVE + "deadlines"  # zset "contact:<id>"/"resolve:<id>" -> due epoch seconds
AMBER = LIVE + "amber"  # zset of 75% warning instants, same members
BREACHED_CONTACT = LIVE + "breached:contact"
BREACHED_RESOLVE = LIVE + "breached:resolve"
WARNED = LIVE + "warned"  # members past their amber instant but not yet breached
TICKER = LIVE + "ticker"
FLOW = LIVE + "flow:"  # + local minute yyyymmddHHMM -> hash channel -> count
APPLIED = LIVE + "applied:"  # + outbox id // APPLIED_BUCKET -> set of applied ids
APPLIED_BUCKET = 10_000
LEADER = LIVE + "leader"
# Each web process's count of its /live sockets (dashboard.push.Listeners): the web processes'
# own state, so a rebuild of the live state keeps it, as it keeps the leader's lease.
LISTENERS = LIVE + "listeners"
# Beside it: field = the process, value = the /live rooms its sockets are in, comma-separated.
LISTENER_ROOMS = LIVE + "listeners:rooms"
# The run id of the Redis server the live state was rebuilt on: another one (a replica promoted by
# Sentinel, which may lack the old primary's last writes) means rebuild.
SERVER = LIVE + "server"

TICKER_LENGTH = 30
FLOW_MINUTES = 120
