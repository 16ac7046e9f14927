"""平台管理 (/admin): the shell's data, each section's from ``callbacks/admin_<section>.py``.

A section's module may define ``page_data(ctx, lang, query) -> dict`` (its layout's data),
``summary(ctx) -> dict`` (the counts its index card says) and ``register(app, ctx)`` (its own
Dash callbacks). After a write the page's script bumps ``admin-refresh`` and the section is
rendered again from the database (:func:`register`).
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs

from dash import Dash, Input, Output, State
from dash.development.base_component import Component

from callbacks.screen import ScreenContext, who
from layouts import admin as layout
from layouts.i18n import normalise

# Who may change what /admin shows; everyone else the screen admits (supervisors) reads it.
WRITERS = frozenset({"admin"})


def section_module(name: str) -> ModuleType | None:
    """``callbacks/admin_<name>.py`` of a section in ``layouts.admin.SECTIONS``."""
    if name not in layout.SECTIONS:
        return None
    return importlib.import_module(f"callbacks.admin_{name}")


def writable(ctx: ScreenContext) -> bool:
    actor = ctx.actor()
    return actor is not None and actor.role in WRITERS


def section_data(ctx: ScreenContext, lang: str, name: str, query: Mapping[str, str]) -> dict[str, Any] | None:
    module = section_module(name)
    page_data = getattr(module, "page_data", None)
    return page_data(ctx, lang, query) if page_data is not None else None


def summaries(ctx: ScreenContext) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name in layout.SECTIONS:
        summary = getattr(section_module(name), "summary", None)
        if summary is not None:
            found[name] = summary(ctx)
    return found


def page_data(ctx: ScreenContext, lang: str, query: Mapping[str, str]) -> dict[str, Any]:
    item = query.get("item", "")
    data: dict[str, Any] = {"nav_items": ctx.nav(), "who": who(ctx.actor(), lang), "writable": writable(ctx)}
    if item:
        data["section"] = section_data(ctx, lang, item, query)
    else:
        data["summaries"] = summaries(ctx)
    return data


def register(app: Dash, ctx: ScreenContext) -> None:
    def rerender(_refresh: Any, pathname: str | None, search: str | None) -> Component:
        query = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
        lang = normalise(query.pop("lang", None))
        item = (pathname or "").rstrip("/").removeprefix("/admin").lstrip("/")
        if not ctx.may_view("/admin"):  # a callback can name any path: the gate checked only the page's
            return layout.body(lang, "", None, False)
        if not item:
            return layout.index(lang, summaries(ctx))
        return layout.body(lang, item, section_data(ctx, lang, item, query), writable(ctx))

    app.callback(Output("admin-section", "children"), Input("admin-refresh", "data"),
                 State("url", "pathname"), State("url", "search"), prevent_initial_call=True)(rerender)
    for name in layout.SECTIONS:
        module = section_module(name)
        if module is not None and hasattr(module, "register"):
            module.register(app, ctx)
