"""Swagger UI and ReDoc from the assets the `fastapi-offline` package ships: no CDN, no inline script.

The pages load only files of this server (ADR 0022): the Swagger UI bundle, its CSS and ReDoc's
standalone bundle from `/docs/assets/` (the package's `static` folder), the Swagger UI settings from
`/docs/swagger-init.js`, the OAuth2 redirect page's script from `/docs/oauth2-redirect.js`. So the
docs pages work on a machine without internet, under a CSP that allows scripts and styles from
'self' only (`page_policies`; ReDoc's styles need two hashes more, see REDOC_STYLE_HASHES).
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from os import stat_result
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_oauth2_redirect_html, swagger_ui_default_parameters
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

ASSETS = "/docs/assets"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
# what the docs pages may load: scripts, styles, images and the spec from this server only; no inline
# script anywhere. ReDoc starts its search index in a worker made from a blob.
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'{styles}; img-src 'self' data:; "
            "connect-src 'self'; worker-src blob:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# ReDoc 2 (styled-components) cannot style itself under style-src 'self' alone: it inserts empty <style>
# elements and fills them through the CSSOM (which CSP does not check), and one <style> with the
# perfect-scrollbar CSS of its bundle. The hashes of those two texts allow exactly them, not any
# inline style ('unsafe-inline'). They belong to fastapi-offline 1.7.7's redoc.standalone.js
# (REDOC_BUNDLE_SHA256, checked by tests/unit/test_openapi_document.py); tests/integration/
# test_docs_offline.py fails on any CSP violation, with the hash Chromium would need.
REDOC_STYLE_HASHES = ("'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # the empty stylesheet
                      "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='")  # perfect-scrollbar's
REDOC_BUNDLE_SHA256 = "1320f442151c57c447d3b70c7ffc6c4f86d08464020fe34c8cc5d3164e9944f0"
ASSET_MAX_AGE = 86400  # seconds a browser may keep a bundle (it changes only with the package)
_ASSET_DIR = str(files("fastapi_offline") / "static")
# FastAPI's redirect page is one inline script: served as a file, the page itself has none (should a
# FastAPI release change that page, the script is empty and tests/unit/test_openapi_document.py fails)
_REDIRECT_SCRIPT = re.search(r"<script>(.*)</script>", bytes(get_swagger_ui_oauth2_redirect_html().body).decode(),
                             re.DOTALL)
REDIRECT_JS = (_REDIRECT_SCRIPT.group(1).strip() if _REDIRECT_SCRIPT else "") + "\n"

SWAGGER_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title} - Swagger UI</title>
<link rel="stylesheet" href="{root}{assets}/swagger-ui.css">
<link rel="icon" href="{root}{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{root}{assets}/swagger-ui-bundle.js"></script>
<script src="{root}/docs/swagger-init.js"></script>
</body>
</html>
"""
REDOC_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ReDoc</title>
<link rel="icon" href="{root}{assets}/favicon.png">
</head>
<body>
<redoc spec-url="{root}{openapi}"></redoc>
<script src="{root}{assets}/redoc.standalone.js"></script>
</body>
</html>
"""
REDIRECT_HTML = """<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="utf-8">
<title>Swagger UI: OAuth2 Redirect</title>
</head>
<body>
<script src="{root}/docs/oauth2-redirect.js"></script>
</body>
</html>
"""


class Assets(StaticFiles):
    """The package's files, cacheable for a day (every other answer of the API is `no-store`)."""

    def file_response(self, full_path: Any, stat: stat_result, scope: Scope, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat, scope, status_code)
        response.headers["cache-control"] = f"public, max-age={ASSET_MAX_AGE}"
        return response


def _javascript(text: str) -> Response:
    return Response(text, media_type="text/javascript; charset=utf-8")


def page_policies(docs_url: str, redoc_url: str) -> dict[str, bytes]:
    """The Content-Security-Policy of each docs page (SecureHeaders gives every other answer `default-src 'none'`)."""
    strict = DOCS_CSP.format(styles="").encode()
    return {docs_url: strict, OAUTH2_REDIRECT: strict,
            redoc_url: DOCS_CSP.format(styles="".join(f" {h}" for h in REDOC_STYLE_HASHES)).encode()}


def install_docs(app: FastAPI, docs_url: str, redoc_url: str, openapi_url: str) -> None:
    """`docs_url` (Swagger UI, its *Authorize* logs in with the OAuth2 password form), `redoc_url`,
    and what they load; the FastAPI app is created with docs_url=None and redoc_url=None."""
    app.mount(ASSETS, Assets(directory=_ASSET_DIR), name="docs-assets")

    def page(request: Request, template: str) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return HTMLResponse(template.format(title=app.title, root=root, assets=ASSETS, openapi=openapi_url))

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return page(request, SWAGGER_HTML)

    @app.get("/docs/swagger-init.js", include_in_schema=False)
    async def swagger_init(request: Request) -> Response:
        root = request.scope.get("root_path", "")
        settings = {**swagger_ui_default_parameters, "url": f"{root}{openapi_url}",
                    "validatorUrl": None}  # Swagger UI would otherwise ask validator.swagger.io about the spec
        return _javascript(
            f"const settings = {json.dumps(settings)};\n"
            f"settings.oauth2RedirectUrl = window.location.origin + {json.dumps(root + OAUTH2_REDIRECT)};\n"
            "settings.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];\n"
            "window.ui = SwaggerUIBundle(settings);\n")

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    async def oauth2_redirect(request: Request) -> HTMLResponse:
        return page(request, REDIRECT_HTML)

    @app.get("/docs/oauth2-redirect.js", include_in_schema=False)
    async def oauth2_redirect_script() -> Response:
        return _javascript(REDIRECT_JS)

    @app.get(redoc_url, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return page(request, REDOC_HTML)
