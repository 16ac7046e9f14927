"""Dead letters: every record a feed refuses is kept, raw, with its specific reasons.

Used by every channel (Open311, the 12345 push, 110, mailbox, front desk,
CSV/Excel import)::

    from feeds.dead_letters import FieldError, reject

    errors = [FieldError("lat", "must be a number between -90 and 90, got 'abc'")]
    reject(session, "open311", "POST /open311/v2/requests.json", body_text, errors,
           external_id=None)

``reject`` only adds the row to ``session``; the caller commits (so a
refusal is stored in the same transaction as anything else the caller did,
or on its own). Nothing a channel sent is ever silently dropped: either it
became an intake record or it is a dead letter.
"""
from __future__ import annotations

import codecs
import hashlib
import json
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from tickets.models import DeadLetter

# Columns' sizes in tickets.models.DeadLetter.
_SOURCE_MAX = 200
_EXTERNAL_ID_MAX = 64
# What is kept of a request nobody vouched for (reject_unauthenticated).
UNAUTHENTICATED_KEPT = 4096


@dataclass(frozen=True)
class FieldError:
    """One reason a record was refused: which field, and why (in plain words).

    A coded reason (the import's, ``feeds.import_reasons``) also carries a stable
    machine ``code`` and the plain ``params`` its message is made from, so it can be
    said again in another language; ``message`` is then its text in one language."""

    field: str
    message: str
    code: str | None = None
    params: dict[str, Any] | None = dc_field(default=None, hash=False)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.code is not None:
            out["code"] = self.code
            out["params"] = dict(self.params or {})
        return out

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class Rejected(Exception):
    """Raised by validators: the record is refused for these reasons."""

    def __init__(self, errors: list[FieldError], external_id: str | None = None) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = list(errors)
        self.external_id = external_id


def as_text(payload: Any) -> str:
    """The raw payload as text, for storing: bytes decoded, dicts as JSON.

    A NUL character becomes U+FFFD (PostgreSQL cannot store NUL in text), and a lone surrogate
    "?" (no database encodes it): a refused record must be kept whatever it holds (anyone can
    post one)."""
    return _decoded(payload).replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _decoded(payload: Any) -> str:
    if payload is None:
        return ""
    if isinstance(payload, bytes):
        for encoding in ("utf-8", "gb18030"):
            try:
                return payload.decode(encoding)
            except UnicodeDecodeError:
                continue
        return payload.decode("latin-1")
    if isinstance(payload, str):
        return payload
    return json.dumps(payload, ensure_ascii=False, default=str)


def reject(
    session: Session,
    channel: str,
    source: str,
    payload_text: Any,
    errors: list[FieldError],
    external_id: str | None = None,
    at: datetime | None = None,
    fingerprint: str | None = None,
) -> DeadLetter:
    """Store a refused record with its reasons; returns the (flushed) DeadLetter row."""
    if not errors:
        raise ValueError("a dead letter needs at least one FieldError")
    ext = as_text(str(external_id))[:_EXTERNAL_ID_MAX] if external_id not in (None, "") else None
    letter = DeadLetter(
        channel=channel[:32],
        source=as_text(source)[:_SOURCE_MAX],
        external_id=ext,
        received_at=at or datetime.now(UTC),
        payload=as_text(payload_text),
        errors=[e.as_dict() if isinstance(e, FieldError) else dict(e) for e in errors],
        status="new",
        fingerprint=fingerprint,
    )
    session.add(letter)
    session.flush()
    return letter


def reject_unauthenticated(session: Session, channel: str, source: str, body: bytes, errors: list[FieldError], *,
                           length: int | None = None) -> DeadLetter:
    """Keep a request nobody vouched for (a wrong signature or api_key, a body over the limit) as
    a dead letter of its first 4 KB, with its length and SHA-256 beside the reasons, never whole:
    anyone can send one, and a flood of them must not fill the disk. ``length``: the body was not
    read beyond ``body`` (its Content-Length)."""
    digest = f", sha256 {hashlib.sha256(body).hexdigest()}" if length is None else " (not read)"
    note = FieldError("(body)", f"{len(body) if length is None else length} bytes{digest}; only the first "
                                f"{UNAUTHENTICATED_KEPT} are kept")
    head = body[:UNAUTHENTICATED_KEPT]
    try:  # UTF-8 cut at a character's edge; anything else is as_text's to read
        kept: str | bytes = codecs.getincrementaldecoder("utf-8")().decode(head)
    except UnicodeDecodeError:
        kept = head
    return reject(session, channel, source, kept, [*errors, note])
