"""ETag and If-Match (ADR 0020): a resource's version is its ETag, `"3"`; a change sent with
`If-Match` applies only to a version it names (412 otherwise), compared in the write's transaction."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, Response

from application.conditional import Expected

ETAG = "ETag"
_ETAG_LIST = re.compile(r'\s*(?:W/)?"[\x21\x23-\x7e]*"\s*(?:,\s*(?:W/)?"[\x21\x23-\x7e]*"\s*)*')
_ETAG = re.compile(r'(W/)?"([\x21\x23-\x7e]*)"')


class BadHeader(Exception):
    """A request header that cannot be read (400, naming it)."""

    def __init__(self, header: str, message: str) -> None:
        super().__init__(f"{header}: {message}")
        self.header, self.message = header, message


def etag(version: int) -> str:
    return f'"{version}"'


def tagged(response: Response, version: int) -> None:
    response.headers[ETAG] = etag(version)


def parse_if_match(value: str | None) -> Expected:
    """The versions an If-Match names: None without the header or with `*`; strong comparison, so a
    weak tag (W/"3") or one that is not a version ("abc") names none."""
    if value is None or value.strip() == "*":
        return None
    if not _ETAG_LIST.fullmatch(value):
        raise BadHeader("If-Match", 'must be * or entity tags in double quotes, e.g. "3" (the ETag of a GET)')
    return frozenset(int(tag) for weak, tag in _ETAG.findall(value) if not weak and tag.isdigit() and len(tag) < 19)


async def if_match(
    value: Annotated[str | None, Header(alias="If-Match", max_length=1000, pattern=r"^[ -~]*$", description='The ETag last read, e.g. "3": the change '
                                        "applies only to that version (412 otherwise)")] = None,
) -> Expected:
    return parse_if_match(value)


IfMatch = Annotated[Expected, Depends(if_match)]
