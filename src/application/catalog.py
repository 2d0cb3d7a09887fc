"""What SupplyTrace's events are and who handles them: the one place to register either."""

from __future__ import annotations

from domain.certificates import CERTIFICATE_EVENTS
from domain.inventories import InventoryCreated, InventoryDeleted, InventoryLineAdded
from domain.nonconformities import NC_EVENTS
from domain.orders import ORDER_EVENTS
from domain.receipts import SupplierReceiptRecorded
from domain.reminders import REMINDER_EVENTS
from domain.scorecard import SupplierScored
from domain.suppliers import SUPPLIER_APPROVAL_EVENTS, SupplierCertificationUpdated, SupplierCreated

from application.approval import ReviewOnHighNc
from application.audit import AuditTrailHandler
from application.fulfilment import FulfilmentProcess
from application.inventories import InventoryProjectionHandler
from application.orders import OrderHistoryHandler
from application.registry import EventRegistry

REGISTRY = EventRegistry(
    events=(SupplierCreated, SupplierCertificationUpdated, *NC_EVENTS, InventoryCreated, InventoryLineAdded,
            InventoryDeleted, *ORDER_EVENTS, *CERTIFICATE_EVENTS, *SUPPLIER_APPROVAL_EVENTS, *REMINDER_EVENTS,
            SupplierReceiptRecorded, SupplierScored),
    handlers=(AuditTrailHandler, InventoryProjectionHandler, OrderHistoryHandler, FulfilmentProcess, ReviewOnHighNc),
)
