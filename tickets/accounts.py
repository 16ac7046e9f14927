"""Real-name accounts (实名账号), their passwords, and API / kiosk tokens.

Passwords are hashed with scrypt (werkzeug's ``scrypt:N:r:p$salt$hash``, a
per-user random salt) and checked in constant time. Tokens are random strings
shown once; only their SHA-256 is stored, so a leaked database leaks no usable
token. A token needs no slow hash: it carries 256 bits of randomness, so there
is nothing to brute-force, and a fast hash lets every request be checked.

Functions flush but do not commit: the caller owns the transaction.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import check_password_hash, generate_password_hash

from tickets import audit
from tickets.administration import require_admin
from tickets.errors import Conflict, Invalid, NotFound
from tickets.models import ApiToken, LoginAttempt, LoginSession, Unit, User, could_be, utcnow
from tickets.roles import ROLES, Actor
from tickets.sms import normalise_phone
from tickets.uow import write_if_free

TokenKind = Literal["api", "kiosk"]
TOKEN_KINDS: frozenset[str] = frozenset({"api", "kiosk"})
MIN_PASSWORD_LENGTH = 8
USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")
POLICE_NUMBER = re.compile(r"^\d{6}$")  # 警号: six digits
# last_used_at is for the admin ("is this token still in use?"), not an audit
# trail: writing it on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
PASSWORD_METHOD = "scrypt"
# Checked against when the username is unknown, so a wrong username takes as
# long as a wrong password and does not reveal which accounts exist.
_DUMMY_HASH = generate_password_hash("not-a-password", method=PASSWORD_METHOD)


class AccountRefused(Invalid):
    """An account's value the rules refuse: a code and its parameters for the API (its message
    in the caller's language), the English sentence for the command line (``str``)."""

    def __init__(self, code: str, text: str, /, **params: Any) -> None:
        super().__init__(code, **params)
        self.args = (text,)


