"""The duty console's rows (值班台), for its first load and for what a push names.

    GET /api/v1/duty[?numbers=MS…,MS…]

One row per clock of an open ticket that is amber or breached, in the caller's scope
(``dashboard/read_models/duty.py``). The live position (epoch, seq) is read before the
rows, as for the work queues: the console applies the pushes after it.
"""
from __future__ import annotations

from typing import Any

from flask import jsonify

from dashboard.api.base import blueprint
from dashboard.api.base import platform as _platform
from dashboard.api.openapi import INT, STR, Param, obj, operation, ref
from dashboard.api.params import numbers as ticket_numbers
from dashboard.auth import current_actor, require_login
from dashboard.read_models import duty
from tickets.models import utcnow
from tickets.roles import STEP_ROLES

ROLES = STEP_ROLES["acknowledge_breach"]


@blueprint.get("/duty")
@operation("The duty console: every amber or breached clock of an open ticket in the caller's scope, most late first",
           {200: obj({"epoch": {"type": ["string", "null"]}, "seq": INT,
                      "rows": {"type": "array", "items": ref("DutyRow")}}, required=("seq", "rows"))},
           roles=ROLES, params=(Param("numbers", STR, "comma-separated ticket numbers: their rows only"),),
           description="A ticket named in ``numbers`` whose clocks are all fine has no row: the console removes it.")
@require_login(ROLES)
def duty_rows() -> Any:
    actor = current_actor()
    assert actor is not None
    p = _platform()
    position = p.aggregator.position()  # first: every event after it reaches the console by push
    numbers = ticket_numbers()
    with p.factory() as session:
        rows = duty.rows(session, actor, utcnow(), numbers=numbers)
    return jsonify({**position, "rows": rows})


@blueprint.get("/duty/predicted")
@operation("Predicted breaches: open tickets, not yet amber, likely to miss their resolve deadline, likeliest first",
           {200: obj({"items": {"type": "array", "items": ref("PredictedBreach")}}, required=("items",))},
           roles=ROLES, description="Learnt from each unit's pace over the last weeks (docs/PREDICTION.md); "
                                    "recomputed at most once a minute.")
@require_login(ROLES)
def predicted_breaches() -> Any:
    actor = current_actor()
    assert actor is not None
    with _platform().factory() as session:
        items = duty.predicted(session, actor, utcnow(), session.config.tz, session.config.prediction)
    return jsonify({"items": items})
