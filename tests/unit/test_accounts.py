"""Real-name accounts: password hashing, validation, login, tokens, demo accounts."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import ROOT
from tickets import accounts
from tickets.models import ApiToken, User, utcnow
from tickets.roles import ROLES, actor_for
from tickets.uow import unit_of_work

DEMO = ROOT / "examples" / "demo_accounts.yaml"
PASSWORD = "correct-horse-9"


def officer(s: Session, username: str = "chenzq", role: str = "handler", unit: str = "JN-TQ-01",
            police_number: str | None = "103871", password: str = PASSWORD) -> User:
    return accounts.create_user(s, username, "陈志强", police_number, unit, role, password)


# ------------------------------------------------------------------ hashing
def test_password_hash_is_salted_scrypt_and_verifies() -> None:
    first, second = accounts.hash_password(PASSWORD), accounts.hash_password(PASSWORD)
    assert PASSWORD not in first
    assert first.startswith("scrypt:")
    assert first != second, "each hash has its own salt"
    assert accounts.verify_password(first, PASSWORD)
    assert not accounts.verify_password(first, PASSWORD + "x")
    assert not accounts.verify_password(None, PASSWORD)


def test_created_user_stores_only_the_hash(jinan_db: sessionmaker[Session]) -> None:
    with unit_of_work(jinan_db) as s:
        user = officer(s)
        assert user.unit.code == "JN-TQ-01" and user.role == "handler" and user.active
    with jinan_db() as s:
        stored = s.scalar(select(User.password_hash).where(User.username == "chenzq"))
        assert stored and PASSWORD not in stored and accounts.verify_password(stored, PASSWORD)


# --------------------------------------------------------------- validation
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"role": "chief"}, "unknown role 'chief'"),
    ({"unit": "JN-XX-99"}, "unknown unit code 'JN-XX-99'"),
    ({"password": "short7!"}, "at least 8 characters"),
    ({"password": "        "}, "must not be empty"),
    ({"police_number": "12AB56"}, "must be 6 digits"),
    ({"username": "a b"}, "username"),
])
def test_create_user_refuses_with_a_clear_reason(jinan_db: sessionmaker[Session], kwargs: dict[str, str],
                                                  message: str) -> None:
    with jinan_db() as s, pytest.raises(ValueError, match=message):
        officer(s, **kwargs)


def test_duplicate_username_and_police_number_are_refused(jinan_db: sessionmaker[Session]) -> None:
    with unit_of_work(jinan_db) as s:
        officer(s)
    with jinan_db() as s:
        with pytest.raises(ValueError, match="already taken"):
            officer(s, username="ChenZQ", police_number="100001")  # usernames ignore case
        with pytest.raises(ValueError, match="already belongs"):
            officer(s, username="other", police_number="103871")


# ------------------------------------------------------------ authenticate
def test_authenticate_right_wrong_unknown_and_inactive(jinan_db: sessionmaker[Session]) -> None:
    with unit_of_work(jinan_db) as s:
        officer(s)
    with jinan_db() as s:
        assert accounts.authenticate(s, "chenzq", PASSWORD) is not None
        assert accounts.authenticate(s, "chenzq", PASSWORD + "!") is None
        assert accounts.authenticate(s, "nobody", PASSWORD) is None
    with unit_of_work(jinan_db) as s:
        s.scalar(select(User).where(User.username == "chenzq")).active = False
    with jinan_db() as s:
        assert accounts.authenticate(s, "chenzq", PASSWORD) is None, "an inactive account must not log in"


# ------------------------------------------------------------------- tokens
def test_token_is_stored_as_sha256_only_and_resolves(jinan_db: sessionmaker[Session]) -> None:
    with unit_of_work(jinan_db) as s:
        plaintext = accounts.issue_token(s, "api", user=officer(s), label="script")
    with jinan_db() as s:
        row = s.scalar(select(ApiToken))
        assert row.token_hash == accounts.token_hash(plaintext) and len(row.token_hash) == 64
        assert plaintext not in (row.token_hash, row.label)
    with unit_of_work(jinan_db) as s:
        token = accounts.resolve_token(s, plaintext)
        assert token is not None and token.user.username == "chenzq" and token.kind == "api"
        assert accounts.resolve_token(s, plaintext + "x") is None
        assert accounts.resolve_token(s, "") is None


def test_last_used_is_written_at_most_once_a_minute(jinan_db: sessionmaker[Session]) -> None:
    with unit_of_work(jinan_db) as s:
        plaintext = accounts.issue_token(s, "kiosk", label="wall")
    start = utcnow()
    with unit_of_work(jinan_db) as s:
        assert accounts.resolve_token(s, plaintext, now=start).last_used_at == start
        assert accounts.resolve_token(s, plaintext, now=start + timedelta(seconds=50)).last_used_at == start
        later = start + timedelta(seconds=61)
        assert accounts.resolve_token(s, plaintext, now=later).last_used_at == later


def test_revoked_token_and_inactive_owner_resolve_to_nothing(jinan_db: sessionmaker[Session]) -> None:
    with unit_of_work(jinan_db) as s:
        user = officer(s)
        api = accounts.issue_token(s, "api", user=user)
        kiosk = accounts.issue_token(s, "kiosk")
        kiosk_id = accounts.resolve_token(s, kiosk).id
    with unit_of_work(jinan_db) as s:
        first = accounts.revoke_token(s, kiosk_id).revoked_at
        assert accounts.revoke_token(s, kiosk_id).revoked_at == first, "revoking twice keeps the first time"
        assert accounts.resolve_token(s, kiosk) is None
        assert not accounts.token_is_live(s, kiosk_id)
        s.scalar(select(User)).active = False
    with jinan_db() as s:
        assert accounts.resolve_token(s, api) is None
        with pytest.raises(ValueError, match="no token"):
            accounts.revoke_token(s, 9999)


def test_token_kinds_are_checked(jinan_db: sessionmaker[Session]) -> None:
    with jinan_db() as s:
        user = officer(s)
        with pytest.raises(ValueError, match="belongs to a user"):
            accounts.issue_token(s, "api")
        with pytest.raises(ValueError, match="belongs to no user"):
            accounts.issue_token(s, "kiosk", user=user)
        with pytest.raises(ValueError, match="unknown token kind"):
            accounts.issue_token(s, "root", user=user)  # type: ignore[arg-type]


# ------------------------------------------------------------- demo accounts
def test_demo_accounts_one_per_role_idempotent_and_revocation_sticks(jinan_db: sessionmaker[Session]) -> None:
    with unit_of_work(jinan_db) as s:
        report = accounts.load_demo_accounts(s, DEMO)
    assert len(report.created) == len(ROLES) and report.kiosk == "created" and not report.skipped
    password = accounts.read_demo_accounts(DEMO)["password"]
    with jinan_db() as s:
        users = s.scalars(select(User)).all()
        assert sorted(u.role for u in users) == sorted(ROLES)
        assert all(u.police_number and len(u.police_number) == 6 for u in users)
        handler = accounts.authenticate(s, "handler", password)
        assert handler is not None and handler.unit.name == "泺口派出所"
        assert accounts.authenticate(s, "admin", password).unit.code == "JN-PTB"
    with unit_of_work(jinan_db) as s:
        kiosk = accounts.resolve_token(s, accounts.demo_kiosk_token(DEMO) or "")
        assert kiosk is not None and kiosk.kind == "kiosk" and kiosk.user is None
        accounts.revoke_token(s, kiosk.id)
    with unit_of_work(jinan_db) as s:
        again = accounts.load_demo_accounts(s, DEMO)
    assert again.created == [] and len(again.existing) == len(ROLES)
    assert again.kiosk == "revoked", "loading the demo again must not revive a revoked kiosk token"
    with jinan_db() as s:
        assert s.scalar(select(ApiToken.id).where(ApiToken.revoked_at.is_(None))) is None


def test_demo_scopes_platform_office_sees_the_city_station_its_own_unit(jinan_db: sessionmaker[Session]) -> None:
    with unit_of_work(jinan_db) as s:
        accounts.load_demo_accounts(s, DEMO)
    with jinan_db() as s:
        scope = {u.username: actor_for(s, u).visible_unit_ids for u in s.scalars(select(User))}
    assert scope["admin"] is None and scope["dispatcher"] is None and scope["leader"] is None
    assert scope["supervisor"] is None, "督察支队 looks into every unit's tickets"
    assert scope["handler"] is not None and len(scope["handler"]) == 1
    assert scope["viewer"] is not None and len(scope["viewer"]) > 1  # 历下分局 and its stations
