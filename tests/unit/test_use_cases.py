"""Use cases and queries over the in-memory unit of work: state changes, outbox rows, KPIs."""

from __future__ import annotations

from datetime import date

import pytest

from application.envelope import Origin
from application.pagination import PageRequest
from application.ports.outbox import OutboxStatus
from application.ports.repositories import NcFilter
from domain.errors import InvalidTransition, NotFound, ValidationError
from domain.nonconformities import NcStatus, Severity

FUTURE = date(2027, 6, 30)
PAST = date(2020, 1, 1)


def event_types(records) -> list[str]:
    return [r.envelope.event_type for r in records]


# --- commands write exactly the expected outbox rows ----------------------------------------------


def test_create_supplier_stores_it_and_writes_one_supplier_created_row(app, outbox, origin, clock):
    view = app.create_supplier("Beta Metals", FUTURE, origin)

    assert view.supplier.id == 1 and view.at_risk is False
    assert app.suppliers.get(1).supplier.name == "Beta Metals"
    [record] = outbox()
    envelope = record.envelope
    assert envelope.event_type == "SUPPLIER_CREATED"
    assert (envelope.aggregate_type, envelope.aggregate_id) == ("supplier", "1")
    assert (envelope.actor, envelope.correlation_id) == ("alice", "corr-42")
    assert envelope.payload == {"supplier_id": 1, "name": "Beta Metals", "certification_expiry": "2027-06-30",
                                "approval_status": "PENDING",
                                "changes": [["name", None, "Beta Metals"], ["certification_expiry", None, "2027-06-30"],
                                            ["approval_status", None, "PENDING"]]}
    assert (record.status, record.attempts, record.next_attempt_at) == (OutboxStatus.PENDING, 0, clock.now())


def test_create_supplier_with_invalid_name_writes_nothing(app, outbox, origin):
    with pytest.raises(ValidationError):
        app.create_supplier("  ", FUTURE, origin)
    assert outbox() == []
    assert app.suppliers.list(PageRequest()).total == 0


def test_update_certification_writes_one_cert_updated_row_with_the_origin(app, outbox, origin):
    app.create_supplier("Beta Metals", FUTURE, Origin("bob", "corr-1"))

    view = app.update_certification(1, date(2028, 1, 31), origin)

    assert view.supplier.certification_expiry == date(2028, 1, 31)
    assert app.suppliers.get(1).supplier.certification_expiry == date(2028, 1, 31)
    records = outbox()
    assert event_types(records) == ["SUPPLIER_CREATED", "SUPPLIER_CERT_UPDATED"]
    updated = records[1].envelope
    assert (updated.actor, updated.correlation_id) == ("alice", "corr-42")
    assert updated.payload == {"supplier_id": 1, "previous_expiry": "2027-06-30", "certification_expiry": "2028-01-31",
                               "changes": [["certification_expiry", "2027-06-30", "2028-01-31"]], "reason": None,
                               "certificate_id": None}


def test_update_certification_to_the_same_date_writes_no_row(app, outbox, origin):
    app.create_supplier("Beta Metals", FUTURE, origin)
    app.update_certification(1, FUTURE, origin)
    assert event_types(outbox()) == ["SUPPLIER_CREATED"]


def test_update_certification_of_unknown_supplier_is_not_found(app, outbox, origin):
    with pytest.raises(NotFound):
        app.update_certification(99, FUTURE, origin)
    assert outbox() == []


def test_update_certification_to_a_past_date_reports_the_supplier_at_risk(app, origin):
    app.create_supplier("Beta Metals", FUTURE, origin)
    assert app.update_certification(1, PAST, origin).at_risk is True
    assert app.suppliers.get(1).at_risk is True


def test_raise_nc_writes_one_nc_created_row(app, outbox, origin):
    app.create_supplier("Beta Metals", FUTURE, Origin("bob", "corr-1"))

    nc = app.raise_nc(1, "high", "weld porosity", origin)

    assert (nc.id, nc.status, nc.severity) == (1, NcStatus.OPEN, Severity.HIGH)
    records = outbox()
    assert event_types(records) == ["SUPPLIER_CREATED", "NC_CREATED"]
    created = records[1].envelope
    assert (created.aggregate_type, created.aggregate_id) == ("nc", "1")
    assert (created.actor, created.correlation_id) == ("alice", "corr-42")
    assert created.payload["changes"][1:3] == [["severity", None, "high"], ["description", None, "weld porosity"]]
    del created.payload["changes"]
    assert created.payload == {"nc_id": 1, "supplier_id": 1, "severity": "high", "description": "weld porosity"}


