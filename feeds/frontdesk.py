"""来信/来访: letters and visits registered by staff at the front desk (``/frontdesk``).

The clerk types what the letter or the visitor says. The registration number
(登记编号, e.g. the letter's 信访件编号) is the external id when the clerk has
one; otherwise the form's own random ``form_id`` is, so a double submission is
still one ticket. The time is when the letter arrived or the visitor came,
as the clerk reads it on the wall clock: local time in the configured zone,
inside the plausible window (not in the future, not before 2000).
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from feeds.common import MAX_ADDRESS, MAX_CONTENT, MAX_NAME, Draft
from tickets.intake import NewRequest
from tickets.vocabulary import KINDS, TOPICS

CHANNELS = {"letter": "来信", "visit": "来访"}
_FORM_ID = re.compile(r"^[0-9a-f]{32}$")
_REG_NO = re.compile(r"^[A-Za-z0-9_\-]{1,50}$")


def parse_form(form: dict[str, Any], *, now: datetime, tz: Any, clerk: str = "") -> NewRequest:
    channel = str(form.get("channel") or "").strip()
    draft = Draft(channel if channel in CHANNELS else "letter", tz, now=now)
    if channel not in CHANNELS:
        draft.error("channel", f"{channel!r} is not one of: letter (来信), visit (来访)")
    reg_no = str(form.get("registration_no") or "").strip()
    form_id = str(form.get("form_id") or "").strip().lower()
    prefix = {"letter": "LX", "visit": "LF"}.get(channel, "FD")
    if reg_no:
        if not _REG_NO.match(reg_no):
            draft.error("registration_no", f"{reg_no[:60]!r}: letters, digits, - and _ only, at most 50")
        else:
            draft.external_id = f"{prefix}-{reg_no}"
    elif not _FORM_ID.match(form_id):
        draft.error("form_id", "missing or malformed: reload the form and submit again")
    else:
        draft.external_id = f"{prefix}-F{form_id}"
    at_raw = str(form.get("received_at") or "").strip()
    received = draft.local_time("received_at", at_raw.replace("T", " "), required=False) if at_raw else now
    name = draft.text("name", form.get("name"), required=True, max_len=MAX_NAME)
    phone = draft.phone("phone", form.get("phone"))
    address = draft.text("address", form.get("address"), max_len=MAX_ADDRESS)
    kind = draft.choice("kind", form.get("kind"), KINDS)
    topic = draft.choice("topic", form.get("topic"), TOPICS) if form.get("topic") not in (None, "", "auto") else None
    title = draft.text("title", form.get("title"), required=True, max_len=100)
    content = draft.text("content", form.get("content"), required=True, max_len=MAX_CONTENT)
    visitors = draft.number("visitors", form.get("visitors"), low=1, high=500) if channel == "visit" else None
    if visitors is not None and visitors != int(visitors):
        draft.error("visitors", "must be a whole number")
    raw = {"form": {k: v for k, v in form.items() if k != "csrf_token"}, "clerk": clerk,
           "visitors": int(visitors) if visitors else None}
    body = content or ""
    if visitors and visitors > 1:
        body = f"{body}\n【来访人数】{int(visitors)}人"
    return draft.build(received_at=received, title=title, content=body, kind=kind, topic=topic, address=address,
                       citizen_name=name, citizen_phone=phone, default_kind="help", raw=raw)
