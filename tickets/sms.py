"""SMS: phone numbers as the platform keeps and shows them, and the gateways that send.

The sandbox gateway (the default) records every message in ``sms_messages``
and sends nothing. The HTTP gateway POSTs JSON to a configured URL; it is
``deferred``: its messages are written ``queued`` with the change that caused
them and sent after commit (``followup.deliver_queued``), so a rolled-back
reply never texts a citizen and no transaction waits on the network. Phone
numbers never appear in full in logs (138****5678).
"""
from __future__ import annotations

import json
import logging
import re
import threading
import unicodedata
import urllib.error
import urllib.request
import uuid
from typing import Any, Protocol

log = logging.getLogger(__name__)


# ----------------------------------------------------------------- phone numbers
def normalise_phone(phone: str | None) -> str:
    """Digits only, without a +86 / 0086 country prefix ("+86 138-1234-5678" → "13812345678")."""
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", phone or ""))
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def mask_phone(phone: str | None) -> str:
    """138****5678: what a log line or a shared screen may show of a phone number."""
    digits = normalise_phone(phone)
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}"
    return "****" + digits[-2:] if digits else "(none)"


# ------------------------------------------------------------------ gateways
class SmsGateway(Protocol):
    """Sends one SMS; returns the gateway's message id, raises on failure.

    ``deferred`` gateways talk to the network: their messages are queued in the
    transaction and sent after commit (:func:`deliver_queued`).
    """

    name: str
    deferred: bool

    def send(self, phone: str, text: str) -> str: ...


class GatewayError(Exception):
    """The gateway did not take the message."""


class SandboxGateway:
    """The default: nothing leaves; ``sms_messages`` (and ``sent`` here) is the record."""

    name = "sandbox"
    deferred = False

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []  # (message id, phone, text), this process only
        self._lock = threading.Lock()

    def send(self, phone: str, text: str) -> str:
        message_id = f"sandbox-{uuid.uuid4().hex[:16]}"
        with self._lock:
            self.sent.append((message_id, phone, text))
            del self.sent[:-1000]
        log.debug("sandbox SMS %s to %s (%d characters)", message_id, mask_phone(phone), len(text))
        return message_id


class HttpGateway:
    """POST ``{"phone", "text", "client_id"}`` as JSON to ``url``; 2xx is accepted.

    The gateway's id is read from the JSON answer (``id``, ``message_id`` or
    ``msgid``) when it gives one, else the client id is returned.
    """

    name = "http"
    deferred = True

    def __init__(self, url: str, *, timeout: float = 5.0, token: str = "") -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"sms_gateway_url {url!r} must be an http(s) URL")
        self.url, self.timeout, self.token = url, timeout, token

    def send(self, phone: str, text: str) -> str:
        client_id = uuid.uuid4().hex
        body = json.dumps({"phone": phone, "text": text, "client_id": client_id}, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - configured URL
                raw = response.read(65536)
        except urllib.error.HTTPError as exc:
            raise GatewayError(f"SMS gateway answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise GatewayError(f"SMS gateway unreachable: {exc}") from exc
        try:
            answer = json.loads(raw or b"{}")
        except ValueError:
            answer = {}
        if isinstance(answer, dict):
            for key in ("id", "message_id", "msgid"):
                if answer.get(key):
                    return str(answer[key])
        return client_id


def post(gateway: SmsGateway, message: Any) -> None:
    """Hand ``message`` (an ``SmsMessage`` being recorded) to an immediate gateway now: ``sent``,
    or ``failed`` (logged, never raised: a text must not undo the change it tells of). A
    deferred gateway's message stays ``queued`` for delivery after commit."""
    if gateway.deferred:
        message.status = "queued"
        return
    try:
        gateway.send(message.phone, message.text)
        message.status = "sent"
    except Exception as exc:  # noqa: BLE001
        message.status = "failed"
        log.warning("SMS to %s failed: %s", mask_phone(message.phone), exc)


def gateway_from_settings(settings: Any) -> SmsGateway:
    kind = (settings.sms_gateway or "sandbox").strip().lower()
    if kind == "sandbox":
        return SandboxGateway()
    if kind == "http":
        if not settings.sms_gateway_url:
            raise ValueError("sms_gateway is http but sms_gateway_url is not set")
        return HttpGateway(settings.sms_gateway_url, timeout=settings.sms_gateway_timeout_seconds,
                           token=settings.sms_gateway_token)
    raise ValueError(f"unknown sms_gateway {settings.sms_gateway!r}: sandbox or http")
