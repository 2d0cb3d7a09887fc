"""PostgreSQL: two concurrent certificate changes of one supplier cannot both commit (ADR 0025)."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.outbound.clock import FixedClock
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.unit_of_work import SqlUnitOfWork
from application.certificates import AddCertificate, CertificateQueries, follow_certificates
from application.envelope import Origin
from application.ports.repositories import ConcurrentUpdate
from application.suppliers import CreateSupplier, SupplierQueries
from domain.certificates import Certificate

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(postgres_url: str):
    engine = create_engine(postgres_url)
    yield engine
    engine.dispose()


def test_the_second_of_two_concurrent_certificate_changes_fails_and_the_date_stays_right(engine) -> None:
    clock = FixedClock()
    factory = lambda: SqlUnitOfWork(engine, clock)  # noqa: E731
    origin = Origin("quality", "c")
    supplier_id = CreateSupplier(factory, clock)("Beta Metals", date(2030, 1, 1), origin).supplier.id
    AddCertificate(factory, clock)(supplier_id, "ISO_9001", "Q-1", "TÜV", date(2025, 1, 1), date(2029, 1, 1), True,
                                   origin)

    def add(uow, number: str, expires: date) -> None:
        supplier = uow.suppliers.get(supplier_id)
        certificate = Certificate.record(supplier_id, "ISO_14001", number, "BV", date(2025, 1, 1), expires, True,
                                         clock.now())
        uow.certificates.add(certificate)
        certificate.record_addition()
        follow_certificates(uow, supplier, certificate, clock, None)

    first, second = factory(), factory()
    with first, second:  # both read the supplier at the same version, neither sees the other's certificate
        add(first, "E-1", date(2028, 1, 1))
        add(second, "E-2", date(2029, 6, 1))  # leaves its view of the date as it is: the touch still conflicts
        first.commit()
        with pytest.raises(ConcurrentUpdate):
            second.commit()
    assert SupplierQueries(factory, clock).get(supplier_id).supplier.certification_expiry == date(2028, 1, 1)
    assert [v.certificate.number for v in CertificateQueries(factory, clock).list(supplier_id)] == ["Q-1", "E-1"]
