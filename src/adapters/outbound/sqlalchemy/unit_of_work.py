from __future__ import annotations

import sqlalchemy as sa

from application.ports.clock import Clock
from application.ports.unit_of_work import StoreUnavailable, UnitOfWork

from adapters.outbound.sqlalchemy.aggregates import SqlNonConformityRepository, SqlSupplierRepository
from adapters.outbound.sqlalchemy.counters import SqlCounters
from adapters.outbound.sqlalchemy.engine import READ_ONLY
from adapters.outbound.sqlalchemy.inventories import SqlInventoryRepository, SqlInventorySummaryStore
from adapters.outbound.sqlalchemy.orders import SqlFulfilmentSchedule, SqlOrderHistory, SqlOrderRepository
from adapters.outbound.sqlalchemy.outbox import SqlAuditLog, SqlOutboxRepository, SqlProcessedEventStore
from adapters.outbound.sqlalchemy.security import SqlRevokedTokens


class SqlUnitOfWork(UnitOfWork):
    """One connection, one transaction; rolled back unless committed."""

    def __init__(self, engine: sa.Engine, clock: Clock) -> None:
        super().__init__(clock)
        self.engine = engine
        self.conn: sa.Connection | None = None

    def _begin(self) -> None:
        try:
            self.conn = self.engine.connect()
        except sa.exc.TimeoutError as error:  # every pooled connection busy for pool_timeout
            raise StoreUnavailable("database unavailable: no connection free in time") from error
        if self.read_only:
            self.conn.execution_options(**{READ_ONLY: True})
        self.conn.begin()
        self.counters = SqlCounters(self.conn)
        self.suppliers = SqlSupplierRepository(self.conn, self.counters)
        self.ncs = SqlNonConformityRepository(self.conn, self.counters)
        self.outbox = SqlOutboxRepository(self.conn, self.counters)
        self.processed = SqlProcessedEventStore(self.conn)
        self.audit = SqlAuditLog(self.conn, self.counters)
        self.orders = SqlOrderRepository(self.conn, self.counters)
        self.order_history = SqlOrderHistory(self.conn)
        self.fulfilment = SqlFulfilmentSchedule(self.conn, self.counters)
        self.inventories = SqlInventoryRepository(self.conn)
        self.inventory_summary = SqlInventorySummaryStore(self.conn)
        self.revoked_tokens = SqlRevokedTokens(self.conn)

    def _commit(self) -> None:
        assert self.conn is not None, "commit outside a unit of work"
        self.suppliers.mapper.flush(self.suppliers.seen)
        self.ncs.mapper.flush(self.ncs.seen)
        self.orders.flush()
        self.inventories.mapper.flush(self.inventories.seen)
        self.counters.flush()  # last: its rows stay locked until the commit
        self.conn.commit()

    def rollback(self) -> None:
        if self.conn is not None:
            self.conn.rollback()
            self.conn.close()
            self.conn = None

    def check(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
