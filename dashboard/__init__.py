"""The platform's web process: Flask app, Dash screens, Socket.IO push, API.

``create_platform`` is the app factory (as in okomarov/dash_on_flask): it
wires one Flask server with the Dash screens, the JSON API and Socket.IO,
and owns the live workers (outbox relay and live aggregator) that run in
whichever process holds the leadership lease.
"""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import plotly.io.json as plotly_json
import redis
from dash import Dash
from flask import Flask, Response, request
from flask_socketio import SocketIO
from sqlalchemy.orm import sessionmaker

import settings as settings_module
from callbacks.screen import Screens
from dashboard import api, auth, i18n, intake_forms, login, open311, push, running, security, track
from dashboard.drill import marking as drill_marking
from dashboard.live.aggregator import LiveAggregator
from dashboard.live.leader import Leadership
from dashboard.live.relay import OutboxRelay
from dashboard.redis_link import connect, message_queue
from feeds import connectors
from layouts import home, shell
from layouts.i18n import gettext
from layouts.live import EARLY_SNAPSHOT_PATHS, early_snapshot_script
from settings import Settings
from tickets import alerts, bulletin, housekeeping, sla
from tickets.bootstrap import Domain, bootstrap
from tickets.figures import RankingPolicy
from tickets.roles import Actor
from tickets.uow import UnitOfWork

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent


