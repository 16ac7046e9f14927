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

from dashboard.api import blueprint, platform as _platform
from dashboard.auth import public
from tickets import services
from tickets.models import utcnow
from tickets.sms import mask_phone
from tickets.uow import unit_of_work

SECRET_HEADER = "X-Minsheng-Sms-Secret"


def _authorised(secret: str) -> bool:
    given = request.headers.get(SECRET_HEADER, "")
    return bool(secret) and hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8"))


def _time(raw: Any, tz: Any, now: datetime) -> datetime:
    if raw in (None, ""):
        return now
    text = str(raw).strip()
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        at = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")  # ValueError: the caller answers 400
    if at.tzinfo is None:
        at = at.replace(tzinfo=tz)  # Chinese gateways send Beijing time without a zone
    return min(at, now)


@blueprint.post("/sms/inbound")
@public  # not a user: the gateway proves itself with the shared secret
def sms_inbound() -> Any:
    platform = _platform()
    settings = platform.settings
    if not _authorised(settings.sms_inbound_secret):
        return jsonify(error=f"missing or wrong {SECRET_HEADER}"), 403
    data: Any = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(data, dict) and not hasattr(data, "get"):
        return jsonify(error="send a JSON object or a form"), 400
    phone = data.get("phone") or data.get("mobile")
    text = data.get("text") if data.get("text") is not None else data.get("content")
    if not phone or not isinstance(phone, str) or text is None or not isinstance(text, str):
        return jsonify(error="phone (or mobile) and text (or content) are required strings"), 400
    now = utcnow()
    try:
        at = _time(data.get("time"), settings.tz, now)
    except ValueError:
        return jsonify(error="time must be ISO 8601 or yyyy-MM-dd HH:mm:ss"), 400
    with unit_of_work(platform.factory) as uow:
        outcome = services.answer_sms(uow, phone, text, at=at)
    return jsonify(status=outcome, phone=mask_phone(phone), at=at.isoformat())
