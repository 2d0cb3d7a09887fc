from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from application.ports.clock import Clock
from application.ports.unit_of_work import StoreUnavailable, UnitOfWork

from adapters.outbound.sqlalchemy.aggregates import SqlNonConformityRepository, SqlSupplierRepository
from adapters.outbound.sqlalchemy.audit import SqlAuditLog
from adapters.outbound.sqlalchemy.certificates import SqlCertificateRepository
from adapters.outbound.sqlalchemy.counters import SqlCounters
from adapters.outbound.sqlalchemy.delivery_log import DiscardedSteps, SqlDeadLetters, SqlDeliverySteps
from adapters.outbound.sqlalchemy.engine import READ_ONLY
from adapters.outbound.sqlalchemy.idempotency import SqlIdempotencyStore
from adapters.outbound.sqlalchemy.inventories import SqlInventoryRepository, SqlInventorySummaryStore
from adapters.outbound.sqlalchemy.kpi import SqlKpiCounts
from adapters.outbound.sqlalchemy.orders import SqlFulfilmentSchedule, SqlOrderHistory, SqlOrderRepository
from adapters.outbound.sqlalchemy.outbox import SqlOutboxRepository, SqlProcessedEventStore
from adapters.outbound.sqlalchemy.reminders import SqlReminderLog
from adapters.outbound.sqlalchemy.retention import SqlRetentionStore
from adapters.outbound.sqlalchemy.scorecard import SqlReceiptRepository, SqlScorePeriodRepository
from adapters.outbound.sqlalchemy.security import SqlRevokedTokens

def uncounted(store: Callable[[sa.Connection], Any]) -> Callable[[sa.Connection, SqlCounters], Any]:
    return lambda conn, counters: store(conn)


# every store of the unit of work, opened on its connection and the transaction's counters (the
# port names their attributes); a store that changes counted rows gets the counters (ADR 0012)
STORES: dict[str, Callable[[sa.Connection, SqlCounters], Any]] = {
    "certificates": SqlCertificateRepository,  # first: a certificate's event precedes the supplier change it causes
    "receipts": SqlReceiptRepository,
    "scores": SqlScorePeriodRepository,  # before suppliers: SUPPLIER_SCORED precedes the review it raises
    "suppliers": SqlSupplierRepository,
    "ncs": SqlNonConformityRepository,
    "outbox": SqlOutboxRepository,
    "processed": uncounted(SqlProcessedEventStore),
    "audit": SqlAuditLog,
    "orders": SqlOrderRepository,
    "order_history": uncounted(SqlOrderHistory),
    "fulfilment": SqlFulfilmentSchedule,
    "inventories": uncounted(SqlInventoryRepository),
    "inventory_summary": uncounted(SqlInventorySummaryStore),
    "revoked_tokens": uncounted(SqlRevokedTokens),
    "steps": uncounted(SqlDeliverySteps),
    "dead_letters": uncounted(SqlDeadLetters),
    "retention": SqlRetentionStore,
    "idempotency": uncounted(SqlIdempotencyStore),
    "reminders": uncounted(SqlReminderLog),
    "kpi_counts": uncounted(SqlKpiCounts),
}


class SqlUnitOfWork(UnitOfWork):
    """One connection, one transaction; rolled back unless committed."""

    def __init__(self, engine: sa.Engine, clock: Clock, after_commit: Callable[[], None] | None = None,
                 timeline: bool = True) -> None:
        super().__init__(clock, after_commit)
        self.engine, self.timeline = engine, timeline
        self.conn: sa.Connection | None = None

    def _open(self, engine: sa.Engine) -> sa.Connection:
        try:
            return engine.connect()
        except sa.exc.TimeoutError as error:  # every pooled connection busy for pool_timeout
            raise StoreUnavailable("database unavailable: no connection free in time") from error

    def _connect(self) -> sa.Connection:
        """The connection of this unit of work (a replica's unit of work chooses, see replica.py)."""
        return self._open(self.engine)

    def _begin(self) -> None:
        self.conn = self._connect()
        if self.read_only:
            self.conn.execution_options(**{READ_ONLY: True})
        self.conn.begin()
        self.counters = SqlCounters(self.conn)
        for name, store in STORES.items():
            setattr(self, name, store(self.conn, self.counters))
        if not self.timeline:
            self.steps = DiscardedSteps()

    def _commit(self) -> None:
        assert self.conn is not None, "commit outside a unit of work"
        # the repositories flushed (UnitOfWork.commit); the counters last: their rows stay locked until the commit
        self.counters.flush()
        self.conn.commit()

    @contextmanager
    def _savepoint(self) -> Iterator[object]:
        assert self.conn is not None, "savepoint outside a unit of work"
        nested = self.conn.begin_nested()
        counted = dict(self.counters.pending)
        try:
            yield nested
        except StoreUnavailable:
            raise  # the connection is gone: there is nothing to roll back to
        except BaseException:
            nested.rollback()
            self.counters.pending = counted  # the counts of what the savepoint undid go with it
            raise
        nested.commit()

    def rollback(self) -> None:
        if self.conn is not None:
            self.conn.rollback()
            self.conn.close()
            self.conn = None

    def check(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
