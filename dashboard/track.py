"""``/track``: a citizen looks up the progress of their request (issue 19, item 2).

Public, no login, phone-sized, Chinese first (``?lang=en``). The citizen gives the ticket number
(the mailbox's receipt and the SMS name it) and the last four digits of the phone the request
was filed with; the page shows the ticket's public status, the unit handling it (its name
only), the deadlines and the reply once given (phone and ID-card numbers and the citizen's own
name masked, as everywhere public) — never a name, a phone number, an address or a place.

Guessing is bounded: each address gets ``LOOKUPS_PER_HOUR`` lookups and ``MISSES_PER_HOUR``
wrong answers an hour (the intake forms' rate limiter), then 429; a wrong number and wrong
digits answer alike, so the page does not tell which tickets exist. The form carries the CSRF
token and is checked for its origin like every form of the platform.
"""
from __future__ import annotations

import hmac
import logging
import re
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, request
from markupsafe import escape
from sqlalchemy import select

from dashboard import running, security
from dashboard.auth import public
from dashboard.i18n import request_lang
from dashboard.intake_forms import limiter
from feeds.open311 import effective
from layouts.i18n import N_, gettext, other_language, switch_label
from tickets.models import Ticket, TicketEvent, Unit, could_be
from tickets.personal import redacted
from tickets.vocabulary import STATUSES, STATUSES_EN, TOPICS, TOPICS_EN

log = logging.getLogger(__name__)
blueprint = Blueprint("track", __name__)

LOOKUPS_PER_HOUR = 30
MISSES_PER_HOUR = 5
LAST_DIGITS = re.compile(r"^\d{4}$")

WORDS = {
    "title": N_("Track my request"),
    "intro": N_("Enter the ticket number from your receipt or SMS and the last four digits of the phone "
                "number you gave."),
    "number": N_("Ticket number"),
    "digits": N_("Last four digits of your phone"),
    "submit": N_("Look up"),
    "not_found": N_("No request matches this number and these digits."),
    "bad_digits": N_("Give the last four digits of your phone, e.g. 1234."),
    "too_many": N_("Too many lookups from this address. Please try again in an hour."),
    "expired": N_("The page had expired. Please look up again."),
    "status": N_("Status"),
    "unit": N_("Handled by"),
    "topic": N_("Topic"),
    "received": N_("Received"),
    "contact_due": N_("We contact you by"),
    "resolve_due": N_("To be resolved by"),
    "reply": N_("Our reply"),
    "closed": N_("Closed"),
    "merged": N_("Handled together with ticket %(number)s"),
    "no_reply": N_("No reply yet."),
}


def _t(key: str, lang: str, **params: Any) -> str:
    return gettext(WORDS[key], lang, **params)


def _when(at: datetime | None, tz: Any) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at is not None else "—"


def lookup(session: Any, number: str, digits: str, tz: Any, lang: str) -> dict[str, str] | None:
    """The public view of ticket ``number`` if ``digits`` are the last four of its phone."""
    number = number.strip().upper()
    if not could_be(number, Ticket.__table__.c.number):
        return None
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    phone = re.sub(r"\D", "", (ticket.citizen_phone or "") if ticket is not None else "")
    if ticket is None or len(phone) < 4 or not hmac.compare_digest(phone[-4:], digits):
        return None
    carried = effective(session, ticket)
    unit = session.get(Unit, carried.unit_id) if carried.unit_id else None
    reply = session.scalar(select(TicketEvent.note).where(TicketEvent.ticket_id == carried.id,
                                                          TicketEvent.kind == "reply")
                           .order_by(TicketEvent.at.desc(), TicketEvent.id.desc()).limit(1))
    en = lang == "en"
    status = (STATUSES_EN if en else STATUSES).get(carried.status, carried.status)
    view = {
        "number": ticket.number,
        "status": status,
        "unit": unit.name if unit is not None else "—",
        "topic": (TOPICS_EN if en else TOPICS).get(ticket.topic, ticket.topic),
        "received": _when(ticket.received_at, tz),
        "contact_due": _when(carried.contact_due_at, tz) if carried.contacted_at is None else "",
        "resolve_due": _when(carried.resolve_due_at, tz) if carried.closed_at is None else "",
        "reply": redacted(reply, carried) if reply else "",
        "closed": _when(carried.closed_at, tz) if carried.closed_at is not None else "",
        "merged": carried.number if carried.id != ticket.id else "",
    }
    return view


PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{margin:0;background:#f4f6f9;color:#1d2733;font-family:"Noto Sans CJK SC","Source Han Sans SC",
  "Microsoft YaHei","PingFang SC",sans-serif;font-size:17px;line-height:1.5}}
