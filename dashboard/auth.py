"""Who is asking: for Flask views, the JSON API, Dash and Socket.IO.

Three ways in, checked in this order:

1. ``Authorization: Bearer <token>`` (API clients; an API token acts as its
   user, a kiosk token as a read-only wall). Not remembered in the session.
2. The browser session (Flask's signed cookie) after a login at ``/login``.
3. A kiosk grant: ``?kiosk=<token>`` on a wall URL. The token's id is kept in
   the session, so the page's own snapshot fetch and its Socket.IO connection
   are authorised by the cookie without the token in every URL.

Every grant kept in a session (a user or a kiosk token) is re-checked on each
request against the database, through a cache of a few seconds, so revoking a
kiosk token or deactivating a user cuts them off almost at once; open
Socket.IO connections are swept and dropped too.

One gate (``before_request``) applies to the whole server, so a view added
later is closed by default: the API needs an actor (``@public`` opens a view,
``require_login(roles)`` narrows it); kiosks may only read; Dash's layout and
callback endpoints need an actor; every screen needs a login except wall
screens, which a kiosk may open. Who may open which screen comes from the
screen registry (``dashboard/screens.py``, handed to :func:`init_app`): a
screen marked ``kiosk`` opens to kiosks, ``roles`` narrows it to those roles.
Kiosks may only fire Dash callbacks whose outputs are the page router's, the
live marker's or a wall's own (ids starting with the wall's name and a dash),
because other screens' callbacks may return data a wall must not see.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import quote

from flask import Flask, Response, current_app, g, has_request_context, redirect, request, session
from markupsafe import escape
from sqlalchemy.orm import Session, sessionmaker

from callbacks.screen import Screens
from dashboard import security
from layouts.i18n import N_, gettext
from layouts.live import MARKER_ID
from tickets import accounts
from tickets.uow import UnitOfWork, unit_of_work
from tickets.models import ApiToken, Unit, User, utcnow
from tickets.roles import Actor, actor_for, subtree_ids

log = logging.getLogger(__name__)

KIOSK_ROLE = "kiosk"
# Dash callback outputs a kiosk may ask for besides its walls' own: the URL router, the live marker.
KIOSK_OUTPUT_IDS = frozenset({"page", MARKER_ID})
PUBLIC_PATHS = frozenset({"/login", "/logout", "/_favicon.ico", "/favicon.ico"})
# Static files only: scripts, styles, the vendored socket.io client. No data.
PUBLIC_PREFIXES = ("/static/", "/assets/", "/_dash-component-suites/", "/socket.io/")
CACHE_SECONDS = 3.0
SWEEP_SECONDS = 5.0
# A revocation (an admin ended a login, deactivated an account, revoked a kiosk link) is
# published here; every web process forgets its cached grants and sweeps its sockets at once.
REVOKED_CHANNEL = "ms:grants:revoked"
SESSION_LOGIN = "login"  # the login session's key (tickets.accounts.start_login)
SESSION_KIOSK = "kiosk_token_id"
_PUBLIC_ATTR = "_minsheng_public"
EXTENSION = "minsheng.auth"

F = TypeVar("F", bound=Callable[..., Any])


# ---------------------------------------------------------------- state
@dataclass
class AuthState:
    """Per-app: the database, a short cache of grant checks, and open sockets."""

    factory: sessionmaker[UnitOfWork]
    screens: Screens = Screens(())  # the screen registry: who may open which path
    clock: Callable[[], float] = time.monotonic
    ttl: float = CACHE_SECONDS
    _cache: dict[Any, tuple[float, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    sockets: dict[str, str] = field(default_factory=dict)  # sid -> grant, this process's sockets
    sockets_lock: threading.Lock = field(default_factory=threading.Lock)
    # Set when a grant was revoked (here, or in another process: REVOKED_CHANNEL): sweep now.
    sweep_now: threading.Event = field(default_factory=threading.Event)
    stamped: dict[int, float] = field(default_factory=dict)  # kiosk token id -> when its socket last stamped it

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        now = self.clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        value = compute()
        with self._lock:
            if len(self._cache) > 1000:  # random bearer tokens must not grow it without bound
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                if len(self._cache) > 10000:
                    self._cache.clear()
            self._cache[key] = (now + self.ttl, value)
        return value

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()


def state() -> AuthState:
    auth_state: AuthState = current_app.extensions[EXTENSION]
    return auth_state


def init_app(server: Flask, factory: sessionmaker[UnitOfWork], screens: Screens = Screens(())) -> AuthState:
    auth_state = AuthState(factory, screens)
    server.extensions[EXTENSION] = auth_state
    server.before_request(_gate)  # the cookie's flags, CSRF and headers: dashboard/security.py
    return auth_state


# --------------------------------------------------------------- actors
def _user_actor(s: Session, user: User) -> Actor:
    unit = s.get(Unit, user.unit_id)
    return replace(actor_for(s, user), extra={
        "real_name": user.real_name, "police_number": user.police_number or "",
        "unit_code": unit.code if unit else "", "unit_name": unit.name if unit else "",
        "grant": f"user:{user.id}",
    })


def _token_actor(s: Session, token: ApiToken) -> Actor:
    if token.kind == "kiosk":  # the city's wall, or (with a unit) a branch bureau's: its subtree only
        unit = s.get(Unit, token.unit_id) if token.unit_id is not None else None
        return Actor(name=f"kiosk#{token.id}", role=KIOSK_ROLE, unit_id=token.unit_id,
                     visible_unit_ids=frozenset(subtree_ids(s, unit.id)) if unit is not None else None,
                     extra={"label": token.label, "token_id": str(token.id), "grant": f"token:{token.id}",
                            "unit_code": unit.code if unit else "", "unit_name": unit.name if unit else ""})
    assert token.user is not None  # resolve_token refuses API tokens without a live user
    actor = _user_actor(s, token.user)
    return replace(actor, extra={**actor.extra, "token_id": str(token.id), "grant": f"token:{token.id}"})


def _actor_for_login(key_hash: str) -> Actor | None:
    """The actor of a live login session (logout, deactivation or an admin ends it)."""
    def compute() -> Actor | None:
        with state().factory() as s:
            user = accounts.login_user(s, key_hash)
            if user is None:
                return None
            actor = _user_actor(s, user)
            return replace(actor, extra={**actor.extra, "grant": f"login:{key_hash}"})

    result: Actor | None = state().cached(("login", key_hash), compute)
    return result


def _actor_for_token_id(token_id: int) -> Actor | None:
    def compute() -> Actor | None:
        with state().factory() as s:
            token = s.get(ApiToken, token_id)
            if token is None or not accounts.token_is_live(s, token_id):
                return None
            return _token_actor(s, token)

    result: Actor | None = state().cached(("token-id", token_id), compute)
    return result


def _actor_for_plaintext(plaintext: str) -> tuple[int, Actor] | None:
    """Resolve a presented token (records its use); the cache bounds the writes."""

    def compute() -> tuple[int, Actor] | None:
        now = utcnow()
        with state().factory() as s:  # a read: it never waits for a writer (a sweep) on its own
            token = accounts.resolve_token(s, plaintext, now, stamp=False)
            if token is None:
                return None
            found, due = (token.id, _token_actor(s, token)), accounts.use_is_due(token, now)
        if due:
            accounts.record_use(state().factory, found[0], now)
        return found

    result: tuple[int, Actor] | None = state().cached(("token", accounts.token_hash(plaintext)), compute)
    return result


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _resolve(presented_token: str | None = None) -> Actor | None:
    # Credentials presented with the request win; a wrong one is not
    # quietly replaced by the session (the caller must learn it is wrong).
    presented = presented_token or _bearer()
    if presented:
        found = _actor_for_plaintext(presented)
        return found[1] if found else None
    key = session.get(SESSION_LOGIN)
    if isinstance(key, str):
        actor = _actor_for_login(accounts.token_hash(key))
        if actor is not None:
            return actor
        session.pop(SESSION_LOGIN, None)
    # A kiosk token opens screens (and their Socket.IO), never an API URL: there it would be
    # written into every log and proxy on the way, and the API has the bearer header for scripts.
    kiosk = request.args.get("kiosk") if not request.path.startswith("/api/") else None
    if kiosk:
        found = _actor_for_plaintext(kiosk)
        if found is None or found[1].role != KIOSK_ROLE:  # API tokens never go in URLs
            g.kiosk_refused = True
            session.pop(SESSION_KIOSK, None)
            return None
        if session.get(SESSION_KIOSK) != found[0]:
            session[SESSION_KIOSK] = found[0]
        return found[1]
    token_id = session.get(SESSION_KIOSK)
    if token_id is not None:
        actor = _actor_for_token_id(int(token_id))
        if actor is not None and actor.role == KIOSK_ROLE:
            return actor
        # Kept, not dropped: the wall goes on saying "revoked" instead of
        # falling back to a login form that nobody at a wall can fill in.
        g.kiosk_refused = True
    return None


def current_actor() -> Actor | None:
    """Who is asking in this request; None outside a request or without credentials."""
    if not has_request_context():
        return None
    if "minsheng_actor" not in g:
        g.minsheng_actor = _resolve()
    actor: Actor | None = g.minsheng_actor
    return actor


def is_kiosk(actor: Actor | None) -> bool:
    return actor is not None and actor.role == KIOSK_ROLE


def may_view(path: str, actor: Actor | None = None) -> bool:
    """May the actor of this request see the screen at ``path``? (True outside requests.)

    A kiosk sees walls only; anyone else every screen their role is listed for
    (all when the screen lists none), and every page that is not a screen."""
    if not has_request_context():
        return True
    actor = actor or current_actor()
    if actor is None:
        return False
    screen = state().screens.covering(path)
    if is_kiosk(actor):
        return screen is not None and screen.kiosk
    return screen is None or screen.roles is None or actor.role in screen.roles


# ------------------------------------------------------------- for views
def error(status: int, code: str, **params: Any) -> Response:
    """A refusal in the API's one error shape (``dashboard.api.errors``)."""
    from dashboard.api.errors import error_response  # imported here: the API's modules import this one

    return error_response(status, code, params)


