"""The usual Dash wall, for comparison (issue 18, item 5): what most Dash developers would write.

The wall's counters, its flow chart and its unit table, refreshed by ``dcc.Interval`` every
2 s; each tick runs the figure SQL (``tickets.figures.tally_sql_by_unit``, the same queries the
platform's figures API runs) and an hourly GROUP BY for the flow chart, on the platform's own
database, for whoever is looking. No Redis, no push, no shared state between screens.

    DATABASE_URL=postgresql+psycopg://… gunicorn -k gthread -w 2 --threads 100 \\
        -b 127.0.0.1:8060 'bench.polling_baseline:server'

``bench/side_by_side.py`` starts it that way, beside the platform, on the same database and feed.
"""
from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import plotly.graph_objects as go  # noqa: E402
from dash import Dash, Input, Output, dcc, html  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from tickets.bootstrap import session_factory  # noqa: E402
from tickets.figures import figures, period_bounds, sum_tallies, tally_sql_by_unit  # noqa: E402
from tickets.models import Ticket, Unit  # noqa: E402

TZ = ZoneInfo(os.environ.get("MINSHENG_TIMEZONE", "Asia/Shanghai"))
INTERVAL_MS = int(os.environ.get("POLL_INTERVAL_MS", "2000"))
# The counters the wall shows, by the figures' names (counts).
COUNTERS = ("received", "closed", "breaches_now")

factory = session_factory(os.environ["DATABASE_URL"])
app = Dash(__name__, serve_locally=True, title="Polling wall")
server = app.server

app.layout = html.Div([
    html.H1("民生警务 (polling)"),
    html.Div([html.Div([html.Span(name), html.B(id=f"count-{name}")]) for name in COUNTERS]),
    dcc.Graph(id="flow"),
    html.Table(id="units"),
    dcc.Interval(id="tick", interval=INTERVAL_MS),
])


def _today() -> tuple[datetime, datetime, datetime]:
    now = datetime.now(TZ)
    start, end = period_bounds(now.date(), now.date(), TZ)
    return now, start, end


@app.callback([Output(f"count-{name}", "children") for name in COUNTERS]
              + [Output("flow", "figure"), Output("units", "children")],
              Input("tick", "n_intervals"))
def refresh(_n: int | None) -> list[Any]:
    now, start, end = _today()
    with factory() as session:
        by_unit = tally_sql_by_unit(session, start, end, now, TZ)
        total = figures(sum_tallies(by_unit.values()))
        hour = func.strftime("%H", Ticket.received_at) if session.get_bind().dialect.name == "sqlite" \
            else func.extract("hour", func.timezone(str(TZ), Ticket.received_at))
        flow = session.execute(select(hour, func.count()).where(Ticket.received_at >= start,
                                                                Ticket.received_at < end).group_by(hour)).all()
        names = dict(session.execute(select(Unit.id, Unit.name)).all())
    counts = [total["counts"].get(name, total.get(name)) for name in COUNTERS]
    figure = go.Figure(go.Bar(x=[int(h) for h, _ in flow], y=[n for _, n in flow]))
    figure.update_layout(height=260, margin={"l": 30, "r": 10, "t": 10, "b": 30})
    rows = sorted(((names.get(u, "—"), figures(t)) for u, t in by_unit.items()),
                  key=lambda r: -(r[1]["composite_score"] or 0))
    table = [html.Tr([html.Td(name), html.Td(f["counts"]["received"]),
                      html.Td("—" if f["on_time_rate"] is None else f"{f['on_time_rate']:.1%}")])
             for name, f in rows]
    return [*counts, figure, table]


if __name__ == "__main__":
    app.run(port=int(os.environ.get("PORT", "8060")))