def test_raise_nc_for_unknown_supplier_is_not_found_and_writes_nothing(app, outbox, origin):
    with pytest.raises(NotFound) as caught:
        app.raise_nc(42, "high", "weld porosity", origin)
    assert (caught.value.entity, caught.value.identifier) == ("supplier", 42)
    assert outbox() == []
    assert app.ncs.list(NcFilter(), PageRequest()).total == 0


def test_raise_nc_with_unknown_severity_is_a_validation_error(app, outbox, origin):
    app.create_supplier("Beta Metals", FUTURE, origin)
    with pytest.raises(ValidationError) as caught:
        app.raise_nc(1, "critical", "weld porosity", origin)
    assert caught.value.field == "severity"
    assert event_types(outbox()) == ["SUPPLIER_CREATED"]


def test_close_nc_writes_one_nc_closed_row(app, outbox, origin, clock):
    app.create_supplier("Beta Metals", FUTURE, origin)
    app.raise_nc(1, "medium", "scratches", origin)
    clock.advance(3600)

    closed = app.close_nc(1, Origin("carol", "corr-9"))

    assert (closed.status, closed.closed_at) == (NcStatus.CLOSED, clock.now())
    assert app.ncs.get(1).status is NcStatus.CLOSED
    records = outbox()
    assert event_types(records) == ["SUPPLIER_CREATED", "NC_CREATED", "NC_CLOSED"]
    assert (records[2].envelope.actor, records[2].envelope.correlation_id) == ("carol", "corr-9")


def test_closing_a_closed_nc_is_a_conflict_and_writes_no_second_row(app, outbox, origin):
    app.create_supplier("Beta Metals", FUTURE, origin)
    app.raise_nc(1, "medium", "scratches", origin)
    app.close_nc(1, origin)
    with pytest.raises(InvalidTransition):
        app.close_nc(1, origin)
    assert event_types(outbox()).count("NC_CLOSED") == 1


def test_closing_an_unknown_nc_is_not_found(app, origin):
    with pytest.raises(NotFound):
        app.close_nc(5, origin)


# --- queries: filters and pagination ---------------------------------------------------------------


@pytest.fixture
def five_ncs(app, origin):
    """Supplier 1: high(open), low(open), high(closed); supplier 2: medium(open), high(open)."""
    app.create_supplier("Beta Metals", FUTURE, origin)
    app.create_supplier("Gamma Plastics", FUTURE, origin)
    app.raise_nc(1, "high", "a", origin)
    app.raise_nc(1, "low", "b", origin)
    app.raise_nc(1, "high", "c", origin)
    app.raise_nc(2, "medium", "d", origin)
    app.raise_nc(2, "high", "e", origin)
    app.close_nc(3, origin)


@pytest.mark.parametrize(
    "criteria, expected_ids",
    [
        (NcFilter(), [1, 2, 3, 4, 5]),
        (NcFilter(status=NcStatus.OPEN), [1, 2, 4, 5]),
        (NcFilter(status=NcStatus.CLOSED), [3]),
        (NcFilter(severity=Severity.HIGH), [1, 3, 5]),
        (NcFilter(supplier_id=2), [4, 5]),
        (NcFilter(status=NcStatus.OPEN, severity=Severity.HIGH, supplier_id=1), [1]),
    ],
)
def test_nc_list_filters_by_status_severity_and_supplier(app, five_ncs, criteria, expected_ids):
    page = app.ncs.list(criteria, PageRequest())
    assert [nc.id for nc in page.items] == expected_ids
    assert page.total == len(expected_ids)


def test_nc_list_paginates_with_limit_offset_and_reports_the_total(app, five_ncs):
    page = app.ncs.list(NcFilter(), PageRequest(limit=2, offset=2))
    assert [nc.id for nc in page.items] == [3, 4]
    assert (page.total, page.limit, page.offset) == (5, 2, 2)


def test_nc_list_past_the_end_is_empty_but_keeps_the_total(app, five_ncs):
    page = app.ncs.list(NcFilter(), PageRequest(limit=10, offset=10))
    assert (page.items, page.total) == ([], 5)


def test_supplier_list_paginates_and_flags_risk(app, origin):
    app.create_supplier("A", FUTURE, origin)
    app.create_supplier("B", PAST, origin)
    app.create_supplier("C", FUTURE, origin)

    page = app.suppliers.list(PageRequest(limit=2, offset=1))

    assert [(v.supplier.name, v.at_risk) for v in page.items] == [("B", True), ("C", False)]
    assert page.total == 3


