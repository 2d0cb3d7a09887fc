"""The certificate records in memory."""

from __future__ import annotations


from application.ports.repositories import CertificateRepository
from domain.certificates import Certificate

from adapters.outbound.memory.database import MemoryState
from adapters.outbound.memory.versions import Versions


class MemoryCertificateRepository(CertificateRepository):
    def __init__(self, state: MemoryState) -> None:
        super().__init__()
        self.state = state
        self.versions = Versions()

    def _add(self, certificate: Certificate) -> None:
        certificate.id = self.state.next_id("certificates")
        self.state.certificates[certificate.id] = certificate
        self.versions.added(certificate)

    def flush(self) -> None:
        self.versions.flush()

    def _get(self, identity: int) -> Certificate | None:
        certificate = self.state.certificates.get(identity)
        if certificate is not None:
            self.versions.loaded(certificate)
        return certificate

    def for_supplier(self, supplier_id: int, include_withdrawn: bool = False) -> list[Certificate]:
        found = [c for c in self.state.certificates.values()
                 if c.supplier_id == supplier_id and (include_withdrawn or c.active)]
        for certificate in found:
            self.versions.loaded(certificate)
        return sorted(found, key=lambda c: c.id or 0)
