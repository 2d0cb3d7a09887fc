"""The OpenAPI document (ADR 0022): every route's errors with the one error schema the API really
answers, readable operationIds, examples that are valid today, one login content type, offline docs."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from adapters.inbound.api.deps import Reader
from adapters.inbound.api.docs import REDOC_BUNDLE_SHA256
from adapters.inbound.api.openapi import _unique_operation_ids
from tests.support.harness import running_app

REF = "#/components/schemas/ErrorOut"
ISO_DATE = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})")


@pytest.fixture(scope="module")
def app() -> Iterator[Any]:
    with running_app("memory", "memory://") as running:
        yield running


@pytest.fixture(scope="module")
def spec(app: Any) -> dict[str, Any]:
    return app.client.get("/openapi.json").json()


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """`schema` checked as the document states it, its $refs resolved in the document's components."""
    registry = Registry().with_resource("urn:openapi", Resource.from_contents(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", **spec}))
    rebased = _rebase(schema)
    return jsonschema.Draft202012Validator(rebased, registry=registry, format_checker=jsonschema.FormatChecker())


def _rebase(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: ("urn:openapi" + v if k == "$ref" and v.startswith("#/") else _rebase(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase(item) for item in node]
    return node


def error_schema(spec: dict[str, Any], label: str, status: int) -> dict[str, Any]:
    method, path = label.split(" ", 1)
    response = spec["paths"][path][method.lower()]["responses"][str(status)]
    return response["content"]["application/json"]["schema"]


def test_every_route_documents_its_errors_with_the_one_error_schema(spec: dict[str, Any]) -> None:
    components = spec["components"]["schemas"]
    assert "HTTPValidationError" not in components and "ValidationError" not in components  # FastAPI's, replaced
    probes = {"GET /health", "GET /ready"}
    for label, operation in operations(spec):
        responses = operation["responses"]
        errors = {int(s) for s in responses if int(s) >= 400}
        for status in errors:
            schema = responses[str(status)]["content"]["application/json"]["schema"]
            assert schema == {"$ref": REF} or (label in probes and status == 503), (label, status, schema)
            assert responses[str(status)]["description"] not in ("", "Validation Error"), (label, status)
        params = operation.get("parameters", [])
        if operation.get("security"):
            assert {401, 503} <= errors, label
            assert 403 in errors or label == "POST /auth/logout", label  # logout: any valid token
            assert "WWW-Authenticate" in responses["401"]["headers"]
        if any(p["in"] == "path" for p in params):
            assert 404 in errors, label
        if params or "requestBody" in operation:
            assert 422 in errors, label
    documented = {label: {int(s) for s in op["responses"] if int(s) >= 400} for label, op in operations(spec)}
    assert documented["GET /kpi"] == {401, 403, 503}
    assert documented["PATCH /ncs/{nc_id}/close"] == {400, 401, 403, 404, 409, 412, 422, 503}  # If-Match
    assert documented["POST /suppliers"] == {400, 401, 403, 413, 422, 503}  # 400: a malformed Idempotency-Key
    assert documented["POST /ncs"] >= {404}  # an unknown supplier (declared by the route, schema added)
    assert documented["POST /auth/login"] >= {401, 422, 429}
    assert documented["GET /live"] == set()
    assert "Retry-After" in spec["paths"]["/kpi"]["get"]["responses"]["503"]["headers"]


def test_the_error_schema_is_what_the_api_answers(app: Any, spec: dict[str, Any]) -> None:
    supplier = app.call("procurement", "POST", "/suppliers",
                        json={"name": "Schema Metals", "certification_expiry": "2030-01-01"}).json()
    nc = app.call("quality", "POST", "/ncs", json={"supplier_id": supplier["id"], "severity": "low",
                                                  "description": "x"}).json()
    app.call("quality", "PATCH", f"/ncs/{nc['id']}/close")
    order = app.call("logistics", "POST", "/orders", json={"customer_name": "A", "address": "B"}).json()
    answers = [
        ("GET /kpi", 401, app.call(None, "GET", "/kpi")),
        ("POST /suppliers", 403, app.call("quality", "POST", "/suppliers", json={})),
        ("GET /suppliers/{supplier_id}", 404, app.call("auditor", "GET", "/suppliers/999999")),
        ("PATCH /ncs/{nc_id}/close", 409, app.call("quality", "PATCH", f"/ncs/{nc['id']}/close")),
        ("PATCH /orders/{order_key}/status", 409, app.call("logistics", "PATCH", f"/orders/{order['id']}/status",
                                                           json={"status": "DELIVERED"})),
        ("POST /suppliers", 422, app.call("procurement", "POST", "/suppliers",
                                          json={"name": "x", "certification_expiry": "soon", "extra": 1})),
        ("GET /suppliers", 422, app.call("auditor", "GET", "/suppliers?limit=0")),
        ("POST /ncs", 404, app.call("quality", "POST", "/ncs", json={"supplier_id": 999999, "severity": "low",
                                                                    "description": "x"})),
        ("POST /auth/login", 422, app.client.post("/auth/login", data={"username": "quality"})),
        ("POST /auth/login", 401, app.client.post("/auth/login", data={"username": "quality", "password": "no"})),
    ]
    for label, status, answer in answers:
        assert answer.status_code == status, (label, answer.text)
        errors = sorted(validator(spec, error_schema(spec, label, status)).iter_errors(answer.json()), key=str)
        assert not errors, (label, status, answer.json(), errors)
    assert answers[4][2].json()["allowed"]  # the 409 of a move names the states allowed next


def test_operation_ids_are_the_function_names_unique_and_stable(spec: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, operation in operations(spec)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids
    by_label = {label: operation["operationId"] for label, operation in operations(spec)}
    assert by_label["GET /suppliers"] == "list_suppliers"
    assert by_label["POST /suppliers"] == "create_supplier"
    assert by_label["POST /auth/login"] == "login"
    twins = {"paths": {"/a": {"get": {"operationId": "get_order", "tags": ["orders"]}},
                       "/b": {"get": {"operationId": "get_order", "tags": ["compatibility"]}},
                       "/c": {"get": {"operationId": "get_order", "tags": ["compatibility"]}}}}
    _unique_operation_ids(twins)
    assert [twins["paths"][p]["get"]["operationId"] for p in "/a /b /c".split()] == [
        "get_order", "compatibility_get_order", "compatibility_get_order_2"]


def _examples(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) for every example of the document: schema `examples`, and the
    `example`/`examples` of parameters and media types."""
    if isinstance(node, dict):
        if isinstance(node.get("examples"), list):
            schema = {k: v for k, v in node.items() if k != "examples"}
            for example in node["examples"]:
                yield where, schema, example
        if "schema" in node:
            if "example" in node:
                yield where, node["schema"], node["example"]
            if isinstance(node.get("examples"), dict):
                for name, example in node["examples"].items():
                    yield f"{where}.{name}", node["schema"], example.get("value")
        for key, value in node.items():
            yield from _examples(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _examples(item, f"{where}[{i}]")


def _dates(value: Any) -> Iterator[str]:
    if isinstance(value, str) and ISO_DATE.match(value):
        yield ISO_DATE.match(value).group(1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _dates(item)
    elif isinstance(value, list):
        for item in value:
            yield from _dates(item)


def test_every_example_is_valid_against_its_schema_and_its_dates_are_in_the_future(spec: dict[str, Any]) -> None:
    examples = list(_examples(spec, "$"))
    assert len(examples) > 15
    today = date.today().isoformat()
    for where, schema, example in examples:
        errors = list(validator(spec, schema).iter_errors(example))
        assert not errors, (where, example, [e.message for e in errors])
        if ".parameters[" not in where:  # a filter's example date (created_from) may well lie behind us
            assert all(day > today for day in _dates(example)), (where, example, today)
    properties = spec["components"]["schemas"]["SupplierIn"]["properties"]
    assert properties["certification_expiry"]["examples"][0] > today


def test_login_documents_the_form_only_and_still_accepts_json(app: Any, spec: dict[str, Any]) -> None:
    body = spec["paths"]["/auth/login"]["post"]["requestBody"]
    assert list(body["content"]) == ["application/x-www-form-urlencoded"]
    assert body["content"]["application/x-www-form-urlencoded"]["schema"]["required"] == ["username", "password"]
    from tests.support.harness import PASSWORD
    for answer in (app.client.post("/auth/login", data={"username": "auditor", "password": PASSWORD}),
                   app.client.post("/auth/login", json={"username": "auditor", "password": PASSWORD})):
        assert answer.status_code == 200 and answer.json()["token_type"] == "bearer"
    refused = app.client.post("/auth/login", json={"username": "auditor"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "password"]


def test_a_route_added_after_the_app_was_built_is_documented_too() -> None:
    with running_app("memory", "memory://") as running:
        api = running.client.app

        @api.get("/later/{thing_id}")
        def later_route(thing_id: int, _: Reader) -> dict[str, int]:
            return {"thing_id": thing_id}

        operation = running.client.get("/openapi.json").json()["paths"]["/later/{thing_id}"]["get"]
    assert operation["operationId"] == "later_route"
    assert {"401", "403", "404", "422", "503"} <= operation["responses"].keys()


def test_the_docs_pages_load_only_this_servers_files(app: Any) -> None:
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        page = app.client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
        assert policy["default-src"] == "'none'" and policy["script-src"] == "'self'", policy
        styles = policy["style-src"].split()
        assert styles[0] == "'self'" and all(s.startswith("'sha256-") for s in styles[1:]), policy  # no unsafe-inline
        assert len(styles) == (3 if path == "/redoc" else 1), policy  # ReDoc's two stylesheets (docs.py)
        assert "http://" not in page.text and "https://" not in page.text, page.text  # no CDN
        assert "<script>" not in page.text and "<style" not in page.text  # nothing inline the CSP would block
        for asset in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            loaded = app.client.get(asset)
            assert loaded.status_code == 200 and loaded.content, asset
    bundle = app.client.get("/docs/assets/swagger-ui-bundle.js")
    assert len(bundle.content) > 500_000 and "max-age" in bundle.headers["cache-control"]
    redoc = app.client.get("/docs/assets/redoc.standalone.js").content
    assert hashlib.sha256(redoc).hexdigest() == REDOC_BUNDLE_SHA256, (
        "fastapi-offline's ReDoc bundle changed: check REDOC_STYLE_HASHES in docs.py "
        "(tests/integration/test_docs_offline.py names the hash Chromium wants)")
    init = app.client.get("/docs/swagger-init.js").text
    assert '"url": "/openapi.json"' in init and '"validatorUrl": null' in init and "/docs/oauth2-redirect" in init
    assert "window.opener.swaggerUIRedirectOauth2" in app.client.get("/docs/oauth2-redirect.js").text
