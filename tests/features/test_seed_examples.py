"""Steps of seed_examples.feature: requests sent as the seed READMEs show them, answers matched in part."""

from __future__ import annotations

import json
import re
from typing import Any

from pytest_bdd import parsers, scenarios, then, when

from tests.features.conftest import Memo
from tests.support.harness import RunningApp

scenarios("seed_examples.feature")

METHOD_PATH = r"(?P<role>\w+) calls (?P<method>GET|POST|PUT|PATCH|DELETE) (?P<path>\S+)"


def _send(app: RunningApp, memo: Memo, role: str, method: str, path: str, body: Any = None) -> None:
    path = path.replace("{order_id}", memo.last_order or "{order_id}")
    memo.response = app.call(None if role == "anyone" else role, method, path,
                             **({} if body is None else {"json": body}))
    if method == "POST" and path == "/orders" and memo.response.status_code == 201:
        memo.last_order = memo.response.json()["id"]


@when(parsers.re(METHOD_PATH + "$"))
def calls(app: RunningApp, memo: Memo, role: str, method: str, path: str) -> None:
    _send(app, memo, role, method, path)


@when(parsers.re(METHOD_PATH + r" with (?P<body>[\[{].*)$"))
def calls_with(app: RunningApp, memo: Memo, role: str, method: str, path: str, body: str) -> None:
    _send(app, memo, role, method, path, json.loads(body))


@when(parsers.re(METHOD_PATH + r" with the order system's example$"))
def calls_with_example(app: RunningApp, memo: Memo, role: str, method: str, path: str, docstring: str) -> None:
    memo.example = json.loads(docstring)  # type: ignore[attr-defined]
    _send(app, memo, role, method, path, memo.example)  # type: ignore[attr-defined]


@when(parsers.re(METHOD_PATH + r" with the order system's example again$"))
def calls_with_example_again(app: RunningApp, memo: Memo, role: str, method: str, path: str) -> None:
    _send(app, memo, role, method, path, memo.example)  # type: ignore[attr-defined]


@when(parsers.re(METHOD_PATH + r" with the order system's example totalling (?P<total>[0-9.]+)$"))
def calls_with_example_total(app: RunningApp, memo: Memo, role: str, method: str, path: str, total: str) -> None:
    _send(app, memo, role, method, path, {**memo.example, "total_amount": float(total)})  # type: ignore[attr-defined]


def _contains(actual: Any, expected: Any) -> bool:
    """`expected` is a part of `actual`: the keys it names (recursively), lists element by element."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and _contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(actual) == len(expected)
                and all(_contains(a, e) for a, e in zip(actual, expected, strict=True)))
    return actual == expected


@then(parsers.re(r"the answer is (?P<status>\d+) with (?P<body>[\[{].*)$"))
def answer_with(memo: Memo, status: str, body: str) -> None:
    assert memo.response.status_code == int(status), memo.response.text
    expected = json.loads(body.replace("{order_id}", memo.last_order or "{order_id}"))
    assert _contains(memo.response.json(), expected), memo.response.text


@then(parsers.re(r'the answer is (?P<status>\d+) saying "(?P<text>[^"]+)"$'))
def answer_saying(memo: Memo, status: str, text: str) -> None:
    assert memo.response.status_code == int(status), memo.response.text
    assert text in memo.response.json()["detail"], memo.response.text


@then(parsers.re(r'the answer mentions "(?P<text>[^"]+)"$'))
def answer_mentions(memo: Memo, text: str) -> None:
    assert re.search(re.escape(text), memo.response.text), memo.response.text
