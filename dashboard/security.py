"""Web security, once for the whole server: the session cookie, CSRF, where a browser's write
may come from, the headers every answer carries, and kiosk tokens kept out of the logs.

CSRF: one random token per browser session (``session[CSRF_KEY]``). Forms carry it in a hidden
field; scripts send it in the ``X-CSRFToken`` header, read from the ``_csrf_token`` cookie —
the cookie and header Dash's renderer already sends with every callback. A write authorised by
the session cookie (an API call, a Dash callback) must carry it and, when the browser names an
origin, come from this platform; a call with a bearer token has no cookie to abuse and needs
neither. The API's writes take JSON only (415 otherwise): a page on another site can post a
form anywhere, but it cannot send JSON without the platform's consent (CORS).

Headers (``docs/SECURITY.md``): nosniff, a same-origin referrer, no framing by other sites
(``Content-Security-Policy: frame-ancestors`` and ``X-Frame-Options``; walls may be framed by
the origins in ``settings.wall_frame_ancestors``), HSTS when served over TLS, and a
Content-Security-Policy that lets the pages load only the platform's own scripts, styles,
fonts, images and connections.
"""
from __future__ import annotations

import hmac
import logging
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

CSRF_KEY = "csrf"
CSRF_COOKIE = "_csrf_token"  # Dash's renderer reads this cookie ...
CSRF_HEADER = "X-CSRFToken"  # ... and sends it in this header with each callback
CSRF_FIELD = "csrf_token"  # a form's hidden field
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON_TYPES = ("application/json",)
HSTS = "max-age=31536000"
# Everything from the platform itself: police networks are closed, and nothing a page loads or
# connects to may be elsewhere. Inline scripts are allowed: Dash's page starts its renderer with
# one, and the maps are folium documents in same-origin ``srcdoc`` frames (which inherit this
# policy) made of inline scripts, built per request, so no hash can name them in advance.
# Styles: Plotly and React write <style> elements and style attributes.
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; frame-src 'self'; "
       "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors {ancestors}")


# ------------------------------------------------------------------ CSRF
def csrf_token() -> str:
    """This browser session's CSRF token (made on first use)."""
    token = session.get(CSRF_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_hex(16)
        session[CSRF_KEY] = token
    return token


def csrf_problem(given: str | None) -> str | None:
    """Why ``given`` is not this session's CSRF token, or None."""
    expected = session.get(CSRF_KEY)
    if not given:
        return "missing"
    if not isinstance(expected, str) or not hmac.compare_digest(expected, given):
        return "wrong"
    return None


def origin_problem() -> str | None:
    """A browser's write names where it comes from (``Origin``, else ``Referer``); another site's
    is refused, and so is ``null`` (a sandboxed or file page)."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if origin is None:
        return None  # not a browser, or one that names nothing: the token decides
    if not origin or origin == "null":
        return "null origin refused"
    parts = urlsplit(origin)
    if parts.netloc != request.host:
        return f"{parts.scheme}://{parts.netloc} is not this platform ({request.host})"
    return None


def write_refusal(path: str, bearer: bool) -> tuple[int, str, dict[str, Any]] | None:
    """Why a write to the API or to a Dash callback is refused: (status, code, params), or None.

    Bearer-token calls: JSON only. Session-cookie calls: JSON only, this platform's origin and
    the CSRF token in ``X-CSRFToken``."""
    if request.method in SAFE_METHODS:
        return None
    has_body = bool(request.content_length) or request.headers.get("Transfer-Encoding") is not None
    if path.startswith("/api/") and has_body and request.mimetype not in JSON_TYPES:
        return 415, "json_required", {"content_type": request.mimetype or "none"}
    if bearer:
        return None
    problem = origin_problem()
    if problem is not None:
        return 403, "cross_site_refused", {"origin": problem}
    problem = csrf_problem(request.headers.get(CSRF_HEADER))
    if problem is not None:
        return 403, "csrf_token_invalid", {"header": CSRF_HEADER, "problem": problem}
    return None


# --------------------------------------------------------------- headers
def _answer_headers(settings: Any) -> Any:
    wall_ancestors = " ".join(settings.wall_frame_ancestors.split()) if settings.wall_frame_ancestors else ""

    def add(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        # A wall URL carries its kiosk token: never hand it to another site.
        headers.setdefault("Referrer-Policy", "same-origin")
        framed_wall = bool(wall_ancestors) and request.path.startswith(("/wall", "/map"))
        if not framed_wall:
            headers.setdefault("X-Frame-Options", "DENY")
        if response.mimetype == "text/html":
            ancestors = f"'self' {wall_ancestors}" if framed_wall else "'none'"
            headers.setdefault("Content-Security-Policy", CSP.format(ancestors=ancestors))
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", HSTS)
        if session.get(CSRF_KEY) and request.cookies.get(CSRF_COOKIE) != session.get(CSRF_KEY):
            # Readable by the page's scripts (that is its point), sent to this site only.
            response.set_cookie(CSRF_COOKIE, session[CSRF_KEY], samesite="Strict", secure=request.is_secure,
                                httponly=False, path="/")
        return response

    return add


def _issue_csrf() -> None:
    """Every page view of a logged-in or kiosk browser gets its session's token (the cookie
    goes out with the answer), so the page's scripts and Dash can send it back."""
    if request.method == "GET" and session and not request.path.startswith(("/assets/", "/_dash-component")):
        csrf_token()


