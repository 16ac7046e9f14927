"""每周通报 as a spreadsheet (XlsxWriter): the PDF's tables (``bulletin.sections``), one sheet each.

- Sheet names are the tables' Chinese titles made valid for Excel: at most 31
  characters, none of ``[]:*?/\\``, unique (a number appended); the stations'
  tables of every branch go into one sheet with a branch column.
- Numbers are numbers: counts as integers, rates as fractions shown ``0.0%``, a
  rate's change in points as a fraction shown ``+0.0%``, an interval as two
  numeric columns (low, high); a missing value is an empty cell.
- The header row is frozen; column widths fit their longest text, a wide
  (CJK) character counted as two.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from io import BytesIO
from typing import Any

import xlsxwriter

from dashboard.documents import bulletin
from dashboard.documents.bulletin import Column, Table, cell, sections, text, words

MAX_SHEET = 31
BAD_SHEET = re.compile(r"[\[\]:*?/\\]")
MAX_WIDTH = 60
MARKS = {"top": "#FDE7E7", "bottom": "#E2E2E2"}  # 红榜 (and what rose), 黑榜 (and what is to rectify)
FORMATS = {"rate": "0.0%", "pp": "+0.0%;-0.0%;0.0%", "change": "+0;-0;0", "hours": "0.0", "int": "0"}


def display_width(value: str) -> int:
    """Columns a text takes: East Asian wide and full-width characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in value)


def sheet_name(title: str, taken: set[str]) -> str:
    """``title`` as a valid, unique Excel sheet name (compared case-insensitively, as Excel does)."""
    base = BAD_SHEET.sub("_", title).strip("'").strip() or "Sheet"
    name = base[:MAX_SHEET]
    n = 1
    while name.lower() in taken:
        n += 1
        suffix = f"({n})"
        name = base[:MAX_SHEET - len(suffix)] + suffix
    taken.add(name.lower())
    return name


def _merged(tables: list[Table]) -> list[Table]:
    """Tables sharing a sheet name (the stations of each branch) as one."""
    out: dict[str, Table] = {}
    for table in tables:
        key = table.sheet or table.title
        if key in out:
            out[key].rows.extend(table.rows)
            out[key].classes.extend(table.classes)
        else:
            out[key] = Table(table.key, key, table.columns, list(table.rows), list(table.classes), table.note)
    return list(out.values())


def _headers(columns: list[Column], w: Mapping[str, str]) -> list[tuple[str, str]]:
    """(header, kind) of each spreadsheet column: an interval becomes low and high."""
    out = []
    for column in columns:
        if column.kind == "interval":
            out += [(f"{column.label}·{w['c_low']}", "rate"), (f"{column.label}·{w['c_high']}", "rate")]
        else:
            out.append((column.label, column.kind))
    return out


def _values(row: list[Any], columns: list[Column]) -> list[tuple[Any, str]]:
    out: list[tuple[Any, str]] = []
    for raw, column in zip(row, columns):
        value, kind = cell(raw, column)
        if kind == "interval":
            low, high = value if value is not None else (None, None)
            out += [(low, "rate"), (high, "rate")]
        else:
            out.append((value, kind))
    return out


def xlsx(content: Mapping[str, Any]) -> bytes:
    """The bulletin as an .xlsx workbook's bytes."""
    w = words()
    out = BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                     "strings_to_urls": False})
    book.set_properties({"title": f"{w['kind']} {content['week']}", "author": w["issuer"]})
    header = book.add_format({"bold": True, "bg_color": "#E9E9E9", "border": 1, "text_wrap": True, "valign": "top"})
    formats = {kind: book.add_format({"num_format": f}) for kind, f in FORMATS.items()}
    marks = {css: book.add_format({"bg_color": colour}) for css, colour in MARKS.items()}
    marked = {(css, kind): book.add_format({"num_format": f, "bg_color": colour})
              for css, colour in MARKS.items() for kind, f in FORMATS.items()}
    taken: set[str] = set()
    for section in sections(content, w, images=False):
        for table in _merged(section.tables):
            sheet = book.add_worksheet(sheet_name(table.title, taken))
            heads = _headers(table.columns, w)
            widths = [display_width(h) for h, _ in heads]
            for col, (label, _kind) in enumerate(heads):
                sheet.write_string(0, col, label, header)
            for r, (row, css) in enumerate(zip(table.rows, table.classes), start=1):
                mark = css.split()[0] if css.split() and css.split()[0] in marks else ""
                for col, (value, kind) in enumerate(_values(row, table.columns)):
                    style = (marked[(mark, kind)] if mark else formats[kind]) if kind in FORMATS \
                        else (marks[mark] if mark else None)
                    if value is None:
                        sheet.write_blank(r, col, None, style)
                    elif kind in FORMATS and isinstance(value, (int, float)) and not isinstance(value, bool):
                        sheet.write_number(r, col, value, style)
                    else:
                        value = str(value)
                        sheet.write_string(r, col, value, style)
                    shown = text(value, kind) if kind in FORMATS else str(value)
                    widths[col] = max(widths[col], display_width(shown))
            for col, width in enumerate(widths):
                sheet.set_column(col, col, min(MAX_WIDTH, width + 2))
            sheet.freeze_panes(1, 0)
            if table.note:
                sheet.write_string(len(table.rows) + 2, 0, table.note)
    book.close()
    return out.getvalue()


def filename(content: Mapping[str, Any]) -> str:
    return bulletin.filename(content, "xlsx")
