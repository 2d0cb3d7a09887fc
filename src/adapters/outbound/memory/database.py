"""A whole database in a Python object: each transaction works on a copy, commit swaps it in."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from application.ports.consumption import AuditEntry
from application.ports.delivery_log import DeadLetter, DeliveryStep
from application.ports.idempotency import IdempotencyRecord
from application.ports.inventories import InventorySummary
from application.ports.orders import FulfilmentStep, OrderHistoryEntry
from application.ports.outbox import OutboxRecord
from application.ports.reminders import ReminderKey
from domain.certificates import Certificate
from domain.inventories import Inventory
from domain.nonconformities import NonConformity
from domain.orders import Order
from domain.receipts import Receipt
from domain.scorecard import ScorePeriod
from domain.suppliers import Supplier


@dataclass
class OutboxRow:
    record: OutboxRecord
    position: int
    lease_until: datetime | None = None

    @property
    def archived(self) -> bool:
        """Handled (or skipped): in the archive, no longer in the hot outbox."""
        return self.record.handled_at is not None


@dataclass
class MemoryState:
    suppliers: dict[int, Supplier] = field(default_factory=dict)
    ncs: dict[int, NonConformity] = field(default_factory=dict)
    outbox: dict[UUID, OutboxRow] = field(default_factory=dict)
    processed: dict[tuple[str, UUID], datetime] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    sequences: dict[str, int] = field(default_factory=dict)
    inventories: dict[int, Inventory] = field(default_factory=dict)
    inventory_summary: dict[int, InventorySummary] = field(default_factory=dict)
    orders: dict[UUID, Order] = field(default_factory=dict)
    order_history: list[OrderHistoryEntry] = field(default_factory=list)
    fulfilment: dict[UUID, FulfilmentStep] = field(default_factory=dict)
    revoked_tokens: dict[str, datetime] = field(default_factory=dict)  # token id → its expiry
    counters: dict[str, int] = field(default_factory=dict)  # the Counters port's values
    steps: list[DeliveryStep] = field(default_factory=list)
    dead_letters: dict[str, DeadLetter] = field(default_factory=dict)  # by key
    idempotency: dict[tuple[str, str], IdempotencyRecord] = field(default_factory=dict)  # by (user, key)
    certificates: dict[int, Certificate] = field(default_factory=dict)  # the suppliers' certificate records
    reminders_sent: dict[ReminderKey, datetime] = field(default_factory=dict)  # key → when it was sent
    receipts: dict[int, Receipt] = field(default_factory=dict)  # the suppliers' deliveries (ADR 0028)
    score_periods: dict[tuple[int, date], ScorePeriod] = field(default_factory=dict)  # by (supplier, month start)

    def next_id(self, name: str) -> int:
        self.sequences[name] = self.sequences.get(name, 0) + 1
        return self.sequences[name]


class MemoryDatabase:
    """Serializable by construction: one transaction at a time, on a private copy."""

    def __init__(self) -> None:
        self.state = MemoryState()
        self._lock = threading.Lock()
        self._owner: int | None = None

    def begin(self) -> MemoryState:
        if self._owner == threading.get_ident():
            raise RuntimeError("nested unit of work on the same thread")
        self._lock.acquire()
        self._owner = threading.get_ident()
        return copy.deepcopy(self.state)

    def commit(self, work: MemoryState) -> None:
        self.state = copy.deepcopy(work)

    def end(self) -> None:
        self._owner = None
        self._lock.release()
