"""Screen text in Chinese (default) and English.

Domain labels (channels, topics, statuses) come from ``tickets.vocabulary``;
this module holds only the words of the screens themselves.
"""
from __future__ import annotations

from tickets.vocabulary import (
    CHANNELS,
    CHANNELS_EN,
    CHANNELS_SHORT,
    CHANNELS_SHORT_EN,
    STATUSES,
    TOPICS,
    TOPICS_EN,
    TOPICS_SHORT_EN,
)

LANGUAGES = ("zh-CN", "en")

TEXT: dict[str, dict[str, str]] = {
    "platform": {"zh-CN": "民生警务平台", "en": "Minsheng policing platform"},
    "wall_title": {"zh-CN": "民生警务指挥大屏", "en": "Command centre wall"},
    "received_today": {"zh-CN": "今日受理", "en": "Received today"},
    "open_now": {"zh-CN": "在办工单", "en": "Open now"},
    "closed_today": {"zh-CN": "今日办结", "en": "Closed today"},
    "breaches_now": {"zh-CN": "超期工单", "en": "Breaches now"},
    "contact_overdue": {"zh-CN": "联系超时", "en": "Contact overdue"},
    "resolve_overdue": {"zh-CN": "办理超期", "en": "Resolve overdue"},
    "amber_now": {"zh-CN": "临期预警", "en": "Near deadline"},
    "flow_title": {"zh-CN": "近两小时工单流量（每分钟，按渠道）", "en": "Ticket flow, last two hours (per minute, by channel)"},
    "ticker_title": {"zh-CN": "最新工单", "en": "Latest tickets"},
    "connecting": {"zh-CN": "连接中…", "en": "Connecting…"},
    "connected": {"zh-CN": "实时连接", "en": "Live"},
    "disconnected": {"zh-CN": "连接中断，正在重连", "en": "Disconnected, reconnecting"},
    "last_update": {"zh-CN": "最后更新", "en": "Last update"},
    "tickets_unit": {"zh-CN": "件", "en": ""},
    "units_title": {"zh-CN": "各单位今日办理情况", "en": "Units today"},
    "col_unit": {"zh-CN": "单位", "en": "Unit"},
    "col_received": {"zh-CN": "受理", "en": "Received"},
    "col_completion": {"zh-CN": "办结率", "en": "Completion"},
    "col_on_time": {"zh-CN": "按时办结率", "en": "On time"},
    "col_satisfaction": {"zh-CN": "满意率", "en": "Satisfaction"},
    "col_breaches": {"zh-CN": "超期", "en": "Breaches"},
    "language_switch": {"zh-CN": "English", "en": "中文"},
    "not_found": {"zh-CN": "页面不存在", "en": "Page not found"},
    "not_allowed": {"zh-CN": "无权查看此页面，请登录", "en": "Not allowed here; please log in"},
}


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue without translating it (a table of messages)."""
    return message


def gettext(message: str, lang: str, **params: object) -> str:
    """``message`` (an English msgid) in ``lang``, with ``%(name)s`` params filled in.

    Interface for the whole platform (layouts, Flask pages, API errors). For now
    it returns the English text; the Babel catalogue replaces the lookup."""
    return message % params if params else message


def normalise(lang: str | None) -> str:
    return "en" if (lang or "").lower().startswith("en") else "zh-CN"


def t(key: str, lang: str) -> str:
    return TEXT[key][normalise(lang)]


def labels(lang: str) -> dict[str, dict[str, str]]:
    """Domain labels a screen's script needs to render pushed events."""
    en = normalise(lang) == "en"
    return {
        "channels": CHANNELS_EN if en else CHANNELS,
        "topics": TOPICS_EN if en else TOPICS,
        # For narrow columns (the ticker): the full label where there is no short one.
        "channels_short": {**CHANNELS_EN, **CHANNELS_SHORT_EN} if en else {**CHANNELS, **CHANNELS_SHORT},
        "topics_short": {**TOPICS_EN, **TOPICS_SHORT_EN} if en else TOPICS,
        "statuses": {k: k for k in STATUSES} if en else STATUSES,
    }
