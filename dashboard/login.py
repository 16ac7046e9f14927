"""The login page (``/login``) and ``/logout``, served by Flask, not Dash.

A plain dark HTML form, Chinese first (``?lang=en`` for English), with
nothing loaded from outside the platform: police networks are closed.

A login posts the form's CSRF token from this platform's own page (login CSRF: another site
must not log a browser into an account of its choosing), is throttled per account and per
address (``tickets.accounts.LoginPolicy``: a lockout, refused with 429 even with the right
password), and every try is kept (``login_attempts``: who, from where, what came of it). A
login starts a server-side session that logout ends (``tickets.accounts.start_login``).
"""
from __future__ import annotations

import logging
from typing import Any
from datetime import timedelta
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, redirect, request
from markupsafe import Markup, escape

from dashboard import auth, running, security
from dashboard.i18n import request_lang
from layouts.home import HOME_BY_ROLE, PLATFORM_NAME
from layouts.i18n import N_, gettext, other_language, switch_label, texts
from tickets import accounts
from tickets.models import NOT_TEXT
from tickets.uow import unit_of_work

log = logging.getLogger(__name__)
blueprint = Blueprint("login", __name__)

TEXT = {
    "title": PLATFORM_NAME,
    "subtitle": N_("Sign in with your real-name account"),
    "username": N_("Username"),
    "password": N_("Password"),
    "submit": N_("Sign in"),
    "failed": N_("Wrong username or password, or the account is inactive."),
    "locked": N_("Too many failed logins from this account or address: try again after %(until)s."),
    "expired": N_("The login page had expired. Please sign in again."),
    "hint": N_("Wall screens open with the kiosk URL from the platform office; they need no login."),
}

PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · {subtitle}</title>
<style>
html,body{{margin:0;height:100%;background:#07101d;color:#c9d4e3;
  font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",sans-serif}}
body{{display:flex;align-items:center;justify-content:center}}
form{{background:#0d1a2b;border:1px solid #1f2a3a;border-radius:8px;padding:2rem 2.4rem;width:20rem}}
h1{{margin:0;font-size:1.5rem;letter-spacing:.12em;color:#e8f1ff}} h2{{margin:.3rem 0 1.4rem;font-size:.95rem;
  font-weight:400;color:#7d8ba1}}
label{{display:block;margin:.8rem 0 .3rem;font-size:.9rem}}
input{{box-sizing:border-box;width:100%;padding:.55rem .7rem;background:#07101d;color:#e8f1ff;
  border:1px solid #2c3b52;border-radius:4px;font-size:1rem}}
input:focus{{outline:none;border-color:#3fa7ff}}
button{{margin-top:1.4rem;width:100%;padding:.6rem;background:#1f6fd1;color:#fff;border:0;border-radius:4px;
  font-size:1rem;cursor:pointer}}
.error{{color:#ff4d4f;margin:.8rem 0 0;font-size:.9rem}} .hint{{color:#7d8ba1;font-size:.8rem;margin-top:1.2rem}}
.lang{{float:right;color:#7d8ba1;font-size:.8rem;text-decoration:none}}
</style></head>
<body><form method="post" action="/login?lang={lang}" autocomplete="on">
<a class="lang" href="/login?lang={other}&amp;next={next_q}">{switch}</a>
<h1>{title}</h1><h2>{subtitle}</h2>
<input type="hidden" name="next" value="{next}">
<input type="hidden" name="csrf_token" value="{csrf}">
<label for="username">{username_label}</label>
<input id="username" name="username" value="{username}" autocomplete="username" required autofocus>
<label for="password">{password_label}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
{error}<button type="submit">{submit}</button>
<p class="hint">{hint}</p>
</form></body></html>"""


def safe_next(target: str | None) -> str:
    """Only paths on this platform: ``next`` must not send anyone to another site. Read as a
    URL: no scheme, no host, and a path that browsers cannot read as one either (they drop
    tabs and newlines and take ``\\`` for ``/``, so ``/\t/evil`` is ``//evil``)."""
    if not target:
        return "/"
    cleaned = "".join(ch for ch in target if ch >= " " and ch != "\x7f").replace("\\", "/")
    parts = urlsplit(cleaned)
    if parts.scheme or parts.netloc or not cleaned.startswith("/") or cleaned.startswith("//"):
        return "/"
    return cleaned


def _page(lang: str, next_url: str, username: str = "", problem: str | None = None, status: int = 200,
          **params: str) -> Response:
    words = texts(TEXT, lang)
    html = PAGE.format(
        lang=lang, other=other_language(lang), switch=switch_label(lang),
        title=words["title"], subtitle=words["subtitle"], next=escape(next_url),
        next_q=escape(quote(next_url, safe="")), username_label=words["username"],
        password_label=words["password"], username=escape(username), submit=words["submit"],
        hint=words["hint"], csrf=escape(security.csrf_token()),
        error=Markup(f'<p class="error" role="alert">{escape(gettext(TEXT[problem], lang, **params))}</p>')
        if problem else "",
    )
    return Response(html, status=status, mimetype="text/html")


def _policy() -> accounts.LoginPolicy:
    cfg = running.platform().settings
    return accounts.LoginPolicy(max_failures=cfg.login_max_failures,
                                max_failures_per_address=cfg.login_max_failures_per_address,
                                lockout=timedelta(minutes=cfg.login_lockout_minutes))


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    lang = request_lang()
    if request.method == "GET":
        return _page(lang, safe_next(request.args.get("next")))
    # What no text column holds (a NUL, a lone surrogate) is dropped: the name is kept in the
    # login attempts as typed otherwise, and a name that was never anyone's fails like any other.
    username = NOT_TEXT.sub("", request.form.get("username", "")).strip()[:64]
    password = request.form.get("password", "")
    next_url = safe_next(request.form.get("next"))
    address = request.remote_addr or ""
    if security.origin_problem() or security.csrf_problem(request.form.get(security.CSRF_FIELD)):
        log.warning("login form refused (origin or CSRF token) for %r from %s", username, address)
        return _page(lang, next_url, username=username, problem="expired", status=400)
    timezone = running.platform().settings.tz
    key: str | None = None
    role = ""
    with unit_of_work(auth.state().factory) as s:
        until = accounts.locked_until(s, username, address, _policy())
        if until is not None:
            accounts.record_attempt(s, username, address, "locked_out")
        else:
            user = accounts.authenticate(s, username, password)
            accounts.record_attempt(s, username, address, "ok" if user is not None else "wrong_password")
            key = accounts.start_login(s, user, address) if user is not None else None
            role = user.role if user is not None else ""
    if until is not None:
        log.warning("login locked out for %r from %s until %s", username, address, until.isoformat())
        local = until.astimezone(timezone).strftime("%H:%M")
        return _page(lang, next_url, username=username, problem="locked", status=429, until=local)
    if key is None:
        log.warning("failed login for %r from %s", username, address)
        return _page(lang, next_url, username=username, problem="failed", status=401)
    auth.log_in(key, role)
    log.info("login: %s (%s)", username, role)
    if next_url == "/":  # no page asked for: the role's own screen
        next_url = f"{HOME_BY_ROLE.get(role, '/')}?lang={lang}"
    return redirect(next_url)


@blueprint.route("/logout", methods=["GET", "POST"])
def logout() -> Any:
    auth.log_out()
    return redirect("/login")
