"""Web forms for two channels, served by the platform (no outside assets):

    /mailbox     局长信箱: citizens write to the director; no login; a CSRF token
                 (kept in the session cookie), a same-origin check on POST, and a
                 per-IP limit (settings.mailbox_max_per_hour, this process's count)
    /frontdesk   来信/来访 registration by staff: login required, roles admin or
                 dispatcher; CSRF token and same-origin check as well

A refused submission shows the form again with every reason next to its
field (HTTP 400) and is kept as a dead letter; a throttled one (429) is not
(a flood must not fill the database). Each form carries a random ``form_id``:
submitting the same form twice makes one ticket.
"""
from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, request, session
from markupsafe import Markup, escape

from dashboard.auth import current_actor, public
from feeds import frontdesk, mailbox
from feeds.common import hand_in
from feeds.dead_letters import FieldError, Rejected, reject
from tickets.db import unit_of_work
from tickets.models import utcnow
from tickets.vocabulary import KINDS, TOPICS

blueprint = Blueprint("intake_forms", __name__)
CSRF_KEY = "intake_csrf"
FRONTDESK_ROLES = frozenset({"admin", "dispatcher"})


def _platform() -> Any:
    from dashboard import current

    return current()


# ------------------------------------------------------------- protections
def csrf_token() -> str:
    token = session.get(CSRF_KEY)
    if not token:
        token = secrets.token_hex(16)
        session[CSRF_KEY] = token
    return str(token)


def _csrf_problem() -> FieldError | None:
    expected = session.get(CSRF_KEY)
    given = request.form.get("csrf_token", "")
    if not expected or not given or not hmac.compare_digest(str(expected), given):
        return FieldError("csrf_token", "missing or wrong: the form expired or was not served by this platform; "
                                        "reload it and submit again")
    return None


def _origin_problem() -> FieldError | None:
    """A browser's POST names its origin; one from another site is refused."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin or origin == "null":
        return None if origin is None else FieldError("Origin", "null origin refused")
    parts = urlsplit(origin)
    if parts.netloc != request.host:
        return FieldError("Origin", f"{parts.scheme}://{parts.netloc} is not this platform ({request.host})")
    return None


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds per key (sliding window, in memory)."""

    def __init__(self, window: float = 3600.0) -> None:
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, limit: int, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= limit:
                return False
            hits.append(now)
            if len(self._hits) > 10000:  # forget idle clients
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}
            return True

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


limiter = RateLimiter()


# ------------------------------------------------------------------- pages
STYLE = """
html,body{margin:0;background:#07101d;color:#c9d4e3;
  font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",sans-serif}
main{max-width:44rem;margin:2rem auto;background:#0d1a2b;border:1px solid #1f2a3a;border-radius:8px;padding:1.6rem 2rem}
h1{margin:0 0 .3rem;font-size:1.4rem;color:#e8f1ff;letter-spacing:.1em} p.sub{margin:0 0 1.2rem;color:#7d8ba1}
label{display:block;margin:.9rem 0 .3rem;font-size:.92rem} .req{color:#ff7875}
input,select,textarea{box-sizing:border-box;width:100%;padding:.5rem .65rem;background:#07101d;color:#e8f1ff;
  border:1px solid #2c3b52;border-radius:4px;font-size:1rem;font-family:inherit}
textarea{min-height:9rem} input:focus,select:focus,textarea:focus{outline:none;border-color:#3fa7ff}
.err{color:#ff4d4f;font-size:.85rem;margin:.25rem 0 0} .box{border:1px solid #ff4d4f;border-radius:4px;padding:.6rem .9rem;
  color:#ffa39e;margin-bottom:1rem} .ok{border:1px solid #52c41a;border-radius:4px;padding:.9rem;color:#b7eb8f}
button{margin-top:1.3rem;padding:.6rem 2.2rem;background:#1f6fd1;color:#fff;border:0;border-radius:4px;font-size:1rem;cursor:pointer}
a{color:#3fa7ff} .row{display:flex;gap:1rem} .row>div{flex:1}
"""


def _page(title: str, subtitle: str, body: str, status: int = 200) -> Response:
    html = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body><main>"
            f"<h1>{escape(title)}</h1><p class=\"sub\">{escape(subtitle)}</p>{body}</main></body></html>")
    return Response(html, status=status, mimetype="text/html")


