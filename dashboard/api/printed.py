"""A printed document as an API answer: the bytes with their file name, or 503 when this server cannot print.

One place for the PDFs (督办单, 提醒函, 每周通报) and the spreadsheet: ``inline`` for what
the browser shows to print, ``attachment`` for what is saved; an ASCII ``filename``
with the Chinese one in ``filename*`` (RFC 6266/5987); never cached by a shared cache.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import quote

from flask import Response

from dashboard import documents
from dashboard.api.errors import ApiError

log = logging.getLogger(__name__)
PDF_MIME = "application/pdf"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = (PDF_MIME, {"type": "string", "format": "binary"})
XLSX = (XLSX_MIME, {"type": "string", "format": "binary"})
# A missing renderer or font is the machine's setup: it will not be back in a second.
DOCUMENTS_RETRY_AFTER = "300"


def send(render: Callable[[], bytes], filename: str, mimetype: str = PDF_MIME, disposition: str = "inline") -> Response:
    try:
        content = render()
    except documents.DocumentsUnavailable as exc:
        log.error("cannot print %s: %s", filename, exc)
        params = {"font": " / ".join(documents.FONTS)} if exc.reason == "font_missing" else {}
        raise ApiError(503, f"document_{exc.reason}", headers={"Retry-After": DOCUMENTS_RETRY_AFTER},
                       **params) from exc
    response = Response(content, mimetype=mimetype)
    extension = filename.rsplit(".", 1)[-1]
    ascii_name = filename.encode("ascii", "ignore").decode().lstrip("-") or f"document.{extension}"
    response.headers["Content-Disposition"] = \
        f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    response.headers["Cache-Control"] = "private, no-store"  # names units and deadlines: no shared caches
    return response
