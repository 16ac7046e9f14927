"""Web forms for two channels, served by the platform (no outside assets):

    /mailbox     局长信箱: citizens write to the director; no login; a CSRF token
                 (kept in the session cookie), a same-origin check on POST, and a
                 per-IP limit (settings.mailbox_max_per_hour, this process's count)
    /frontdesk   来信/来访 registration by staff: login required, roles admin or
                 dispatcher; CSRF token and same-origin check as well

and what the machine channels (the 12345 push, Open311) share with them: the per-address
limiter, a body read to its limit (chunked too), and a request nobody vouched for kept as
its first 4 KB, at most ``settings.intake_refusals_per_hour`` an hour from one address.

A refused submission shows the form again with every reason next to its
field (HTTP 400) and is kept as a dead letter; a throttled one (429) is not
(a flood must not fill the database). Each form carries a random ``form_id``:
submitting the same form twice makes one ticket.
"""
from __future__ import annotations

import re
import secrets
import threading
import time
from collections import Counter, deque
from typing import Any, NamedTuple
from urllib.parse import urlencode

from flask import Blueprint, Response, request
from markupsafe import Markup, escape

from dashboard import running, security
from dashboard.auth import current_actor, public
from dashboard.i18n import request_lang
from feeds import frontdesk, mailbox
from feeds.common import MAX_CONTENT, hand_in
from feeds.dead_letters import UNAUTHENTICATED_KEPT, FieldError, Rejected, reject, reject_unauthenticated
from tickets.uow import unit_of_work
from tickets.models import utcnow
from layouts.i18n import DEFAULT_LANGUAGE, N_, gettext, labels, texts

blueprint = Blueprint("intake_forms", __name__)
FRONTDESK_ROLES = frozenset({"admin", "dispatcher"})
MAX_CONTENT_SHOWN = f"{MAX_CONTENT:,}"  # the letter's limit as the forms' hints say it


def _platform() -> Any:
    return running.platform()


# ------------------------------------------------------------- protections
def _csrf_problem() -> FieldError | None:
    if security.csrf_problem(request.form.get(security.CSRF_FIELD)) is not None:
        return FieldError("csrf_token", "missing or wrong: the form expired or was not served by this platform; "
                                        "reload it and submit again")
    return None


