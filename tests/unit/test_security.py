"""The role matrix, login and tokens, and the settings that refuse an unsafe production start."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pydantic
import pytest

from adapters.outbound.ratelimit import LimitsRateLimiter
from adapters.outbound.security import Argon2Hasher, JwtTokenService, StaticUserDirectory
from application.ports.security import InvalidToken, Principal, UserAccount
from application.security import (
    LOGIN_CLIENT,
    LOGIN_FAILURES,
    ROLE_MATRIX,
    Authenticate,
    AuthenticationFailed,
    Forbidden,
    Logout,
    Permission,
    TooManyAttempts,
    VerifyToken,
    authorize,
    credential_of,
)
from bootstrap.settings import DEFAULT_JWT_SECRET, Environment, Settings
from domain.roles import Role

SECRET = "unit-test-secret-of-at-least-32-characters!"
ANOTHER_SECRET = "another-secret-of-at-least-32-characters!!"
STRONG_SECRET = "s" * 32

# --- the role matrix, as the brief states it -----------------------------------------------------

Q, P, L, A, ADM = Role.QUALITY, Role.PROCUREMENT, Role.LOGISTICS, Role.AUDITOR, Role.ADMIN
BRIEF_MATRIX: dict[Permission, set[Role]] = {
    Permission.READ: {Q, P, L, A, ADM},
    Permission.WRITE_SUPPLIERS: {P, ADM},
    Permission.WRITE_NCS: {Q, ADM},
    Permission.WRITE_ORDERS: {L, ADM},
    Permission.WRITE_INVENTORIES: {L, ADM},
    Permission.READ_KPI: {A, Q, ADM},
    Permission.READ_AUDIT: {A, ADM},
    Permission.REPLAY_EVENTS: {ADM},  # "replayable by an admin"
}
CASES = [(permission, role) for permission in BRIEF_MATRIX for role in Role]


@pytest.mark.parametrize("permission, role", CASES, ids=[f"{p.value}-{r.value}" for p, r in CASES])
def test_authorize_follows_the_role_matrix_of_the_brief(permission, role):
    principal = Principal("someone", role)
    if role in BRIEF_MATRIX[permission]:
        authorize(principal, permission)
    else:
        with pytest.raises(Forbidden):
            authorize(principal, permission)


def test_every_permission_has_a_row_in_the_matrix():
    assert set(ROLE_MATRIX) == set(Permission)


# --- login and tokens ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hasher() -> Argon2Hasher:
    return Argon2Hasher()


ALICE_HASH: dict[str, str] = {}


@pytest.fixture
def alice(hasher) -> UserAccount:
    if "hash" not in ALICE_HASH:
        ALICE_HASH["hash"] = hasher.hash("correct horse")
    return UserAccount("alice", ALICE_HASH["hash"], Role.QUALITY)


@pytest.fixture
def directory(alice) -> StaticUserDirectory:
    return StaticUserDirectory([alice])


@pytest.fixture
def tokens() -> JwtTokenService:
    return JwtTokenService(SECRET, lifetime_seconds=900)


@pytest.fixture
def limiter() -> LimitsRateLimiter:
    return LimitsRateLimiter("memory://", {LOGIN_CLIENT: "30/minute", LOGIN_FAILURES: "5/minute"})


@pytest.fixture
def authenticate(directory, hasher, tokens, limiter) -> Authenticate:
    return Authenticate(directory, hasher, tokens, limiter)


@pytest.fixture
def verify(directory, tokens, uow) -> VerifyToken:
    return VerifyToken(directory, tokens, uow, max_lifetime_seconds=86400)


def claims(alice: UserAccount | None = None, **overrides) -> dict:
    now = datetime.now(UTC)
    base = {"sub": "alice", "role": "quality", "iss": "supplytrace", "iat": now, "exp": now + timedelta(minutes=5),
            "jti": "token-1", "crd": credential_of(alice) if alice else "x"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_good_password_gives_a_token_naming_the_principal(authenticate, verify):
    issued = authenticate("alice", "correct horse", "client")

    assert issued.principal == Principal("alice", Role.QUALITY)
    assert issued.expires_in == 900
    assert verify(issued.access_token) == Principal("alice", Role.QUALITY)


def test_issued_token_expires_after_its_lifetime_and_has_its_own_id(tokens, alice):
    token, lifetime = tokens.issue(Principal("alice", Role.QUALITY), credential_of(alice))
    other, _ = tokens.issue(Principal("alice", Role.QUALITY), credential_of(alice))
    decoded = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="supplytrace")
    assert lifetime == 900
    assert decoded["exp"] - decoded["iat"] == 900
    assert decoded["jti"] != jwt.decode(other, SECRET, algorithms=["HS256"], issuer="supplytrace")["jti"]


@pytest.mark.parametrize("username, password", [("alice", "wrong"), ("alice", ""), ("mallory", "correct horse")])
def test_wrong_password_or_unknown_user_fails_authentication(authenticate, username, password):
    with pytest.raises(AuthenticationFailed):
        authenticate(username, password, "client")


def test_hasher_does_not_store_the_password_in_clear(hasher):
    hashed = hasher.hash("correct horse")
    assert "correct horse" not in hashed
    assert hasher.verify("correct horse", hashed) and not hasher.verify("Correct horse", hashed)


def test_tampered_token_is_invalid(authenticate, verify):
    token = authenticate("alice", "correct horse", "client").access_token
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["role"] = "admin"  # privilege escalation attempt, signature kept
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        verify(f"{header}.{forged}.{signature}")


def test_token_signed_with_another_secret_is_invalid(verify, alice):
    foreign, _ = JwtTokenService(ANOTHER_SECRET, lifetime_seconds=900).issue(
        Principal("alice", Role.QUALITY), credential_of(alice))
    with pytest.raises(InvalidToken):
        verify(foreign)


def test_expired_token_is_invalid(verify, alice):
    past = datetime.now(UTC) - timedelta(hours=1)
    expired = jwt.encode(claims(alice, iat=past, exp=past + timedelta(minutes=5)), SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        verify(expired)


def test_well_formed_token_crafted_with_the_right_secret_is_accepted(verify, alice):
    """The control for the cases below: only the one named defect makes them invalid."""
    assert verify(jwt.encode(claims(alice), SECRET, algorithm="HS256")) == Principal("alice", Role.QUALITY)


@pytest.mark.parametrize(
    "overrides",
    [{"exp": None}, {"sub": None}, {"role": None}, {"iss": None}, {"iss": "someone-else"}, {"role": "superuser"},
     {"jti": None}, {"crd": None}, {"iat": None}, {"sub": ""}, {"sub": "a" * 150}, {"sub": 7}, {"jti": ""},
     {"role": "admin"}, {"sub": "bob"}, {"crd": "an-older-password"}],
    ids=["no-exp", "no-sub", "no-role", "no-iss", "wrong-issuer", "unknown-role", "no-jti", "no-crd", "no-iat",
         "empty-sub", "long-sub", "numeric-sub", "empty-jti", "role-not-the-users", "unknown-user",
         "password-changed"],
)
def test_token_with_missing_or_wrong_claims_is_invalid(verify, alice, overrides):
    with pytest.raises(InvalidToken) as refused:
        verify(jwt.encode(claims(alice, **overrides), SECRET, algorithm="HS256"))
    assert str(refused.value) == "invalid or expired token"  # the client learns nothing of the cause


def test_a_token_claiming_a_life_over_the_maximum_is_invalid(directory, tokens, uow, alice):
    now = datetime.now(UTC)
    forever = jwt.encode(claims(alice, iat=now, exp=now + timedelta(days=3650)), SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        VerifyToken(directory, tokens, uow, max_lifetime_seconds=86400)(forever)


def test_a_removed_users_token_stops_working(authenticate, tokens, uow):
    token = authenticate("alice", "correct horse", "client").access_token
    with pytest.raises(InvalidToken):
        VerifyToken(StaticUserDirectory([]), tokens, uow, max_lifetime_seconds=86400)(token)


def test_a_changed_password_or_role_ends_the_older_tokens(authenticate, tokens, uow, hasher, alice):
    token = authenticate("alice", "correct horse", "client").access_token
    for changed in (UserAccount("alice", hasher.hash("new horse"), Role.QUALITY),
                    UserAccount("alice", alice.password_hash, Role.ADMIN)):
        with pytest.raises(InvalidToken):
            VerifyToken(StaticUserDirectory([changed]), tokens, uow, max_lifetime_seconds=86400)(token)


def test_logout_revokes_that_token_only(authenticate, verify, uow, clock):
    first = authenticate("alice", "correct horse", "client").access_token
    second = authenticate("alice", "correct horse", "client").access_token
    Logout(verify, uow, clock)(first)
    with pytest.raises(InvalidToken):
        verify(first)
    assert verify(second).username == "alice"


@pytest.mark.parametrize("token", ["", "not-a-token", "a.b.c"])
def test_garbage_is_an_invalid_token(verify, token):
    with pytest.raises(InvalidToken):
        verify(token)


def test_unsigned_token_is_invalid(verify, alice):
    unsigned = jwt.encode(claims(alice, role="admin"), None, algorithm="none")
    with pytest.raises(InvalidToken):
        verify(unsigned)


def test_failed_logins_for_a_username_are_throttled_then_refused_even_with_the_right_password(authenticate):
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            authenticate("alice", "wrong", "client")
    with pytest.raises(TooManyAttempts) as refused:
        authenticate("alice", "correct horse", "another-client")
    assert 1 <= refused.value.retry_after <= 60


def test_a_successful_login_clears_the_failures_of_its_username(authenticate):
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            authenticate("alice", "wrong", "client")
    authenticate("alice", "correct horse", "client")
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            authenticate("alice", "wrong", "client")


def test_every_attempt_of_a_client_counts_towards_its_limit(directory, hasher, tokens):
    strict = LimitsRateLimiter("memory://", {LOGIN_CLIENT: "3/minute", LOGIN_FAILURES: "100/minute"})
    authenticate = Authenticate(directory, hasher, tokens, strict)
    for username in ("alice", "bob", "carol"):
        with pytest.raises(AuthenticationFailed):
            authenticate(username, "guess", "10.0.0.9")
    with pytest.raises(TooManyAttempts):
        authenticate("alice", "correct horse", "10.0.0.9")
    assert authenticate("alice", "correct horse", "10.0.0.10").principal.username == "alice"


# --- settings ------------------------------------------------------------------------------------

A_USER = {"username": "ops", "role": "admin", "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$abcdefghijklmnop"}


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def test_development_defaults_are_accepted(no_supplytrace_env):
    current = settings()
    assert current.env is Environment.DEVELOPMENT
    assert current.demo_users is True


def test_production_refuses_the_default_secret(no_supplytrace_env):
    with pytest.raises(pydantic.ValidationError, match="JWT_SECRET"):
        settings(env="production", jwt_secret=DEFAULT_JWT_SECRET, demo_users=False, users=[A_USER])


def test_production_refuses_a_secret_shorter_than_32_characters(no_supplytrace_env):
    with pytest.raises(pydantic.ValidationError, match="JWT_SECRET"):
        settings(env="production", jwt_secret="s" * 31, demo_users=False, users=[A_USER])


def test_production_refuses_demo_users(no_supplytrace_env):
    with pytest.raises(pydantic.ValidationError, match="demo users"):
        settings(env="production", jwt_secret=STRONG_SECRET, demo_users=True, users=[A_USER])


def test_production_with_a_strong_secret_and_real_users_is_accepted(no_supplytrace_env):
    current = settings(env="production", jwt_secret=STRONG_SECRET, demo_users=False, users=[A_USER])
    assert current.env is Environment.PRODUCTION
    assert [(u.username, u.role) for u in current.users] == [("ops", Role.ADMIN)]


def test_production_is_refused_when_configured_through_the_environment(no_supplytrace_env, monkeypatch):
    monkeypatch.setenv("SUPPLYTRACE_ENV", "production")
    with pytest.raises(pydantic.ValidationError, match="JWT_SECRET"):
        settings()


def test_users_are_read_from_supplytrace_users(no_supplytrace_env, monkeypatch):
    monkeypatch.setenv("SUPPLYTRACE_ENV", "production")
    monkeypatch.setenv("SUPPLYTRACE_JWT_SECRET", STRONG_SECRET)
    monkeypatch.setenv("SUPPLYTRACE_DEMO_USERS", "false")
    monkeypatch.setenv("SUPPLYTRACE_USERS", json.dumps([A_USER]))
    assert [u.username for u in settings().users] == ["ops"]


def test_no_demo_users_and_no_real_users_is_refused(no_supplytrace_env):
    with pytest.raises(pydantic.ValidationError, match="no users"):
        settings(demo_users=False)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("postgresql://u:p@127.0.0.1:5432/test", "postgresql+psycopg://u:p@127.0.0.1:5432/test"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///./supplytrace.db", "sqlite:///./supplytrace.db"),
        ("memory://", "memory://"),
    ],
)
def test_database_url_is_normalized_to_the_psycopg_driver(no_supplytrace_env, url, expected):
    assert settings(database_url=url).database_url == expected


def test_real_users_with_the_public_default_secret_are_refused(no_supplytrace_env):
    with pytest.raises(pydantic.ValidationError, match="JWT_SECRET of your own"):
        settings(users=[A_USER])


def test_a_token_lifetime_over_the_maximum_is_refused(no_supplytrace_env):
    with pytest.raises(pydantic.ValidationError, match="MAX_LIFETIME"):
        settings(jwt_lifetime_seconds=7200, jwt_max_lifetime_seconds=3600)


def test_a_rate_limit_must_be_in_the_libraries_notation(no_supplytrace_env):
    with pytest.raises(pydantic.ValidationError, match="login_rate_per_user"):
        settings(login_rate_per_user="five a minute")


class Ticks:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_checked_token_is_remembered_as_not_revoked_for_a_while(authenticate, directory, tokens, uow, clock):
    ticks = Ticks()
    verify = VerifyToken(directory, tokens, uow, max_lifetime_seconds=86400, revocation_cache_seconds=1.0,
                         monotonic=ticks)
    token = authenticate("alice", "correct horse", "client").access_token
    assert verify.remembered(token) is None  # never looked up: the caller must ask the store
    assert verify(token).username == "alice"
    assert verify.remembered(token).username == "alice"  # no database round trip
    other = VerifyToken(directory, tokens, uow, max_lifetime_seconds=86400)  # another API process
    Logout(other, uow, clock)(token)
    assert verify.remembered(token).username == "alice"  # still believed, for at most a second
    ticks.now += 1.01
    assert verify.remembered(token) is None
    with pytest.raises(InvalidToken):
        verify(token)


def test_a_logout_through_this_process_ends_a_remembered_token_at_once(authenticate, directory, tokens, uow, clock):
    verify = VerifyToken(directory, tokens, uow, max_lifetime_seconds=86400, revocation_cache_seconds=60)
    token = authenticate("alice", "correct horse", "client").access_token
    verify(token)
    Logout(verify, uow, clock)(token)
    for check in (verify.remembered, verify):
        with pytest.raises(InvalidToken):
            check(token)


def test_remembering_never_skips_the_other_checks(authenticate, tokens, uow, hasher, alice):
    token = authenticate("alice", "correct horse", "client").access_token
    verify = VerifyToken(StaticUserDirectory([alice]), tokens, uow, max_lifetime_seconds=86400,
                         revocation_cache_seconds=60)
    verify(token)
    changed = UserAccount("alice", hasher.hash("new password"), Role.QUALITY)
    verify.users = StaticUserDirectory([changed])
    with pytest.raises(InvalidToken):
        verify.remembered(token)
