"""Screen and message text: one catalogue, Chinese first.

Every sentence a screen, a Flask page or a message shows is written in the
code as its English source text (the msgid) and looked up with
:func:`gettext`; :func:`N_` marks one for the catalogue where it sits in a
table and is translated later. The Chinese lives in
``layouts/translations/zh_CN/LC_MESSAGES/messages.po`` (Babel's gettext
format). zh-CN is the default language; English is the source language, so
it is complete by construction.

The ``.po`` is compiled in memory on first use (Babel), so a fresh clone
runs without a build step and catalogue merges stay textual. Update it with
``make catalogue`` (extract → update); ``tests/unit/test_screen_shape.py`` fails on
an untranslated, fuzzy or missing entry.

Domain labels (channels, topics, statuses) are the domain's own words and
stay in ``tickets.vocabulary`` (Chinese with ``_EN`` twins): the intake reads
those Chinese words back (咨询 → ``consultation``), so they are data, not
screen text. :func:`labels` hands them to screens in one language.
"""
from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from tickets.vocabulary import (
    CHANNELS,
    CHANNELS_EN,
    CHANNELS_SHORT,
    CHANNELS_SHORT_EN,
    KINDS,
    KINDS_EN,
    ROLES,
    ROLES_EN,
    STATUSES,
    STATUSES_EN,
    TOPICS,
    TOPICS_EN,
    TOPICS_SHORT_EN,
)

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
SOURCE_LANGUAGE = "en"  # the msgids' language
CATALOGUE_DIR = Path(__file__).resolve().parent / "translations"
DOMAIN = "messages"
# The page language (an HTML lang attribute, ?lang=) → Babel's locale name.
LOCALES = {"zh-CN": "zh_CN", "en": "en"}


def normalise(lang: str | None) -> str:
    """``?lang=`` as given (``en``, ``en-US``, ``zh``, nothing …) → one of :data:`LANGUAGES`."""
    return "en" if (lang or "").lower().replace("_", "-").startswith("en") else DEFAULT_LANGUAGE


def other_language(lang: str) -> str:
    """The language a screen's switch link offers."""
    return "en" if normalise(lang) == DEFAULT_LANGUAGE else DEFAULT_LANGUAGE


# Each language by its own name (never translated: the switch is read by someone who wants it).
LANGUAGE_NAMES = {"zh-CN": "中文", "en": "English"}


def switch_label(lang: str) -> str:
    """The language switch's label on a page in ``lang``: the other language's own name."""
    return LANGUAGE_NAMES[other_language(lang)]


def catalogue_path(lang: str) -> Path:
    return CATALOGUE_DIR / LOCALES[normalise(lang)] / "LC_MESSAGES" / f"{DOMAIN}.po"


def translations(lang: str) -> NullTranslations:
    """The compiled catalogue of ``lang`` (the source language needs none)."""
    return _compiled(normalise(lang))


@lru_cache(maxsize=len(LANGUAGES))
def _compiled(lang: str) -> NullTranslations:
    if lang == SOURCE_LANGUAGE:
        return NullTranslations()
    with catalogue_path(lang).open("rb") as po:
        catalog = read_po(po, locale=LOCALES[lang], domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)  # a fuzzy entry is a guess: never shown
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue without translating it (a table of messages)."""
    return message


def gettext(message: str, lang: str, **params: object) -> str:
    """``message`` (an English msgid) in ``lang``, with ``%(name)s`` params filled in.

    The one interface for translated text: layouts, Flask pages, API errors.
    A message missing from the catalogue shows in English (and fails the
    catalogue test)."""
    text = translations(lang).gettext(message)
    return text % params if params else text


# What the domain's warning codes say; a warning's other keys are the params.
WARNINGS: dict[str, str] = {
    "calendar_year_unknown": N_("%(year)s: official calendar not loaded; assuming Monday–Friday"),
}
# The same warnings told to an admin (the duty console), with what to do about them.
ADMIN_WARNINGS: dict[str, str] = {
    "calendar_year_unknown": N_(
        "The official holiday schedule for %(year)s (the State Council's notice) is not loaded, so deadlines"
        " in %(year)s count Monday to Friday as working days. Enter the notice's holidays and make-up working"
        " days on the platform office's working calendar page (/admin/calendar), or load a file like"
        " examples/calendar_2027.yaml: python app.py calendar load FILE"),
}


def warning_text(warning: Mapping[str, Any], lang: str, told: Mapping[str, str] = WARNINGS) -> str:
    """A domain warning in ``lang``, as ``told`` says it (:data:`WARNINGS`, or :data:`ADMIN_WARNINGS`)."""
    params = {k: v for k, v in warning.items() if k != "code"}
    return gettext(told[str(warning["code"])], lang, **params)


def texts(messages: dict[str, str], lang: str) -> dict[str, str]:
    """A page script's words: ``{key: msgid}`` → ``{key: text in lang}``."""
    return {key: gettext(message, lang) for key, message in messages.items()}


def labels(lang: str) -> dict[str, dict[str, str]]:
    """Domain labels in ``lang``: for layouts, Flask pages and screens' scripts."""
    en = normalise(lang) == "en"
    return {
        "channels": CHANNELS_EN if en else CHANNELS,
        "topics": TOPICS_EN if en else TOPICS,
        # For narrow columns (the ticker): the full label where there is no short one.
        "channels_short": {**CHANNELS_EN, **CHANNELS_SHORT_EN} if en else {**CHANNELS, **CHANNELS_SHORT},
        "topics_short": {**TOPICS_EN, **TOPICS_SHORT_EN} if en else TOPICS,
        "kinds": KINDS_EN if en else KINDS,
        "statuses": STATUSES_EN if en else STATUSES,
        "roles": ROLES_EN if en else ROLES,
    }



def percent(value: float | None, empty: str = "–") -> str:
    """A rate (0–1) as a percentage to one decimal, ``87.5%``: rounded half up from the rate's
    exact binary value, as the grids' ``d3.format('.1%')`` (JavaScript's ``toFixed``) rounds it,
    so a rate reads the same on a screen, in a PDF and in a spreadsheet (Python's own
    formatting rounds an exact tie to even: 12.25 would be 12.2% here and 12.3% in a grid)."""
    if value is None:
        return empty
    return f"{Decimal(value * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"
