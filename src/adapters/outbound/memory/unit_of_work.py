from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from application.ports.clock import Clock
from application.ports.unit_of_work import UnitOfWork

from adapters.outbound.memory.certificates import MemoryCertificateRepository
from adapters.outbound.memory.counters import MemoryCounters
from adapters.outbound.memory.database import MemoryDatabase, MemoryState
from adapters.outbound.memory.delivery_log import MemoryDeadLetters, MemoryDeliverySteps
from adapters.outbound.memory.idempotency import MemoryIdempotencyStore
from adapters.outbound.memory.inventories import MemoryInventoryRepository, MemoryInventorySummaryStore
from adapters.outbound.memory.kpi import MemoryKpiCounts
from adapters.outbound.memory.orders import MemoryFulfilmentSchedule, MemoryOrderHistory, MemoryOrderRepository
from adapters.outbound.memory.repositories import (
    MemoryAuditLog,
    MemoryNonConformityRepository,
    MemoryOutboxRepository,
    MemoryProcessedEventStore,
    MemoryRevokedTokens,
    MemorySupplierRepository,
)
from adapters.outbound.memory.reminders import MemoryReminderLog
from adapters.outbound.memory.retention import MemoryRetentionStore
from adapters.outbound.memory.scorecard import MemoryReceiptRepository, MemoryScorePeriodRepository

STORES: dict[str, Callable[[MemoryState], Any]] = {
    "certificates": MemoryCertificateRepository,  # first: a certificate's event precedes the supplier change it causes
    "receipts": MemoryReceiptRepository,
    "scores": MemoryScorePeriodRepository,  # before suppliers: SUPPLIER_SCORED precedes the review it raises
    "suppliers": MemorySupplierRepository,
    "ncs": MemoryNonConformityRepository,
    "outbox": MemoryOutboxRepository,
    "processed": MemoryProcessedEventStore,
    "audit": MemoryAuditLog,
    "orders": MemoryOrderRepository,
    "order_history": MemoryOrderHistory,
    "fulfilment": MemoryFulfilmentSchedule,
    "inventories": MemoryInventoryRepository,
    "inventory_summary": MemoryInventorySummaryStore,
    "revoked_tokens": MemoryRevokedTokens,
    "steps": MemoryDeliverySteps,
    "dead_letters": MemoryDeadLetters,
    "retention": MemoryRetentionStore,
    "idempotency": MemoryIdempotencyStore,
    "reminders": MemoryReminderLog,
    "kpi_counts": MemoryKpiCounts,
}


class MemoryUnitOfWork(UnitOfWork):
    def __init__(self, database: MemoryDatabase, clock: Clock, after_commit: Callable[[], None] | None = None) -> None:
        super().__init__(clock, after_commit)
        self.database = database
        self._active = False

    def _begin(self) -> None:
        state = self.database.begin()
        self._active = True
        self._state = state
        self.counters = MemoryCounters(state)
        for name, store in STORES.items():
            setattr(self, name, store(state))

    def _commit(self) -> None:
        self.database.commit(self._state)

    @contextmanager
    def _savepoint(self) -> Iterator[object]:
        snapshot = copy.deepcopy(self._state)
        try:
            yield snapshot
        except BaseException:
            self._state.__dict__.update(snapshot.__dict__)
            raise

    def rollback(self) -> None:
        if self._active:
            self._active = False
            self.database.end()

    def check(self) -> None:
        return None