# ------------------------------------------------------------------ passwords
def hash_password(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-time check (werkzeug compares with ``hmac.compare_digest``)."""
    if not password_hash:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return check_password_hash(password_hash, password)


def check_password_strength(password: str) -> None:
    if not password or not password.strip():
        raise ValueError("password must not be empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters (密码至少 {MIN_PASSWORD_LENGTH} 位)")


# ------------------------------------------------------------------- accounts
def create_user(
    session: Session, username: str, real_name: str, police_number: str | None, unit_code: str,
    role: str, password: str, phone: str | None = None, *, by: str = "system",
) -> User:
    """A new real-name account; every problem is a ValueError saying what to fix. ``phone``: a
    mobile number for SMS escalations (``tickets.official_sms``), optional. ``by``: who creates
    it (the audit log's actor)."""
    username = username.strip()
    if not USERNAME.match(username):
        raise AccountRefused("username_invalid", f"username {username!r}: 2-64 letters, digits, '.', '_' or '-'",
                             username=username[:64])
    real_name, police_number, unit, phone = _account_fields(session, real_name, police_number, unit_code, role, phone)
    check_password_strength(password)
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
        raise AccountRefused("username_taken", f"username {username!r} is already taken", username=username)
    user = User(
        username=username, real_name=real_name, police_number=police_number, unit_id=unit.id, unit=unit,
        role=role, password_hash=hash_password(password), active=True, phone=phone,
    )
    session.add(user)
    session.flush()
    audit.record(session, by, "user_create", target=username,
                 details={"role": role, "unit": unit_code, "police_number": police_number})
    return user


def _account_fields(session: Session, real_name: str, police_number: str | None, unit_code: str, role: str,
                    phone: str | None, user: User | None = None) -> tuple[str, str | None, Unit, str | None]:
    """An account's checked values (``user``: the account being edited, whose own 警号 is no clash)."""
    real_name = real_name.strip()
    if not real_name or len(real_name) > 64:
        raise AccountRefused("real_name_required", "real name (实名) is required, at most 64 characters")
    if role not in ROLES:
        raise AccountRefused("unknown_role", f"unknown role {role!r}; known roles: {', '.join(ROLES)}", role=role[:32],
                             known=list(ROLES))
    if police_number is not None:
        police_number = police_number.strip() or None
    if police_number is not None and not POLICE_NUMBER.match(police_number):
        raise AccountRefused("police_number_invalid", f"police number (警号) {police_number!r} must be 6 digits",
                             police_number=police_number[:16])
    phone = valid_phone(phone)
    unit = session.scalar(select(Unit).where(Unit.code == unit_code))
    if unit is None:
        raise AccountRefused("unknown_unit", f"unknown unit code {unit_code!r}; load the bureau's units first",
                             unit=unit_code[:32])
    if not unit.active and (user is None or user.unit_id != unit.id):
        raise AccountRefused("unit_inactive", f"unit {unit_code} ({unit.name}) is not active", unit=unit_code)
    holder = session.scalar(select(User.username).where(User.police_number == police_number)) if police_number else None
    if holder is not None and (user is None or holder != user.username):
        raise AccountRefused("police_number_taken",
                             f"police number (警号) {police_number} already belongs to another account",
                             police_number=police_number)
    return real_name, police_number, unit, phone


def set_phone(session: Session, user: User, phone: str | None, *, by: str) -> None:
    """The mobile number SMS escalations go to (None or '': none)."""
    user.phone = valid_phone(phone)
    session.flush()
    audit.record(session, by, "user_set_phone", target=user.username, details={"phone_set": user.phone is not None})


def deactivate_user(session: Session, user: User, *, by: str, now: datetime | None = None) -> int:
    """Refuse the account's logins and tokens from now on; its login sessions end. Returns the
    number of sessions ended."""
    user.active = False
    ended = end_logins_of(session, user, now)
    session.flush()
    audit.record(session, by, "user_deactivate", target=user.username, details={"sessions_ended": ended})
    return ended


def valid_phone(phone: str | None) -> str | None:
    """A user's mobile number as kept (digits, no +86), None if none; a ValueError if it is not one."""
    if phone is None or not phone.strip():
        return None
    digits = normalise_phone(phone)
    if not 7 <= len(digits) <= 15:
        raise AccountRefused("phone_invalid", f"phone {phone!r}: a mobile number of 7 to 15 digits (e.g. 13905310000)",
                             phone=phone[:32])
    return digits


def find_user(session: Session, username: str) -> User | None:
    name = username.strip().lower()
    if not could_be(name, User.__table__.c.username):  # a NUL: no one's name (PostgreSQL would refuse it)
        return None
    return session.scalar(select(User).where(func.lower(User.username) == name))


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, else None (no hint which was wrong)."""
    user = find_user(session, username) if username else None
    if user is None:
        verify_password(None, password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    return user if user.active else None


# ------------------------------------------------------------- login sessions
@dataclass(frozen=True)
class LoginPolicy:
    """When guessing is stopped: an account with ``max_failures`` failed logins, or an address
    with ``max_failures_per_address``, within ``lockout`` is refused until the window passes."""

    max_failures: int = 5
    max_failures_per_address: int = 20
    lockout: timedelta = timedelta(minutes=15)


def start_login(session: Session, user: User, address: str) -> str:
    """A new login session for ``user``; returns its key (the cookie keeps it, the database
    only its hash), which names the session until :func:`end_login` or deactivation."""
    key = secrets.token_urlsafe(32)
    session.add(LoginSession(key_hash=token_hash(key), user_id=user.id, address=address[:64]))
    session.flush()
    return key


def login_user(session: Session, key_hash: str) -> User | None:
    """The active user of the live login session whose key hashes to ``key_hash``, else None."""
    found = session.scalar(select(LoginSession).where(LoginSession.key_hash == key_hash,
                                                      LoginSession.ended_at.is_(None)))
    if found is None:
        return None
    user = session.get(User, found.user_id)
    return user if user is not None and user.active else None


def end_login(session: Session, key: str, now: datetime | None = None) -> bool:
    """End one login session (logout): its cookie, wherever copied, no longer works."""
    done = session.execute(update(LoginSession).where(LoginSession.key_hash == token_hash(key),
                                                      LoginSession.ended_at.is_(None))
                           .values(ended_at=now or utcnow()))
    return bool(getattr(done, "rowcount", 0))


def end_logins_of(session: Session, user: User, now: datetime | None = None) -> int:
    """End every login session of ``user`` (deactivated, password reset): the number ended."""
    done = session.execute(update(LoginSession).where(LoginSession.user_id == user.id,
                                                      LoginSession.ended_at.is_(None))
                           .values(ended_at=now or utcnow()))
    return int(getattr(done, "rowcount", 0) or 0)


def locked_until(session: Session, username: str, address: str, policy: LoginPolicy,
                 now: datetime | None = None) -> datetime | None:
    """When the account or the address may try again, if either has too many recent failures."""
    now = now or utcnow()
    since = now - policy.lockout
    failed = (LoginAttempt.at >= since) & LoginAttempt.succeeded.is_(False)
    until: datetime | None = None
    for column, value, limit in ((LoginAttempt.username, username.strip().lower()[:64], policy.max_failures),
                                 (LoginAttempt.address, address[:64], policy.max_failures_per_address)):
        recent = session.scalars(select(LoginAttempt.at).where(failed & (column == value))
                                 .order_by(LoginAttempt.at.desc()).limit(limit)).all()
        if len(recent) >= limit:  # locked until the oldest of the last ``limit`` failures leaves the window
            free_at = recent[-1] + policy.lockout
            until = free_at if until is None else max(until, free_at)
    return until


def record_attempt(session: Session, username: str, address: str, reason: str) -> None:
    """Keep a login try: ``reason`` "ok", "wrong_password" or "locked_out" (and its audit row)."""
    name = username.strip().lower()[:64]
    session.add(LoginAttempt(username=name, address=address[:64], succeeded=reason == "ok", reason=reason))
    session.flush()
    action = {"ok": "login", "locked_out": "login_locked_out"}.get(reason, "login_failed")
    audit.record(session, name, action, details={"address": address[:64], "reason": reason})


# --------------------------------------------------------------------- tokens
def token_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def issue_token(session: Session, kind: TokenKind, user: User | None = None, label: str = "",
                unit: Unit | None = None, *, by: str = "system", screen: str | None = None) -> str:
    """A new token; returns the plaintext, which is not stored and cannot be shown again.
    ``unit``: a kiosk token's scope (its subtree: a branch bureau's wall); None: the city.
    ``by``: who issues it (the audit log's actor)."""
    plaintext = f"{kind}_{secrets.token_urlsafe(32)}"
    _store_token(session, plaintext, kind, user, label, unit, by=by, screen=screen)
    return plaintext


def _store_token(session: Session, plaintext: str, kind: str, user: User | None, label: str,
                 unit: Unit | None = None, *, by: str = "system", screen: str | None = None) -> ApiToken:
    if kind not in TOKEN_KINDS:
        raise ValueError(f"unknown token kind {kind!r}; one of {sorted(TOKEN_KINDS)}")
    if kind == "api" and user is None:
        raise ValueError("an API token belongs to a user: give the user")
    if kind == "kiosk" and user is not None:
        # A kiosk is a screen, not a person: it must never act as someone.
        raise ValueError("a kiosk token is read-only and belongs to no user")
    if user is not None and not user.active:
        raise ValueError(f"user {user.username} is not active")
    if len(label) > 100:
        raise ValueError("label: at most 100 characters")
    if unit is not None and kind != "kiosk":
        raise ValueError("only a kiosk token has a unit of its own (an API token acts as its user)")
    token = ApiToken(token_hash=token_hash(plaintext), kind=kind, user=user, label=label,
                     unit_id=unit.id if unit is not None else None, screen=screen)
    session.add(token)
    session.flush()
    audit.record(session, by, "kiosk_create" if kind == "kiosk" else "token_create", target=f"token {token.id}",
                 details={"kind": kind, "user": user.username if user is not None else None, "label": label,
                          "unit": unit.code if unit is not None else None,
                          **({"screen": screen} if screen is not None else {})})
    return token


def use_is_due(token: ApiToken, now: datetime) -> bool:
    """Whether ``last_used_at`` is older than its resolution (worth writing again)."""
    return token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION


def resolve_token(session: Session, plaintext: str, now: datetime | None = None, *,
                  stamp: bool = True) -> ApiToken | None:
    """The live token for ``plaintext``: None if unknown, revoked, or its user is inactive.
    ``stamp``: record its use in this session (False: the caller does, see :func:`record_use`)."""
    if not plaintext:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(plaintext)))
    if token is None or token.revoked_at is not None:
        return None
    if token.kind == "api" and (token.user is None or not token.user.active):
        return None
    now = now or utcnow()
    if stamp and use_is_due(token, now):
        token.last_used_at = now
        session.flush()
    return token


