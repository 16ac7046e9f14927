"""The screen registry: every screen of the platform, one line each.

A line names the path, the screen's pure layout (``layouts/<screen>.py``),
its callbacks (``callbacks/<screen>.py``: its page data and Dash callbacks)
and who may open it. The router renders from here, the gate
(``dashboard/auth.py``) decides from here who may open a path and which
callbacks a kiosk may fire, and the app factory registers every screen's
callbacks from here. How to add a screen: docs/SCREENS.md.
"""
from __future__ import annotations

from callbacks import admin as admin_callbacks
from callbacks import bulletin as bulletin_callbacks
from callbacks import desk as desk_callbacks
from callbacks import dispatch as dispatch_callbacks
from callbacks import duty as duty_callbacks
from callbacks import home as home_callbacks
from callbacks import map as map_callbacks
from callbacks import ticket as ticket_callbacks
from callbacks import wall as wall_callbacks
from callbacks.screen import Screen, Screens
from layouts import admin, bulletin, desk, dispatch, duty, home, ticket, wall_screens
from layouts import map as map_layout
from layouts.i18n import N_

WORKERS = frozenset({"admin", "dispatcher", "handler", "leader", "supervisor", "viewer"})
# Who keeps watch over the deadlines (and so opens the tickets the watch shows).
WATCH = frozenset({"admin", "duty_officer", "leader", "supervisor"})

SCREENS = Screens((
    Screen("/", home.layout, home_callbacks),
    Screen("/desk", desk.layout, desk_callbacks, roles=WORKERS, title=N_("Work desk")),
    Screen("/dispatch", dispatch.layout, dispatch_callbacks, roles=frozenset({"admin", "dispatcher"}),
           title=N_("Dispatch desk")),
    Screen("/duty", duty.layout, duty_callbacks, roles=WATCH, title=N_("Duty console")),
    Screen("/ticket", ticket.layout, ticket_callbacks, roles=WORKERS | WATCH, items=True),
    Screen("/bulletin", bulletin.layout, bulletin_callbacks, roles=WORKERS | WATCH, title=N_("Weekly bulletin")),
    Screen("/wall", wall_screens.layout, wall_callbacks, kiosk=True, title=N_("Command centre wall")),
    # A wall too: the command centre puts the full-screen map on a screen of its own.
    Screen("/map", map_layout.layout, map_callbacks, kiosk=True, title=N_("Heat map")),
    Screen("/admin", admin.layout, admin_callbacks, roles=frozenset({"admin", "supervisor"}), items=True,
           title=N_("Platform office")),
))