@dataclass
class Platform:
    settings: Settings
    server: Flask
    dash: Dash | None  # None: a worker (``role="worker"``), which serves nothing
    socketio: SocketIO
    domain: Domain
    redis: redis.Redis
    aggregator: LiveAggregator
    relay: OutboxRelay
    leadership: Leadership
    listeners: push.Listeners
    stop_event: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def factory(self) -> sessionmaker[UnitOfWork]:
        """Sessions that are the domain's units of work (``tickets.bootstrap``)."""
        return self.domain.factory

    def start_background(self, name: str, target: Callable[[threading.Event], None]) -> None:
        thread = threading.Thread(target=target, args=(self.stop_event,), name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def start_live(self) -> None:
        """Everything in this one process (``app.py run``): the web process's own duties and the
        background duties (these idle unless this process leads)."""
        self.start_web_duties()
        self.start_duties()

    def start_web_duties(self) -> None:
        """What every process serving screens does for itself (``app.py serve``'s workers)."""
        # Every process says how many screens it serves (the leader pushes nothing while none are).
        self.start_background("listeners", self.listeners.run)
        # Every process drops its own sockets whose login or kiosk token was revoked.
        self.start_background("socket-grants", lambda stop: auth.run_socket_sweeper(
            self.server, push.drop(self.socketio), stop))
        self.start_background("grant-revocations", lambda stop: auth.run_revocation_listener(
            self.server, self.redis, stop))
        # Every process re-reads the admin-loaded working calendar (and a changed SLA policy).
        self.start_background("calendar-refresh", lambda stop: sla.refresh_loop(self.factory, stop))

    def start_duties(self) -> None:
        """The background duties: they run in the process holding the leadership lease
        (``app.py worker``, or ``app.py run``'s one process)."""
        self.start_background("outbox-relay", lambda stop: self.relay.run(stop, self.leadership.is_leader))
        self.start_background("live-aggregator", lambda stop: self.aggregator.run(stop, self.leadership.is_leader))
        if self.dash is None:  # a worker alone: its deadlines need the calendar too
            self.start_background("calendar-refresh", lambda stop: sla.refresh_loop(self.factory, stop))
        # The leader sweeps: unanswered follow-ups, overdue tickets (督办单), queued SMS.
        deliver = housekeeping.deliveries(
            self.factory, results=lambda now: connectors.deliver_pending(self.factory, now, self.settings))
        self.start_background("housekeeping", lambda stop: housekeeping.run(
            self.factory, stop, self.leadership.is_leader, deliver=deliver,
            interval=self.settings.housekeeping_seconds))
        # The leader raises early warnings: surges and recurring issues (tickets/alerts.py).
        alert_config = alerts.AlertConfig.from_settings(self.settings)  # a bad setting stops the start
        self.start_background("alerts", lambda stop: alerts.run(
            self.factory, stop, self.leadership.is_leader, self.settings.tz, cfg=alert_config))
        # The leader freezes last week's bulletin once, from Monday 07:00 (settings: bulletin_make_*).
        self.start_background("bulletin", lambda stop: bulletin.run(self.factory, stop, self.leadership.is_leader))

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.relay.wake.set()
        for thread in self.threads:
            thread.join(timeout)
        self.leadership.resign()

    def run(self) -> None:
        """Werkzeug's development server: ``app.py run``, the one-process demo, only (production
        is ``app.py serve``, gunicorn: dashboard/serve.py)."""
        log.info("Minsheng on http://%s:%s/wall", self.settings.host, self.settings.port)
        self.socketio.run(
            self.server,
            host=self.settings.host,
            port=self.settings.port,
            allow_unsafe_werkzeug=True,
            use_reloader=False,
            log_output=False,
        )


Role = Literal["all", "web", "worker"]


def create_platform(settings: Settings | None = None, *, live: bool = True, role: Role = "all") -> Platform:
    """The platform for one process. ``role``: "all" serves and runs the background duties
    (``app.py run``, the demo); "web" only serves, never leads (``app.py serve``'s gunicorn
    workers); "worker" serves nothing and runs the background duties, pushing to the screens
    through the Redis message queue (``app.py worker``). ``live``: start the threads."""
    settings = settings or settings_module.load()
    if role != "all" and settings.embedded_redis:
        raise ValueError("the web and worker processes share Redis: set REDIS_URL (not the embedded stand-in)")
    # The deadline policy, the SMS gateway, the de-duplication mode: a bad value stops the start.
    domain = bootstrap(settings)
    server = Flask(__name__, static_folder=str(HERE / "static"), static_url_path="/static")
    server.config["SECRET_KEY"] = settings.secret_key
    server.config["JSON_AS_ASCII"] = False
    # Flask-Compress streams files (assets, static, Dash's bundles) with zstd, br or deflate
    # only; a client that asks for gzip alone would get them whole.
    server.config["COMPRESS_ALGORITHM_STREAMING"] = ["zstd", "br", "gzip", "deflate"]
    i18n.init_app(server, settings.timezone)

    factory = domain.factory
    client = connect(settings)

    if role == "worker":
        # Write-only: emits go to Redis, and every web process's Socket.IO server sends them
        # to its own screens (Flask-SocketIO's emitting from an external process).
        socketio = SocketIO(**message_queue(settings, write_only=True))
    else:
        socketio = SocketIO(
            server,
            async_mode=settings.async_mode,  # type: ignore[arg-type]  # checked against the modes at start
            **message_queue(settings, write_only=False),
            # Same-origin only: the wall is served by this platform, nothing else connects.
            cors_allowed_origins=[],
        )
    security.trust_proxies(server, settings.proxy_hops)  # after SocketIO wrapped it: outermost
    rooms = push.ScopeRooms(factory)
    leadership = Leadership(client, settings.leader_lease_seconds, settings.leader_renew_seconds,
                            campaign=role != "web")
    # This process's screens: the sockets the gate admitted (dashboard/auth.py).
    listeners = push.Listeners(client, leadership.token, lambda: len(server.extensions[auth.EXTENSION].sockets),
                               rooms=lambda: push.occupied_rooms(socketio))
    if role != "worker":
        push.register(socketio, rooms, listeners)
    aggregator = LiveAggregator(
        factory, client, settings.tz, publish=push.publisher(socketio, rooms, listeners.heard), heartbeat_seconds=5.0,
        listening=listeners.any, unheard=rooms.note, fence=leadership.holds, min_frame_seconds=settings.live_min_frame_seconds,
    )
    aggregator.ranking = RankingPolicy.from_settings(settings)
    relay = OutboxRelay(factory, client, poll_seconds=settings.relay_poll_seconds)
    if role == "worker":
        platform = Platform(
            settings=settings, server=server, dash=None, socketio=socketio, domain=domain, redis=client,
            aggregator=aggregator, relay=relay, leadership=leadership, listeners=listeners,
        )
        if live:
            platform.start_duties()
        return platform
    # The screens are wired here, in the factory: the registry imports every screen's
    # callbacks, and they import the read models under this package.
    from dashboard.screens import SCREENS

    platform = Platform(
        settings=settings, server=server, dash=_make_dash(server, settings, factory, SCREENS, aggregator), socketio=socketio,
        domain=domain, redis=client, aggregator=aggregator, relay=relay, leadership=leadership,
        listeners=listeners,
    )
    server.extensions[running.EXTENSION] = platform
    if settings.drill:  # the training space (app.py drill): every page marked 演练
        drill_marking.init_app(server)
    api.errors.init_app(server)  # JSON bodies' depth, a database outage a 503 (every path)
    auth.init_app(server, factory, SCREENS)  # the gate: who may see which screen, API and socket
    security.init_app(server, settings)  # cookies, CSRF, headers
    server.register_blueprint(login.blueprint)  # /login, /logout
    server.register_blueprint(api.blueprint)
    server.register_blueprint(open311.blueprint)  # /open311/v2/ (GeoReport v2)
    server.register_blueprint(intake_forms.blueprint)  # /mailbox, /frontdesk
    server.register_blueprint(track.blueprint)  # /track: a citizen's progress lookup
    if live:
        if role == "web":
            platform.start_web_duties()
        else:
            platform.start_live()
    return platform


@dataclass(frozen=True)
class ScreenServices:
    """What screens' callbacks get of the platform (``callbacks.screen.ScreenContext``)."""

    settings: Settings
    factory: sessionmaker[UnitOfWork]
    live: LiveAggregator

    def actor(self) -> Actor | None:
        return auth.current_actor()

    def session(self) -> UnitOfWork:
        return self.factory()

    def may_view(self, path: str) -> bool:
        return auth.may_view(path)

    def nav(self) -> list[tuple[str, str]]:
        return [(s.path, s.title) for s in auth.state().screens if s.title and auth.may_view(s.path)]

    def live_position(self) -> dict[str, Any]:
        return self.live.position()


# dcc.Graph loads plotly.js from this URL when a screen first draws a chart
# (window._dashPlotlyJSURL, served locally). The screens draw bars and lines only, so
# plotly.js's basic bundle (bar, pie, scatter: 1.2 MB, 0.4 MB compressed; npm
# plotly.js-basic-dist-min, the version plotly.py ships) answers instead of the full one (4.8 MB).
PLOTLY_URL = "/_dash-component-suites/plotly/package_data/plotly.min.js"
PLOTLY_BUNDLE = HERE / "static" / "vendor" / "plotly-basic.min.js"
PLOTLY_TRACES = frozenset({"bar", "pie", "scatter"})


def _serve_partial_plotly(server: Flask) -> None:
    bundle = PLOTLY_BUNDLE.read_bytes()

    @server.before_request
    def _partial_plotly() -> Response | None:
        if request.path != PLOTLY_URL:
            return None
        # Whole bytes, not a file stream: Flask-Compress then offers gzip too.
        response = Response(bundle, mimetype="application/javascript")
        response.cache_control.public = True
        response.cache_control.max_age = 3600
        response.add_etag()
        response.make_conditional(request)
        return response


# dash-ag-grid's bundle (0.36 MB compressed, the page's biggest script) on a page that shows no
# grid: a wall. Left out of the walls' pages, whose first numbers then do not wait for it to be
# fetched and parsed; any link off a wall is a whole page load (no screen has a dcc.Link), whose
# page has it again.
_GRID_SCRIPT = re.compile(r'<script src="[^"]*/dash_ag_grid/[^"]*"></script>\s*')


def _walls_without_the_grid(app: Dash) -> None:
    interpolate = app.interpolate_index

    def index(**parts: str) -> str:
        path = request.path.rstrip("/") or "/"
        if any(path == p or path.startswith(p + "/") for p in EARLY_SNAPSHOT_PATHS):
            parts["scripts"] = _GRID_SCRIPT.sub("", parts["scripts"])
        return interpolate(**parts)

    app.interpolate_index = index  # type: ignore[method-assign, assignment]  # this app's pages only


def _make_dash(server: Flask, settings: Settings, factory: sessionmaker[UnitOfWork], screens: Screens,
               live_state: LiveAggregator) -> Dash:
    from callbacks import live, router

    # Dash serializes every answer with plotly's JSON: its orjson engine cannot take a Dash
    # component, so it first walks the whole answer in Python (a desk's 10,000 rows: ~250 ms);
    # the standard engine lets the C encoder do the rows (~50 ms). Our figures are small.
    plotly_json.config.default_engine = "json"
    app = Dash(
        __name__,
        server=server,  # type: ignore[arg-type]  # Dash takes a Flask app; its annotation says bool | callable
        url_base_pathname="/",
        assets_folder=str(HERE / "assets"),
        # Served by this platform: police networks are closed (no CDN).
        serve_locally=True,
        compress=True,  # a desk's first page carries thousands of rows; scripts are megabytes
        external_scripts=["/static/vendor/socket.io.min.js"],
        title=gettext(home.PLATFORM_NAME, settings.language),
        update_title=None,  # type: ignore[arg-type]  # None: the tab title never says "Updating…"
        suppress_callback_exceptions=True,
    )
    _serve_partial_plotly(server)
    # First in <head>: a wall asks for its snapshot before its scripts have loaded (layouts/live.py).
    app.index_string = app.index_string.replace("<head>", "<head>\n        " + early_snapshot_script(), 1)
    _walls_without_the_grid(app)
    app.layout = shell.layout
    ctx = ScreenServices(settings, factory, live_state)
    router.register(app, screens, ctx)
    live.register(app)  # starts the shared live module on any screen with a live marker
    for screen in screens:
        screen.register(app, ctx)
    return app
