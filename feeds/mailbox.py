"""局长信箱 (the director's mailbox): the web form's letters and exported .eml files.

Web form (``/mailbox``, dashboard/intake_forms.py): name, phone, optional
e-mail, kind, title, content, optional address. Its hidden ``form_id`` (a
random id issued with the form) is the external id, so a double submission is
one ticket.

.eml files (``python app.py intake eml DIR_OR_FILE``), as a mail server or
client exports them: ``Message-ID`` is the external id (a file without one
gets a hash of its bytes), ``Date`` the received time (a mail without a
zone, or without a Date, is read in the configured zone / refused), ``From``
the citizen's name and address, ``Subject`` the title, the text/plain part (else
the HTML part, tags removed) the content. Chinese mail comes as GB2312, GBK,
GB18030, Big5 or UTF-8, in base64 or quoted-printable, with RFC 2047 headers:
GB2312 and GBK are decoded as GB18030 (their superset: mail labelled GB2312
routinely holds GBK characters). A phone number in the body is picked up.
"""
from __future__ import annotations

import email
import hashlib
import html
import re
from collections.abc import Iterator
from datetime import datetime
from email.header import decode_header
from email.message import Message
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from feeds.common import MAX_ADDRESS, MAX_CONTENT, MAX_NAME, MAX_TITLE, Draft, Outcome, hand_in, phone_in_text, refuse
from feeds.dead_letters import FieldError, Rejected
from tickets.uow import UnitOfWork
from tickets.intake import NewRequest
from tickets.models import DeadLetter
from tickets.vocabulary import KINDS

CHANNEL = "director_mailbox"
MAX_EML_BYTES = 5_000_000
_CHARSET_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
                    "euc-cn": "gb18030", "hz-gb-2312": "hz", "big5": "big5hkscs", "unknown-8bit": "gb18030"}
_FORM_ID = re.compile(r"^[0-9a-f]{32}$")


# ------------------------------------------------------------------ web form
def parse_form(form: dict[str, Any], *, now: datetime, tz: Any) -> NewRequest:
    draft = Draft(CHANNEL, tz)
    form_id = str(form.get("form_id") or "").strip().lower()
    if not _FORM_ID.match(form_id):
        draft.error("form_id", "missing or malformed: reload the form and submit again")
    else:
        draft.external_id = f"MB-{form_id}"
    name = draft.text("name", form.get("name"), required=True, max_len=MAX_NAME)
    phone = draft.phone("phone", form.get("phone"), required=True)
    mail = draft.email("email", form.get("email"))
    kind = draft.choice("kind", form.get("kind"), KINDS, required=False)
    title = draft.text("title", form.get("title"), required=True, max_len=100)
    content = draft.text("content", form.get("content"), required=True, max_len=MAX_CONTENT)
    address = draft.text("address", form.get("address"), max_len=MAX_ADDRESS)
    raw = {"form": {k: v for k, v in form.items() if k not in ("csrf_token",)}, "email": mail}
    return draft.build(received_at=now, title=title, content=content or "", kind=kind, address=address,
                       citizen_name=name, citizen_phone=phone, default_kind="suggestion", raw=raw)


# ------------------------------------------------------------------- .eml
def _decode(data: bytes, charset: str | None) -> str:
    tried = []
    if charset:
        name = charset.strip().strip('"').lower()
        tried.append(_CHARSET_ALIASES.get(name, name))
    tried += ["utf-8", "gb18030", "big5hkscs"]
    for enc in tried:
        try:
            return data.decode(enc)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("gb18030", errors="replace")


def header_text(value: Any) -> str:
    """An RFC 2047 header (=?GB2312?B?...?=) as text; raw 8-bit headers are guessed."""
    if value is None:
        return ""
    parts = []
    for chunk, charset in decode_header(str(value)):
        parts.append(_decode(chunk, charset) if isinstance(chunk, bytes) else chunk)
    return "".join(parts).strip()


def _raw_header(msg: Message, name: str) -> str:
    value = msg.get(name)
    if value is None:
        return ""
    # Headers with raw 8-bit bytes come through as surrogate-escaped str: recover the bytes.
    text = str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        data = text.encode("utf-8", errors="surrogateescape")
        return _decode(data, None).strip()
    return header_text(text)