def public(view: F) -> F:
    """Open a view to anonymous callers (the gate lets it through)."""
    setattr(view, _PUBLIC_ATTR, True)
    return view


def require_login(roles: Iterable[str] | None = None) -> Callable[[F], F]:
    """401 without credentials; 403, saying why, when the role is not one of ``roles``.

    Without ``roles`` any actor will do, a kiosk included (kiosks only read).
    """
    allowed = frozenset(roles) if roles is not None else None

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            actor = current_actor()
            if actor is None:
                return error(401, _unauthenticated_reason())
            if allowed is not None and actor.role not in allowed:
                return error(403, "role_required", actor=actor.name, role=actor.role, path=request.path,
                             roles=sorted(allowed))
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _unauthenticated_reason() -> str:
    """The code of a 401: why the caller is not known."""
    if g.get("kiosk_refused"):
        return "kiosk_token_invalid"
    if _bearer():
        return "token_invalid"
    return "authentication_required"


# ------------------------------------------------------------------ gate
def _gate() -> Any:
    path = request.path
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, _PUBLIC_ATTR, False):
        return None
    actor = current_actor()
    if path.startswith("/api/"):
        if actor is None:
            return error(401, _unauthenticated_reason())
        if is_kiosk(actor) and request.method not in security.SAFE_METHODS:
            return error(403, "kiosk_read_only")
        return _write_refusal(path)
    if path.startswith("/_"):  # Dash's layout, dependencies and callbacks
        if actor is None:
            return error(401, _unauthenticated_reason())
        if is_kiosk(actor) and path == "/_dash-update-component" and not _kiosk_callback_allowed():
            return error(403, "kiosk_callback_refused")
        return _write_refusal(path)
    # A screen.
    if actor is not None and may_view(path, actor):
        return None
    if actor is None and g.get("kiosk_refused"):
        return _kiosk_refused_page()
    return redirect(f"/login?next={quote(_here(), safe='/')}")


