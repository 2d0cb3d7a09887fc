from __future__ import annotations

import os

import anyio
from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import ValidationError as PydanticError

from adapters.inbound.api.deps import BearerToken, ContainerDep
from adapters.inbound.api.errors import safe_text
from adapters.inbound.api.schemas import LoginJson, TokenOut

router = APIRouter(prefix="/auth", tags=["auth"])

# password hashing is slow by design: it runs off the event loop, on all cores but one, so logins
# can neither stall the other requests nor take every worker thread
HASHING = anyio.CapacityLimiter(max(1, (os.cpu_count() or 2) - 1))

_CREDENTIALS = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {"username": {"type": "string", "minLength": 1, "maxLength": 100},
                   "password": {"type": "string", "format": "password", "minLength": 1, "maxLength": 200}},
}
# ONE documented content type, the OAuth2 password form: a client generated from the OpenAPI gets one
# login function (with two, openapi-python-client's login module did not import). JSON is still read.
_BODY = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": _CREDENTIALS},
}}}


@router.post("/login", response_model=TokenOut, summary="Log in (OAuth2 password form)",
             openapi_extra=_BODY, responses={
                 401: {"description": "Wrong username or password"},
                 422: {"description": "No username or password, or one too long"},
                 429: {"description": "Too many attempts; see Retry-After",
                       "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}}})
async def login(request: Request, container: ContainerDep) -> TokenOut:
    """The OAuth2 password form (`application/x-www-form-urlencoded`, as the Swagger UI's *Authorize*
    sends it); a JSON body `{"username", "password"}` is accepted too, as the earlier systems sent it.
    Every attempt of a client counts towards its limit, and failures towards the username's."""
    credentials = await _credentials(request)
    client = request.client.host if request.client else "unknown"
    issued = await anyio.to_thread.run_sync(container.authenticate(), credentials.username, credentials.password,
                                            client, limiter=HASHING)
    return TokenOut(access_token=issued.access_token, expires_in=issued.expires_in,
                    role=issued.principal.role.value)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
             responses={401: {"description": "No valid token"}})
def logout(token: BearerToken, container: ContainerDep) -> Response:
    """Revoke the bearer token now (it stays refused until it would have expired)."""
    container.logout()(token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _credentials(request: Request) -> LoginJson:
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            return LoginJson(username=form.get("username", ""), password=form.get("password", ""))
        return LoginJson.model_validate_json(await request.body())
    except PydanticError as error:
        detail = [{"loc": ["body", *e["loc"]], "msg": safe_text(e["msg"], 300), "type": e["type"]}
                  for e in error.errors()]
        raise HTTPException(status_code=422, detail=detail) from None
