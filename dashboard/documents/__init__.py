"""Printable documents: A4 PDFs in Chinese, for the paper that leaves the platform.

One module per document (``order``: 督办单, ``letter``: 提醒函; the weekly
bulletin later) turns its rows into the context of a Jinja template under
``templates/``; :func:`write_pdf` renders that HTML to PDF with WeasyPrint.

- Offline: the templates inline their stylesheet, fonts come from fontconfig
  by family name, and the URL fetcher refuses every scheme but ``data:`` and
  ``file:`` (nothing is fetched over the network, whatever a text contains).
- Fonts embedded: WeasyPrint embeds the subset of the glyphs used. After a
  render the fonts it chose are checked: a document drawn in no font of
  :data:`FONTS` would show boxes (tofu) for Chinese, so it is refused with
  :class:`DocumentsUnavailable` (the API answers 503) rather than printed.
- Citizen data: a document's text passes through ``tickets.personal`` (masked
  details, :func:`tickets.personal.redacted` free text); it may be printed and
  carried out of the building, where no reveal is audited.

WeasyPrint needs Pango (Debian: ``make run`` installs it, Makefile ``RUN_APT``);
it is imported on first use, so the platform runs without it and only the
documents answer 503.
"""
from __future__ import annotations

import threading
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any

from flask import current_app, has_app_context
from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.drill import marking as drill_marking
from tickets.followup import ANSWERS as SATISFACTION
from tickets.models import Ticket, Unit, User
from tickets.notify import root_unit
from tickets.personal import masked, redacted
from tickets.roles import SYSTEM
from tickets.vocabulary import CHANNELS, KINDS, STATUSES, TOPICS

SERIF = "Noto Serif CJK SC"  # the body, the masthead (公文: 宋体 / 小标宋)
SANS = "Noto Sans CJK SC"  # labels and headings (公文: 黑体)
FONTS: tuple[str, ...] = (SERIF, SANS)
# Local schemes only: data: URIs, and files of this machine for a future template's images.
ALLOWED_SCHEMES = ("data", "file")
CONTENT_CHARS = 300  # of the request's text: a summary, the unit has the ticket
# Pango and fontconfig are not known to be safe across threads: one render at a time.
_RENDER_LOCK = threading.Lock()


class DocumentsUnavailable(Exception):
    """This server cannot print: ``renderer_missing`` (WeasyPrint or Pango) or ``font_missing``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(loader=PackageLoader("dashboard.documents", "templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def html(template: str, **context: Any) -> str:
    """The document's HTML (autoescaped: every value is text, never markup)."""
    return _templates().get_template(template).render(serif=SERIF, sans=SANS, **context)


def write_pdf(document_html: str) -> bytes:
    """``document_html`` as PDF bytes; :class:`DocumentsUnavailable` when it cannot be printed in Chinese.
    Printed by a drill's training space: marked 演练 on every page."""
    if has_app_context() and current_app.config.get(drill_marking.CONFIG_KEY):
        document_html = drill_marking.marked_document(document_html)
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: WeasyPrint is there, Pango is not
        raise DocumentsUnavailable("renderer_missing", str(exc)) from exc
    fetcher = weasyprint.URLFetcher(allowed_protocols=ALLOWED_SCHEMES, allow_redirects=False, timeout=1)
    with _RENDER_LOCK:
        document = weasyprint.HTML(string=document_html, url_fetcher=fetcher).render()
        pdf: bytes = document.write_pdf()
        used = {font.family for font in document.fonts.values()}  # filled as the PDF embeds them
    if not used & set(FONTS):
        raise DocumentsUnavailable("font_missing", f"wanted {' or '.join(FONTS)}, drew in {sorted(used) or 'none'}")
    return pdf


# ------------------------------------------------------------ shared wording
def when(at: datetime | None, tz: tzinfo) -> str:
    """2026年12月2日 09:05 in the bureau's zone; empty for no time."""
    if at is None:
        return ""
    local = at.astimezone(tz)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def day(at: datetime, tz: tzinfo) -> str:
    """2026年12月2日: the date under a signature (公文's 成文日期, Arabic numerals as GB/T 9704-2012)."""
    local = at.astimezone(tz)
    return f"{local.year}年{local.month}月{local.day}日"


def person(session: Session, username: str) -> str:
    """Who issued a document: the user's real name (and 警号), the platform for the automatic ones."""
    if username in ("", SYSTEM.name):
        return "民生警务平台（自动）"
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        return username
    name = user.real_name or user.username
    return f"{name}（警号{user.police_number}）" if user.police_number else name


def common(session: Session, unit: Unit, *, kind: str, number: str, issued_by: str, issued_at: datetime,
           tz: tzinfo) -> dict[str, Any]:
    """What every document's masthead and signature show."""
    root = root_unit(unit)
    return {"title": f"{kind} {number}", "kind": kind, "number": number, "bureau_name": root.name,
            "unit_name": unit.name, "signer": person(session, issued_by), "issued_day": day(issued_at, tz),
            # 抄送: the unit's level-2 unit, which answers for its stations (none when it is level 2).
            "copy_to": unit.parent.name if unit.parent is not None and unit.parent is not root else ""}


def ticket_facts(ticket: Ticket, tz: tzinfo) -> dict[str, Any]:
    """A ticket as a document shows it: the citizen masked, free text redacted."""
    citizen = masked(ticket)
    content = redacted(ticket.content, ticket)
    return {
        "number": ticket.number, "title": redacted(ticket.title, ticket),
        "kind": KINDS.get(ticket.kind, ticket.kind), "topic": TOPICS.get(ticket.topic, ticket.topic),
        "channel": CHANNELS.get(ticket.channel, ticket.channel), "status": STATUSES.get(ticket.status, ticket.status),
        "received": when(ticket.received_at, tz), "resolve_due": when(ticket.resolve_due_at, tz),
        "citizen": " ".join(p for p in (citizen.name, citizen.phone) if p), "district": ticket.district or "",
        "content": content if len(content) <= CONTENT_CHARS else content[:CONTENT_CHARS] + "……",
        "satisfaction": SATISFACTION.get(ticket.satisfaction or "", ""),
    }
