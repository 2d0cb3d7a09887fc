"""The console's session: the access token in an HttpOnly cookie, verified on every request, and a
CSRF token derived from it for every form that writes (ADR 0030)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from application.ports.security import InvalidToken, Principal
from application.security import ROLE_MATRIX, Permission, authorize

from adapters.inbound.api.deps import ContainerDep

CONSOLE = "/console"
COOKIE = "supplytrace_console"
LOGIN_COOKIE = "supplytrace_console_login"  # the login form's double-submit CSRF value
CSRF_FIELD = "csrf_token"


class LoginRequired(Exception):
    """No session, or its token expired, was revoked or no longer matches its user."""


class CsrfRefused(Exception):
    """A form that writes came without this session's CSRF token."""


def csrf_of(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), b"console-csrf\0" + token.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Session:
    token: str
    principal: Principal
    csrf: str

    @property
    def user(self) -> str:
        return self.principal.username

    @property
    def role(self) -> str:
        return self.principal.role.value

    def can(self, permission: str | Permission) -> bool:
        """What the role matrix lets this user do: the pages offer only that."""
        return self.principal.role in ROLE_MATRIX[Permission(permission)]

    def require(self, permission: Permission) -> None:
        authorize(self.principal, permission)  # Forbidden → 403, as the API's dependencies do


async def current_session(request: Request, container: ContainerDep) -> Session:
    token = request.cookies.get(COOKIE)
    if not token:
        raise LoginRequired()
    verify = container.verify_token()
    try:
        principal = verify.remembered(token) or await run_in_threadpool(verify, token)
    except InvalidToken:
        raise LoginRequired() from None
    return Session(token, principal, csrf_of(container.config.jwt_secret(), token))


ConsoleSession = Annotated[Session, Depends(current_session)]


async def checked_form(request: Request, session: ConsoleSession) -> FormData:
    """The posted form, once its CSRF token proved it came from a page of this session."""
    form = await request.form()
    given = form.get(CSRF_FIELD)
    if not isinstance(given, str) or not hmac.compare_digest(given, session.csrf):
        raise CsrfRefused()
    return form


WriteForm = Annotated[FormData, Depends(checked_form)]


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def open_session(response: Response, request: Request, token: str, lifetime_seconds: int) -> None:
    response.set_cookie(COOKIE, token, max_age=lifetime_seconds, path=CONSOLE, httponly=True, samesite="lax",
                        secure=is_https(request))
    response.delete_cookie(LOGIN_COOKIE, path=CONSOLE)


def close_session(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path=CONSOLE, httponly=True, samesite="lax", secure=is_https(request))


def login_csrf(request: Request) -> str:
    """The login form's value: the one of the cookie if the browser has it, else a new one."""
    current = request.cookies.get(LOGIN_COOKIE)
    return current if current and len(current) == 43 else secrets.token_urlsafe(32)


def remember_login_csrf(response: Response, request: Request, value: str) -> None:
    response.set_cookie(LOGIN_COOKIE, value, max_age=3600, path=CONSOLE, httponly=True, samesite="lax",
                        secure=is_https(request))


def check_login_csrf(request: Request, form: FormData) -> None:
    cookie, given = request.cookies.get(LOGIN_COOKIE), form.get(CSRF_FIELD)
    if not cookie or not isinstance(given, str) or not hmac.compare_digest(cookie, given):
        raise CsrfRefused()