def _field(name: str, label: str, errors: dict[str, list[str]], values: dict[str, str], *, kind: str = "input",
           required: bool = False, options: dict[str, str] | None = None, input_type: str = "text",
           maxlength: int | None = None, placeholder: str = "") -> str:
    value = values.get(name, "")
    req = ' <span class="req">*</span>' if required else ""
    attrs = f' id="{name}" name="{name}"' + (" required" if required else "") + \
        (f' maxlength="{maxlength}"' if maxlength else "") + (f' placeholder="{escape(placeholder)}"' if placeholder else "")
    if kind == "textarea":
        control = f"<textarea{attrs}>{escape(value)}</textarea>"
    elif kind == "select":
        opts = "".join(f'<option value="{escape(k)}"{" selected" if k == value else ""}>{escape(v)}</option>'
                       for k, v in (options or {}).items())
        control = f"<select{attrs}>{opts}</select>"
    else:
        control = f'<input type="{input_type}"{attrs} value="{escape(value)}">'
    errs = "".join(f'<p class="err" role="alert">{escape(m)}</p>' for m in errors.get(name, []))
    return f'<label for="{name}">{escape(label)}{Markup(req)}</label>{control}{errs}'


def _errors_by_field(errors: list[FieldError]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in errors:
        key = e.field.split("（")[0]
        out.setdefault(key, []).append(f"{e.field}: {e.message}")
    return out


def _summary(errors: list[FieldError], dead_letter_id: int | None) -> str:
    if not errors:
        return ""
    items = "".join(f"<li>{escape(e.field)}: {escape(e.message)}</li>" for e in errors)
    ref = f"（记录编号 {dead_letter_id}）" if dead_letter_id else ""
    return f'<div class="box" role="alert">提交未成功，请修改后重新提交{ref}：<ul>{items}</ul></div>'


# ---------------------------------------------------------------- mailbox
def _mailbox_form(values: dict[str, str], errors: list[FieldError] | None = None,
                  dead_letter_id: int | None = None, status: int = 200) -> Response:
    errs = _errors_by_field(errors or [])
    kinds = {"": "（请选择）", **KINDS}
    body = (
        _summary(errors or [], dead_letter_id)
        + '<form method="post" action="/mailbox" accept-charset="utf-8">'
        + f'<input type="hidden" name="csrf_token" value="{escape(csrf_token())}">'
        + f'<input type="hidden" name="form_id" value="{escape(values.get("form_id") or secrets.token_hex(16))}">'
        + '<div class="row"><div>' + _field("name", "姓名", errs, values, required=True, maxlength=64) + "</div><div>"
        + _field("phone", "手机号码", errs, values, required=True, input_type="tel", maxlength=32) + "</div></div>"
        + '<div class="row"><div>' + _field("email", "电子邮箱（选填）", errs, values, input_type="email", maxlength=254)
        + "</div><div>" + _field("kind", "诉求类型", errs, values, kind="select", options=kinds) + "</div></div>"
        + _field("title", "标题", errs, values, required=True, maxlength=100)
        + _field("content", "内容", errs, values, kind="textarea", required=True, maxlength=3000,
                 placeholder="请写明事情经过、时间、地点和您的诉求")
        + _field("address", "事发地址（选填）", errs, values, maxlength=200, placeholder="如：济南市历下区泉城路XX号")
        + '<button type="submit">提交</button></form>'
        + '<p class="sub" style="margin-top:1.2rem">您的姓名和电话仅用于办理和回访，不会公开。紧急情况请直接拨打110。</p>'
    )
    return _page("局长信箱", "济南市公安局 · 民生警务平台", body, status)


@blueprint.route("/mailbox", methods=["GET", "POST"])
@public  # citizens write without an account
def mailbox_page() -> Response:
    platform = _platform()
    settings = platform.settings
    if request.method == "GET":
        return _mailbox_form({})
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    ip = request.remote_addr or "unknown"
    if not limiter.allow(f"mailbox:{ip}", settings.mailbox_max_per_hour):
        return _mailbox_form(values, [FieldError("(rate)", f"同一地址每小时最多提交{settings.mailbox_max_per_hour}封，请稍后再试")],
                             status=429)
    now = utcnow()
    raw = urlencode([(k, v) for k, v in request.form.items(multi=True) if k != "csrf_token"])
    with unit_of_work(platform.factory) as s:
        problem = _origin_problem() or _csrf_problem()
        if problem is not None:
            letter = reject(s, mailbox.CHANNEL, f"POST /mailbox from {ip}", raw, [problem])
            return _mailbox_form(values, [problem], letter.id, status=403)
        try:
            new = mailbox.parse_form(values, now=now, tz=settings.tz)
        except Rejected as exc:
            letter = reject(s, mailbox.CHANNEL, f"POST /mailbox from {ip}", raw, exc.errors,
                            external_id=exc.external_id)
            return _mailbox_form(values, exc.errors, letter.id, status=400)
        outcome = hand_in(s, new, now, settings.tz)
        number = outcome.ticket.number if outcome.ticket else ""
    body = (f'<div class="ok" role="status">来信已受理，受理编号 <strong>{escape(number)}</strong>。'
            "我们将尽快转交承办单位办理，并通过短信回访。</div>"
            '<p><a href="/mailbox">再写一封</a></p>')
    return _page("局长信箱", "济南市公安局 · 民生警务平台", body, 200 if outcome.status == "duplicate" else 201)


# --------------------------------------------------------------- front desk
def _frontdesk_form(values: dict[str, str], errors: list[FieldError] | None = None,
                    dead_letter_id: int | None = None, status: int = 200, done: str = "") -> Response:
    errs = _errors_by_field(errors or [])
    channels = dict(frontdesk.CHANNELS)
    kinds = {"": "（按内容识别）", **KINDS}
    topics = {"auto": "（按内容识别）", **TOPICS}
    body = (
        done + _summary(errors or [], dead_letter_id)
        + '<form method="post" action="/frontdesk" accept-charset="utf-8">'
        + f'<input type="hidden" name="csrf_token" value="{escape(csrf_token())}">'
        + f'<input type="hidden" name="form_id" value="{escape(values.get("form_id") or secrets.token_hex(16))}">'
        + '<div class="row"><div>' + _field("channel", "渠道", errs, values, kind="select", options=channels,
                                            required=True)
        + "</div><div>" + _field("registration_no", "登记编号（选填）", errs, values, maxlength=50,
                                 placeholder="信访件编号等") + "</div><div>"
        + _field("received_at", "来信/来访时间", errs, values, input_type="datetime-local") + "</div></div>"
        + '<div class="row"><div>' + _field("name", "姓名", errs, values, required=True, maxlength=64) + "</div><div>"
        + _field("phone", "联系电话", errs, values, input_type="tel", maxlength=32) + "</div><div>"
        + _field("visitors", "来访人数", errs, values, input_type="number") + "</div></div>"
        + _field("address", "地址", errs, values, maxlength=200)
        + '<div class="row"><div>' + _field("kind", "诉求类型", errs, values, kind="select", options=kinds)
        + "</div><div>" + _field("topic", "诉求事项", errs, values, kind="select", options=topics) + "</div></div>"
        + _field("title", "标题", errs, values, required=True, maxlength=100)
        + _field("content", "内容摘要", errs, values, kind="textarea", required=True, maxlength=5000)
        + '<button type="submit">登记并转办</button></form>'
    )
    return _page("来信来访登记", "民生警务平台 · 前台登记", body, status)


@blueprint.route("/frontdesk", methods=["GET", "POST"])
def frontdesk_page() -> Response:
    # The gate has already sent anonymous visitors to /login.
    actor = current_actor()
    if actor is None or actor.role not in FRONTDESK_ROLES:
        who = actor.name if actor else "anonymous"
        return _page("来信来访登记", "无权限", f"<div class=\"box\">{escape(who)} 无权登记来信来访："
                                             "需要平台办管理员（admin）或派单员（dispatcher）角色。</div>", 403)
    platform = _platform()
    settings = platform.settings
    if request.method == "GET":
        return _frontdesk_form({"channel": request.args.get("channel", "letter")})
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    raw = urlencode([(k, v) for k, v in request.form.items(multi=True) if k != "csrf_token"])
    now = utcnow()
    channel = values.get("channel") if values.get("channel") in frontdesk.CHANNELS else "letter"
    with unit_of_work(platform.factory) as s:
        problem = _origin_problem() or _csrf_problem()
        if problem is not None:
            letter = reject(s, channel, f"POST /frontdesk by {actor.name}", raw, [problem])
            return _frontdesk_form(values, [problem], letter.id, status=403)
        try:
            new = frontdesk.parse_form(values, now=now, tz=settings.tz, clerk=actor.name)
        except Rejected as exc:
            letter = reject(s, channel, f"POST /frontdesk by {actor.name}", raw, exc.errors,
                            external_id=exc.external_id)
            return _frontdesk_form(values, exc.errors, letter.id, status=400)
        outcome = hand_in(s, new, now, settings.tz)
        number = outcome.ticket.number if outcome.ticket else ""
        unit = outcome.ticket.unit.name if outcome.ticket and outcome.ticket.unit else ""
    word = {"accepted": "已登记", "merged": "已登记（与在办工单合并）"}.get(outcome.status, "此前已登记（重复提交）")
    done = (f'<div class="ok" role="status">{word}：工单 <strong>{escape(number)}</strong>'
            f'{"，已转办至 " + str(escape(unit)) if unit else ""}。</div>')
    return _frontdesk_form({"channel": channel}, status=200 if outcome.status == "duplicate" else 201,
                           done=done)
