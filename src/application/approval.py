"""Supplier approval status (QHSE-MODEL C4, ADR 0025): quality decides, procurement requests, and the
system only ever asks for a review (SUPPLIER_REVIEW_REQUIRED), never blocks by itself."""

from __future__ import annotations

from datetime import date, datetime

from domain.certificates import DEFAULT_WARN_DAYS, Certificate, CertificateStatus
from domain.errors import NotFound
from domain.nonconformities import NcCreated, NcReopened, Severity
from domain.suppliers import ApprovalFacts, ApprovalStatus, ReviewTrigger, Supplier

from application.conditional import Expected, check_version
from application.dispatch import Delivery, EventHandler
from application.envelope import Origin
from application.ports.clock import Clock
from application.ports.unit_of_work import UnitOfWork, UowFactory
from application.suppliers import SupplierView
from domain.risk import supplier_at_risk


def approval_facts(uow: UnitOfWork, supplier: Supplier, today: date) -> ApprovalFacts:
    assert supplier.id is not None
    required = [c for c in uow.certificates.for_supplier(supplier.id) if c.required]
    statuses = [c.status(today, DEFAULT_WARN_DAYS) for c in required]
    open_ncs = uow.ncs.open_for_suppliers([supplier.id])
    return ApprovalFacts(
        today=today,
        has_required_certificates=bool(required),
        required_certificate_in_force=any(s is not CertificateStatus.EXPIRED for s in statuses),
        required_certificate_expired=any(s is CertificateStatus.EXPIRED for s in statuses),
        open_high_ncs=sum(1 for nc in open_ncs if nc.is_open_high),
    )


def _supplier(uow: UnitOfWork, supplier_id: int) -> Supplier:
    supplier = uow.suppliers.get(supplier_id)
    if supplier is None:
        raise NotFound("supplier", supplier_id)
    return supplier


def _view(uow: UnitOfWork, supplier: Supplier, today: date) -> SupplierView:
    assert supplier.id is not None
    return SupplierView(supplier, supplier_at_risk(supplier, uow.ncs.open_for_suppliers([supplier.id]), today))


class ChangeApproval:
    """`PATCH /suppliers/{id}/approval`: quality's (or an admin's) decision; the caller is `status_changed_by`."""

    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, supplier_id: int, status: str, reason: str | None, origin: Origin,
                 expected: Expected = None, hold_until: date | None = None,
                 next_evaluation_due: date | None = None) -> SupplierView:
        target = ApprovalStatus.parse(status)
        with self.uow().acting_as(origin) as uow:
            supplier = _supplier(uow, supplier_id)
            check_version(f"supplier {supplier_id}", supplier.version, expected)
            today = self.clock.today()
            supplier.change_approval(target, approval_facts(uow, supplier, today), origin.actor, self.clock.now(),
                                     reason, hold_until=hold_until, next_evaluation_due=next_evaluation_due)
            view = _view(uow, supplier, today)
            uow.commit()
        return view


class RequestApprovalChange:
    """Procurement asks for a move (SUPPLIER_STATUS_CHANGE_REQUESTED); the supplier stays as it is."""

    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, supplier_id: int, status: str, reason: str | None, origin: Origin) -> SupplierView:
        target = ApprovalStatus.parse(status)
        with self.uow().acting_as(origin) as uow:
            supplier = _supplier(uow, supplier_id)
            today = self.clock.today()
            supplier.request_approval_change(target, approval_facts(uow, supplier, today), self.clock.now(), reason)
            view = _view(uow, supplier, today)
            uow.commit()
        return view


class RaiseReviewRequired:
    """SUPPLIER_REVIEW_REQUIRED for a supplier; `within` raises it in the caller's transaction (the
    scorecard's), as `review_expired_certificate` does for the reminder job."""

    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, supplier_id: int, trigger: ReviewTrigger, origin: Origin, reference: str | None = None,
                 reason: str | None = None) -> bool:
        """True when raised; False for a supplier not in use (see Supplier.require_review)."""
        with self.uow().acting_as(origin) as uow:
            raised = self.within(_supplier(uow, supplier_id), trigger, reference, reason)
            uow.commit()
        return raised

    def within(self, supplier: Supplier, trigger: ReviewTrigger, reference: str | None = None,
               reason: str | None = None) -> bool:
        """The same, in the caller's transaction (the supplier loaded by it): the review commits with what
        raised it, or not at all (the scorecard's stored period, ADR 0028)."""
        return supplier.require_review(trigger, self.clock.now(), reference, reason)


def review_expired_certificate(uow: UnitOfWork, certificate: Certificate, today: date, now: datetime) -> bool:
    """In the caller's transaction: SUPPLIER_REVIEW_REQUIRED for a certificate in force that has expired
    by `today` (the reminder job's CERT_EXPIRED raises it with the same commit)."""
    if not certificate.active or certificate.status(today) is not CertificateStatus.EXPIRED:
        return False
    kind = "required " if certificate.required else ""
    return _supplier(uow, certificate.supplier_id).require_review(
        ReviewTrigger.CERTIFICATE_EXPIRED, now, f"certificate:{certificate.id}",
        f"{kind}certificate {certificate.type} {certificate.number} expired on {certificate.expires_on}")


class ReviewOnHighNc(EventHandler):
    """A high NC opened, or reopened: its supplier, if in use, needs a review. The SUPPLIER_REVIEW_REQUIRED
    event commits with this handler's processed key, so a second delivery of the event raises nothing."""

    name = "supplier_review"
    subscribes_to = frozenset({NcCreated, NcReopened})

    def apply(self, uow: UnitOfWork, delivery: Delivery) -> None:
        event = delivery.event
        assert isinstance(event, NcCreated | NcReopened)
        if event.severity is not Severity.HIGH:
            return
        supplier = uow.suppliers.get(event.supplier_id)
        if supplier is None:
            return
        what = "reopened" if isinstance(event, NcReopened) else "opened"
        supplier.require_review(ReviewTrigger.HIGH_NC_OPENED, self.clock.now(), f"nc:{event.nc_id}",
                                f"high non-conformity {event.nc_id} {what}")