def _body(msg: Message) -> str:
    plain, html_part = None, None
    for part in msg.walk() if msg.is_multipart() else [msg]:
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html"):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        text = _decode(payload, part.get_content_charset())
        if ctype == "text/plain" and plain is None:
            plain = text
        elif ctype == "text/html" and html_part is None:
            html_part = text
    if plain is not None and plain.strip():
        return _tidy(plain)
    if html_part is not None:
        text = re.sub(r"(?is)<(script|style).*?</\1>", " ", html_part)
        text = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", text)
        return _tidy(html.unescape(re.sub(r"<[^>]+>", " ", text)))
    return ""


def _tidy(text: str) -> str:
    lines = [re.sub(r"[ \t\u3000]+", " ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    out = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


def parse_eml(data: bytes, *, tz: Any, origin: str = "") -> NewRequest:
    draft = Draft(CHANNEL, tz)
    if len(data) > MAX_EML_BYTES:
        draft.error("(file)", f"is {len(data)} bytes; at most {MAX_EML_BYTES}")
        raise Rejected(draft.errors)
    msg = email.message_from_bytes(data)
    message_id = _raw_header(msg, "Message-ID").strip().strip("<>")
    if message_id:
        ext = "EML-" + (message_id if len(message_id) <= 60 else hashlib.sha256(message_id.encode()).hexdigest()[:40])
    else:
        ext = "EML-sha256-" + hashlib.sha256(data).hexdigest()[:40]
    draft.external_id = ext
    sender_name, sender_addr = parseaddr(_raw_header(msg, "From"))
    if not sender_addr and not sender_name:
        draft.error("From", "is missing: a letter needs a sender")
    subject = _raw_header(msg, "Subject")
    received = None
    date_raw = _raw_header(msg, "Date")
    if not date_raw:
        draft.error("Date", "is missing: when the letter was sent is unknown")
    else:
        try:
            received = parsedate_to_datetime(date_raw)
        except (TypeError, ValueError, IndexError):
            draft.error("Date", f"{date_raw[:60]!r} is not an RFC 5322 date")
        if received is not None and received.tzinfo is None:
            received = received.replace(tzinfo=tz)  # "-0000" or no zone: the bureau's own time
        if received is not None:
            received = draft.plausible("Date", received)
    # Control characters out, a NUL refused, as in every text field (the lengths are checked below).
    subject = draft.text("Subject", subject, max_len=len(subject)) or ""
    body = _body(msg)
    body = draft.text("(body)", body, max_len=len(body)) or ""
    if not body.strip() and not subject:
        draft.error("(body)", "has no text (no text/plain or text/html part)")
    if len(body) > MAX_CONTENT:
        draft.error("(body)", f"is {len(body)} characters; at most {MAX_CONTENT}")
    if len(subject) > MAX_TITLE:
        subject = subject[:MAX_TITLE]
    name = draft.text("From", sender_name or None, max_len=MAX_NAME) if sender_name else None
    mail = draft.email("From", sender_addr) if sender_addr else None
    phone = phone_in_text(body)
    raw = {"file": origin, "message_id": message_id or None, "from": mail, "subject": subject}
    return draft.build(received_at=received, title=subject or body[:40], content=body or subject,
                       citizen_name=name, citizen_phone=phone, default_kind="suggestion", raw=raw)


def eml_files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".eml")
    else:
        yield path


def import_eml(session: UnitOfWork, path: Path, *, now: datetime, tz: Any) -> Outcome:
    """One file in, in the caller's transaction. A refused file is a dead letter (once per file content)."""
    data = path.read_bytes()
    source = f"eml:{path}"
    try:
        request = parse_eml(data, tz=tz, origin=str(path))
    except Rejected as exc:
        text = _decode(data, None)
        known = session.scalar(select(DeadLetter.id).where(DeadLetter.channel == CHANNEL,
                                                           DeadLetter.source == source[:200],
                                                           DeadLetter.payload == text).limit(1))
        if known is not None:
            return Outcome("rejected", dead_letter_id=known, errors=tuple(exc.errors), external_id=exc.external_id)
        return refuse(session, CHANNEL, source, text, exc)
    return hand_in(session, request, now)


__all__ = ["CHANNEL", "FieldError", "import_eml", "parse_eml", "parse_form"]