def record_use(factory: sessionmaker[Any], token_id: int, now: datetime) -> bool:
    """Stamp a token's last use if the database can take the write at once; False if not (the
    next use tries again): a request that only reads never waits for a writer for this."""
    return write_if_free(factory, update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


def token_is_live(session: Session, token_id: int) -> bool:
    """For a grant remembered in a browser session: is its token still valid?"""
    token = session.get(ApiToken, token_id)
    if token is None or token.revoked_at is not None:
        return False
    return token.kind == "kiosk" or (token.user is not None and token.user.active)


def revoke_token(session: Session, token_id: int, now: datetime | None = None, *, by: str = "system") -> ApiToken:
    """Revoke a token (idempotent: a revoked token keeps its first revocation time)."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise ValueError(f"no token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        session.flush()
        audit.record(session, by, "token_revoke", target=f"token {token.id}",
                     details={"kind": token.kind, "label": token.label})
    return token


# ---------------------------------------------------------------- demo accounts
@dataclass
class DemoReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # unit not in this database
    kiosk: str = "none"  # created | existing | revoked | none

    def summary(self) -> str:
        return (f"demo accounts: {len(self.created)} created, {len(self.existing)} already there, "
                f"{len(self.skipped)} skipped; demo kiosk token {self.kiosk}")


def read_demo_accounts(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data.get("accounts"), list) or not isinstance(data.get("password"), str):
        raise ValueError(f"{path}: needs `password:` and a list of `accounts:`")
    return data


def load_demo_accounts(session: Session, path: Path) -> DemoReport:
    """Create the demo accounts and kiosk token that are missing; idempotent.

    Existing accounts are left as they are (a changed password stays changed),
    and a revoked demo kiosk token stays revoked: loading the demo again must
    not bring back a token an admin cut off.
    """
    data = read_demo_accounts(path)
    report = DemoReport()
    for entry in data["accounts"]:
        username = entry["username"]
        if find_user(session, username) is not None:
            report.existing.append(username)
            continue
        if session.scalar(select(Unit.id).where(Unit.code == entry["unit"])) is None:
            report.skipped.append(f"{username} (no unit {entry['unit']})")
            continue
        create_user(session, username, entry["real_name"], str(entry.get("police_number") or "") or None,
                    entry["unit"], entry["role"], entry.get("password", data["password"]),
                    phone=str(entry.get("phone") or "") or None)
        report.created.append(username)
    kiosk = data.get("kiosk_token")
    if kiosk:
        token = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(kiosk["token"])))
        if token is None:
            _store_token(session, kiosk["token"], "kiosk", None, kiosk.get("label", "demo wall"))
            report.kiosk = "created"
        else:
            report.kiosk = "revoked" if token.revoked_at is not None else "existing"
    return report


def demo_kiosk_token(path: Path) -> str | None:
    """The demo kiosk token's plaintext from the demo file (it is public by design)."""
    kiosk = read_demo_accounts(path).get("kiosk_token") or {}
    return kiosk.get("token")


# ------------------------------------------------- the platform office's commands (/admin)
# Each takes the acting admin, checks the role (tickets.administration), makes the change and
# writes its audit row in the caller's transaction. A password they make is shown once to the
# admin who asked and stored only as its hash.
GENERATED_PASSWORD_BYTES = 9  # 12 URL-safe characters, 72 bits: a one-time value to pass on


def generated_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def account(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise NotFound("unknown_user", username=username[:64])
    return user


def _active_admins(session: Session) -> list[int]:
    """The active admins' ids, their rows locked (PostgreSQL) so that two admins taking each
    other's rights at once cannot both pass :func:`_keep_an_admin`."""
    return list(session.scalars(select(User.id).where(User.role == "admin", User.active.is_(True))
                                .order_by(User.id).with_for_update()))


def _keep_an_admin(session: Session, user: User, what: str) -> None:
    """Refuse to deactivate or demote the last active admin: nobody could administer the platform."""
    if user.role == "admin" and user.active and _active_admins(session) == [user.id]:
        raise Conflict("last_admin", username=user.username, step=what)


def end_access(session: Session, user: User, now: datetime | None = None) -> tuple[int, int]:
    """End every login session of ``user`` and revoke their API tokens: (sessions, tokens) ended."""
    now = now or utcnow()
    ended = end_logins_of(session, user, now)
    revoked = session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                              .values(revoked_at=now))
    return ended, int(getattr(revoked, "rowcount", 0) or 0)


def admin_create_user(session: Session, actor: Actor, username: str, real_name: str, police_number: str | None,
                      unit_code: str, role: str, phone: str | None = None) -> tuple[User, str]:
    """A new account with a generated first password: (the account, the password, shown once)."""
    require_admin(actor, "user_create")
    password = generated_password()
    return create_user(session, username, real_name, police_number, unit_code, role, password, phone,
                       by=actor.name), password


def admin_edit_user(session: Session, actor: Actor, username: str, *, real_name: str, police_number: str | None,
                    unit_code: str, role: str, phone: str | None) -> User:
    """Change an account's name, 警号, unit, role and phone (None: the phone as it is; the form
    never shows it in full); the last active admin keeps the role."""
    require_admin(actor, "user_edit")
    user = account(session, username)
    if phone is None:
        phone = user.phone
    real_name, police_number, unit, phone = _account_fields(session, real_name, police_number, unit_code, role,
                                                            phone, user)
    if role != user.role:
        _keep_an_admin(session, user, "demote")
    before = {"real_name": user.real_name, "police_number": user.police_number, "unit": user.unit.code,
              "role": user.role, "phone_set": user.phone is not None}
    user.real_name, user.police_number, user.unit_id, user.unit, user.role, user.phone = (
        real_name, police_number, unit.id, unit, role, phone)
    after = {"real_name": real_name, "police_number": police_number, "unit": unit.code, "role": role,
             "phone_set": phone is not None}
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if not changed:
        return user
    ended = (0, 0)
    if "role" in changed or "unit" in changed:  # what they may see changed: their open pages go
        ended = end_access(session, user)
    session.flush()
    audit.record(session, actor.name, "user_edit", target=username,
                 details={"changed": changed, "sessions_ended": ended[0], "tokens_revoked": ended[1]})
    return user


def admin_deactivate_user(session: Session, actor: Actor, username: str) -> tuple[int, int]:
    """Deactivate an account: its login sessions end and its tokens are revoked at once."""
    require_admin(actor, "user_deactivate")
    user = account(session, username)
    if not user.active:
        return 0, 0
    _keep_an_admin(session, user, "deactivate")
    user.active = False
    ended = end_access(session, user)
    session.flush()
    audit.record(session, actor.name, "user_deactivate", target=username,
                 details={"sessions_ended": ended[0], "tokens_revoked": ended[1]})
    return ended


def admin_reactivate_user(session: Session, actor: Actor, username: str) -> tuple[User, str]:
    """Let a deactivated account log in again, with a new password (shown once)."""
    require_admin(actor, "user_reactivate")
    user = account(session, username)
    if user.active:
        raise Conflict("user_active", username=username)
    password = generated_password()
    user.active, user.password_hash = True, hash_password(password)
    session.flush()
    audit.record(session, actor.name, "user_reactivate", target=username)
    return user, password


def admin_reset_password(session: Session, actor: Actor, username: str) -> str:
    """A new generated password (shown once); the account's login sessions end."""
    require_admin(actor, "user_password_reset")
    user = account(session, username)
    if not user.active:
        raise Conflict("user_inactive", username=username)
    password = generated_password()
    user.password_hash = hash_password(password)
    ended = end_logins_of(session, user)
    session.flush()
    audit.record(session, actor.name, "user_password_reset", target=username, details={"sessions_ended": ended})
    return password


def admin_end_access(session: Session, actor: Actor, username: str) -> tuple[int, int]:
    """End an account's login sessions and revoke its API tokens (a lost phone, a shared PC)."""
    require_admin(actor, "user_end_access")
    user = account(session, username)
    ended = end_access(session, user)
    session.flush()
    audit.record(session, actor.name, "user_access_ended", target=username,
                 details={"sessions_ended": ended[0], "tokens_revoked": ended[1]})
    return ended