def test_getting_an_unknown_supplier_or_nc_is_not_found(app):
    with pytest.raises(NotFound):
        app.suppliers.get(1)
    with pytest.raises(NotFound):
        app.ncs.get(1)


@pytest.mark.parametrize(
    "kwargs, field", [({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"offset": -1}, "offset")]
)
def test_page_request_out_of_range_is_a_validation_error_naming_the_field(kwargs, field):
    with pytest.raises(ValidationError) as caught:
        PageRequest(**kwargs)
    assert caught.value.field == field


# --- KPIs -------------------------------------------------------------------------------------------


def test_kpi_of_an_empty_database_is_all_zero(app):
    assert app.kpi().as_dict() == {
        "nc_open": 0,
        "nc_open_high": 0,
        "nc_closed": 0,
        "outbox_pending": 0,
        "outbox_published": 0,
        "outbox_failed": 0,
        "outbox_parked": 0,
        "suppliers_at_risk": 0,
        "audit_events_total": 0,
        "projection_lag_events": 0,
        "orders_by_status": dict.fromkeys(("RECEIVED", "PICKING", "IN_TRANSIT", "DELIVERED", "ON_HOLD", "CANCELLED"), 0),
        "fulfilment_steps_planned": 0,
        "events_unhandled": 0,
        "nc_by_status": {"OPEN": 0, "INVESTIGATING": 0, "ACTION_PLANNED": 0, "CLOSED": 0, "CANCELLED": 0},
        "nc_by_root_cause": {},
        "nc_high_closed_without_capa": 0,
        "actions_overdue": 0,
        "actions_due_7d": 0,
        "avg_days_to_close_90d": None,
        "capa_effectiveness_rate": None,
        "suppliers_blocked": 0,
        "suppliers_conditional": 0,
        "certs_expiring_30d": 0,
        "order_cancel_rate": None,
    }


def test_kpi_counts_ncs_and_pending_outbox_rows(app, five_ncs):
    assert app.kpi().as_dict() == {
        "nc_open": 4,
        "nc_open_high": 2,
        "nc_closed": 1,
        "outbox_pending": 2 + 5 + 1,  # two suppliers, five NCs raised, one closed
        "outbox_published": 0,
        "outbox_failed": 0,
        "outbox_parked": 0,
        "suppliers_at_risk": 2,  # both have an open high NC
        "audit_events_total": 0,  # nothing relayed yet
        "projection_lag_events": 0,
        "orders_by_status": dict.fromkeys(("RECEIVED", "PICKING", "IN_TRANSIT", "DELIVERED", "ON_HOLD", "CANCELLED"), 0),
        "fulfilment_steps_planned": 0,
        "events_unhandled": 0,
        "nc_by_status": {"OPEN": 4, "INVESTIGATING": 0, "ACTION_PLANNED": 0, "CLOSED": 1, "CANCELLED": 0},
        "nc_by_root_cause": {},
        "nc_high_closed_without_capa": 1,  # NC 3: high, closed with no verified corrective action
        "actions_overdue": 0,
        "actions_due_7d": 0,
        "avg_days_to_close_90d": 0.0,
        "capa_effectiveness_rate": None,
        "suppliers_blocked": 0,
        "suppliers_conditional": 0,
        "certs_expiring_30d": 0,
        "order_cancel_rate": None,
    }


def test_suppliers_at_risk_goes_up_with_an_open_high_nc_and_down_when_it_is_closed(app, origin):
    app.create_supplier("Beta Metals", FUTURE, origin)
    assert app.kpi().suppliers_at_risk == 0

    app.raise_nc(1, "high", "weld porosity", origin)
    assert app.kpi().suppliers_at_risk == 1

    app.close_nc(1, origin)
    assert app.kpi().suppliers_at_risk == 0


def test_suppliers_at_risk_counts_an_expired_certification(app, origin):
    app.create_supplier("Beta Metals", FUTURE, origin)
    assert app.kpi().suppliers_at_risk == 0

    app.update_certification(1, PAST, origin)
    assert app.kpi().suppliers_at_risk == 1


def test_supplier_with_expired_certification_and_high_nc_counts_once(app, origin):
    app.create_supplier("Beta Metals", PAST, origin)
    app.raise_nc(1, "high", "weld porosity", origin)
    app.raise_nc(1, "high", "cracks", origin)
    assert app.kpi().suppliers_at_risk == 1


def test_certification_expiring_today_becomes_a_risk_tomorrow(app, origin, clock):
    app.create_supplier("Beta Metals", clock.today(), origin)
    assert app.kpi().suppliers_at_risk == 0
    clock.advance(24 * 3600)
    assert app.kpi().suppliers_at_risk == 1