STRICT_KEY = "strict"  # set in an admin's session: its cookie is SameSite=Strict


class _SessionCookies(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, SameSite=Strict for an admin's: their cookie is not sent
    even when another site links to the platform (a link then opens the login page)."""

    def get_cookie_samesite(self, app: Flask) -> str | None:
        if has_request_context() and session.get(STRICT_KEY):
            return "Strict"
        return super().get_cookie_samesite(app)


def trust_proxies(server: Flask, hops: int) -> None:
    """Behind ``hops`` reverse proxies (settings.proxy_hops): the client's address and scheme
    from their X-Forwarded-For and X-Forwarded-Proto (the last ``hops`` entries only, the ones
    those proxies wrote). Outermost, so the Socket.IO endpoint sees them too."""
    if hops > 0:
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def init_app(server: Flask, settings: Any) -> None:
    """The session cookie's flags, the CSRF cookie, the headers, kiosk tokens out of the logs."""
    # Lax: the session cookie is not sent with another site's POSTs. Flask has the key already
    # (None), so it is set, not defaulted.
    server.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    server.config["SESSION_COOKIE_HTTPONLY"] = True
    server.config["SESSION_COOKIE_SECURE"] = bool(settings.secure_cookies)
    server.session_interface = _SessionCookies()
    server.before_request(_issue_csrf)
    server.after_request(_answer_headers(settings))
    hide_kiosk_tokens()


# ------------------------------------------------------------------ logs
KIOSK_IN_URL = re.compile(r"(kiosk=)[^&\s\"']+")


class KioskTokenFilter(logging.Filter):
    """Access logs print request URLs; a wall's URL carries its kiosk token. The token is
    replaced by ``***`` before any handler sees the line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_hidden(a) for a in record.args)
        elif isinstance(record.args, dict):
            # In place: gunicorn's access log passes its atoms as a dict subclass (SafeAtoms,
            # "-" for an atom the request lacks), which a plain dict would lose.
            for key, value in list(record.args.items()):
                record.args[key] = _hidden(value)
        record.msg = _hidden(record.msg)
        return True


def _hidden(value: Any) -> Any:
    return KIOSK_IN_URL.sub(r"\1***", value) if isinstance(value, str) and "kiosk=" in value else value


def hide_kiosk_tokens(*loggers: str) -> None:
    for name in loggers or ("werkzeug", "gunicorn.access", "engineio.server", "socketio.server"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, KioskTokenFilter) for f in logger.filters):
            logger.addFilter(KioskTokenFilter())
