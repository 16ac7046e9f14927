"""The SMS gateway's inbound hook: citizens' replies to the follow-up SMS.

    POST /api/v1/sms/inbound
    X-Minsheng-Sms-Secret: <settings.sms_inbound_secret>
    form or JSON: phone | mobile, text | content, [time]

``time`` (optional) is when the gateway received the message: ISO 8601, or
``yyyy-MM-dd HH:mm:ss`` in local time as Chinese gateways send it; a time in
the future is taken as now. The gateway is a machine, not a user: it has no
login, and is authenticated by the shared secret alone (403 without it, and
always 403 while no secret is configured). The answer says what happened
(``tickets.services.answer_sms``), with 200 for every message taken,
known number or not, so the gateway does not retry it.
"""
from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from flask import jsonify, request

from dashboard.api.base import blueprint
from dashboard.api.base import platform as _platform
from dashboard.api.errors import ApiError, BadParameter
from dashboard.api.openapi import SMS_SECRET, STR, TIME, obj, operation
from dashboard.auth import public
from tickets import services
from tickets.intake import AHEAD, EARLIEST, outside_window
from tickets.models import NOT_TEXT, utcnow
from tickets.sms import mask_phone
from tickets.uow import unit_of_work

SECRET_HEADER = "X-Minsheng-Sms-Secret"
_MESSAGE = obj({"phone": STR, "mobile": STR, "text": STR, "content": STR,
                "time": {"type": "string", "description": "ISO 8601, or yyyy-MM-dd HH:mm:ss in local time"}},
               required=(), description="phone (or mobile) and text (or content) are required")


def _authorised(secret: str) -> bool:
    given = request.headers.get(SECRET_HEADER, "")
    return bool(secret) and hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8"))


def _time(raw: Any, tz: Any, now: datetime) -> datetime:
    if raw in (None, ""):
        return now
    text = str(raw).strip()
    try:
        try:
            at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            at = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise BadParameter("time", "invalid_time", value=text) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=tz)  # Chinese gateways send Beijing time without a zone
    if outside_window(at, now):  # before 2000, or more than five minutes ahead
        raise BadParameter("time", "out_of_range", value=text, min=EARLIEST.isoformat(),
                           max=(now + AHEAD).isoformat(timespec="seconds"))
    return min(at, now)


def _string(data: Any, names: tuple[str, str], empty_ok: bool) -> str:
    """The first of ``names`` given (the gateways' synonyms); a citizen may send an empty text."""
    for name in names:
        value = data.get(name)
        if value is None or (value == "" and not empty_ok):
            continue
        if not isinstance(value, str):
            raise BadParameter(name, "not_a_string")
        if NOT_TEXT.search(value):  # a NUL, a lone surrogate: say so, rather than fail on the insert
            raise BadParameter(name, "nul_character")
        return value
    raise BadParameter(names[0], "missing_parameter")


@blueprint.post("/sms/inbound")
@operation("A citizen's reply to the follow-up SMS, from the SMS gateway",
           {200: obj({"status": STR, "phone": STR, "at": TIME})}, auth=SMS_SECRET,
           body={"application/json": _MESSAGE, "application/x-www-form-urlencoded": _MESSAGE})
@public  # not a user: the gateway proves itself with the shared secret
def sms_inbound() -> Any:
    platform = _platform()
    settings = platform.settings
    if not _authorised(settings.sms_inbound_secret):
        raise ApiError(403, "sms_secret_refused", header=SECRET_HEADER)
    data: Any = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(data, dict) and not hasattr(data, "get"):
        raise ApiError(400, "body_not_object")
    phone = _string(data, ("phone", "mobile"), empty_ok=False)
    text = _string(data, ("text", "content"), empty_ok=True)
    now = utcnow()
    at = _time(data.get("time"), settings.tz, now)
    with unit_of_work(platform.factory) as uow:
        outcome = services.answer_sms(uow, phone, text, at=at)
    return jsonify(status=outcome, phone=mask_phone(phone), at=at.isoformat())
