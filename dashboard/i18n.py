"""The request's language, for Flask pages (Flask-Babel on the screens' catalogue).

A page's language is ``?lang=`` (zh-CN unless it asks for English), as on
the Dash screens. Flask-Babel is set up on the same catalogue as
``layouts.i18n`` (its lookups answer from the same compiled ``.po``), the
bureau's time zone as its default; Flask views say their text with
``layouts.i18n.gettext(message, request_lang())``.
"""
from __future__ import annotations

from babel.support import NullTranslations
from flask import Flask, has_request_context, request
from flask_babel import Babel, Domain, get_locale
from werkzeug.utils import cached_property

from layouts import i18n


def request_lang() -> str:
    """The language this request asked for (``?lang=``); zh-CN outside a request."""
    return i18n.normalise(request.args.get("lang") if has_request_context() else None)


class _CatalogueDomain(Domain):
    def get_translations(self) -> NullTranslations:
        locale = get_locale()
        lang = next((k for k, v in i18n.LOCALES.items() if v == str(locale)), i18n.DEFAULT_LANGUAGE)
        return i18n.translations(lang)


class _Babel(Babel):
    @cached_property
    def domain_instance(self) -> Domain:
        return _CatalogueDomain()


def init_app(server: Flask, timezone: str) -> None:
    _Babel(server, locale_selector=lambda: i18n.LOCALES[request_lang()],
           default_locale=i18n.LOCALES[i18n.DEFAULT_LANGUAGE], default_timezone=timezone,
           default_translation_directories=str(i18n.CATALOGUE_DIR))
