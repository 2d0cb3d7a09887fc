"""Mounts the console on the application: its pages, its assets, its CSP and its two refusals."""

from __future__ import annotations

from importlib.resources import files
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from adapters.inbound.console.pages import delivery, inventories, login, ncs, orders, overview, suppliers
from adapters.inbound.console.rendering import render, see_other
from adapters.inbound.console.session import CONSOLE, CsrfRefused, LoginRequired

STATIC = f"{CONSOLE}/static"
# scripts, styles, images and htmx's requests from this server only; no inline script or style
CONSOLE_CSP = (b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
CONSOLE_POLICIES = {CONSOLE: CONSOLE_CSP}
ASSET_MAX_AGE = 3600


class Assets(StaticFiles):
    """The vendored htmx, the stylesheet: cached for an hour (the API's answers are `no-store`)."""

    def file_response(self, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers["cache-control"] = f"public, max-age={ASSET_MAX_AGE}"
        return response


async def _login_required(request: Request, _error: Exception) -> Response:
    target = f"{CONSOLE}/login?next={quote(request.url.path)}" if request.method == "GET" else f"{CONSOLE}/login"
    if request.headers.get("hx-request"):  # a live fragment whose session ended: the whole page goes
        return Response(status_code=204, headers={"HX-Redirect": target})
    return see_other(target)


async def _csrf_refused(request: Request, _error: Exception) -> Response:
    return render(request, "refused.html", None, status_code=403,
                  message="This form did not come from your session (CSRF token missing or wrong): "
                          "nothing was changed. Reload the page and try again.")


async def _root() -> Response:
    return see_other(CONSOLE)


def install_console(app: FastAPI) -> None:
    app.mount(STATIC, Assets(directory=str(files("adapters.inbound.console") / "static")), name="console-static")
    for module in (login, overview, ncs, suppliers, orders, inventories, delivery):
        app.include_router(module.router)
    app.add_api_route("/", _root, methods=["GET"], include_in_schema=False)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
