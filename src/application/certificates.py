"""Certificate use cases (QHSE-MODEL C5, ADR 0025).

Every change of a certificate loads its supplier, checks the supplier is the one in the path, and
recomputes the supplier's `certification_expiry` (the earliest required certificate not withdrawn) in
the same transaction: when it moves, SUPPLIER_CERT_UPDATED is recorded as before. The supplier is
written one version up by every certificate change (`touch`), so two concurrent changes of one
supplier's certificates cannot both commit on a stale view of its certificates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.certificates import DEFAULT_WARN_DAYS, Certificate, CertificateStatus, earliest_required_expiry
from domain.errors import Conflict, NotFound
from domain.suppliers import Supplier

from application.conditional import Expected, check_version
from application.envelope import Origin
from application.ports.clock import Clock
from application.ports.unit_of_work import UnitOfWork, UowFactory


@dataclass(frozen=True)
class CertificateView:
    certificate: Certificate
    status: CertificateStatus


def _supplier(uow: UnitOfWork, supplier_id: int) -> Supplier:
    supplier = uow.suppliers.get(supplier_id)
    if supplier is None:
        raise NotFound("supplier", supplier_id)
    return supplier


def _certificate(uow: UnitOfWork, supplier_id: int, certificate_id: int) -> Certificate:
    certificate = uow.certificates.get(certificate_id)
    if certificate is None or certificate.supplier_id != supplier_id:
        raise NotFound("certificate", certificate_id)
    return certificate


def follow_certificates(uow: UnitOfWork, supplier: Supplier, certificate: Certificate, clock: Clock,
                        reason: str | None) -> None:
    """The supplier's date follows its required certificates; the supplier moves one version up."""
    assert supplier.id is not None
    earliest = earliest_required_expiry(uow.certificates.for_supplier(supplier.id))
    if earliest is not None:
        why = reason or f"certificate {certificate.id} ({certificate.type}) {certificate.number}"
        supplier.update_certification(earliest, clock.now(), why, certificate_id=certificate.id)
    uow.suppliers.touch(supplier)


class _CertificateCommand:
    def __init__(self, uow: UowFactory, clock: Clock, warn_days: int = DEFAULT_WARN_DAYS) -> None:
        self.uow, self.clock, self.warn_days = uow, clock, warn_days

    def _view(self, certificate: Certificate) -> CertificateView:
        return CertificateView(certificate, certificate.status(self.clock.today(), self.warn_days))


class AddCertificate(_CertificateCommand):
    def __call__(self, supplier_id: int, type: str, number: str, issuer: str, issued_on: date, expires_on: date,
                 required: bool, origin: Origin) -> CertificateView:
        with self.uow().acting_as(origin) as uow:
            supplier = _supplier(uow, supplier_id)
            certificate = Certificate.record(supplier_id, type, number, issuer, issued_on, expires_on, required,
                                             self.clock.now())
            twin = [c for c in uow.certificates.for_supplier(supplier_id)
                    if c.type is certificate.type and c.number == certificate.number]
            if twin:
                raise Conflict(f"supplier {supplier_id} already has {certificate.type} {certificate.number} "
                               f"(certificate {twin[0].id}): update that one")
            uow.certificates.add(certificate)
            certificate.record_addition()
            follow_certificates(uow, supplier, certificate, self.clock, None)
            uow.commit()
        return self._view(certificate)


class UpdateCertificate(_CertificateCommand):
    def __call__(self, supplier_id: int, certificate_id: int, values: dict[str, Any], origin: Origin,
                 expected: Expected = None, reason: str | None = None) -> CertificateView:
        with self.uow().acting_as(origin) as uow:
            supplier = _supplier(uow, supplier_id)
            certificate = _certificate(uow, supplier_id, certificate_id)
            check_version(f"certificate {certificate_id}", certificate.version, expected)
            if certificate.update(values, self.clock.now(), reason):
                follow_certificates(uow, supplier, certificate, self.clock, reason)
            uow.commit()
        return self._view(certificate)


class WithdrawCertificate(_CertificateCommand):
    """Withdrawn, not deleted: the record and its history stay. Withdrawing the last required
    certificate leaves the supplier's date as it was, settable directly again (ADR 0025)."""

    def __call__(self, supplier_id: int, certificate_id: int, origin: Origin, expected: Expected = None,
                 reason: str | None = None) -> None:
        with self.uow().acting_as(origin) as uow:
            supplier = _supplier(uow, supplier_id)
            certificate = _certificate(uow, supplier_id, certificate_id)
            check_version(f"certificate {certificate_id}", certificate.version, expected)
            certificate.withdraw(self.clock.now(), reason)
            follow_certificates(uow, supplier, certificate, self.clock, reason)
            uow.commit()


class CertificateQueries:
    def __init__(self, uow: UowFactory, clock: Clock, warn_days: int = DEFAULT_WARN_DAYS) -> None:
        self.uow, self.clock, self.warn_days = uow, clock, warn_days

    def list(self, supplier_id: int, include_withdrawn: bool = False) -> list[CertificateView]:
        with self.uow().reading() as uow:
            _supplier(uow, supplier_id)
            today = self.clock.today()
            return [CertificateView(c, c.status(today, self.warn_days))
                    for c in uow.certificates.for_supplier(supplier_id, include_withdrawn)]

    def get(self, supplier_id: int, certificate_id: int) -> CertificateView:
        with self.uow().reading() as uow:
            certificate = _certificate(uow, supplier_id, certificate_id)
            return CertificateView(certificate, certificate.status(self.clock.today(), self.warn_days))
