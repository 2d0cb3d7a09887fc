"""Supplier approval status (QHSE-MODEL C4, ADR 0025): quality decides, procurement requests, and the
system only ever asks for a review (SUPPLIER_REVIEW_REQUIRED), never blocks by itself."""

from __future__ import annotations

from datetime import date

from domain.certificates import DEFAULT_WARN_DAYS, CertificateStatus
from domain.errors import NotFound
from domain.nonconformities import NcCreated, Severity
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
    """SUPPLIER_REVIEW_REQUIRED for a supplier. The reminder job (a later wave) calls
    `certificate_expired` for each certificate it finds expired; its own bookkeeping makes that once."""

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

    def certificate_expired(self, certificate_id: int, origin: Origin) -> bool:
        """Raise the review when the certificate, not withdrawn, has expired by the clock and its supplier
        is in use; False (and nothing recorded) otherwise (renewed, withdrawn, not yet expired, not in use)."""
        with self.uow().acting_as(origin) as uow:
            certificate = uow.certificates.get(certificate_id)
            if certificate is None:
                raise NotFound("certificate", certificate_id)
            today = self.clock.today()
            if not certificate.active or certificate.status(today) is not CertificateStatus.EXPIRED:
                return False
            kind = "required " if certificate.required else ""
            raised = _supplier(uow, certificate.supplier_id).require_review(
                ReviewTrigger.CERTIFICATE_EXPIRED, self.clock.now(), f"certificate:{certificate_id}",
                f"{kind}certificate {certificate.type} {certificate.number} expired on {certificate.expires_on}")
            uow.commit()
        return raised


class ReviewOnHighNc(EventHandler):
    """A high NC opened: its supplier, if in use, needs a review. The SUPPLIER_REVIEW_REQUIRED event
    commits with this handler's processed key, so a second delivery of the NC_CREATED raises nothing."""

    name = "supplier_review"
    subscribes_to = frozenset({NcCreated})

    def apply(self, uow: UnitOfWork, delivery: Delivery) -> None:
        event = delivery.event
        assert isinstance(event, NcCreated)
        if event.severity is not Severity.HIGH:
            return
        supplier = uow.suppliers.get(event.supplier_id)
        if supplier is None:
            return
        supplier.require_review(ReviewTrigger.HIGH_NC_OPENED, self.clock.now(), f"nc:{event.nc_id}",
                                f"high non-conformity {event.nc_id} opened")
