"""The unit of work: one transaction; events of touched aggregates go to the outbox on commit."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from domain.events import DomainEvent

from application.envelope import EventEnvelope, Origin
from application.ports.clock import Clock
from application.ports.counters import Counters
from application.ports.consumption import AuditLog, ProcessedEventStore
from application.ports.delivery_log import Buffered, DeadLetters, DeliverySteps
from application.ports.idempotency import IdempotencyStore, current_claim
from application.ports.inventories import InventoryRepository, InventorySummaryStore
from application.ports.kpi import KpiCountStore
from application.ports.orders import FulfilmentSchedule, OrderHistory, OrderRepository
from application.ports.outbox import OutboxRepository
from application.ports.repositories import (
    CertificateRepository, NonConformityRepository, Repository, SupplierRepository,
)
from application.ports.reminders import ReminderLog
from application.ports.retention import RetentionStore
from application.ports.scorecard import ReceiptRepository, ScorePeriodRepository
from application.ports.security import RevokedTokens


class StoreUnavailable(Exception):
    """The database cannot be reached or did not answer in time: retry later, nothing was written."""


class UnitOfWork(ABC):
    """The stores below are opened by the adapter; every `Repository` among them is an aggregate
    repository whose recorded events go to the outbox on commit (none is listed by hand)."""

    suppliers: SupplierRepository
    ncs: NonConformityRepository
    certificates: CertificateRepository  # the suppliers' certificate records (ADR 0025)
    receipts: ReceiptRepository  # the suppliers' deliveries, the scorecard's input (ADR 0028)
    scores: ScorePeriodRepository  # the stored monthly scores, immutable (ADR 0028)
    outbox: OutboxRepository
    processed: ProcessedEventStore
    audit: AuditLog
    inventories: InventoryRepository
    inventory_summary: InventorySummaryStore
    orders: OrderRepository
    order_history: OrderHistory
    fulfilment: FulfilmentSchedule
    revoked_tokens: RevokedTokens
    steps: DeliverySteps  # the delivery timeline: buffered, written with the commit
    dead_letters: DeadLetters
    retention: RetentionStore  # the purge of what the retention lets go
    kpi_counts: KpiCountStore  # the KPIs that are not counters, read together
    counters: Counters  # add() with every change of a counted row; written with the commit
    reminders: ReminderLog  # which reminder was sent for what (ADR 0027)
    idempotency: IdempotencyStore  # the request's Idempotency-Key, written by the commit that writes (ADR 0020)

    def __init__(self, clock: Clock, after_commit: Callable[[], None] | None = None) -> None:
        self.clock = clock
        self.origin = Origin()
        self.read_only = False
        self.after_commit = after_commit  # called after a commit that wrote outbox events (wakes relays)
        self.staged = 0

    def __enter__(self) -> UnitOfWork:
        self._begin()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.rollback()

    def acting_as(self, origin: Origin) -> UnitOfWork:
        """Stamp the events of this transaction with who asked and the correlation id."""
        self.origin = origin
        return self

    def reading(self) -> UnitOfWork:
        """A transaction that only reads: it never waits for writers where the store allows it."""
        self.read_only = True
        return self

    def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a reading unit of work cannot commit")
        claim = current_claim()
        if claim is not None:  # first, so a request racing another with its key waits here, not holding more
            self.idempotency.insert(claim.record(self.clock.now()), claim.expired_before)
        self.stage_events()
        for repository in self._aggregate_repositories():
            repository.flush()
        for store in self._buffered():  # the audit log last: its chain lock is then held only to the commit
            store.flush()
        self._commit()
        if claim is not None:
            claim.committed = True
        if self.staged and self.after_commit is not None:
            self.after_commit()
        self.staged = 0

    def stage_events(self) -> None:
        """Put the events recorded so far into the outbox (one statement), stamped with the current origin."""
        envelopes = [EventEnvelope.wrap(event, self.origin) for event in self._collect_new_events()]
        if envelopes:
            self.outbox.add(envelopes, self.clock.now())
            self.staged += len(envelopes)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: on an exception its writes are undone and the exception goes on;
        the aggregates it loaded are forgotten too."""
        marks = [(repository, len(repository.seen)) for repository in self._aggregate_repositories()]
        buffers = [(store, len(store.pending)) for store in self._buffered()]
        staged = self.staged
        try:
            with self._savepoint():
                yield
                for store, mark in buffers:
                    store.flush(since=mark)
        except BaseException:
            for repository, mark in marks:
                del repository.seen[mark:]
            for store, mark in buffers:
                del store.pending[mark:]
            self.staged = staged
            raise

    def _collect_new_events(self) -> Iterator[DomainEvent]:
        for repository in self._aggregate_repositories():
            for aggregate in repository.seen:
                while aggregate.events:
                    yield aggregate.events.pop(0)

    def _aggregate_repositories(self) -> list[Repository]:
        return [store for store in vars(self).values() if isinstance(store, Repository)]

    def _buffered(self) -> list[Buffered]:
        """The stores that write with the commit, the audit log last."""
        return sorted((store for store in vars(self).values() if isinstance(store, Buffered)),
                      key=lambda store: store is self.audit)

    @abstractmethod
    def _savepoint(self) -> AbstractContextManager[object]: ...

    @abstractmethod
    def _begin(self) -> None: ...

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...

    @abstractmethod
    def check(self) -> None:
        """Raise if the store cannot be reached (health check)."""


UowFactory = Callable[[], UnitOfWork]
