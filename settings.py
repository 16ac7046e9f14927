"""The one settings module.

Every knob of the platform is read here, once: defaults, then an optional
YAML config file (``MINSHENG_CONFIG``), then environment variables, which win.
Nothing else in the code reads ``os.environ`` for configuration.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

ROOT = Path(__file__).resolve().parent

#: ``app.py serve``'s gunicorn worker classes and the Socket.IO ``async_mode`` each serves (here,
#: not in dashboard/serve.py: app.py reads it before gevent's patching, before the platform's imports).
SERVE_ASYNC_MODES = {"gthread": "threading", "gevent": "gevent"}

#: ``REDIS_URL`` value (or empty) meaning: the in-process stand-in, no server.
EMBEDDED_REDIS = "embedded://"


@dataclass(frozen=True)
class Settings:
    database_url: str = f"sqlite:///{ROOT / 'data' / 'minsheng.db'}"
    redis_url: str = EMBEDDED_REDIS
    secret_key: str = "dev-only-change-me"
    host: str = "127.0.0.1"
    port: int = 8050
    timezone: str = "Asia/Shanghai"
    language: str = "zh-CN"
    # Flask-SocketIO server mode; set explicitly so an installed gevent or
    # eventlet is never picked up by auto-detection and changes how the server runs.
    async_mode: str = "threading"
    # ``app.py serve`` (gunicorn, dashboard/serve.py): the worker class, how many worker
    # processes and how many threads each. In threading mode every connected screen holds one
    # thread for as long as its WebSocket is open (simple-websocket), so the threads bound the
    # screens a process serves, besides its page and API requests; "gthread" is the worker
    # class that runs them. "gevent" (needs ``async_mode`` "gevent" and the gevent extra) serves
    # each connection in a greenlet instead: up to serve_worker_connections per process, screens
    # and requests together (serve_threads is then unused); dashboard/serve.py says how the
    # database calls are kept from blocking. gthread keeps at most serve_worker_connections -
    # serve_threads idle keep-alive connections. Several workers share the live pushes through
    # Redis (the message queue), and the wall connects by WebSocket only: no sticky sessions.
    serve_worker_class: str = "gthread"
    serve_workers: int = 2
    serve_threads: int = 100
    serve_worker_connections: int = 1000
    # How often the relay looks for outbox rows committed by other processes
    # (commits in its own process wake it at once). 0.05 s: p50 push latency
    # 31 ms instead of 144 ms at 0.2 s (docs/PERFORMANCE.md), for 20 cheap
    # indexed queries a second.
    relay_poll_seconds: float = 0.05
    # The background duties run in the one worker holding the leadership lease (a Redis key,
    # dashboard/live/leader.py), renewed every leader_renew_seconds. A killed leader's duties
    # resume on a standing-by worker when its lease runs out: 4-5 s after the kill with these
    # values (docs/PERFORMANCE.md, issue 18). A leader that cannot renew for lease - renew
    # seconds (a Redis failover, a stalled host) stops leading; another takes over.
    leader_lease_seconds: float = 5.0
    leader_renew_seconds: float = 1.0
    # How long a writer waits for a lock (the intake locks, a ticket's row) before it gives
    # up with nothing changed (503 Busy), and the longest statement (0: no limit).
    db_lock_timeout_seconds: float = 10.0
    db_statement_timeout_seconds: float = 120.0
    # Connections per process (PostgreSQL): kept open, more when busy, and how long a request
    # waits for one before it fails (503) instead of hanging. /api/v1/health shows their use.
    db_pool_size: int = 10
    db_pool_overflow: int = 20
    db_pool_timeout_seconds: float = 10.0
    # Demo bureau loaded by ``app.py demo load``.
    demo_bureau_file: str = str(ROOT / "examples" / "jinan_bureau.yaml")
    # Deadlines policy: contact/resolve times, working hours, amber share, overrides.
    sla_policy_file: str = str(ROOT / "tickets" / "sla_policy.yaml")
    # A new version of the rules (/admin/rules) takes effect no sooner than this after it is saved:
    # longer than the 5 minutes in which every process re-reads the versions.
    sla_version_lead_minutes: float = 10.0
    # Demo accounts (one per role) and the demo kiosk token, loaded by ``demo load``
    # and by ``run`` into a database without users. "" or "none": never (production).
    demo_accounts_file: str = str(ROOT / "examples" / "demo_accounts.yaml")
    # Simulated feed: tickets per hour at the daily mean (the rhythm scales it).
    simulator_rate_per_hour: float = 600.0
    simulator_seed: int | None = None
    # Follow-up SMS: "sandbox" records every message and sends nothing;
    # "http" POSTs JSON {phone, text, client_id} to sms_gateway_url (after commit).
    sms_gateway: str = "sandbox"
    sms_gateway_url: str = ""
    sms_gateway_token: str = ""  # sent as "Authorization: Bearer ..." when set
    sms_gateway_timeout_seconds: float = 5.0
    # Shared secret the gateway sends in X-Minsheng-Sms-Secret to POST /api/v1/sms/inbound.
    # Empty: the inbound endpoint refuses every request (403).
    sms_inbound_secret: str = ""
    # No answer to the follow-up SMS within this many hours: a phone follow-up task.
    follow_up_no_answer_hours: float = 48.0
    # A supervision order's own deadline, in working hours after it is issued.
    supervision_order_working_hours: float = 4.0
    # The overdue sweep issues orders only for tickets whose resolve deadline passed within
    # this many days: older ones are history (an import, a replay, a long outage), listed as
    # breaches for a person to supervise by hand, not thousands of orders at once.
    supervision_window_days: float = 7.0
    # Surges (tickets/alerts.py, geo/surges.py): the fixed floor, a day's count in one district
    # and topic below which nothing is a surge, and which alone decides where the series has no
    # real baseline (fewer than this many tickets, or too few days with data, in its 28 days).
    surge_min_count: int = 10
    surge_min_baseline_tickets: int = 14
    # Repeated complaints: this many complaints to one unit from the same phone, or
    # on the same topic within the radius, within the days -> a reminder letter.
    repeat_complaint_count: int = 3
    repeat_complaint_days: float = 30.0
    repeat_complaint_radius_m: float = 200.0
    # The duty console: an acknowledged breach or amber returns to unacknowledged after
    # this many minutes unless the ticket moved meanwhile; a unit with at least this many
    # new breaches at once is announced as one digest, not one notice per ticket.
    duty_acknowledgement_minutes: float = 30.0
    duty_digest_threshold: int = 3
    # SMS to officials (tickets/official_sms.py): the notices texted to the people they name
    # (comma-separated kinds; empty: none), and when: "working" holds a text outside working
    # time until the next working period unless the ticket is urgent (from these channels,
    # of these topics, or an escalation that reached this level); "any" texts at any hour.
    official_sms_kinds: str = "escalated,supervision_order,supervision_digest,reminder_letter,findings_due"
    official_sms_hours: str = "working"
    official_sms_urgent_channels: str = "cad_110"
    official_sms_urgent_topics: str = ""
    official_sms_urgent_level: int = 3
    # Predicted breaches (tickets/prediction.py, docs/PREDICTION.md): listed from this
    # probability of missing the resolve deadline, learnt from the last this many days.
    prediction_threshold: float = 0.7
    prediction_window_days: int = 28
    # How often the leader process runs the follow-up and supervision sweeps.
    housekeeping_seconds: float = 30.0
    # Composite score of the unit ranking: weights of the response, completion (or
    # on-time) and satisfaction rates; units below the minimum are listed, not ranked.
    composite_weight_response: float = 0.30
    composite_weight_completion: float = 0.35
    composite_weight_satisfaction: float = 0.35
    composite_completion_measure: str = "on_time"  # or "completion"
    ranking_min_tickets: int = 10
    # The weekly bulletin (每周通报, docs/FIGURES.md): the best and worst N of each ranking
    # (红黑榜), the satisfaction rate under which a ranked unit is named for rectification,
    # the week's busiest H3 cells listed, and when the leader freezes last week's bulletin
    # (ISO weekday 1 = Monday, local time HH:MM).
    bulletin_top_n: int = 5
    bulletin_satisfaction_threshold: float = 0.85
    bulletin_hotspots: int = 10
    bulletin_make_weekday: int = 1
    bulletin_make_time: str = "07:00"
    # De-duplication across channels (tickets/dedup.py, docs/DEDUP.md): "auto" merges
    # certain duplicates at intake and suggests likely ones; "suggest" only suggests; "off".
    dedup_mode: str = "auto"
    # --- intake channels (feeds/, docs/INTAKE.md) ---
    # Open311 GeoReport v2 API keys: comma-separated "label=sha256(key) in hex";
    # only hashes are kept. The default is the published demo key
    # "minsheng-open311-demo" (README): replace it in production.
    open311_api_keys: str = "demo=080cb3a3e4a52afe3e5df5737a0d1379965058b69a0e481d760218a7574da1eb"
    open311_jurisdiction_id: str = "police.jinan.gov.cn"
    # Decimals of the coordinates a public Open311 GET shows (3: about 100 m).
    open311_coordinate_decimals: int = 3
    # 12345 push: the shared HMAC secret of sources whose mapping file sets none.
    # Empty: every push is refused (401).
    hotline_secret: str = ""
    # /admin's audit page walks the whole hash chain at most this often per process (20,000 rows
    # take 1-3 s); in between it checks only the rows appended since (docs/PERFORMANCE.md).
    audit_full_check_seconds: float = 600.0
    hotline_replay_window_seconds: float = 300.0
    hotline_sources_dir: str = str(ROOT / "feeds" / "sources")
    # Largest request body any intake endpoint reads (bytes); larger: 413 + dead letter.
    intake_max_body_bytes: int = 2_000_000
    # Results connector (12345 replies): attempts before a delivery is marked failed,
    # first retry delay (doubling each attempt, at most an hour).
    connector_max_attempts: int = 10
    connector_backoff_seconds: float = 30.0
    # Web security (dashboard/security.py, docs/SECURITY.md): mark cookies Secure (serving over
    # TLS, as behind nginx), and the origins that may frame a wall or the map (space-separated,
    # e.g. "https://portal.police.example"); nothing else is ever framed by another site.
    secure_cookies: bool = False
    # Reverse proxies in front (nginx: 1). Their X-Forwarded-For and X-Forwarded-Proto are
    # believed for that many hops, so the logins' and forms' limits per address count the
    # client's address, not nginx's, and HTTPS is seen as such (HSTS). 0: nothing in front;
    # never more than really stand there (a client could then name any address).
    proxy_hops: int = 0
    wall_frame_ancestors: str = ""
    # Logins (dashboard/login.py): an account with this many failed logins, or an address with
    # the second number, within the lockout is refused until the window has passed.
    login_max_failures: int = 5
    login_max_failures_per_address: int = 20
    login_lockout_minutes: float = 15.0
    # Director's mailbox web form: submissions per client IP per hour.
    mailbox_max_per_hour: int = 10
    # Requests nobody vouched for (a wrong 12345 signature, a wrong Open311 api_key, a body over
    # the limit) kept as dead letters (their first 4 KB) per client IP per hour; beyond: 429.
    intake_refusals_per_hour: int = 60
    # Coordinate system of the 110 dispatch export (wgs84 | gcj02 | bd09).
    cad110_crs: str = "wgs84"
    # The Socket.IO channel on Redis that a platform's processes share their pushes through.
    # Redis's publish/subscribe ignores the database number: a second platform on the same
    # Redis server (the training space) needs a channel of its own, or its walls hear ours.
    live_channel: str = "flask-socketio"
    # The live stream's frames with events: one per this many seconds on average, ten at once
    # (a token bucket, dashboard/live/aggregator.py): under a sustained burst the events of
    # ~0.1 s ride in one frame, so each screen gets ten frames a second, not one per ticket;
    # below that rate no frame waits. 0: a frame per relay batch.
    live_min_frame_seconds: float = 0.1
    # Drill mode (``app.py drill``, docs/DRILL.md): ``drill`` is set by that command only (the
    # process serves the training space, every page marked 演练). Its database: "" derives one
    # beside the real one (SQLite: training.db in drill_dir; PostgreSQL: database <name>_drill on
    # the same server); its Redis: "" takes the real server's next database number (0 → 1).
    # drill_dir keeps its accounts' password, its session key and its (empty) feed sources.
    drill: bool = False
    drill_database_url: str = ""
    drill_redis_url: str = ""
    drill_dir: str = str(ROOT / "data" / "drill")
    drill_port: int = 8060
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url in ("", EMBEDDED_REDIS)


_ENV = {
    "database_url": "DATABASE_URL",
    "redis_url": "REDIS_URL",
    "secret_key": "SECRET_KEY",
    "host": "MINSHENG_HOST",
    "port": "MINSHENG_PORT",
    "timezone": "MINSHENG_TIMEZONE",
    "language": "MINSHENG_LANGUAGE",
    "async_mode": "MINSHENG_ASYNC_MODE",
    "relay_poll_seconds": "MINSHENG_RELAY_POLL_SECONDS",
    "leader_lease_seconds": "MINSHENG_LEADER_LEASE_SECONDS",
    "leader_renew_seconds": "MINSHENG_LEADER_RENEW_SECONDS",
    "live_min_frame_seconds": "MINSHENG_LIVE_MIN_FRAME_SECONDS",
    "serve_worker_class": "MINSHENG_SERVE_WORKER_CLASS",
    "serve_workers": "MINSHENG_SERVE_WORKERS",
    "serve_threads": "MINSHENG_SERVE_THREADS",
    "serve_worker_connections": "MINSHENG_SERVE_WORKER_CONNECTIONS",
    "demo_bureau_file": "MINSHENG_DEMO_BUREAU_FILE",
    "sla_policy_file": "MINSHENG_SLA_POLICY",
    "sla_version_lead_minutes": "MINSHENG_SLA_VERSION_LEAD_MINUTES",
    "duty_acknowledgement_minutes": "MINSHENG_DUTY_ACK_MINUTES",
    "duty_digest_threshold": "MINSHENG_DUTY_DIGEST_THRESHOLD",
    "official_sms_kinds": "MINSHENG_OFFICIAL_SMS_KINDS",
    "official_sms_hours": "MINSHENG_OFFICIAL_SMS_HOURS",
    "official_sms_urgent_channels": "MINSHENG_OFFICIAL_SMS_URGENT_CHANNELS",
    "official_sms_urgent_topics": "MINSHENG_OFFICIAL_SMS_URGENT_TOPICS",
    "official_sms_urgent_level": "MINSHENG_OFFICIAL_SMS_URGENT_LEVEL",
    "prediction_threshold": "MINSHENG_PREDICTION_THRESHOLD",
    "supervision_window_days": "MINSHENG_SUPERVISION_WINDOW_DAYS",
    "surge_min_count": "MINSHENG_SURGE_MIN_COUNT",
    "surge_min_baseline_tickets": "MINSHENG_SURGE_MIN_BASELINE_TICKETS",
    "prediction_window_days": "MINSHENG_PREDICTION_WINDOW_DAYS",
    "composite_weight_response": "MINSHENG_WEIGHT_RESPONSE",
    "composite_weight_completion": "MINSHENG_WEIGHT_COMPLETION",
    "composite_weight_satisfaction": "MINSHENG_WEIGHT_SATISFACTION",
    "composite_completion_measure": "MINSHENG_COMPLETION_MEASURE",
    "ranking_min_tickets": "MINSHENG_RANKING_MIN_TICKETS",
    "bulletin_top_n": "MINSHENG_BULLETIN_TOP_N",
    "bulletin_satisfaction_threshold": "MINSHENG_BULLETIN_SATISFACTION_THRESHOLD",
    "bulletin_make_weekday": "MINSHENG_BULLETIN_WEEKDAY",
    "bulletin_make_time": "MINSHENG_BULLETIN_TIME",
    "dedup_mode": "MINSHENG_DEDUP_MODE",
    "demo_accounts_file": "MINSHENG_DEMO_ACCOUNTS_FILE",
    "simulator_rate_per_hour": "MINSHENG_SIMULATOR_RATE",
    "simulator_seed": "MINSHENG_SIMULATOR_SEED",
    "sms_gateway": "MINSHENG_SMS_GATEWAY",
    "sms_gateway_url": "MINSHENG_SMS_GATEWAY_URL",
    "sms_gateway_token": "MINSHENG_SMS_GATEWAY_TOKEN",
    "sms_inbound_secret": "MINSHENG_SMS_INBOUND_SECRET",
    "open311_api_keys": "MINSHENG_OPEN311_API_KEYS",
    "hotline_secret": "MINSHENG_HOTLINE_SECRET",
    "audit_full_check_seconds": "MINSHENG_AUDIT_FULL_CHECK_SECONDS",
    "hotline_sources_dir": "MINSHENG_HOTLINE_SOURCES_DIR",
    "secure_cookies": "MINSHENG_SECURE_COOKIES",
    "proxy_hops": "MINSHENG_PROXY_HOPS",
    "wall_frame_ancestors": "MINSHENG_WALL_FRAME_ANCESTORS",
    "live_channel": "MINSHENG_LIVE_CHANNEL",
    "drill_database_url": "MINSHENG_DRILL_DATABASE_URL",
    "drill_redis_url": "MINSHENG_DRILL_REDIS_URL",
    "drill_dir": "MINSHENG_DRILL_DIR",
    "drill_port": "MINSHENG_DRILL_PORT",
}


def _coerce(name: str, raw: Any) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if raw is None:
        return None
    if kind == "int" or kind == "int | None":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if str(raw).strip().lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            raise ValueError(f"{name}: {raw!r} is not a yes/no value (1/0, true/false, yes/no, on/off)")
        return str(raw).strip().lower() in ("1", "true", "yes", "on")
    return str(raw)


def load(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults < config file < environment < explicit overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_file = env.get("MINSHENG_CONFIG")
    if config_file:
        data = yaml.safe_load(Path(config_file).read_text(encoding="utf-8")) or {}
        known = {f.name for f in fields(Settings)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"{config_file}: unknown settings {sorted(unknown)}; known: {sorted(known)}")
        values.update({k: _coerce(k, v) for k, v in data.items() if k != "extra"})
        values["extra"] = data.get("extra", {})
    for name, var in _ENV.items():
        if env.get(var) not in (None, ""):
            values[name] = _coerce(name, env[var])
    values.update(overrides)
    return replace(Settings(), **values)
