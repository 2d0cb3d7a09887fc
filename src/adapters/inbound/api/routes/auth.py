from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError as PydanticError

from adapters.inbound.api.deps import ContainerDep
from adapters.inbound.api.schemas import LoginJson, TokenOut

router = APIRouter(prefix="/auth", tags=["auth"])


_CREDENTIALS = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {"username": {"type": "string"}, "password": {"type": "string", "format": "password"}},
}
_BODY = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": _CREDENTIALS},
    "application/json": {"schema": _CREDENTIALS},
}}}


@router.post("/login", response_model=TokenOut, summary="Log in (OAuth2 password form or JSON)",
             openapi_extra=_BODY)
async def login(request: Request, container: ContainerDep) -> TokenOut:
    """Accepts `application/x-www-form-urlencoded` (the Swagger UI's Authorize button) or JSON."""
    credentials = await _credentials(request)
    issued = container.authenticate()(credentials.username, credentials.password)
    return TokenOut(access_token=issued.access_token, expires_in=issued.expires_in,
                    role=issued.principal.role.value)


async def _credentials(request: Request) -> LoginJson:
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            return LoginJson(username=form.get("username", ""), password=form.get("password", ""))
        return LoginJson.model_validate_json(await request.body())
    except PydanticError as error:
        detail = [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in error.errors()]
        raise HTTPException(status_code=422, detail=detail) from None
