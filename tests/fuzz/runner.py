"""A schemathesis run over the live OpenAPI of an in-process app: every operation, positive and negative
data, boundary (coverage) cases, one caller's headers; tallies what came back."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.python import asgi

MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
KEPT_FAILURES = 10  # failures described in the report; all of them are counted
LOGOUT = "POST /auth/logout"


@dataclass
class Tally:
    """What one run saw: operations, cases sent, answers by status, and the problems."""

    database: str
    caller: str
    operations: int = 0
    cases: int = 0
    statuses: Counter = field(default_factory=Counter)
    server_errors: int = 0
    bad_client_errors: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def record(self, case: Case, response: Any, headers: dict[str, str]) -> None:
        self.cases += 1
        self.statuses[response.status_code] += 1
        problem = _problem(response)
        if problem is None:
            return
        if response.status_code >= 500:
            self.server_errors += 1
        else:
            self.bad_client_errors += 1
        if len(self.failures) < KEPT_FAILURES:
            curl = case.as_curl_command(headers={k: v for k, v in headers.items() if k != "Authorization"})
            self.failures.append(f"{problem}: {case.operation.label}\n    {curl}\n    -> {response.text[:300]}")

    def line(self) -> str:
        by_class = Counter(f"{status // 100}xx" for status in self.statuses.elements())
        return (f"{self.database:<8} {self.caller:<9} operations={self.operations} cases={self.cases} "
                f"server_errors={self.server_errors} bad_4xx={self.bad_client_errors} "
                f"{dict(sorted(by_class.items()))} {self.seconds:.1f}s")


def _problem(response: Any) -> str | None:
    """5xx is always a bug; a 4xx must be JSON with a `detail`."""
    if response.status_code >= 500:
        return f"server error {response.status_code}"
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return f"{response.status_code} without a JSON body"
    if not isinstance(body, dict) or "detail" not in body:
        return f"{response.status_code} without `detail`"
    return None


def fuzz(app: Any, tally: Tally, headers: dict[str, str], examples: int, seed: int, coverage: bool = True) -> Tally:
    """Every operation of `app`'s /openapi.json: boundary cases, then `examples` generated cases per mode."""
    started = time.monotonic()
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.label == LOGOUT and "Authorization" in headers:
                continue  # it would revoke the caller's token; fuzzed anonymously
            tally.operations += 1
            if coverage:
                _boundaries(schema, operation, tally, headers)
            for mode in MODES:
                _generated(operation, mode, tally, headers, examples, seed)
    finally:
        asgi.shutdown_lifespans()
    tally.seconds = time.monotonic() - started
    return tally


def _boundaries(schema: Any, operation: Any, tally: Tally, headers: dict[str, str]) -> None:
    """Schemathesis' coverage cases: each bound, just past it, each wrong type, each missing field."""
    config = schema.config.generation_for(operation=operation, phase="coverage")
    for case in schema.iter_coverage_cases(operation, generation_modes=list(MODES), generation_config=config):
        tally.record(case, case.call(headers=headers), headers)


def _generated(operation: Any, mode: GenerationMode, tally: Tally, headers: dict[str, str], examples: int,
               seed: int) -> None:
    @hypothesis.seed(seed)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=False, print_blob=False)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Case) -> None:
        tally.record(case, case.call(headers=headers), headers)

    try:
        run()
    except Unsatisfiable:
        pass  # nothing negative to say about an operation without inputs