main{{max-width:28rem;margin:0 auto;padding:1.2rem}}
h1{{font-size:1.35rem;margin:.4rem 0 .6rem}} p.intro{{color:#526070;font-size:.95rem;margin:0 0 1rem}}
form{{background:#fff;border-radius:8px;padding:1rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}}
label{{display:block;margin:.6rem 0 .25rem;font-size:.95rem}}
input{{box-sizing:border-box;width:100%;padding:.65rem;font-size:1.05rem;border:1px solid #c4ccd6;border-radius:6px}}
button{{margin-top:1rem;width:100%;padding:.7rem;font-size:1.05rem;background:#1f6fd1;color:#fff;border:0;
  border-radius:6px}}
.error{{color:#c62828;margin:.8rem 0 0}} .lang{{float:right;font-size:.85rem;color:#526070}}
dl{{background:#fff;border-radius:8px;padding:1rem;margin:1rem 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}}
dt{{color:#526070;font-size:.85rem;margin-top:.55rem}} dd{{margin:0;font-size:1.05rem}}
dd.status{{font-size:1.3rem;font-weight:600;color:#1f6fd1}}
</style></head><body><main>
<a class="lang" href="/track?lang={other}">{switch}</a>
<h1>{title}</h1><p class="intro">{intro}</p>
{result}
<form method="post" action="/track?lang={lang}" autocomplete="off">
<input type="hidden" name="csrf_token" value="{csrf}">
<label for="number">{number_label}</label>
<input id="number" name="number" value="{number}" maxlength="32" required>
<label for="digits">{digits_label}</label>
<input id="digits" name="digits" inputmode="numeric" pattern="[0-9]{{4}}" maxlength="4" required>
{error}<button type="submit">{submit}</button>
</form></main></body></html>"""


def _result(view: dict[str, str], lang: str) -> str:
    rows = [("status", view["status"], "status"), ("unit", view["unit"], ""), ("topic", view["topic"], ""),
            ("received", view["received"], "")]
    if view["merged"]:
        rows.insert(1, ("status", _t("merged", lang, number=view["merged"]), ""))
    for key in ("contact_due", "resolve_due", "closed"):
        if view[key]:
            rows.append((key, view[key], ""))
    rows.append(("reply", view["reply"] or _t("no_reply", lang), ""))
    items = "".join(f'<dt>{escape(_t(key, lang))}</dt><dd class="{cls}">{escape(value)}</dd>'
                    for key, value, cls in rows)
    return f'<dl id="track-result"><dt>{escape(_t("number", lang))}</dt><dd>{escape(view["number"])}</dd>{items}</dl>'


def _page(lang: str, *, number: str = "", result: str = "", problem: str | None = None,
          status: int = 200) -> Response:
    html = PAGE.format(
        lang=lang, other=other_language(lang), switch=switch_label(lang), title=escape(_t("title", lang)),
        intro=escape(_t("intro", lang)), result=result, csrf=escape(security.csrf_token()),
        number_label=escape(_t("number", lang)), number=escape(number), digits_label=escape(_t("digits", lang)),
        submit=escape(_t("submit", lang)),
        error=f'<p class="error" role="alert">{escape(_t(problem, lang))}</p>' if problem else "",
    )
    return Response(html, status=status, mimetype="text/html")


@blueprint.route("/track", methods=["GET", "POST"])
@public
def track() -> Any:
    lang = request_lang()
    if request.method == "GET":
        return _page(lang)
    address = request.remote_addr or ""
    number = request.form.get("number", "")[:32]
    digits = request.form.get("digits", "").strip()
    if security.origin_problem() or security.csrf_problem(request.form.get(security.CSRF_FIELD)):
        return _page(lang, number=number, problem="expired", status=400)
    if limiter.hits(f"track-miss:{address}") >= MISSES_PER_HOUR or \
            not limiter.allow(f"track:{address}", LOOKUPS_PER_HOUR):
        log.warning("track: lookups refused for %s (too many)", address)
        return _page(lang, number=number, problem="too_many", status=429)
    if not LAST_DIGITS.match(digits):
        return _page(lang, number=number, problem="bad_digits", status=400)
    platform = running.platform()
    with platform.factory() as session:
        view = lookup(session, number, digits, platform.settings.tz, lang)
    if view is None:
        limiter.allow(f"track-miss:{address}", MISSES_PER_HOUR + 1)
        return _page(lang, number=number, problem="not_found", status=404)
    return _page(lang, number=view["number"], result=_result(view, lang))