def _write_refusal(path: str) -> Response | None:
    """A write must be JSON and, by a browser's cookie, carry its CSRF token (dashboard/security.py)."""
    refused = security.write_refusal(path, bearer=_bearer() is not None)
    if refused is None:
        return None
    status, code, params = refused
    log.warning("write refused (%s) %s %s from %s", code, request.method, path, request.remote_addr)
    return error(status, code, **params)


def _here() -> str:
    query = request.query_string.decode("utf-8", "replace")
    return request.path + (f"?{query}" if query else "")


def _kiosk_callback_allowed() -> bool:
    body = request.get_json(silent=True) or {}
    outputs = body.get("outputs")
    outputs = outputs if isinstance(outputs, list) else [outputs]
    walls = tuple(f"{s.name}-" for s in state().screens if s.kiosk)
    for output in outputs:
        ident = output.get("id") if isinstance(output, dict) else None
        # Pattern-matching ids (dicts) and anything unnamed are refused.
        if not isinstance(ident, str) or not (ident in KIOSK_OUTPUT_IDS or ident.startswith(walls)):
            return False
    return bool(outputs)


KIOSK_REFUSED = N_("This wall's kiosk token is invalid or has been revoked.")
KIOSK_REFUSED_ASK = N_("Ask the platform office for a new wall URL.")


