"""The hexagon's rule, checked on the source: the core imports only the standard library and itself.

The same rule as the import-linter contracts in pyproject.toml, written as an allow-list: a new
framework import in src/domain or src/application fails here even if nobody listed it there.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
ALLOWED = {
    "domain": {"domain"},
    "application": {"domain", "application"},
}


def imported_top_levels(source: str) -> set[str]:
    """Top-level package of every absolute import in the module, including nested and guarded ones."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def forbidden_imports(package_dir: Path, allowed: set[str]) -> dict[str, set[str]]:
    offenders: dict[str, set[str]] = {}
    for module in sorted(package_dir.rglob("*.py")):
        outside = {
            name
            for name in imported_top_levels(module.read_text(encoding="utf-8"))
            if name not in sys.stdlib_module_names and name not in allowed
        }
        if outside:
            offenders[module.relative_to(package_dir).as_posix()] = outside
    return offenders


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_the_standard_library_and_inner_layers(layer):
    package = SRC / layer
    assert list(package.rglob("*.py")), f"no modules found under {package}"
    assert forbidden_imports(package, ALLOWED[layer]) == {}


def test_checker_catches_framework_and_outer_layer_imports(tmp_path):
    """The guard itself: each of these lines must be reported."""
    (tmp_path / "bad.py").write_text(
        "import sqlalchemy.orm\n"
        "from fastapi import FastAPI\n"
        "from adapters.outbound.clock import SystemClock\n"
        "def lazy():\n"
        "    import pydantic\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    import dependency_injector\n"
    )
    (tmp_path / "good.py").write_text(
        "from __future__ import annotations\nimport uuid\nfrom . import bad\nfrom domain.x import y\n"
    )

    assert forbidden_imports(tmp_path, {"domain"}) == {
        "bad.py": {"sqlalchemy", "fastapi", "adapters", "pydantic", "dependency_injector"}
    }



def test_the_import_contracts_keep_every_broker_client_out_of_the_core():
    """The transports are adapters: neither the domain nor the application may import a broker's client."""
    import tomllib

    config = tomllib.loads((SRC.parent / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = {c["source_modules"][0]: set(c.get("forbidden_modules", []))
                 for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "forbidden"}
    for layer in ("domain", "application"):
        assert {"confluent_kafka", "pika", "aio_pika", "cloudevents"} <= contracts[layer], layer
