"""Why the import refuses a row: a stable code, its parameters, and its words in zh-CN and English.

Each check of :meth:`feeds.mapping.Mapping.parse` that fails adds one
:class:`~feeds.dead_letters.FieldError` made by :func:`error`: the field (our
field and the source's column, ``closed_at (CLOSED_DT)``), a ``code`` from
:data:`REASONS` that never changes, and ``params``, the plain values the
message is made from (the bad value, the formats as the mapping writes them,
the limit …). Like the domain's errors (``tickets.errors``) and the API's, the
words come from the message catalogue (``layouts.i18n``) only when said:
:func:`text` gives one reason in a language (a dead letter keeps it in the
language of the run that refused the row, beside its code and params),
:func:`summary` the words of a code without parameters, for the report's
counts. docs/IMPORT.md lists every code with both languages' text.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from feeds.dead_letters import FieldError
from layouts.i18n import N_, gettext


@dataclass(frozen=True)
class Reason:
    summary: str  # msgid: what the report counts, without parameters
    message: str  # msgid: one row's reason, with %(name)s parameters


REASONS: dict[str, Reason] = {
    "blank_line": Reason(N_("blank line"), N_("empty: a blank line")),
    "id_missing": Reason(N_("missing id"), N_("missing: every record needs the source's id")),
    "id_too_long": Reason(N_("id too long"), N_("longer than %(max)s characters: '%(value)s'")),
    "date_missing": Reason(N_("missing date"), N_("missing: the record has no date here")),
    "bad_date": Reason(N_("bad date"), N_("bad date: '%(value)s' matches none of the formats %(formats)s")),
    "date_in_future": Reason(N_("date in the future"), N_("bad date: in the future (%(value)s)")),
    "unknown_status": Reason(N_("unknown status"), N_("unknown status '%(value)s': not among the mapping's "
                                                      "closed %(closed)s or open %(open)s")),
    "closed_without_close_time": Reason(N_("closed without a close time"),
                                        N_("missing: the record is closed but has no close time")),
    "open_with_close_time": Reason(N_("open with a close time"),
                                   N_("the record is open ('%(status)s') but has a close time")),
    "closed_before_opened": Reason(N_("closed before opened"),
                                   N_("closed before opened: closed %(closed)s, opened %(opened)s")),
    "contacted_before_received": Reason(N_("contacted before received"),
                                        N_("contacted before received: contacted %(contacted)s, "
                                           "received %(received)s")),
    "oversize": Reason(N_("oversize text"), N_("oversize: %(length)s characters, more than the limit of "
                                               "%(max)s (limits.max_text)")),
    "not_mapped": Reason(N_("value not mapped"),
                         N_("value '%(value)s' is not mapped and the mapping has no default")),
    "coordinates_missing": Reason(N_("missing coordinates"),
                                  N_("missing coordinates: this source must give a point")),
    "default_point": Reason(N_("the source's default point"),
                            N_("missing coordinates: (%(lat)s, %(lon)s) is the source's default point, "
                               "not a place")),
    "coordinates_not_numbers": Reason(N_("coordinates not numbers"), N_("not numbers: '%(lat)s', '%(lon)s'")),
    "not_a_coordinate": Reason(N_("not a coordinate"), N_("not a coordinate: (%(lat)s, %(lon)s)")),
    "outside_area": Reason(N_("outside the source's area"),
                           N_("(%(lat)s, %(lon)s) is outside the source's area "
                              "[%(south)s, %(west)s]–[%(north)s, %(east)s]")),
    "unknown_district": Reason(N_("unknown district code"),
                               N_("unknown district code '%(value)s': no active unit %(unit)s")),
    "not_a_phone": Reason(N_("not a phone number"), N_("not a phone number: '%(value)s'")),
}


def error(field: str, code: str, **params: Any) -> FieldError:
    """A coded reason; its ``message`` is the English text (the source language)."""
    if code not in REASONS:
        raise KeyError(f"unknown import reason code {code!r}")
    made = FieldError(field, "", code, params)
    return replace(made, message=text(made, "en"))


def text(reason: FieldError | Mapping[str, Any], lang: str) -> str:
    """One reason in ``lang``: a coded one from the catalogue, another as it was written."""
    if isinstance(reason, FieldError):
        code, params, message = reason.code, reason.params or {}, reason.message
    else:
        code, params, message = reason.get("code"), reason.get("params") or {}, str(reason.get("message", ""))
    if code not in REASONS:
        return message
    return gettext(REASONS[str(code)].message, lang, **{k: _plain(v) for k, v in params.items()})


def summary(code: str, lang: str) -> str:
    """The words of ``code`` without parameters (a code not in the table is shown as it is)."""
    return gettext(REASONS[code].summary, lang) if code in REASONS else code


def in_language(errors: list[FieldError], lang: str) -> list[FieldError]:
    """The reasons with their messages in ``lang`` (codes and params unchanged)."""
    return [replace(e, message=text(e, lang)) if e.code in REASONS else e for e in errors]


def _plain(value: Any) -> Any:
    """A list parameter (the formats, the status values) reads as 'a', 'b'."""
    if isinstance(value, (list, tuple)):
        return ", ".join(f"'{v}'" for v in value) or "[]"
    return value


__all__ = ["REASONS", "Reason", "error", "in_language", "summary", "text"]
