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
import re
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
from tickets.uow import unit_of_work
from tickets.models import utcnow
from tickets.roles import ROLES
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

def _page(title: str, subtitle: str, body: str, status: int = 200, *, staff: bool = False,
          who: str = "") -> Response:
    html = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)} · {escape(subtitle)}</title><style>{STYLE}</style></head>"
            f'<body class="{"staff" if staff else "public"}"><header><div class="wrap"><div>'
            f'<p class="org">{escape(subtitle)}</p><h1>{escape(title)}</h1></div>{who}</div></header>'
            f'<main class="wrap"><div class="card">{body}</div></main></body></html>')
    return Response(html, status=status, mimetype="text/html")


class _Form:
    """Renders one form's fields with their values and the reasons each was refused."""

    def __init__(self, values: dict[str, str], errors: dict[str, list[str]]) -> None:
        self.values = values
        self.errors = errors
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
        mark = ('<span class="req" aria-hidden="true">*</span>' if required
                else '<span class="opt">（选填）</span>' if optional else "")
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


# What a refusal says, for the person at the form: in Chinese, without field codes.
# The validators' own words (English, for operators and the dead-letter queue)
# stay on the page under 技术信息.
_FORM_PROBLEMS = {
    "csrf_token": "页面已过期，或不是从本平台打开的。请刷新页面后重新填写提交。",
    "Origin": "这次提交来自其他网站，已被拒绝。请直接在本平台的页面上填写提交。",
    "form_id": "表单已失效。请刷新页面后重新填写提交。",
}


def _plain(error: FieldError, labels: dict[str, str], selects: frozenset[str] = frozenset()) -> str:
    field = error.field.split("（")[0]
    message = error.message
    if field in _FORM_PROBLEMS:
        return _FORM_PROBLEMS[field]
    label = labels.get(field)
    if label is None:  # a problem with the whole submission, already said in Chinese (the rate limit)
        return message
    if "is required" in message:
        return f"请{'选择' if field in selects else '填写'}{label}。"
    if field == "visitors":
        return "来访人数应为 1 到 500 之间的整数。"
    longest = re.search(r"at most (\d+)", message)
    if "characters" in message and longest:
        given = re.search(r"is (\d+) characters", message)
        now = f"，现有 {given.group(1)} 字" if given else ""
        return f"{label}最多 {longest.group(1)} 字{now}，请删减。"
    if "not a phone number" in message:
        return f"{label}不正确，请只填写数字（可带空格或“-”）。"
    if "not an e-mail address" in message:
        return f"{label}格式不正确，应类似 name@example.com。"
    if "is not one of" in message:
        return f"请从列表中选择{label}。"
    if "not a date-time" in message:
        return f"{label}应按“年-月-日 时:分”填写，如 2025-03-10 09:30。"
    if "in the future" in message:
        return f"{label}不能晚于现在。"
    if "letters, digits" in message:
        return f"{label}只能包含字母、数字、“-”和“_”，最多 50 个字符。"
    return f"{label}填写有误，请检查后重新提交。"


