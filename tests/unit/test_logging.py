"""JSON log lines (bootstrap/logging.py): the ids the core binds, structured tracebacks, librdkafka's fields."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest
import structlog

from application.log_context import bound
from bootstrap import logging as log_setup


@pytest.fixture
def json_lines(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[dict]]]:
    log_setup.configure_logging("INFO", json=True)  # undone after the test (tests/conftest.py)

    def lines() -> list[dict]:
        log_setup._flush()  # the listener writes what is queued, then stops
        return [json.loads(line) for line in capsys.readouterr().err.splitlines()]

    yield lines


def test_every_line_carries_what_is_bound_and_tracebacks_are_frames(json_lines) -> None:
    with bound(request_id="r1", correlation_id="c1"):
        structlog.get_logger("supplytrace.api").info("http.request", status=201)
        with bound(correlation_id="c2", handler="audit_trail"):  # the inner block wins
            try:
                raise ValueError("bad payload")
            except ValueError as error:
                logging.getLogger("application.dispatch").warning("handler.failed", exc_info=error)
                structlog.get_logger("supplytrace.worker").exception("worker.batch_failed")
    logging.getLogger("librdkafka").error("%s [%s] %s", "FAIL", "rdkafka#producer-1", "Connect failed")
    access, failed, exception, kafka = json_lines()
    assert (access["event"], access["request_id"], access["correlation_id"], access["status"]) == (
        "http.request", "r1", "c1", 201)
    for line in (failed, exception):
        assert (line["request_id"], line["correlation_id"], line["handler"]) == ("r1", "c2", "audit_trail")
        assert line["exception"][0]["exc_type"] == "ValueError" and line["exception"][0]["frames"]
    assert "request_id" not in kafka
    assert (kafka["facility"], kafka["client"], kafka["event"], kafka["level"]) == (
        "FAIL", "rdkafka#producer-1", "Connect failed", "error")
