"""/admin's accounts section: the platform office's writes on real-name accounts.

    POST /api/v1/admin/accounts/users                          create (a generated password, shown once)
    POST /api/v1/admin/accounts/users/<username>/edit          name, 警号, unit, role, phone
    POST /api/v1/admin/accounts/users/<username>/deactivate    its logins end, its tokens are revoked
    POST /api/v1/admin/accounts/users/<username>/reactivate    with a new password (shown once)
    POST /api/v1/admin/accounts/users/<username>/password      a new password (shown once); its logins end
    POST /api/v1/admin/accounts/users/<username>/end-access    its logins end, its tokens are revoked

Each calls one command of ``tickets.accounts`` (role check, change, audit row). The last
active admin is never deactivated or demoted (409 ``last_admin``).
"""
from __future__ import annotations

from typing import Any

from dashboard.api.admin import admin_post, once, said
from dashboard.api.errors import MESSAGES
from dashboard.api.openapi import STR
from dashboard.api.steps import Body
from layouts.i18n import N_
from tickets import accounts
from tickets.roles import ROLES, Actor
from tickets.uow import UnitOfWork

MESSAGES.update({
    "username_invalid": N_("Username '%(username)s': 2 to 64 letters, digits, '.', '_' or '-'"),
    "username_taken": N_("Username '%(username)s' is already taken"),
    "real_name_required": N_("A real name is required (at most 64 characters)"),
    "unknown_role": N_("Unknown role '%(role)s'"),
    "police_number_invalid": N_("Police number '%(police_number)s' must be 6 digits"),
    "police_number_taken": N_("Police number %(police_number)s already belongs to another account"),
    "phone_invalid": N_("'%(phone)s' is not a mobile number (7 to 15 digits)"),
    "unknown_user": N_("No account '%(username)s'"),
    "user_inactive": N_("Account %(username)s is deactivated"),
    "user_active": N_("Account %(username)s is active"),
    "last_admin": N_("%(username)s is the last active admin: make another account an admin first, or nobody "
                     "could run the platform"),
})
PASSWORD_LABEL = N_("The password of %(username)s")
ENDED = N_("%(username)s: %(sessions)s login sessions ended, %(tokens)s tokens revoked")
FIELDS = {
    "real_name": {**STR, "maxLength": 64, "description": "实名"},
    "police_number": {**STR, "maxLength": 16, "description": "警号: six digits"},
    "unit": {**STR, "maxLength": 32, "description": "the unit's code"},
    "role": {**STR, "enum": list(ROLES)},
    "phone": {**STR, "maxLength": 32, "description": "a mobile number for SMS escalations (optional)"},
}


def _fields(body: Body) -> dict[str, Any]:
    return {"real_name": body.required_text("real_name"), "police_number": body.text("police_number"),
            "unit_code": body.required_text("unit"), "role": body.required_text("role"), "phone": body.text("phone")}


def _password(username: str, password: str) -> dict[str, Any]:
    return {"username": username, "once": once(said(PASSWORD_LABEL, username=username), password)}


@admin_post("accounts/users", "Create a real-name account; its first password is generated and shown once",
            {"username": {**STR, "maxLength": 64}, **FIELDS}, ("username", "real_name", "unit", "role"), secret=True)
def create_user(uow: UnitOfWork, actor: Actor, body: Body) -> dict[str, Any]:
    user, password = accounts.admin_create_user(uow, actor, body.required_text("username"), **_fields(body))
    return _password(user.username, password)


@admin_post("accounts/users/<username>/edit", "Change an account's name, 警号, unit, role and phone", FIELDS,
            ("real_name", "unit", "role"), revokes=True)
def edit_user(uow: UnitOfWork, actor: Actor, body: Body, username: str) -> dict[str, Any]:
    f = _fields(body)
    user = accounts.admin_edit_user(uow, actor, username, real_name=f["real_name"], police_number=f["police_number"],
                                    unit_code=f["unit_code"], role=f["role"], phone=f["phone"])
    return {"username": user.username}


def _ended(username: str, ended: tuple[int, int]) -> dict[str, Any]:
    return {"username": username, "sessions_ended": ended[0], "tokens_revoked": ended[1],
            "message": said(ENDED, username=username, sessions=ended[0], tokens=ended[1])}


@admin_post("accounts/users/<username>/deactivate", "Deactivate an account: its logins end, its tokens are revoked",
            {}, revokes=True)
def deactivate_user(uow: UnitOfWork, actor: Actor, body: Body, username: str) -> dict[str, Any]:
    return _ended(username, accounts.admin_deactivate_user(uow, actor, username))


@admin_post("accounts/users/<username>/reactivate", "Let a deactivated account log in again, with a new password "
            "shown once", {}, secret=True)
def reactivate_user(uow: UnitOfWork, actor: Actor, body: Body, username: str) -> dict[str, Any]:
    user, password = accounts.admin_reactivate_user(uow, actor, username)
    return _password(user.username, password)


@admin_post("accounts/users/<username>/password", "Reset a password: a new one, shown once; the account's logins end",
            {}, secret=True, revokes=True)
def reset_password(uow: UnitOfWork, actor: Actor, body: Body, username: str) -> dict[str, Any]:
    return _password(username, accounts.admin_reset_password(uow, actor, username))


@admin_post("accounts/users/<username>/end-access", "End an account's login sessions and revoke its API tokens", {},
            revokes=True)
def end_access(uow: UnitOfWork, actor: Actor, body: Body, username: str) -> dict[str, Any]:
    return _ended(username, accounts.admin_end_access(uow, actor, username))
