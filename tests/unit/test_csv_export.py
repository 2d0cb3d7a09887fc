"""CSV answers (ADR 0021): read page by page, RFC 4180 quoting, formula cells defused, limit/offset only when given."""

from __future__ import annotations

import csv
import io

from pydantic import BaseModel

from adapters.inbound.api.finding import CSV_PAGE, csv_rows
from application.pagination import Page, PageRequest, page_of


class Row(BaseModel):
    id: int
    name: str | None
    flag: bool
    tags: list[str]


def _source(n: int):
    asked: list[PageRequest] = []

    def fetch(page: PageRequest) -> Page[int]:
        asked.append(page)
        items = list(range(page.offset, min(n, page.offset + page.limit)))
        return Page(items, n, page.limit, page.offset)

    return fetch, asked


def _convert(i: int) -> Row:
    return Row(id=i, name=f"n{i}", flag=i % 2 == 0, tags=["a"])


def test_every_row_streamed_one_page_per_chunk_without_counting():
    fetch, asked = _source(1201)
    chunks = list(csv_rows(Row, fetch, _convert, None, 0))
    rows = list(csv.reader(io.StringIO("".join(chunks), newline="")))
    assert rows[0] == ["id", "name", "flag", "tags"]
    assert [int(r[0]) for r in rows[1:]] == list(range(1201))
    assert rows[1][2:] == ["true", '["a"]']
    assert [(p.offset, p.limit, p.counted) for p in asked] == [(0, CSV_PAGE, False), (500, CSV_PAGE, False),
                                                               (1000, CSV_PAGE, False)]
    assert len(chunks) == 3  # the header goes with the first page; a chunk per page, never the whole result


def test_limit_and_offset_choose_the_slice_when_given():
    fetch, asked = _source(2000)
    rows = list(csv.reader(io.StringIO("".join(csv_rows(Row, fetch, _convert, 700, 10)), newline="")))
    assert [int(r[0]) for r in rows[1:]] == list(range(10, 710))
    assert [(p.offset, p.limit) for p in asked] == [(10, 500), (510, 200)]


def test_quoting_and_formula_injection():
    odd = ["=1+1", "+CMD", "-2", "@SUM(A1)", "\tx", 'say "hi", then\r\nleave', None, "plain"]
    items = {i: text for i, text in enumerate(odd)}

    def fetch(page: PageRequest) -> Page[int]:
        keys = list(items)[page.offset:page.offset + page.limit]
        return Page(keys, len(items), page.limit, page.offset)

    text = "".join(csv_rows(Row, fetch, lambda i: Row(id=-i, name=items[i], flag=False, tags=[]), None, 0))
    assert text.endswith("\r\n") and '"say ""hi"", then\r\nleave"' in text
    names = [r[1] for r in list(csv.reader(io.StringIO(text, newline="")))[1:]]
    assert names == ["'=1+1", "'+CMD", "'-2", "'@SUM(A1)", "'\tx", 'say "hi", then\r\nleave', "", "plain"]
    ids = [r[0] for r in list(csv.reader(io.StringIO(text, newline="")))[1:]]
    assert ids[1] == "-1"  # a number is a number, not a formula


def test_an_uncounted_page_costs_no_count():
    def never(_cap: int) -> int:
        raise AssertionError("counted")

    page = page_of([1, 2], PageRequest(2, 4, counted=False), None, never)
    assert (page.total, page.total_exact) == (6, False)
    assert page_of([1], PageRequest(2, 4, counted=False), None, never).total == 5  # the last page: exact
