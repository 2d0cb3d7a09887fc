"""Certificates and the supplier approval status (ADR 0025), on the in-memory adapters."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from adapters.outbound.memory.unit_of_work import MemoryUnitOfWork
from application.approval import ChangeApproval, RaiseReviewRequired, RequestApprovalChange, ReviewOnHighNc
from application.catalog import REGISTRY
from application.certificates import AddCertificate, CertificateQueries, UpdateCertificate, WithdrawCertificate
from application.conditional import PreconditionFailed
from application.dispatch import ApplyEvents
from application.kpi import KpiQuery
from application.nonconformities import CloseNonConformity, RaiseNonConformity
from application.suppliers import CreateSupplier, SupplierQueries, UpdateCertification
from domain.certificates import CertificateStatus, certificate_status
from domain.errors import Conflict, NotFound, ValidationError
from domain.orders import TransitionRefused
from domain.suppliers import ApprovalStatus

TODAY = date(2026, 1, 15)  # the fixed clock's day (tests/unit/conftest.py)


@pytest.fixture
def q(uow, clock):
    class Wired:
        create_supplier = CreateSupplier(uow, clock)
        update_certification = UpdateCertification(uow, clock)
        suppliers = SupplierQueries(uow, clock)
        add = AddCertificate(uow, clock)
        update = UpdateCertificate(uow, clock)
        withdraw = WithdrawCertificate(uow, clock)
        certificates = CertificateQueries(uow, clock)
        approve = ChangeApproval(uow, clock)
        request = RequestApprovalChange(uow, clock)
        review = RaiseReviewRequired(uow, clock)
        raise_nc = RaiseNonConformity(uow, clock)
        close_nc = CloseNonConformity(uow, clock)
        kpi = KpiQuery(uow, clock)
    return Wired()


def days(n: int) -> date:
    return TODAY + timedelta(days=n)


def types(outbox) -> list[str]:
    return [r.envelope.event_type for r in outbox()]


def test_the_status_follows_the_clock_and_the_warn_window():
    assert certificate_status(days(31), TODAY) is CertificateStatus.VALID
    assert certificate_status(days(30), TODAY) is CertificateStatus.EXPIRING
    assert certificate_status(TODAY, TODAY) is CertificateStatus.EXPIRING  # still valid on its expiry day
    assert certificate_status(days(-1), TODAY) is CertificateStatus.EXPIRED
    assert certificate_status(days(31), TODAY, warn_days=60) is CertificateStatus.EXPIRING


def test_the_earliest_required_certificate_becomes_the_certification_expiry(q, origin, outbox):
    supplier = q.create_supplier("Beta Metals", days(700), origin).supplier.id
    iso = q.add(supplier, "ISO_9001", "Q-1", "TÜV", days(-300), days(400), True, origin)
    assert (iso.status, q.suppliers.get(supplier).supplier.certification_expiry) == (CertificateStatus.VALID, days(400))
    q.add(supplier, "OTHER", "R-1", "Lab", days(-10), days(5), False, origin)  # not required: no effect
    q.add(supplier, "ISO_14001", "E-1", "BV", days(-10), days(20), True, origin)
    view = q.suppliers.get(supplier)
    assert view.supplier.certification_expiry == days(20)
    assert [(c.certificate.number, c.status) for c in q.certificates.list(supplier)] == [
        ("Q-1", CertificateStatus.VALID), ("R-1", CertificateStatus.EXPIRING), ("E-1", CertificateStatus.EXPIRING)]
    assert q.kpi().certs_expiring_30d == 2
    # every certificate change moved the supplier one version up (1 created + 3)
    assert view.supplier.version == 4
    assert types(outbox) == ["SUPPLIER_CREATED", "CERTIFICATE_ADDED", "SUPPLIER_CERT_UPDATED", "CERTIFICATE_ADDED",
                             "CERTIFICATE_ADDED", "SUPPLIER_CERT_UPDATED"]
    updated = [r.envelope.payload for r in outbox() if r.envelope.event_type == "SUPPLIER_CERT_UPDATED"][-1]
    assert updated["changes"] == [["certification_expiry", days(400).isoformat(), days(20).isoformat()]]
    assert updated["certificate_id"] == 3 and updated["previous_expiry"] == days(400).isoformat()
    added = outbox()[1].envelope
    assert (added.aggregate_type, added.aggregate_id) == ("supplier", str(supplier))
    assert ["type", None, "ISO_9001"] in added.payload["changes"]


def test_renewing_and_withdrawing_moves_the_date_and_the_direct_setting_is_refused_meanwhile(q, origin, outbox):
    supplier = q.create_supplier("Beta Metals", days(700), origin).supplier.id
    first = q.add(supplier, "ISO_9001", "Q-1", "TÜV", days(-300), days(10), True, origin).certificate
    second = q.add(supplier, "ISO_14001", "E-1", "BV", days(-300), days(90), True, origin).certificate
    with pytest.raises(Conflict, match="follows its required certificates"):
        q.update_certification(supplier, days(1000), origin)
    with pytest.raises(PreconditionFailed):
        q.update(supplier, first.id, {"expires_on": days(500)}, origin, expected={99})
    renewed = q.update(supplier, first.id, {"expires_on": days(500)}, origin, expected={first.version},
                       reason="renewed after the surveillance audit")
    assert renewed.status is CertificateStatus.VALID
    assert q.suppliers.get(supplier).supplier.certification_expiry == days(90)
    change = [r.envelope.payload for r in outbox() if r.envelope.event_type == "CERTIFICATE_UPDATED"][0]
    assert change["changes"] == [["expires_on", days(10).isoformat(), days(500).isoformat()]]
    assert change["reason"] == "renewed after the surveillance audit"
    assert q.update(supplier, first.id, {"expires_on": days(500)}, origin).certificate.version == renewed.certificate.version
    q.withdraw(supplier, second.id, origin, reason="scope dropped")
    assert q.suppliers.get(supplier).supplier.certification_expiry == days(500)
    q.withdraw(supplier, first.id, origin)
    # no required certificate left: the date stays, and is set directly again
    assert q.suppliers.get(supplier).supplier.certification_expiry == days(500)
    assert q.update_certification(supplier, days(30), origin).supplier.certification_expiry == days(30)
    assert [c.certificate.id for c in q.certificates.list(supplier, include_withdrawn=True)] == [first.id, second.id]
    assert q.certificates.list(supplier) == []
    with pytest.raises(Conflict, match="withdrawn"):
        q.withdraw(supplier, first.id, origin)


def test_bad_certificates_are_refused_naming_the_field(q, origin):
    supplier = q.create_supplier("Beta Metals", days(700), origin).supplier.id
    cases = [(("ISO_9999", "Q", "TÜV", days(0), days(1)), "type"),
             (("ISO_9001", " ", "TÜV", days(0), days(1)), "number"),
             (("ISO_9001", "Q", "", days(0), days(1)), "issuer"),
             (("ISO_9001", "Q", "TÜV", days(2), days(1)), "expires_on")]
    for (kind, number, issuer, issued, expires), field in cases:
        with pytest.raises(ValidationError) as refused:
            q.add(supplier, kind, number, issuer, issued, expires, True, origin)
        assert refused.value.field == field
    cert = q.add(supplier, "ISO_9001", "Q", "TÜV", days(0), days(10), True, origin).certificate
    with pytest.raises(ValidationError) as refused:
        q.update(supplier, cert.id, {"issued_on": days(11)}, origin)
    assert refused.value.field == "expires_on"
    with pytest.raises(Conflict, match="already has ISO_9001 Q"):
        q.add(supplier, "ISO_9001", "Q", "TÜV", days(0), days(10), True, origin)
    with pytest.raises(NotFound):
        q.add(99, "ISO_9001", "Z", "TÜV", days(0), days(10), True, origin)
    other = q.create_supplier("Acme", days(700), origin).supplier.id
    with pytest.raises(NotFound):
        q.update(other, cert.id, {"number": "X"}, origin)  # not that supplier's certificate


def test_approval_moves_follow_the_flow_and_its_guards(q, origin, outbox, clock):
    supplier = q.create_supplier("Beta Metals", days(700), origin).supplier.id
    assert q.suppliers.get(supplier).supplier.approval_status is ApprovalStatus.PENDING
    with pytest.raises(ValidationError) as refused:
        q.approve(supplier, "APPROVED", None, origin)
    assert refused.value.field == "reason"
    with pytest.raises(ValidationError) as refused:
        q.approve(supplier, "CONDITIONAL", "first delivery lots to be inspected", origin)
    assert refused.value.field == "next_evaluation_due"
    with pytest.raises(TransitionRefused) as illegal:
        q.approve(supplier, "BLOCKED", "x", origin)
    assert illegal.value.allowed == ["APPROVED", "CONDITIONAL", "REJECTED"]

    # a required certificate that has expired: not approvable until one is in force
    cert = q.add(supplier, "ISO_9001", "Q-1", "TÜV", days(-400), days(-1), True, origin).certificate
    with pytest.raises(TransitionRefused, match="no required certificate is in force") as guarded:
        q.approve(supplier, "APPROVED", "audit passed", origin)
    assert guarded.value.allowed == ["CONDITIONAL", "REJECTED"]
    q.update(supplier, cert.id, {"expires_on": days(365)}, origin)
    view = q.approve(supplier, "APPROVED", "audit passed", origin)
    s = view.supplier
    assert (s.approval_status, s.status_reason, s.status_changed_by, s.status_changed_at) == (
        ApprovalStatus.APPROVED, "audit passed", "alice", clock.now())

    q.approve(supplier, "BLOCKED", "porosity in three lots", origin, hold_until=days(60))
    assert q.suppliers.get(supplier).supplier.hold_until == days(60)
    assert (q.kpi().suppliers_blocked, q.kpi().suppliers_conditional) == (1, 0)
    nc = q.raise_nc(supplier, "high", "porosity", origin)
    with pytest.raises(TransitionRefused, match="1 high non-conformity is open") as guarded:
        q.approve(supplier, "APPROVED", "fixed", origin)
    assert guarded.value.allowed == ["CONDITIONAL"]
    q.approve(supplier, "CONDITIONAL", "8D accepted", origin)
    assert q.suppliers.get(supplier).supplier.hold_until is None  # left BLOCKED
    assert (q.kpi().suppliers_blocked, q.kpi().suppliers_conditional) == (0, 1)
    q.close_nc(nc.id, origin)
    q.approve(supplier, "APPROVED", "closed out", origin, next_evaluation_due=days(365))
    changed = [r.envelope.payload for r in outbox() if r.envelope.event_type == "SUPPLIER_STATUS_CHANGED"]
    assert [(p["from_status"], p["to_status"]) for p in changed] == [
        ("PENDING", "APPROVED"), ("APPROVED", "BLOCKED"), ("BLOCKED", "CONDITIONAL"), ("CONDITIONAL", "APPROVED")]
    assert ["hold_until", days(60).isoformat(), None] in changed[2]["changes"]
    assert ["approval_status", "CONDITIONAL", "APPROVED"] in changed[3]["changes"]


def test_a_request_changes_nothing_but_records_the_event(q, origin, outbox):
    supplier = q.create_supplier("Beta Metals", days(700), origin).supplier.id
    view = q.request(supplier, "APPROVED", "needed for the Q3 launch", origin)
    assert view.supplier.approval_status is ApprovalStatus.PENDING
    [request] = [r.envelope.payload for r in outbox() if r.envelope.event_type == "SUPPLIER_STATUS_CHANGE_REQUESTED"]
    assert (request["current_status"], request["requested_status"], request["reason"]) == (
        "PENDING", "APPROVED", "needed for the Q3 launch")
    with pytest.raises(TransitionRefused):
        q.request(supplier, "BLOCKED", "x", origin)


def test_a_high_nc_raises_one_review_for_a_supplier_in_use_and_a_second_delivery_none(q, uow, clock, origin, outbox):
    pending = q.create_supplier("Pending Co", days(700), origin).supplier.id
    used = q.create_supplier("Beta Metals", days(700), origin).supplier.id
    q.approve(used, "APPROVED", "audit passed", origin)
    for supplier, severity in ((used, "low"), (used, "high"), (pending, "high")):
        q.raise_nc(supplier, severity, "finding", origin)
    apply = ApplyEvents(REGISTRY.events, [ReviewOnHighNc(clock)], clock)
    envelopes = [r.envelope for r in outbox() if r.envelope.event_type == "NC_CREATED"]
    for _ in range(2):  # the same events twice: applied once
        unit = uow()
        with unit:
            assert apply(unit, envelopes) == [None, None, None]
            unit.commit()
    [review] = [r.envelope for r in outbox() if r.envelope.event_type == "SUPPLIER_REVIEW_REQUIRED"]
    assert (review.aggregate_id, review.payload["trigger"], review.payload["reference"]) == (
        str(used), "HIGH_NC_OPENED", "nc:2")
    assert review.payload["approval_status"] == "APPROVED"
    assert q.suppliers.get(used).supplier.approval_status is ApprovalStatus.APPROVED  # never a block


def test_a_high_nc_reopened_asks_for_a_review_again(q, uow, clock, origin, outbox):
    from adapters.outbound.security import StaticUserDirectory
    from application.nonconformities import MoveNonConformity
    from application.ports.security import UserAccount
    from domain.roles import Role

    used = q.create_supplier("Beta Metals", days(700), origin).supplier.id
    q.approve(used, "APPROVED", "audit passed", origin)
    nc = q.raise_nc(used, "high", "porosity", origin).id
    q.close_nc(nc, origin)
    MoveNonConformity(uow, clock, StaticUserDirectory([UserAccount("quality", "x", Role.QUALITY)]))(
        nc, "INVESTIGATING", origin, reason="porosity came back")
    apply = ApplyEvents(REGISTRY.events, [ReviewOnHighNc(clock)], clock)
    envelopes = [r.envelope for r in outbox() if r.envelope.event_type in ("NC_CREATED", "NC_REOPENED")]
    unit = uow()
    with unit:
        apply(unit, envelopes)
        unit.commit()
    reviews = [r.envelope.payload for r in outbox() if r.envelope.event_type == "SUPPLIER_REVIEW_REQUIRED"]
    assert [(r["reference"], r["reason"]) for r in reviews] == [
        (f"nc:{nc}", f"high non-conformity {nc} opened"), (f"nc:{nc}", f"high non-conformity {nc} reopened")]


def test_the_certificate_and_approval_events_rebuild_from_their_payloads(q, origin, outbox):
    supplier = q.create_supplier("Beta Metals", days(700), origin).supplier.id
    cert = q.add(supplier, "ISO_9001", "Q-1", "TÜV", days(-300), days(30), True, origin).certificate
    q.update(supplier, cert.id, {"required": False}, origin)
    q.approve(supplier, "REJECTED", "no quality system", origin)
    q.approve(supplier, "PENDING", "new application", origin)
    apply = ApplyEvents(REGISTRY.events, [], None)
    for record in outbox():
        rebuilt = apply.typed(record.envelope).event
        assert rebuilt.payload() == record.envelope.payload


def test_a_memory_touch_moves_the_version_once(db, clock):
    unit = MemoryUnitOfWork(db, clock)
    with unit:
        from domain.suppliers import Supplier
        supplier = Supplier.register("Beta", days(10), clock.now())
        unit.suppliers.add(supplier)
        unit.commit()
    unit = MemoryUnitOfWork(db, clock)
    with unit:
        loaded = unit.suppliers.get(1)
        unit.suppliers.touch(loaded)
        unit.suppliers.touch(loaded)
        unit.commit()
    assert loaded.version == 2
