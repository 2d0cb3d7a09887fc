"""The domain model on its own: invariants, the at-risk policy, state machines and events."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from domain.errors import InvalidTransition, ValidationError
from domain.nonconformities import NcClosed, NcCreated, NcStatus, NonConformity, Severity
from domain.risk import supplier_at_risk
from domain.suppliers import NAME_MAX_LENGTH, Supplier, SupplierCertificationUpdated, SupplierCreated

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
TODAY = NOW.date()


def a_supplier(supplier_id: int = 1, expiry: date = date(2027, 6, 30)) -> Supplier:
    supplier = Supplier.register("Beta Metals", expiry, NOW)
    supplier.id = supplier_id
    return supplier


def an_nc(supplier_id: int = 1, severity: Severity = Severity.HIGH, nc_id: int = 1) -> NonConformity:
    nc = NonConformity.open(supplier_id, severity, "weld porosity on batch 42", NOW)
    nc.id = nc_id
    return nc


# --- Supplier.register --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "   ", "\t\n", None])
def test_register_refuses_an_empty_or_blank_name(name):
    with pytest.raises(ValidationError) as caught:
        Supplier.register(name, date(2027, 1, 1), NOW)
    assert caught.value.field == "name"


def test_register_refuses_a_name_longer_than_the_maximum():
    with pytest.raises(ValidationError) as caught:
        Supplier.register("x" * (NAME_MAX_LENGTH + 1), date(2027, 1, 1), NOW)
    assert caught.value.field == "name"


def test_register_accepts_a_name_of_exactly_the_maximum_length():
    supplier = Supplier.register("x" * NAME_MAX_LENGTH, date(2027, 1, 1), NOW)
    assert len(supplier.name) == NAME_MAX_LENGTH


def test_register_trims_the_name_and_records_no_event_before_it_has_an_id():
    supplier = Supplier.register("  Beta Metals  ", date(2027, 1, 1), NOW)
    assert supplier.name == "Beta Metals"
    assert supplier.id is None
    assert supplier.events == []


# --- certification expiry -----------------------------------------------------------------------


def test_certification_is_still_valid_on_its_expiry_day():
    assert a_supplier(expiry=TODAY).certification_expired(TODAY) is False


def test_certification_is_expired_the_day_after_its_expiry_day():
    assert a_supplier(expiry=TODAY).certification_expired(TODAY + timedelta(days=1)) is True


# --- supplier_at_risk ---------------------------------------------------------------------------


def test_supplier_with_valid_certification_and_no_nc_is_not_at_risk():
    assert supplier_at_risk(a_supplier(), [], TODAY) is False


def test_supplier_with_expired_certification_is_at_risk():
    supplier = a_supplier(expiry=TODAY - timedelta(days=1))
    assert supplier_at_risk(supplier, [], TODAY) is True


def test_supplier_whose_certification_expires_today_is_not_at_risk():
    assert supplier_at_risk(a_supplier(expiry=TODAY), [], TODAY) is False


def test_supplier_with_an_open_high_nc_is_at_risk():
    assert supplier_at_risk(a_supplier(), [an_nc(severity=Severity.HIGH)], TODAY) is True


@pytest.mark.parametrize("severity", [Severity.LOW, Severity.MEDIUM])
def test_supplier_with_only_open_low_or_medium_ncs_is_not_at_risk(severity):
    assert supplier_at_risk(a_supplier(), [an_nc(severity=severity)], TODAY) is False


def test_supplier_whose_high_nc_is_closed_is_not_at_risk():
    nc = an_nc(severity=Severity.HIGH)
    nc.close(NOW)
    assert supplier_at_risk(a_supplier(), [nc], TODAY) is False


def test_open_high_nc_of_another_supplier_is_ignored():
    assert supplier_at_risk(a_supplier(supplier_id=1), [an_nc(supplier_id=2)], TODAY) is False


# --- NonConformity ------------------------------------------------------------------------------


@pytest.mark.parametrize("description", ["", "   ", None])
def test_nc_needs_a_description(description):
    with pytest.raises(ValidationError) as caught:
        NonConformity.open(1, Severity.LOW, description, NOW)
    assert caught.value.field == "description"


def test_nc_opens_in_status_open_with_a_trimmed_description():
    nc = NonConformity.open(1, Severity.MEDIUM, "  scratched housing ", NOW)
    assert (nc.status, nc.description, nc.closed_at) == (NcStatus.OPEN, "scratched housing", None)


@pytest.mark.parametrize(
    "value, expected", [("low", Severity.LOW), ("medium", Severity.MEDIUM), ("high", Severity.HIGH)]
)
def test_severity_parses_the_three_levels(value, expected):
    assert Severity.parse(value) is expected


@pytest.mark.parametrize("value", ["critical", "HIGH", "", None])
def test_severity_parse_refuses_anything_else(value):
    with pytest.raises(ValidationError) as caught:
        Severity.parse(value)
    assert caught.value.field == "severity"


def test_closing_an_open_nc_sets_status_and_closing_time():
    nc = an_nc()
    later = NOW + timedelta(hours=2)
    nc.close(later)
    assert (nc.status, nc.closed_at) == (NcStatus.CLOSED, later)


def test_closing_a_closed_nc_is_an_invalid_transition_and_records_nothing():
    nc = an_nc()
    nc.close(NOW)
    events_before = list(nc.events)
    with pytest.raises(InvalidTransition):
        nc.close(NOW + timedelta(hours=1))
    assert nc.events == events_before
    assert nc.closed_at == NOW


# --- update_certification -----------------------------------------------------------------------


def test_update_certification_with_the_same_date_returns_false_and_records_nothing():
    supplier = a_supplier(expiry=date(2027, 6, 30))
    assert supplier.update_certification(date(2027, 6, 30), NOW) is False
    assert supplier.events == []


def test_update_certification_with_a_new_date_records_the_previous_and_new_expiry():
    supplier = a_supplier(supplier_id=3, expiry=date(2027, 6, 30))
    assert supplier.update_certification(date(2028, 1, 31), NOW) is True
    [event] = supplier.events
    assert isinstance(event, SupplierCertificationUpdated)
    assert supplier.certification_expiry == date(2028, 1, 31)
    assert event.payload() == {
        "supplier_id": 3,
        "previous_expiry": "2027-06-30",
        "certification_expiry": "2028-01-31",
        "changes": [["certification_expiry", "2027-06-30", "2028-01-31"]],
        "reason": None,
        "certificate_id": None,
    }


# --- events -------------------------------------------------------------------------------------


def test_supplier_created_event_names_its_aggregate_and_carries_a_json_ready_payload():
    supplier = a_supplier(supplier_id=7, expiry=date(2026, 6, 30))
    supplier.record_registration()
    [event] = supplier.events
    assert isinstance(event, SupplierCreated)
    assert (event.event_type, event.aggregate_type, event.aggregate_id) == ("SUPPLIER_CREATED", "supplier", "7")
    assert event.occurred_at == NOW
    assert event.payload() == {"supplier_id": 7, "name": "Beta Metals", "certification_expiry": "2026-06-30",
                               "approval_status": "PENDING",
                               "changes": [["name", None, "Beta Metals"], ["certification_expiry", None, "2026-06-30"],
                                           ["approval_status", None, "PENDING"]]}
    json.dumps(event.payload())  # raises if not JSON-ready


def test_event_id_is_a_uuid_that_stays_the_same_and_differs_between_events():
    first, second = a_supplier(supplier_id=1), a_supplier(supplier_id=2)
    first.record_registration()
    second.record_registration()
    event = first.events[0]
    assert isinstance(event.event_id, UUID)
    assert event.event_id == first.events[0].event_id  # the same object keeps its id
    assert event.event_id != second.events[0].event_id


def test_nc_created_event_carries_severity_as_its_value():
    nc = NonConformity.open(4, Severity.HIGH, "cracked casting", NOW)
    nc.id = 12
    nc.record_opening()
    [event] = nc.events
    assert isinstance(event, NcCreated)
    assert (event.event_type, event.aggregate_type, event.aggregate_id) == ("NC_CREATED", "nc", "12")
    assert event.payload() == {"nc_id": 12, "supplier_id": 4, "severity": "high", "description": "cracked casting",
                               "changes": [["supplier_id", None, 4], ["severity", None, "high"],
                                           ["description", None, "cracked casting"], ["status", None, "OPEN"]]}
    assert json.loads(json.dumps(event.payload()))["severity"] == "high"


def test_nc_closed_event_names_the_nc_aggregate():
    nc = an_nc(supplier_id=4, nc_id=12)
    nc.close(NOW + timedelta(days=1))
    [event] = nc.events
    assert isinstance(event, NcClosed)
    assert (event.event_type, event.aggregate_type, event.aggregate_id) == ("NC_CLOSED", "nc", "12")
    assert event.occurred_at == NOW + timedelta(days=1)
    # the seed's payload, plus the move's from/to, changes and reason (ADR 0024)
    assert {k: event.payload()[k] for k in ("nc_id", "supplier_id", "severity")} == \
        {"nc_id": 12, "supplier_id": 4, "severity": "high"}
    assert (event.payload()["from"], event.payload()["to"], event.payload()["closed_without_capa"]) == \
        ("OPEN", "CLOSED", True)


def test_event_payload_holds_plain_json_types_not_enum_members():
    nc = an_nc()
    nc.record_opening()
    assert type(nc.events[0].payload()["severity"]) is str