def _kiosk_refused_page() -> Response:
    """A wall whose token was revoked says so; nobody at a wall can type a password.
    Chinese first, English beneath: nobody at a wall can switch the language either."""
    zh, en = "zh-CN", "en"
    title, log_in = N_("Kiosk token refused"), N_("Log in")
    html = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>{gettext(title, zh)} · {gettext(title, en)}</title>
<style>body{{margin:0;height:100vh;display:flex;align-items:center;justify-content:center;
background:#07101d;color:#c9d4e3;font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;text-align:center}}
h1{{color:#ff4d4f;font-weight:500}} a{{color:#3fa7ff}}</style></head><body><main>
<h1>{gettext(KIOSK_REFUSED, zh)}</h1>
<p>{gettext(KIOSK_REFUSED_ASK, zh)}</p>
<p lang="en">{gettext(KIOSK_REFUSED, en)} {gettext(KIOSK_REFUSED_ASK, en)}</p>
<p><a href="/login?next={escape(quote(request.path, safe='/'))}">{gettext(log_in, zh)} / {gettext(log_in, en)}</a></p>
</main></body></html>"""
    return Response(html, status=401, mimetype="text/html")


# ------------------------------------------------------------- sessions
def log_in(key: str, role: str) -> None:
    """Start a browser session for the login session ``key`` (a fresh one: nothing of the old
    survives, the CSRF token included); an admin's cookie is SameSite=Strict."""
    session.clear()
    session[SESSION_LOGIN] = key
    if role == "admin":
        session[security.STRICT_KEY] = True
    g.pop("minsheng_actor", None)


def log_out() -> None:
    """End the login session itself, not only this browser's cookie: a copy of the cookie
    taken before stops working too."""
    key = session.get(SESSION_LOGIN)
    if isinstance(key, str):
        with unit_of_work(state().factory) as s:
            accounts.end_login(s, key)
        state().forget()
    session.clear()
    g.pop("minsheng_actor", None)


# ------------------------------------------------------------- Socket.IO
def admit_socket(sid: str, auth: Any = None) -> Actor | None:
    """The actor for a Socket.IO connection, or None to refuse it.

    Accepts the session cookie (the browser's wall), ``auth={"token": T}``
    (scripts, tests), a bearer header, or ``?kiosk=T`` on the Socket.IO URL.
    """
    token = auth.get("token") if isinstance(auth, dict) and isinstance(auth.get("token"), str) else None
    actor = _resolve(token) if token else current_actor()
    if actor is not None:
        with state().sockets_lock:
            state().sockets[sid] = actor.extra.get("grant", "")
        if actor.role == KIOSK_ROLE and actor.extra.get("token_id", "").isdigit():
            _stamp_wall(int(actor.extra["token_id"]))
    return actor


def _stamp_wall(token_id: int) -> None:
    """A wall connected: its kiosk link's ``last_used_at`` (/admin's "last connected"), at most
    once per ``accounts.LAST_USED_RESOLUTION`` per process, and never waiting for a writer."""
    now = state().clock()
    with state().sockets_lock:
        last = state().stamped.get(token_id)
        if last is not None and now - last < accounts.LAST_USED_RESOLUTION.total_seconds():
            return
        state().stamped[token_id] = now
    accounts.record_use(state().factory, token_id, utcnow())


def forget_socket(sid: str) -> None:
    with state().sockets_lock:
        state().sockets.pop(sid, None)


def grant_is_live(grant: str) -> bool:
    kind, _, ident = grant.partition(":")
    if kind == "login":
        return _actor_for_login(ident) is not None
    return kind == "token" and ident.isdigit() and _actor_for_token_id(int(ident)) is not None


def sweep_sockets(server: Flask, disconnect: Callable[[str], None]) -> list[str]:
    """Disconnect this process's sockets whose grant was revoked; returns their sids."""
    with server.app_context():
        with state().sockets_lock:
            open_sockets = list(state().sockets.items())
        dropped = [sid for sid, grant in open_sockets if not grant_is_live(grant)]
    for sid in dropped:
        log.info("dropping socket %s: its grant was revoked", sid)
        try:
            disconnect(sid)
        except Exception:  # already gone
            log.debug("socket %s already gone", sid, exc_info=True)
        with server.app_context():
            forget_socket(sid)
    return dropped


def run_socket_sweeper(server: Flask, disconnect: Callable[[str], None], stop: threading.Event) -> None:
    """Every ``SWEEP_SECONDS``, and at once when a revocation is announced (:func:`grants_revoked`)."""
    auth_state: AuthState = server.extensions[EXTENSION]
    while not stop.is_set():
        deadline = time.monotonic() + SWEEP_SECONDS
        while not stop.is_set() and not auth_state.sweep_now.is_set() and time.monotonic() < deadline:
            auth_state.sweep_now.wait(0.5)
        if stop.is_set():
            return
        if auth_state.sweep_now.is_set():
            auth_state.sweep_now.clear()
            auth_state.forget()  # the cached "still live" answers are what was revoked
        try:
            sweep_sockets(server, disconnect)
        except Exception:  # the database may be briefly away; try again next round
            log.exception("socket sweep failed")


def grants_revoked(client: Any) -> None:
    """A login or token was just revoked (committed): this process forgets its cached grants and
    sweeps its sockets now, and tells the other processes through Redis (``client``); if Redis
    is away they find out at their next sweep (``SWEEP_SECONDS`` + ``CACHE_SECONDS``)."""
    state().forget()
    state().sweep_now.set()
    announce_revocation(client)


def announce_revocation(client: Any) -> None:
    """Tell every web process through Redis (``client``) that a login or token was revoked (also
    from ``app.py``, which has no web state of its own to forget)."""
    try:
        client.publish(REVOKED_CHANNEL, "1")
    except Exception:
        log.warning("could not announce a revocation on Redis; other processes sweep within %ss",
                    SWEEP_SECONDS + CACHE_SECONDS)


def run_revocation_listener(server: Flask, client: Any, stop: threading.Event) -> None:
    """Every web process: act on the revocations other processes announce (:func:`grants_revoked`)."""
    auth_state: AuthState = server.extensions[EXTENSION]
    while not stop.is_set():
        pubsub = None
        try:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(REVOKED_CHANNEL)
            while not stop.is_set():
                if pubsub.get_message(timeout=1.0) is not None:
                    auth_state.forget()
                    auth_state.sweep_now.set()
        except Exception:  # Redis away: the periodic sweep still runs; listen again shortly
            log.debug("revocation listener lost Redis", exc_info=True)
            stop.wait(2.0)
        finally:
            if pubsub is not None:
                try:
                    pubsub.close()
                except Exception:
                    pass
