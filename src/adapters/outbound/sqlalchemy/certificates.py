"""The certificate records in SQL: one row each, written back by the table mapper."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from application.ports.counters import Counters
from application.ports.repositories import CertificateRepository
from domain.certificates import Certificate, CertificateType

from adapters.outbound.sqlalchemy.aggregates import TableMapper
from adapters.outbound.sqlalchemy.tables import supplier_certificates

FIELDS = ("supplier_id", "number", "issuer", "issued_on", "expires_on", "required", "created_at", "updated_at",
          "withdrawn_at")


def certificate_row(c: Certificate) -> dict[str, Any]:
    return {"type": c.type.value, **{name: getattr(c, name) for name in FIELDS}}


def certificate_from(row: sa.Row) -> Certificate:
    return Certificate(type=CertificateType(row.type), id=row.id, version=row.version,
                       **{name: getattr(row, name) for name in FIELDS})


class SqlCertificateRepository(CertificateRepository):
    def __init__(self, conn: sa.Connection, counters: Counters | None = None) -> None:
        super().__init__()
        self.conn = conn
        self.mapper = TableMapper(conn, supplier_certificates, certificate_row, certificate_from)

    def _add(self, certificate: Certificate) -> None:
        self.mapper.insert(certificate)

    def flush(self) -> None:
        if self.seen:  # most transactions touch no certificate
            self.mapper.flush(self.seen)

    def _get(self, identity: int) -> Certificate | None:
        return self.mapper.load(identity)

    def for_supplier(self, supplier_id: int, include_withdrawn: bool = False) -> list[Certificate]:
        """As stored, but a certificate this transaction holds is that object (with its unwritten changes)."""
        c = supplier_certificates.c
        query = sa.select(supplier_certificates).where(c.supplier_id == supplier_id).order_by(c.id)
        held = {certificate.id: certificate for certificate in self.seen}
        found = [held.get(row.id) or certificate_from(row) for row in self.conn.execute(query)]
        return [certificate for certificate in found if include_withdrawn or certificate.active]
