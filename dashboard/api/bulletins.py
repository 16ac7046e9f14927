"""The weekly bulletin (每周通报, tickets/bulletin.py; its figures: docs/FIGURES.md).

    GET /api/v1/bulletins                       frozen weeks and their versions, newest first (a page)
    GET /api/v1/bulletins/<week>[?version=N]    one bulletin as JSON: week "2026-W48"; the newest
                                                version unless ``version``; the running week's is
                                                computed now, ``provisional: true``
    GET /api/v1/bulletins/<week>.pdf[?version=N]   the same, printable (A4, Chinese, fonts embedded)
    GET /api/v1/bulletins/<week>.xlsx[?version=N]  the same as a spreadsheet, one sheet per table

Any user may read them (kiosks may not). A user who sees the whole city gets the
whole bulletin; a user of a subtree (a branch head) gets their subtree's part: the
rankings, exceptions, hotspots and unit sections of their own units, without the
bureau's totals, topics and channels. A week not begun is 400, a past week whose
bulletin is not made yet (or an unknown version) 404. The PDF and the spreadsheet
(dashboard/documents/bulletin*.py) render the same scoped content; a server that
cannot print the PDF in Chinese answers 503 ``document_*``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import select

from dashboard.api import printed, serializers
from dashboard.api.base import blueprint, platform
from dashboard.api.errors import BadParameter
from dashboard.api.openapi import INT, PAGE, Param, operation, page_of, ref
from dashboard.api.pagination import Key, page
from dashboard.auth import current_actor, require_login
from dashboard.documents import bulletin as bulletin_pdf
from dashboard.documents import bulletin_xlsx
from dashboard.read_models import bulletin as read_bulletin
from tickets import audit, bulletin
from tickets.models import Bulletin, Unit, utcnow
from tickets.roles import ROLES, scope_unit_code
from tickets.uow import unit_of_work

MAX_VERSION = 10_000


@blueprint.get("/bulletins")
@operation("Frozen weekly bulletins (每周通报): every week and version, newest first",
           {200: page_of("BulletinVersion", count=INT)}, params=PAGE, roles=ROLES)
@require_login(ROLES)
def get_bulletins() -> Any:
    with platform().factory() as session:
        body = page(session, select(Bulletin),
                    (Key(Bulletin.week, descending=True), Key(Bulletin.version, descending=True),
                     Key(Bulletin.id, descending=True)), serializers.bulletin_version)
    return jsonify(count=len(body["items"]), **body)


VERSION = Param("version", {"type": "integer", "minimum": 1, "maximum": MAX_VERSION},
                "a frozen version (default: the newest)")
_DOCUMENT_ANSWERS = "The caller's scope as the JSON's. 400: not a week, or a week not begun; 404: a past " \
                    "week not made yet, or an unknown version; 503: this server cannot print (no PDF " \
                    "renderer, or no Chinese font), code document_renderer_missing or document_font_missing."


@blueprint.get("/bulletins/<week>")
@operation("One week's bulletin (the running week's: provisional, computed now), cut to the caller's scope",
           {200: ref("Bulletin")}, roles=ROLES, params=(VERSION,))
@require_login(ROLES)
def get_bulletin(week: str) -> Any:
    actor = current_actor()
    assert actor is not None
    with platform().factory() as session:
        body = read_bulletin.for_caller(session, actor, week, utcnow(), _version())
    return jsonify(body)


@blueprint.get("/bulletins/<week>.pdf")
@operation("One week's bulletin as a printable A4 PDF in Chinese (fonts embedded), cut to the caller's scope",
           {200: printed.PDF}, roles=ROLES, params=(VERSION,), description=_DOCUMENT_ANSWERS)
@require_login(ROLES)
def get_bulletin_pdf(week: str) -> Response:
    content, bureau_name = _document(week)
    answer = printed.send(lambda: bulletin_pdf.pdf(content, bureau_name), bulletin_pdf.filename(content, "pdf"))
    _audit_export(week, "pdf", content)
    return answer


@blueprint.get("/bulletins/<week>.xlsx")
@operation("One week's bulletin as a spreadsheet (.xlsx, one sheet per table), cut to the caller's scope",
           {200: printed.XLSX}, roles=ROLES, params=(VERSION,), description=_DOCUMENT_ANSWERS)
@require_login(ROLES)
def get_bulletin_xlsx(week: str) -> Response:
    content, _ = _document(week)
    render: Callable[[], bytes] = lambda: bulletin_xlsx.xlsx(content)  # noqa: E731
    answer = printed.send(render, bulletin_xlsx.filename(content), printed.XLSX_MIME, "attachment")
    _audit_export(week, "xlsx", content)
    return answer


def _audit_export(week: str, kind: str, content: Mapping[str, Any]) -> None:
    """An exported bulletin is an audit row (tickets.audit): who took which week, version and scope."""
    actor = current_actor()
    assert actor is not None
    with unit_of_work(platform().factory) as uow:
        audit.record(uow, actor.name, "bulletin_export", target=week,
                     details={"format": kind, "version": content.get("version"),
                              "provisional": bool(content.get("provisional")),
                              "scope": scope_unit_code(actor) or "city"})


def _document(week: str) -> tuple[Mapping[str, Any], str]:
    """The scoped content to print, and the bureau's name for the masthead."""
    actor = current_actor()
    assert actor is not None
    with platform().factory() as session:
        content = read_bulletin.for_caller(session, actor, week, utcnow(), _version())
        bureau = session.scalar(select(Unit.name).where(Unit.parent_id.is_(None)).order_by(Unit.code).limit(1))
    return content, bureau or ""


def _version() -> int | None:
    raw = request.args.get("version")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter("version", "not_integer", value=raw, min=1, max=MAX_VERSION) from None
    if not 1 <= value <= MAX_VERSION:
        raise BadParameter("version", "out_of_range", value=value, min=1, max=MAX_VERSION)
    return value
