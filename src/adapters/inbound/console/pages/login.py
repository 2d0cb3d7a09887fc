"""Log in with the API's users (Authenticate), log out (Logout revokes the token)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from starlette.responses import Response

from application.security import AuthenticationFailed, TooManyAttempts

from adapters.inbound.api.deps import ContainerDep
from adapters.inbound.api.routes.auth import HASHING
from adapters.inbound.console.rendering import render, see_other
from adapters.inbound.console.session import (
    CONSOLE, ConsoleSession, WriteForm, check_login_csrf, close_session, login_csrf, open_session,
    remember_login_csrf,
)

router = APIRouter(prefix=CONSOLE, include_in_schema=False)


def _next(target: str | None) -> str:
    """Only a page of the console (never another site: no open redirect)."""
    if target and target.startswith(CONSOLE) and not target.startswith("//") and "\\" not in target:
        return target
    return CONSOLE


def _form(request: Request, next: str | None, status_code: int = 200, error: str | None = None) -> Response:
    value = login_csrf(request)
    response = render(request, "login.html", None, status_code=status_code, csrf=value, next=_next(next),
                      error=error)
    remember_login_csrf(response, request, value)
    return response


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return _form(request, next)


@router.post("/login")
async def log_in(request: Request, container: ContainerDep) -> Response:
    form = await request.form()
    check_login_csrf(request, form)
    username, password = str(form.get("username", ""))[:100], str(form.get("password", ""))[:200]
    target = str(form.get("next", ""))
    client = request.client.host if request.client else "unknown"
    try:
        issued = await anyio.to_thread.run_sync(container.authenticate(), username, password, client,
                                                limiter=HASHING)
    except AuthenticationFailed:
        return _form(request, target, 401, "Incorrect username or password.")
    except TooManyAttempts as error:
        return _form(request, target, 429, f"Too many attempts: try again in {error.retry_after} s.")
    response = see_other(_next(target))
    open_session(response, request, issued.access_token, issued.expires_in)
    return response


@router.post("/logout")
def log_out(request: Request, session: ConsoleSession, _form: WriteForm, container: ContainerDep) -> Response:
    container.logout()(session.token)
    response = see_other(f"{CONSOLE}/login")
    close_session(response, request)
    return response
