"""The API's input types, and the OpenAPI schema that publishes their limits to clients and fuzzers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from adapters.inbound.api.schemas import AMOUNT_PATTERN, MAX_ID, Amount, Id, IsoDate, IsoDateTime, JsonId, Offset, text
from tests.support.harness import running_app


def accepts(kind: Any, value: Any) -> Any:
    return TypeAdapter(kind).validate_python(value)


def refuses(kind: Any, value: Any) -> str:
    with pytest.raises(ValidationError) as error:
        TypeAdapter(kind).validate_python(value)
    return error.value.errors()[0]["type"]


def test_ids_fit_an_integer_column():
    assert accepts(Id, "10") == 10  # a path or a query sends digits
    assert accepts(JsonId, MAX_ID) == MAX_ID
    for value in (0, MAX_ID + 1, 2**63):
        refuses(JsonId, value)
    refuses(Offset, 2**31)


@pytest.mark.parametrize("value", [True, "1", 1.0])
def test_a_body_id_is_a_json_integer(value):
    assert refuses(JsonId, value) == "int_type"


def test_dates_are_iso_strings_only():
    assert accepts(IsoDate, "2026-06-30") == date(2026, 6, 30)
    assert accepts(IsoDateTime, "2026-06-30T15:00:00Z").year == 2026
    assert isinstance(accepts(IsoDateTime, "2026-06-30 15:00"), datetime)
    for value in (0, "0", 1700000000, "1700000000", True, "20260630", "2026-06-30T00:00:00"):
        assert refuses(IsoDate, value) == "date_type", value
    for value in (0, "1700000000", "2026-06-30", False):
        assert refuses(IsoDateTime, value) == "datetime_type", value


def test_amounts_are_exact_and_fit_numeric_12_2():
    assert accepts(Amount, "9999999999.99") == Decimal("9999999999.99")
    assert accepts(Amount, 49.99) == Decimal("49.99")
    for value in ("10000000000", 10_000_000_000, "1e3", "-1", "0.001", 0.001, True, "NaN", float("inf"), " 5", "5\n"):
        refuses(Amount, value)


@pytest.mark.parametrize("value", ["a\x00b", "a\ud800b", "a\x1bb", "a\x85b", "a\nb"])
def test_single_line_text_refuses_what_the_domain_refuses(value):
    refuses(text(20), value)


def test_multi_line_text_keeps_line_breaks_and_tabs():
    assert accepts(text(20, multiline=True), "a\r\n\tb") == "a\r\n\tb"
    refuses(text(20, multiline=True), "a\x00b")
    refuses(text(3), "abcd")


# --- the published schema ---------------------------------------------------------------------

def _leaves(node: Any, components: dict[str, Any], where: str) -> list[tuple[str, dict[str, Any]]]:
    """Every scalar schema under `node`, through $ref, anyOf/allOf/oneOf, properties and items."""
    if "$ref" in node:
        return _leaves(components[node["$ref"].rsplit("/", 1)[1]], components, where)
    found = []
    for key in ("anyOf", "allOf", "oneOf"):
        for option in node.get(key, ()):
            found += _leaves(option, components, where)
    for name, prop in node.get("properties", {}).items():
        found += _leaves(prop, components, f"{where}.{name}")
    if "items" in node:
        found += _leaves(node["items"], components, f"{where}[]")
    if node.get("type") in ("integer", "number", "string"):
        found.append((where, node))
    return found


def _published_limits() -> list[tuple[str, dict[str, Any]]]:
    with running_app("memory", "memory://") as app:
        spec = app.client.get("/openapi.json").json()
    components = spec["components"]["schemas"]
    leaves = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            label = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", ()):
                leaves += _leaves(parameter["schema"], components, f"{label} {parameter['name']}")
            for media in operation.get("requestBody", {}).get("content", {}).values():
                leaves += _leaves(media["schema"], components, f"{label} body")
    return leaves


def _bounded(leaf: dict[str, Any]) -> bool:
    if leaf["type"] in ("integer", "number"):
        return {"minimum", "maximum"} <= leaf.keys()
    return (bool({"enum", "const", "format"} & leaf.keys()) or {"maxLength", "pattern"} <= leaf.keys()
            or leaf.get("pattern") == AMOUNT_PATTERN)  # digits, a point and two decimals: bounded by itself


def test_every_input_publishes_its_bounds():
    leaves = [(where, leaf) for where, leaf in _published_limits()
              if not where.startswith("POST /auth/login")]  # the credentials: auth.py publishes them by hand
    assert len(leaves) > 50
    assert [where for where, leaf in leaves if not _bounded(leaf)] == []
