"""Collects each fuzz run's figures and prints them at the end of the session."""

from __future__ import annotations

import pytest

from tests.fuzz.runner import Tally

TALLIES: list[Tally] = []


@pytest.fixture
def tallies() -> list[Tally]:
    return TALLIES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLIES:
        terminalreporter.section("schemathesis fuzz run")
        for tally in TALLIES:
            terminalreporter.write_line(tally.line())
