from __future__ import annotations

from application.ports.clock import Clock
from application.ports.unit_of_work import UnitOfWork

from adapters.outbound.memory.counters import MemoryCounters
from adapters.outbound.memory.database import MemoryDatabase
from adapters.outbound.memory.inventories import MemoryInventoryRepository, MemoryInventorySummaryStore
from adapters.outbound.memory.orders import MemoryFulfilmentSchedule, MemoryOrderHistory, MemoryOrderRepository
from adapters.outbound.memory.repositories import (
    MemoryAuditLog,
    MemoryNonConformityRepository,
    MemoryOutboxRepository,
    MemoryProcessedEventStore,
    MemoryRevokedTokens,
    MemorySupplierRepository,
)


class MemoryUnitOfWork(UnitOfWork):
    def __init__(self, database: MemoryDatabase, clock: Clock) -> None:
        super().__init__(clock)
        self.database = database
        self._active = False

    def _begin(self) -> None:
        state = self.database.begin()
        self._active = True
        self._state = state
        self.counters = MemoryCounters(state)
        self.suppliers = MemorySupplierRepository(state)
        self.ncs = MemoryNonConformityRepository(state)
        self.outbox = MemoryOutboxRepository(state)
        self.processed = MemoryProcessedEventStore(state)
        self.audit = MemoryAuditLog(state)
        self.orders = MemoryOrderRepository(state)
        self.order_history = MemoryOrderHistory(state)
        self.fulfilment = MemoryFulfilmentSchedule(state)
        self.inventories = MemoryInventoryRepository(state)
        self.inventory_summary = MemoryInventorySummaryStore(state)
        self.revoked_tokens = MemoryRevokedTokens(state)

    def _commit(self) -> None:
        self.ncs.tally.flush(self.ncs.seen)  # entities are changed in place: count their state changes
        self.orders.tally.flush(self.orders.seen)
        self.database.commit(self._state)

    def rollback(self) -> None:
        if self._active:
            self._active = False
            self.database.end()

    def check(self) -> None:
        return None
