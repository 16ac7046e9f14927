"""The pieces /admin's sections build their forms from (``layouts/admin.py``): a form or a
button the page's script (``assets/admin.js``) posts as JSON to ``/api/v1/admin/<section>/…``."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from dash import dcc, html
from dash.development.base_component import Component

InputKind = Literal["text", "number", "password", "tel", "url", "hidden"]


def form(url: str, fields: Sequence[Component], submit: str, *, confirm: str | None = None,
         className: str = "") -> html.Form:
    """A form the script posts as JSON to ``url`` (its named inputs; empty ones left out).
    ``confirm``: a question asked first."""
    attrs: dict[str, Any] = {"data-admin-post": url, **({"data-confirm": confirm} if confirm else {})}
    return html.Form([*fields, html.Button(submit, type="submit", className="step step-primary admin-submit")],
                     className=f"admin-form {className}".strip(), **attrs)


def field(label: str, control: Component, className: str = "") -> html.Label:
    return html.Label([html.Span(label, className="admin-label"), control],
                      className=f"admin-field {className}".strip())


def text_input(name: str, value: str = "", *, required: bool = False, kind: InputKind = "text", placeholder: str = "",
               maxlength: int | None = None, pattern: str | None = None) -> dcc.Input:
    extra: dict[str, Any] = {}
    if maxlength is not None:
        extra["maxLength"] = maxlength
    if pattern is not None:
        extra["pattern"] = pattern
    return dcc.Input(name=name, value=value, type=kind, required=required, placeholder=placeholder,
                     className="admin-input", debounce=True, **extra)


def select(name: str, options: Sequence[tuple[str, str]], value: str | None = None) -> html.Select:
    """``options``: (value, label)."""
    return html.Select([html.Option(label, value=v, selected=v == value) for v, label in options], name=name,
                       className="admin-input")


def action(url: str, label: str, *, body: Mapping[str, Any] | None = None, confirm: str | None = None,
           className: str = "") -> html.Button:
    """A button the script posts (``body`` as JSON) to ``url``."""
    attrs: dict[str, Any] = {"data-admin-post": url, "data-body": json.dumps(dict(body or {}), ensure_ascii=False),
             **({"data-confirm": confirm} if confirm else {})}
    return html.Button(label, type="button", className=f"step admin-action {className}".strip(), **attrs)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], className: str = "") -> html.Table:
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in header])),
                       html.Tbody([html.Tr([html.Td(c) for c in r]) for r in rows])],
                      className=f"admin-table {className}".strip())
