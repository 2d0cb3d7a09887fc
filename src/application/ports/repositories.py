"""Repositories of the aggregates; `seen` lets the unit of work collect their events."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from domain.certificates import Certificate
from domain.errors import Conflict
from domain.events import DomainEvent
from domain.nonconformities import NcStatus, NonConformity, Severity
from domain.suppliers import ApprovalStatus, Supplier

from application.listing import Finding
from application.pagination import Page, PageRequest


class ConcurrentUpdate(Conflict):
    """Another transaction changed the aggregate since it was read (its version moved); the caller may retry."""


class Aggregate(Protocol):
    events: list[DomainEvent]


A = TypeVar("A", bound=Aggregate)


class Repository(ABC, Generic[A]):
    """Template methods: `add` and `get` track what the transaction touched."""

    def __init__(self) -> None:
        self.seen: list[A] = []

    def add(self, aggregate: A) -> None:
        """Persist a new aggregate and give it its identity."""
        self._add(aggregate)
        self.seen.append(aggregate)

    def flush(self) -> None:
        """Write back what changed in the aggregates `seen` (stores that write at once need nothing)."""

    def get(self, identity: Hashable) -> A | None:
        aggregate = self._get(identity)
        if aggregate is not None and aggregate not in self.seen:
            self.seen.append(aggregate)
        return aggregate

    @abstractmethod
    def _add(self, aggregate: A) -> None: ...

    @abstractmethod
    def _get(self, identity: Hashable) -> A | None: ...


@dataclass(frozen=True)
class SupplierFilter:
    find: Finding = Finding()
    approval_status: ApprovalStatus | None = None  # exact (ADR 0025)


class SupplierRepository(Repository[Supplier]):
    @abstractmethod
    def list(self, page: PageRequest, criteria: SupplierFilter = SupplierFilter()) -> Page[Supplier]: ...

    @abstractmethod
    def touch(self, supplier: Supplier) -> None:
        """The supplier changed outside its row (one of its certificates): the commit writes it one
        version up, so concurrent certificate changes of one supplier conflict (ADR 0025)."""


class CertificateRepository(Repository[Certificate]):
    """The certificate records; their events are their supplier's."""

    @abstractmethod
    def for_supplier(self, supplier_id: int, include_withdrawn: bool = False) -> list[Certificate]:
        """The supplier's certificates in id order (the withdrawn ones only when asked)."""


@dataclass(frozen=True)
class NcFilter:
    status: NcStatus | None = None
    severity: Severity | None = None
    supplier_id: int | None = None
    find: Finding = Finding()


class NonConformityRepository(Repository[NonConformity]):
    @abstractmethod
    def list(self, criteria: NcFilter, page: PageRequest) -> Page[NonConformity]: ...

    @abstractmethod
    def open_for_suppliers(self, supplier_ids: list[int]) -> list[NonConformity]:
        """The open (not CLOSED, not CANCELLED) non-conformities of these suppliers."""

    @abstractmethod
    def count(self, criteria: NcFilter) -> int: ...

    @abstractmethod
    def raised_between(self, supplier_id: int, since: datetime,
                       before: datetime) -> dict[tuple[Severity, NcStatus], int]:
        """The supplier's NCs opened at or after `since` and before `before`, counted by severity and
        current status (the scorecard's quality, ADR 0028)."""
