"""Finding things (ADR 0021): the parsing of sort, q and the date range, and the memory adapters' results."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from application import listing
from application.listing import Finding, SortKey, like_pattern, parse_instant
from application.pagination import PageRequest
from application.ports.repositories import NcFilter, SupplierFilter
from domain.errors import ValidationError
from domain.nonconformities import NcStatus

FUTURE = date(2027, 6, 30)


def test_sort_keys_with_directions_and_the_tie_breaker_appended():
    assert listing.SUPPLIERS.parse_sort("-created_at, name") == (
        SortKey("created_at", True), SortKey("name"), SortKey("id", True))
    assert listing.SUPPLIERS.parse_sort("+name") == (SortKey("name"), SortKey("id"))
    assert listing.SUPPLIERS.parse_sort("-id") == (SortKey("id", True),)  # the tie-breaker is not added twice
    assert listing.ORDERS.parse_sort(None) == (SortKey("created_at", True), SortKey("id", True))  # the old default
    assert listing.INVENTORIES.parse_sort("") == (SortKey("expiry_date", True), SortKey("inventory_id", True))


@pytest.mark.parametrize("text", ["rating", "-name,-rating", "name,", "name,name", "a,b,c,d,e,f"])
def test_a_sort_the_list_does_not_allow_is_refused_naming_sort_and_the_fields(text: str):
    with pytest.raises(ValidationError) as refused:
        listing.SUPPLIERS.parse_sort(text)
    assert refused.value.field == "sort"
    if "rating" in text:
        assert "allowed: id, name, certification_expiry, created_at, updated_at" in refused.value.message


def test_dates_and_date_times_are_utc_instants_and_a_date_covers_its_whole_day():
    assert parse_instant("2026-03-10", "created_from") == datetime(2026, 3, 10, tzinfo=UTC)
    assert parse_instant("2026-03-10", "created_to", end=True) == datetime(2026, 3, 11, tzinfo=UTC)
    assert parse_instant("2026-03-10T09:30:00Z", "x") == datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    assert parse_instant("2026-03-10T10:30:00 01:00", "x") == datetime(2026, 3, 10, 9, 30, tzinfo=UTC)  # `+` as space
    assert parse_instant("2026-03-10T09:30", "x") == datetime(2026, 3, 10, 9, 30, tzinfo=UTC)  # no offset: UTC
    assert parse_instant("2026-03-10T09:30:00Z", "x", end=True) == datetime(2026, 3, 10, 9, 30, 0, 1, tzinfo=UTC)
    assert parse_instant(None, "x") is None


@pytest.mark.parametrize(("given", "field"), [
    ({"created_from": "2026-02-30"}, "created_from"),
    ({"created_to": "10/03/2026"}, "created_to"),
    ({"created_from": "2026-03-11", "created_to": "2026-03-10"}, "created_from"),
    ({"q": "x" * 201}, "q"),
])
def test_bad_criteria_name_their_parameter(given: dict, field: str):
    with pytest.raises(ValidationError) as refused:
        Finding.parse(listing.NCS, **given)
    assert refused.value.field == field


def test_the_same_day_as_both_ends_is_that_day():
    found = Finding.parse(listing.NCS, created_from="2026-03-10", created_to="2026-03-10")
    assert (found.created_from, found.created_until) == (datetime(2026, 3, 10, tzinfo=UTC),
                                                         datetime(2026, 3, 11, tzinfo=UTC))
    assert found.narrows and not Finding.parse(listing.NCS, sort="-id").narrows


def test_like_patterns_take_the_users_wildcards_literally():
    assert like_pattern("50%_a\\b") == "%50\\%\\_a\\\\b%"


def _names(app, text: str | None = None, sort: str | None = None, **dates: str) -> list[str]:
    criteria = SupplierFilter(Finding.parse(listing.SUPPLIERS, q=text, sort=sort, **dates))
    return [v.supplier.name for v in app.suppliers.list(PageRequest(), criteria).items]


def test_suppliers_searched_case_insensitively_sorted_and_bounded_by_creation(app, clock, origin):
    for name in ("Beta Metals", "alpha steel", "GAMMA METALWORKS", "Straße Bau"):
        app.create_supplier(name, FUTURE, origin)
        clock.advance(60)
    assert _names(app, "metal") == ["Beta Metals", "GAMMA METALWORKS"]
    assert _names(app, "STRASSE") == ["Straße Bau"]  # casefold: ß matches ss
    assert _names(app, "%") == []
    assert _names(app, sort="-name") == ["alpha steel", "Straße Bau", "GAMMA METALWORKS", "Beta Metals"]
    start = clock.now() - timedelta(minutes=3)
    assert _names(app, created_from=start.isoformat(), created_to=(start + timedelta(minutes=1)).isoformat()) == [
        "alpha steel", "GAMMA METALWORKS"]
    assert app.suppliers.list(PageRequest(), SupplierFilter(Finding.parse(listing.SUPPLIERS, q="metal"))).total == 2


def test_updated_at_follows_the_last_change_from_the_clock(app, clock, origin):
    created = app.create_supplier("Beta Metals", FUTURE, origin).supplier
    nc = app.raise_nc(created.id, "high", "weld porosity", origin)
    assert created.updated_at == created.created_at == nc.created_at == nc.updated_at == clock.now()
    clock.advance(3600)
    assert app.update_certification(created.id, date(2028, 1, 1), origin).supplier.updated_at == clock.now()
    assert app.close_nc(nc.id, origin).updated_at == clock.now()
    first = app.suppliers.list(PageRequest(), SupplierFilter(Finding.parse(listing.SUPPLIERS, sort="-updated_at")))
    assert first.items[0].supplier.updated_at == clock.now()


def test_ncs_sorted_by_several_keys_with_exact_filters_kept(app, clock, origin):
    supplier = app.create_supplier("Beta Metals", FUTURE, origin).supplier
    for severity, text in (("low", "paint"), ("high", "Weld crack"), ("low", "weld spatter"), ("high", "label")):
        app.raise_nc(supplier.id, severity, text, origin)
    app.close_nc(4, origin)
    found = Finding.parse(listing.NCS, sort="severity,-id")
    assert [nc.id for nc in app.ncs.list(NcFilter(find=found), PageRequest()).items] == [4, 2, 3, 1]
    open_welds = NcFilter(status=NcStatus.OPEN, find=Finding.parse(listing.NCS, q="WELD", sort="-severity"))
    assert [nc.description for nc in app.ncs.list(open_welds, PageRequest()).items] == ["weld spatter", "Weld crack"]
    assert app.ncs.list(open_welds, PageRequest(limit=1)).total == 2