def _origin_problem() -> FieldError | None:
    """A browser's POST names its origin; one from another site is refused."""
    problem = security.origin_problem()
    return FieldError("Origin", problem) if problem is not None else None


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds per key (sliding window, in memory); how many
    were refused, by the key's kind (what comes before its first ``:``), in ``refused``."""

    def __init__(self, window: float = 3600.0) -> None:
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.refused: Counter[str] = Counter()

    def allow(self, key: str, limit: int, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= limit:
                self.refused[key.partition(":")[0]] += 1
                return False
            hits.append(now)
            if len(self._hits) > 10000:  # forget idle clients
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}
            return True

    def hits(self, key: str, now: float | None = None) -> int:
        """How many hits ``key`` has in the window now (nothing recorded)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return sum(1 for at in self._hits.get(key, ()) if at > now - self.window)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
            self.refused.clear()


limiter = RateLimiter()


class Body(NamedTuple):
    data: bytes  # the whole body, or over the limit its first 4 KB
    too_large: FieldError | None = None  # why it is refused (413), when over the limit
    length: int | None = None  # over the limit: its length, or the limit + 1 when sent in chunks


def read_body(limit: int, advice: str = "") -> Body:
    """The request's body, read to ``limit`` bytes; over it, its first bytes without the rest and
    the reason. A body sent in chunks (no Content-Length) counts too: Werkzeug would cut it at the
    limit without a word, so one byte more is read to tell."""
    size = request.content_length
    if size is not None and size > limit:
        head = request.stream.read(UNAUTHENTICATED_KEPT)
    else:
        request.max_content_length = limit + 1
        head = request.get_data(cache=True, parse_form_data=False)
        if len(head) <= limit:
            return Body(head)
    why = FieldError("(body)", f"is {size if size is not None else f'more than {limit}'} bytes; at most {limit} are "
                               f"accepted{advice}")
    return Body(head[:UNAUTHENTICATED_KEPT], why, size or limit + 1)


def refuse_unauthenticated(channel: str, source: str, body: bytes, errors: list[FieldError], *,
                           length: int | None = None) -> int | None:
    """Keep a request nobody vouched for (feeds.dead_letters.reject_unauthenticated: its first
    4 KB, length and hash) as a dead letter from its address; its id. Over
    ``settings.intake_refusals_per_hour`` such refusals from one address: None, nothing kept
    (the limiter counts them), and the caller answers 429."""
    platform = _platform()
    address = request.remote_addr or "unknown"
    if not limiter.allow(f"unauthenticated:{address}", platform.settings.intake_refusals_per_hour):
        return None
    with unit_of_work(platform.factory) as s:
        return reject_unauthenticated(s, channel, f"{source} from {address}", body, errors, length=length).id


# ------------------------------------------------------------------- pages
# One stylesheet, two looks: the public mailbox is light (a citizen's page, on
# any screen, phone included); the staff front desk wears the platform's dark
# look (``body.staff``). The root size grows with the window, so a 4K screen
# shows the same page, larger, not a narrow column in empty space.
STYLE = """
:root{--bg:#eef2f7;--card:#fff;--ink:#1d2633;--muted:#5a6473;--line:#b9c4d2;--field:#fff;--accent:#1a5fb4;
  --band:#123f7c;--band-ink:#fff;--err:#c0262d;--err-bg:#fdeeee;--ok:#17733a;--ok-bg:#eaf6ee;--note-bg:#fff6dc;
  --note-line:#e0a800;--focus:#1a5fb4;color-scheme:light}
body.staff{--bg:#07101d;--card:#0d1a2b;--ink:#dfe7f2;--muted:#8d9bb0;--line:#34455e;--field:#07101d;--accent:#1f6fd1;
  --band:#0b1626;--band-ink:#e8f1ff;--err:#ff7070;--err-bg:#2a1317;--ok:#73d13d;--ok-bg:#12240f;--note-bg:#13202f;
  --note-line:#3fa7ff;--focus:#3fa7ff;color-scheme:dark}
html{font-size:clamp(16px,calc(5px + .6vw),36px)}
body{margin:0;min-height:100vh;background:var(--bg);color:var(--ink);line-height:1.55;
  font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",sans-serif}
*,*::before,*::after{box-sizing:border-box}
.wrap{max-width:54rem;margin:0 auto;padding:0 1.5rem}
header{background:var(--band);color:var(--band-ink);border-bottom:3px solid var(--accent)}
header .wrap{display:flex;align-items:flex-end;justify-content:space-between;gap:1rem;padding-top:.9rem;padding-bottom:.9rem}
header .org{margin:0;font-size:.9rem;opacity:.85;letter-spacing:.08em}
header h1{margin:.1rem 0 0;font-size:1.75rem;line-height:1.25;letter-spacing:.18em}
header .who{font-size:.9rem;text-align:right;opacity:.9} header .who a{color:inherit;margin-left:.8rem}
main.wrap{margin-top:1.5rem;margin-bottom:2rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:1.5rem 2rem 1.7rem}
.notice{background:var(--note-bg);border-left:4px solid var(--note-line);padding:.65rem 1rem;margin:0 0 1.1rem}
.notice strong{color:var(--err)}
.legend{margin:0 0 .8rem;color:var(--muted);font-size:.9rem}
.row{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:0 1.25rem}
.row.three{grid-template-columns:repeat(3,minmax(0,1fr))}
@media (max-width:640px){.row,.row.three{grid-template-columns:minmax(0,1fr)} .card{padding:1.1rem}
  header .wrap{flex-direction:column;align-items:flex-start}}
.field{margin:0 0 1rem;min-width:0;border:0;padding:0}
.field>label,.field>legend{display:block;margin:0 0 .3rem;padding:0;font-weight:600}
.req{color:var(--err);margin-left:.2em;font-weight:700}
.opt{color:var(--muted);font-weight:400;font-size:.85rem;margin-left:.3em}
.hint{color:var(--muted);font-size:.85rem;margin:.25rem 0 0}
input,select,textarea{width:100%;padding:.5rem .7rem;background:var(--field);color:var(--ink);border:1px solid var(--line);
  border-radius:4px;font:inherit;line-height:1.4}
select{appearance:none;padding:.5rem 2.2rem .5rem .7rem;background-repeat:no-repeat;background-size:.4rem .4rem;
  background-position:right 1.1rem center,right .7rem center;
  background-image:linear-gradient(45deg,transparent 50%,var(--muted) 50%),linear-gradient(135deg,var(--muted) 50%,transparent 50%)} textarea{resize:vertical;min-height:8rem}
input::placeholder,textarea::placeholder{color:var(--muted);opacity:.8}
input:focus,select:focus,textarea:focus,button:focus-visible,a:focus-visible{outline:2px solid var(--focus);outline-offset:1px}
.invalid input,.invalid select,.invalid textarea{border-color:var(--err);box-shadow:0 0 0 1px var(--err)}
.err{color:var(--err);font-size:.9rem;margin:.3rem 0 0;font-weight:600}
.choices{display:flex;gap:.6rem}
.choice{flex:1;display:flex;align-items:center;justify-content:center;gap:.45rem;padding:.45rem .6rem;font-weight:400;
  border:1px solid var(--line);border-radius:4px;background:var(--field);cursor:pointer}
.choice input{width:auto;margin:0;accent-color:var(--accent)}
.choice:has(input:checked){border-color:var(--accent);box-shadow:0 0 0 1px var(--accent);font-weight:600}
.actions{display:flex;align-items:center;gap:1.2rem;flex-wrap:wrap;margin-top:1.3rem}
button{padding:.65rem 2.8rem;background:var(--accent);color:#fff;border:0;border-radius:4px;font:inherit;font-weight:600;
  letter-spacing:.15em;cursor:pointer} button:hover{filter:brightness(1.12)}
.box{border:1px solid var(--err);background:var(--err-bg);border-radius:4px;padding:.8rem 1.1rem;margin:0 0 1.2rem}
.box .head{margin:0 0 .3rem;color:var(--err);font-weight:700}
.box ul{margin:0;padding-left:1.3rem} body .box a{color:inherit}
details.tech{margin-top:.5rem;color:var(--muted);font-size:.8rem} details.tech summary{cursor:pointer}
details.tech ul{font-family:"Noto Sans Mono","DejaVu Sans Mono",monospace;overflow-wrap:anywhere}
.ok{border:1px solid var(--ok);background:var(--ok-bg);border-radius:6px;padding:1.1rem 1.4rem;margin:0 0 1.3rem}
.ok p{margin:.3rem 0} .ok .head{font-size:1.2rem;font-weight:700;color:var(--ok);margin-top:0}
.ok .number{font-size:1.7rem;font-weight:700;letter-spacing:.06em;user-select:all}
a{color:var(--accent)} body.staff a{color:#5cb3ff}
.foot{margin:1.3rem 0 0;color:var(--muted);font-size:.85rem}
"""

def _page(title: str, subtitle: str, body: str, lang: str, status: int = 200, *, staff: bool = False,
          who: str = "") -> Response:
    html = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)} · {escape(subtitle)}</title><style>{STYLE}</style></head>"
            f'<body class="{"staff" if staff else "public"}"><header><div class="wrap"><div>'
            f'<p class="org">{escape(subtitle)}</p><h1>{escape(title)}</h1></div>{who}</div></header>'
            f'<main class="wrap"><div class="card">{body}</div></main></body></html>')
    return Response(html, status=status, mimetype="text/html")


class _Form:
    """Renders one form's fields with their values and the reasons each was refused."""

    def __init__(self, values: dict[str, str], errors: dict[str, list[str]], lang: str) -> None:
        self.values = values
        self.errors = errors
        self.lang = lang
        self._focused = False

    def _error_attrs(self, name: str, hint: str) -> tuple[str, str, str]:
        """(attributes for the control, the error lines, the wrapper's class)."""
        described = [f"{name}-hint"] if hint else []
        messages = self.errors.get(name, [])
        attrs, lines, cls = "", "", "field"
        if messages:
            described.append(f"{name}-err")
            attrs = ' aria-invalid="true"'
            if not self._focused:  # the browser puts the cursor in the first field to correct
                attrs += " autofocus"
                self._focused = True
            lines = f'<div id="{name}-err">' + "".join(
                f'<p class="err" role="alert">{escape(m)}</p>' for m in messages) + "</div>"
            cls = "field invalid"
        if described:
            attrs += f' aria-describedby="{" ".join(described)}"'
        return attrs, lines, cls

    def field(self, name: str, label: str, *, kind: str = "input", required: bool = False, optional: bool = False,
              options: dict[str, str] | None = None, input_type: str = "text", maxlength: int | None = None,
              placeholder: str = "", hint: str = "", rows: int = 0, extra: str = "") -> str:
        value = self.values.get(name, "")
        optional_text = escape(gettext("(optional)", self.lang))
        mark = ('<span class="req" aria-hidden="true">*</span>' if required
                else f'<span class="opt">{optional_text}</span>' if optional else "")
        err_attrs, err_lines, cls = self._error_attrs(name, hint)
        attrs = (f' id="{name}" name="{name}"' + (" required" if required else "")
                 + (f' maxlength="{maxlength}"' if maxlength else "")
                 + (f' placeholder="{escape(placeholder)}"' if placeholder else "")
                 + (f' rows="{rows}"' if rows else "") + extra + err_attrs)
        if kind == "textarea":
            control = f"<textarea{attrs}>{escape(value)}</textarea>"
        elif kind == "select":
            opts = "".join(f'<option value="{escape(k)}"{" selected" if k == value else ""}>{escape(v)}</option>'
                           for k, v in (options or {}).items())
            control = f"<select{attrs}>{opts}</select>"
        else:
            control = f'<input type="{input_type}"{attrs} value="{escape(value)}">'
        hint_html = f'<p class="hint" id="{name}-hint">{escape(hint)}</p>' if hint else ""
        return (f'<div class="{cls}"><label for="{name}">{escape(label)}{Markup(mark)}</label>'
                f"{control}{err_lines}{hint_html}</div>")

    def choices(self, name: str, label: str, options: dict[str, str], *, required: bool = False) -> str:
        value = self.values.get(name, "")
        err_attrs, err_lines, cls = self._error_attrs(name, "")
        mark = '<span class="req" aria-hidden="true">*</span>' if required else ""
        radios = "".join(
            f'<label class="choice"><input type="radio" name="{name}" value="{escape(k)}"'
            f'{f" id={chr(34)}{name}{chr(34)}" if i == 0 else ""}{" required" if required else ""}'
            f'{" checked" if k == value else ""}{err_attrs if i == 0 else ""}>{escape(v)}</label>'
            for i, (k, v) in enumerate(options.items()))
        return (f'<fieldset class="{cls}"><legend>{escape(label)}{Markup(mark)}</legend>'
                f'<div class="choices">{radios}</div>{err_lines}</fieldset>')


# What a refusal says, for the person at the form: in their words, without field codes.
# The validators' own words (English, for operators and the dead-letter queue)
# stay on the page under the technical details.
_FORM_PROBLEMS = {
    "csrf_token": N_("The page has expired, or was not opened from this platform. Reload the page, "
                     "fill it in and submit again."),
    "Origin": N_("This submission came from another website and was refused. Fill in and submit the form "
                 "on this platform's own page."),
    "form_id": N_("The form is no longer valid. Reload the page, fill it in and submit again."),
}
REQUIRED_MARK = '<span class="req">*</span>'


def _plain(error: FieldError, labels: dict[str, str], lang: str, selects: frozenset[str] = frozenset()) -> str:
    field = error.field.split("（")[0]
    message = error.message
    if field in _FORM_PROBLEMS:
        return gettext(_FORM_PROBLEMS[field], lang)
    label = labels.get(field)
    if label is None:  # a problem with the whole submission, already said in the page's language (the rate limit)
        return message
    label = gettext(label, lang)
    if "is required" in message:
        if field in selects:
            return gettext("Please choose %(field)s.", lang, field=label)
        return gettext("Please fill in %(field)s.", lang, field=label)
    if field == "visitors":
        return gettext("The number of visitors must be a whole number from 1 to 500.", lang)
    longest = re.search(r"at most (\d+)", message)
    if "characters" in message and longest:
        given = re.search(r"is (\d+) characters", message)
        if given:
            return gettext("%(field)s may have at most %(limit)s characters (it has %(given)s); please shorten it.",
                           lang, field=label, limit=longest.group(1), given=given.group(1))
        return gettext("%(field)s may have at most %(limit)s characters; please shorten it.", lang, field=label,
                       limit=longest.group(1))
    if "not a phone number" in message:
        return gettext("%(field)s is not right: use digits only (spaces or “-” allowed).", lang, field=label)
    if "not an e-mail address" in message:
        return gettext("%(field)s is not in the right form; it should look like name@example.com.", lang,
                       field=label)
    if "is not one of" in message:
        return gettext("Please choose %(field)s from the list.", lang, field=label)
    if "not a date-time" in message:
        return gettext("%(field)s should be written as year-month-day hour:minute, e.g. 2025-03-10 09:30.", lang,
                       field=label)
    if "in the future" in message:
        return gettext("%(field)s cannot be later than now.", lang, field=label)
    if "letters, digits" in message:
        return gettext("%(field)s may contain only letters, digits, “-” and “_”, at most 50 characters.", lang,
                       field=label)
    return gettext("%(field)s is not filled in correctly; please check it and submit again.", lang, field=label)


def _errors_by_field(errors: list[FieldError], labels: dict[str, str], lang: str,
                     selects: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in errors:
        key = e.field.split("（")[0]
        out.setdefault(key, []).append(_plain(e, labels, lang, selects))
    return out


def _summary(errors: list[FieldError], dead_letter_id: int | None, labels: dict[str, str], lang: str,
             selects: frozenset[str] = frozenset()) -> str:
    if not errors:
        return ""
    items = []
    for e in errors:
        key = e.field.split("（")[0]
        text = escape(_plain(e, labels, lang, selects))
        items.append(f'<li><a href="#{escape(key)}">{text}</a></li>' if key in labels else f"<li>{text}</li>")
    head = (gettext("Not sent. Please correct the %(count)s problems below and submit again:", lang,
                    count=len(errors)) if len(errors) > 1
            else gettext("Not sent. Please correct the problem below and submit again:", lang))
    ref = escape(gettext("Record number: %(id)s", lang, id=dead_letter_id)) if dead_letter_id else ""
    details = escape(gettext("Technical details (give these if you contact the staff)", lang))
    technical = "".join(f"<li>{escape(e.field)}: {escape(e.message)}</li>" for e in errors)
    return (f'<div class="box" role="alert"><p class="head">{escape(head)}</p>'
            f'<ul>{"".join(items)}</ul><details class="tech"><summary>{details}</summary>'
            f"{f'<p>{ref}</p>' if ref else ''}<ul>{technical}</ul></details></div>")


def _required_legend(lang: str, message: str = N_("Fields marked %(mark)s are required.")) -> str:
    return f'<p class="legend">{gettext(message, lang, mark=REQUIRED_MARK)}</p>'


# ---------------------------------------------------------------- mailbox
MAILBOX_TITLE = N_("Director's mailbox")
MAILBOX_ORG = N_("Jinan Public Security Bureau · Minsheng policing platform")
MAILBOX_LABELS = {"name": N_("Name"), "phone": N_("Mobile number"), "email": N_("E-mail"),
                  "kind": N_("Type of request"), "title": N_("Title"), "content": N_("Content"),
                  "address": N_("Address of the incident")}
MAILBOX_SELECTS = frozenset({"kind"})


def _mailbox_page(body: str, lang: str, status: int = 200) -> Response:
    return _page(gettext(MAILBOX_TITLE, lang), gettext(MAILBOX_ORG, lang), body, lang, status)


def _mailbox_form(values: dict[str, str], lang: str, errors: list[FieldError] | None = None,
                  dead_letter_id: int | None = None, status: int = 200) -> Response:
    f = _Form(values, _errors_by_field(errors or [], MAILBOX_LABELS, lang, MAILBOX_SELECTS), lang)
    words = texts(MAILBOX_LABELS, lang)
    kinds = {"": gettext("Please choose", lang), **labels(lang)["kinds"]}
    welcome = gettext("You are welcome to send the police your opinions and suggestions, complaints and reports, "
                      "or requests for help and advice.", lang)
    private = gettext("Your name and contact details are used only to handle your request and follow it up; "
                      "they are never made public.", lang)
    emergency = gettext("In an emergency, call 110 for the police.", lang)
    send = gettext("Send letter", lang)
    body = (
        _summary(errors or [], dead_letter_id, MAILBOX_LABELS, lang, MAILBOX_SELECTS)
        + f'<p class="notice">{escape(welcome)}'
        + f"<strong>{escape(emergency)}</strong></p>"
        + _required_legend(lang)
        + f'<form method="post" action="/mailbox{_lang_query(lang)}" accept-charset="utf-8">'
        + f'<input type="hidden" name="csrf_token" value="{escape(security.csrf_token())}">'
        + f'<input type="hidden" name="form_id" value="{escape(values.get("form_id") or secrets.token_hex(16))}">'
        + '<div class="row">' + f.field("name", words["name"], required=True, maxlength=64,
                                        extra=' autocomplete="name"')
        + f.field("phone", words["phone"], required=True, input_type="tel", maxlength=32,
                  hint=gettext("Used for the follow-up and SMS updates on your request; never made public", lang),
                  extra=' autocomplete="tel" inputmode="tel"') + "</div>"
        + '<div class="row">' + f.field("email", words["email"], optional=True, input_type="email", maxlength=254,
                                        extra=' autocomplete="email"')
        + f.field("kind", words["kind"], kind="select", options=kinds, optional=True) + "</div>"
        + f.field("title", words["title"], required=True, maxlength=100,
                  hint=gettext("Sum up in one sentence what you are reporting, at most 100 characters", lang))
        + f.field("content", words["content"], kind="textarea", required=True, maxlength=MAX_CONTENT, rows=7,
                  hint=gettext("Say what happened, when and where, and what you ask for; at most %(max)s characters",
                               lang, max=MAX_CONTENT_SHOWN))
        + f.field("address", words["address"], optional=True, maxlength=200,
                  placeholder=gettext("e.g. No. ×× Quancheng Road, Lixia District, Jinan", lang))
        + f'<div class="actions"><button type="submit">{escape(send)}</button></div></form>'
        + f'<p class="foot">{escape(private)}</p>'
    )
    return _mailbox_page(body, lang, status)


def _lang_query(lang: str) -> str:
    """A page in English keeps ``?lang=en`` on its form's action; Chinese is the default."""
    return "" if lang == DEFAULT_LANGUAGE else f"?lang={lang}"


@blueprint.route("/mailbox", methods=["GET", "POST"])
@public  # citizens write without an account
def mailbox_page() -> Response:
    platform = _platform()
    settings = platform.settings
    lang = request_lang()
    if request.method == "GET":
        return _mailbox_form({}, lang)
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    ip = request.remote_addr or "unknown"
    if not limiter.allow(f"mailbox:{ip}", settings.mailbox_max_per_hour):
        limit = gettext("At most %(limit)s letters an hour may be sent from one network address; "
                        "please try again later.", lang, limit=settings.mailbox_max_per_hour)
        return _mailbox_form(values, lang, [FieldError("(rate)", limit)], status=429)
    now = utcnow()
    raw = urlencode([(k, v) for k, v in request.form.items(multi=True) if k != "csrf_token"])
    with unit_of_work(platform.factory) as s:
        problem = _origin_problem() or _csrf_problem()
        if problem is not None:
            letter = reject(s, mailbox.CHANNEL, f"POST /mailbox from {ip}", raw, [problem])
            return _mailbox_form(values, lang, [problem], letter.id, status=403)
        try:
            new = mailbox.parse_form(values, now=now, tz=settings.tz)
        except Rejected as exc:
            letter = reject(s, mailbox.CHANNEL, f"POST /mailbox from {ip}", raw, exc.errors,
                            external_id=exc.external_id)
            return _mailbox_form(values, lang, exc.errors, letter.id, status=400)
        outcome = hand_in(s, new, now)
        number = outcome.ticket.number if outcome.ticket else ""
    # Only the number: nothing the citizen typed (name, phone, the letter) is echoed back.
    head = (gettext("This letter was already sent and accepted; no need to send it again", lang)
            if outcome.status == "duplicate" else gettext("Letter accepted", lang))
    keep = gettext("Please note or screenshot the reference number and give it when you ask about progress.", lang)
    reference = gettext("Reference number", lang)
    number_html = (f'<p>{escape(reference)}</p><p class="number">{escape(number)}</p>'
                   f"<p>{escape(keep)}</p>" if number else "")
    next_steps = gettext("We will pass it to the unit in charge as soon as possible and follow up by SMS.", lang)
    emergency, another = gettext("In an emergency, call 110.", lang), gettext("Write another letter", lang)
    body = (f'<div class="ok" role="status"><p class="head">✓ {escape(head)}</p>{number_html}'
            f"<p>{escape(next_steps)}</p></div>"
            f'<p class="foot">{escape(emergency)}　<a href="/mailbox{_lang_query(lang)}">{escape(another)}</a></p>')
    return _mailbox_page(body, lang, 200 if outcome.status == "duplicate" else 201)


# --------------------------------------------------------------- front desk
FRONTDESK_TITLE = N_("Letter and visit registration")
FRONTDESK_ORG = N_("Minsheng policing platform · Front desk")
FRONTDESK_LABELS = {"channel": N_("Channel"), "registration_no": N_("Registration number"),
                    "received_at": N_("Letter/visit time"), "name": N_("Name"), "phone": N_("Phone"),
                    "visitors": N_("Number of visitors"), "address": N_("Address"), "kind": N_("Type of request"),
                    "topic": N_("Topic"), "title": N_("Title"), "content": N_("Summary")}
FRONTDESK_SELECTS = frozenset({"channel", "kind", "topic"})
# What a registration became, by the intake's outcome (anything else: a repeat).
FRONTDESK_DONE = {
    "accepted": N_("%(channel)s registered: ticket %(number)s"),
    "merged": N_("%(channel)s registered (merged with an open ticket): ticket %(number)s"),
    "duplicate": N_("%(channel)s already registered (submitted twice): ticket %(number)s"),
}


def _frontdesk_page(body: str, lang: str, status: int = 200, who: str = "") -> Response:
    return _page(gettext(FRONTDESK_TITLE, lang), gettext(FRONTDESK_ORG, lang), body, lang, status, staff=True,
                 who=who)


def _who(actor: Any, lang: str) -> str:
    if actor is None:
        return ""
    extra = getattr(actor, "extra", None) or {}
    role = labels(lang)["roles"].get(actor.role, actor.role)
    parts = [extra.get("real_name") or actor.name, role, extra.get("unit_name", "")]
    log_out = gettext("Log out", lang)
    return (f'<div class="who">{escape(" · ".join(p for p in parts if p))}'
            f'<a href="/logout">{escape(log_out)}</a></div>')


def _frontdesk_form(values: dict[str, str], lang: str, errors: list[FieldError] | None = None,
                    dead_letter_id: int | None = None, status: int = 200, done: str = "",
                    who: str = "") -> Response:
    f = _Form(values, _errors_by_field(errors or [], FRONTDESK_LABELS, lang, FRONTDESK_SELECTS), lang)
    words = texts(FRONTDESK_LABELS, lang)
    names = labels(lang)
    auto = gettext("Automatic (from the content)", lang)
    register = gettext("Register and dispatch", lang)
    example_time = utcnow().astimezone(_platform().settings.tz).strftime("%Y-%m-%d %H:%M")
    body = (
        done + _summary(errors or [], dead_letter_id, FRONTDESK_LABELS, lang, FRONTDESK_SELECTS)
        + _required_legend(lang, N_("Fields marked %(mark)s are required. Once registered, the request is "
                                    "dispatched to a unit by its address and content."))
        + f'<form method="post" action="/frontdesk{_lang_query(lang)}" accept-charset="utf-8">'
        + f'<input type="hidden" name="csrf_token" value="{escape(security.csrf_token())}">'
        + f'<input type="hidden" name="form_id" value="{escape(values.get("form_id") or secrets.token_hex(16))}">'
        + '<div class="row three">'
        + f.choices("channel", words["channel"], {k: names["channels"][k] for k in frontdesk.CHANNELS}, required=True)
        + f.field("registration_no", words["registration_no"], optional=True, maxlength=50,
                  placeholder=gettext("e.g. the petition's number", lang),
                  hint=gettext("Each number is registered once", lang))
        + f.field("received_at", words["received_at"], optional=True, maxlength=19,
                  placeholder=gettext("e.g. %(example)s", lang, example=example_time),
                  hint=gettext("year-month-day hour:minute; empty: now", lang)) + "</div>"
        + '<div class="row three">' + f.field("name", words["name"], required=True, maxlength=64)
        + f.field("phone", words["phone"], optional=True, input_type="tel", maxlength=32)
        + f.field("visitors", words["visitors"], input_type="number", optional=True,
                  hint=gettext("Visits only", lang), extra=' min="1" max="500" step="1"') + "</div>"
        + f.field("address", words["address"], optional=True, maxlength=200,
                  hint=gettext("Where it happened, or the writer's address: decides the local unit", lang))
        + '<div class="row">' + f.field("kind", words["kind"], kind="select", options={"": auto, **names["kinds"]})
        + f.field("topic", words["topic"], kind="select", options={"auto": auto, **names["topics"]}) + "</div>"
        + f.field("title", words["title"], required=True, maxlength=100)
        + f.field("content", words["content"], kind="textarea", required=True, maxlength=MAX_CONTENT, rows=5,
                  hint=gettext("What the letter or visit is about, at most %(max)s characters", lang,
                               max=MAX_CONTENT_SHOWN))
        + f'<div class="actions"><button type="submit">{escape(register)}</button></div></form>'
    )
    return _frontdesk_page(body, lang, status, who=who)


@blueprint.route("/frontdesk", methods=["GET", "POST"])
def frontdesk_page() -> Response:
    # The gate has already sent anonymous visitors to /login.
    actor = current_actor()
    lang = request_lang()
    if actor is None or actor.role not in FRONTDESK_ROLES:
        who = (actor.extra.get("real_name") or actor.name) if actor else gettext("a user who is not logged in", lang)
        refusal = gettext("The account of %(who)s cannot register letters and visits: it needs the role admin "
                          "(platform office administrator) or dispatcher. Log in with an account that may, or ask "
                          "the platform office.", lang, who=who)
        head = gettext("Not allowed to register letters and visits", lang)
        other = gettext("Log in with another account", lang)
        return _frontdesk_page(
            f'<div class="box" role="alert"><p class="head">{escape(head)}</p><p>{escape(refusal)}</p></div>'
            f'<p><a href="/logout">{escape(other)}</a></p>', lang, 403, who=_who(actor, lang))
    platform = _platform()
    settings = platform.settings
    who = _who(actor, lang)
    if request.method == "GET":
        return _frontdesk_form({"channel": request.args.get("channel", "letter")}, lang, who=who)
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    raw = urlencode([(k, v) for k, v in request.form.items(multi=True) if k != "csrf_token"])
    now = utcnow()
    channel = values["channel"] if values.get("channel") in frontdesk.CHANNELS else "letter"
    with unit_of_work(platform.factory) as s:
        problem = _origin_problem() or _csrf_problem()
        if problem is not None:
            letter = reject(s, channel, f"POST /frontdesk by {actor.name}", raw, [problem])
            return _frontdesk_form(values, lang, [problem], letter.id, status=403, who=who)
        try:
            new = frontdesk.parse_form(values, now=now, tz=settings.tz, clerk=actor.name)
        except Rejected as exc:
            letter = reject(s, channel, f"POST /frontdesk by {actor.name}", raw, exc.errors,
                            external_id=exc.external_id)
            return _mailbox_form(values, lang, exc.errors, letter.id, status=400)
        outcome = hand_in(s, new, now)
        number = outcome.ticket.number if outcome.ticket else ""
        unit = outcome.ticket.unit.name if outcome.ticket and outcome.ticket.unit else ""
    number_html = Markup('<span class="number">{}</span>').format(number)
    head = gettext(FRONTDESK_DONE.get(outcome.status, FRONTDESK_DONE["duplicate"]), lang,
                   channel=escape(labels(lang)["channels"][channel]), number=number_html)
    where = (gettext("Dispatched to %(unit)s.", lang, unit=unit) if unit
             else gettext("No unit could be chosen automatically; dispatch it from the ticket.", lang))
    then = gettext("%(where)s You can register the next one below.", lang, where=where)
    done = f'<div class="ok" role="status"><p class="head">✓ {head}</p><p>{escape(then)}</p></div>'
    return _frontdesk_form({"channel": channel}, lang, status=200 if outcome.status == "duplicate" else 201,
                           done=done, who=who)