def _errors_by_field(errors: list[FieldError], labels: dict[str, str],
                     selects: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in errors:
        key = e.field.split("（")[0]
        out.setdefault(key, []).append(_plain(e, labels, selects))
    return out


def _summary(errors: list[FieldError], dead_letter_id: int | None, labels: dict[str, str],
             selects: frozenset[str] = frozenset()) -> str:
    if not errors:
        return ""
    items = []
    for e in errors:
        key = e.field.split("（")[0]
        text = escape(_plain(e, labels, selects))
        items.append(f'<li><a href="#{escape(key)}">{text}</a></li>' if key in labels else f"<li>{text}</li>")
    count = f"以下 {len(errors)} 处" if len(errors) > 1 else "以下问题"
    ref = f"<p>记录编号：{dead_letter_id}</p>" if dead_letter_id else ""
    technical = "".join(f"<li>{escape(e.field)}: {escape(e.message)}</li>" for e in errors)
    return (f'<div class="box" role="alert"><p class="head">提交未成功，请修改{count}后重新提交：</p>'
            f'<ul>{"".join(items)}</ul><details class="tech"><summary>技术信息（如需联系工作人员，请提供）</summary>'
            f"{ref}<ul>{technical}</ul></details></div>")


# ---------------------------------------------------------------- mailbox
MAILBOX_TITLE, MAILBOX_ORG = "局长信箱", "济南市公安局 · 民生警务平台"
MAILBOX_LABELS = {"name": "姓名", "phone": "手机号码", "email": "电子邮箱", "kind": "诉求类型", "title": "标题",
                  "content": "内容", "address": "事发地址"}
MAILBOX_SELECTS = frozenset({"kind"})


def _mailbox_form(values: dict[str, str], errors: list[FieldError] | None = None,
                  dead_letter_id: int | None = None, status: int = 200) -> Response:
    f = _Form(values, _errors_by_field(errors or [], MAILBOX_LABELS, MAILBOX_SELECTS))
    kinds = {"": "请选择", **KINDS}
    body = (
        _summary(errors or [], dead_letter_id, MAILBOX_LABELS, MAILBOX_SELECTS)
        + '<p class="notice">欢迎您对公安工作提出意见建议、投诉举报或求助咨询。'
          "<strong>紧急情况请直接拨打 110 报警。</strong></p>"
        + '<p class="legend">带 <span class="req">*</span> 的为必填项。</p>'
        + '<form method="post" action="/mailbox" accept-charset="utf-8">'
        + f'<input type="hidden" name="csrf_token" value="{escape(csrf_token())}">'
        + f'<input type="hidden" name="form_id" value="{escape(values.get("form_id") or secrets.token_hex(16))}">'
        + '<div class="row">' + f.field("name", "姓名", required=True, maxlength=64, extra=' autocomplete="name"')
        + f.field("phone", "手机号码", required=True, input_type="tel", maxlength=32,
                  hint="用于回访和短信告知办理情况，不会公开", extra=' autocomplete="tel" inputmode="tel"') + "</div>"
        + '<div class="row">' + f.field("email", "电子邮箱", optional=True, input_type="email", maxlength=254,
                                        extra=' autocomplete="email"')
        + f.field("kind", "诉求类型", kind="select", options=kinds, optional=True) + "</div>"
        + f.field("title", "标题", required=True, maxlength=100, hint="一句话概括您反映的事情，最多 100 字")
        + f.field("content", "内容", kind="textarea", required=True, maxlength=3000, rows=7,
                  hint="请写明事情经过、时间、地点和您的诉求，最多 3000 字")
        + f.field("address", "事发地址", optional=True, maxlength=200, placeholder="如：济南市历下区泉城路××号")
        + '<div class="actions"><button type="submit">提交来信</button></div></form>'
        + '<p class="foot">您的姓名和联系方式仅用于办理和回访，不会公开。</p>'
    )
    return _page(MAILBOX_TITLE, MAILBOX_ORG, body, status)


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
        return _mailbox_form(values, [FieldError("(rate)", f"同一网络地址每小时最多提交 {settings.mailbox_max_per_hour} 封，"
                                                           "请稍后再试。")], status=429)
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
        outcome = hand_in(s, new, now)
        number = outcome.ticket.number if outcome.ticket else ""
    # Only the number: nothing the citizen typed (name, phone, the letter) is echoed back.
    head = "这封信此前已提交并受理，无需重复提交" if outcome.status == "duplicate" else "来信已受理"
    number_html = (f'<p>受理编号</p><p class="number">{escape(number)}</p>'
                   "<p>请记下或截图保存受理编号，咨询办理进度时请提供此编号。</p>" if number else "")
    body = (f'<div class="ok" role="status"><p class="head">✓ {head}</p>{number_html}'
            "<p>我们将尽快转交承办单位办理，并通过短信回访。</p></div>"
            '<p class="foot">紧急情况请直接拨打 110。　<a href="/mailbox">再写一封</a></p>')
    return _page(MAILBOX_TITLE, MAILBOX_ORG, body, 200 if outcome.status == "duplicate" else 201)


# --------------------------------------------------------------- front desk
FRONTDESK_TITLE, FRONTDESK_ORG = "来信来访登记", "民生警务平台 · 前台登记"
FRONTDESK_LABELS = {"channel": "渠道", "registration_no": "登记编号", "received_at": "来信/来访时间", "name": "姓名",
                    "phone": "联系电话", "visitors": "来访人数", "address": "地址", "kind": "诉求类型",
                    "topic": "诉求事项", "title": "标题", "content": "内容摘要"}
FRONTDESK_SELECTS = frozenset({"channel", "kind", "topic"})


def _who(actor: Any) -> str:
    if actor is None:
        return ""
    extra = getattr(actor, "extra", None) or {}
    parts = [extra.get("real_name") or actor.name, ROLES.get(actor.role, ""), extra.get("unit_name", "")]
    return (f'<div class="who">{escape(" · ".join(p for p in parts if p))}'
            '<a href="/logout">退出</a></div>')


def _frontdesk_form(values: dict[str, str], errors: list[FieldError] | None = None,
                    dead_letter_id: int | None = None, status: int = 200, done: str = "",
                    who: str = "") -> Response:
    f = _Form(values, _errors_by_field(errors or [], FRONTDESK_LABELS, FRONTDESK_SELECTS))
    auto = "自动识别（按内容）"
    example_time = utcnow().astimezone(_platform().settings.tz).strftime("%Y-%m-%d %H:%M")
    body = (
        done + _summary(errors or [], dead_letter_id, FRONTDESK_LABELS, FRONTDESK_SELECTS)
        + '<p class="legend">带 <span class="req">*</span> 的为必填项。登记后按地址和内容自动分派承办单位。</p>'
        + '<form method="post" action="/frontdesk" accept-charset="utf-8">'
        + f'<input type="hidden" name="csrf_token" value="{escape(csrf_token())}">'
        + f'<input type="hidden" name="form_id" value="{escape(values.get("form_id") or secrets.token_hex(16))}">'
        + '<div class="row three">' + f.choices("channel", "渠道", dict(frontdesk.CHANNELS), required=True)
        + f.field("registration_no", "登记编号", optional=True, maxlength=50, placeholder="如信访件编号",
                  hint="同一编号只登记一次")
        + f.field("received_at", "来信/来访时间", optional=True, maxlength=19, placeholder=f"如 {example_time}",
                  hint="年-月-日 时:分，留空按当前时间") + "</div>"
        + '<div class="row three">' + f.field("name", "姓名", required=True, maxlength=64)
        + f.field("phone", "联系电话", optional=True, input_type="tel", maxlength=32)
        + f.field("visitors", "来访人数", input_type="number", optional=True, hint="仅来访填写",
                  extra=' min="1" max="500" step="1"') + "</div>"
        + f.field("address", "地址", optional=True, maxlength=200, hint="事发地或来信人地址，用于分派属地单位")
        + '<div class="row">' + f.field("kind", "诉求类型", kind="select", options={"": auto, **KINDS})
        + f.field("topic", "诉求事项", kind="select", options={"auto": auto, **TOPICS}) + "</div>"
        + f.field("title", "标题", required=True, maxlength=100)
        + f.field("content", "内容摘要", kind="textarea", required=True, maxlength=5000, rows=5,
                  hint="来信或来访反映的主要内容，最多 5000 字")
        + '<div class="actions"><button type="submit">登记并转办</button></div></form>'
    )
    return _page(FRONTDESK_TITLE, FRONTDESK_ORG, body, status, staff=True, who=who)


@blueprint.route("/frontdesk", methods=["GET", "POST"])
def frontdesk_page() -> Response:
    # The gate has already sent anonymous visitors to /login.
    actor = current_actor()
    if actor is None or actor.role not in FRONTDESK_ROLES:
        who = (actor.extra.get("real_name") or actor.name) if actor else "未登录用户"
        return _page(FRONTDESK_TITLE, FRONTDESK_ORG,
                     f'<div class="box" role="alert"><p class="head">无权登记来信来访</p>'
                     f"<p>{escape(who)} 的账号不能登记来信来访：需要平台办管理员（admin）或派单员（dispatcher）角色。"
                     '请换用有权限的账号，或联系平台办公室。</p></div><p><a href="/logout">换个账号登录</a></p>',
                     403, staff=True, who=_who(actor))
    platform = _platform()
    settings = platform.settings
    who = _who(actor)
    if request.method == "GET":
        return _frontdesk_form({"channel": request.args.get("channel", "letter")}, who=who)
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    raw = urlencode([(k, v) for k, v in request.form.items(multi=True) if k != "csrf_token"])
    now = utcnow()
    channel = values.get("channel") if values.get("channel") in frontdesk.CHANNELS else "letter"
    with unit_of_work(platform.factory) as s:
        problem = _origin_problem() or _csrf_problem()
        if problem is not None:
            letter = reject(s, channel, f"POST /frontdesk by {actor.name}", raw, [problem])
            return _frontdesk_form(values, [problem], letter.id, status=403, who=who)
        try:
            new = frontdesk.parse_form(values, now=now, tz=settings.tz, clerk=actor.name)
        except Rejected as exc:
            letter = reject(s, channel, f"POST /frontdesk by {actor.name}", raw, exc.errors,
                            external_id=exc.external_id)
            return _frontdesk_form(values, exc.errors, letter.id, status=400, who=who)
        outcome = hand_in(s, new, now)
        number = outcome.ticket.number if outcome.ticket else ""
        unit = outcome.ticket.unit.name if outcome.ticket and outcome.ticket.unit else ""
    word = {"accepted": "已登记", "merged": "已登记（与在办工单合并）"}.get(outcome.status, "此前已登记（重复提交）")
    where = f"已转办至 {escape(unit)}。" if unit else "未能自动确定承办单位，请在工单中派单。"
    done = (f'<div class="ok" role="status"><p class="head">✓ {frontdesk.CHANNELS[channel]}{word}：工单 '
            f'<span class="number">{escape(number)}</span></p><p>{where}可在下方继续登记下一件。</p></div>')
    return _frontdesk_form({"channel": channel}, status=200 if outcome.status == "duplicate" else 201,
                           done=done, who=who)
