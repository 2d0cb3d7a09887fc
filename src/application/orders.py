"""Order use cases, queries and the order history read model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.errors import Conflict, NotFound
from domain.events import DomainEvent
from domain.orders import ORDER_EVENTS, ItemSpec, Order, OrderChanges, item_status_named, order_status_named

from application.dispatch import Delivery, EventHandler
from application.conditional import Expected, check_version
from application.envelope import EventEnvelope, Origin
from application.pagination import Page, PageRequest
from application.ports.clock import Clock
from application.ports.orders import OrderFilter, OrderHistoryEntry
from application.ports.unit_of_work import UnitOfWork, UowFactory


@dataclass(frozen=True)
class NewOrder:
    """What a client may send; either body shape of the earlier systems fits."""

    reference: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    address: str | None = None
    facility_id: str | None = None
    eta: datetime | None = None
    ordered_at: datetime | None = None
    items: Sequence[ItemSpec] = ()
    total_amount: object = None


class PlaceOrder:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, new: NewOrder, origin: Origin) -> Order:
        order = Order.receive(
            self.clock.now(), reference=new.reference, customer_id=new.customer_id, customer_name=new.customer_name,
            address=new.address, facility_id=new.facility_id, eta=new.eta, ordered_at=new.ordered_at,
            items=new.items, total_amount=new.total_amount,
        )
        with self.uow().acting_as(origin) as uow:
            if order.reference is not None and uow.orders.reference_taken(order.reference):
                raise Conflict(f"an order with order_id {order.reference} exists already")
            uow.orders.add(order)
            uow.commit()
        return order


def _load(uow: UnitOfWork, key: str, expected: Expected = None) -> Order:
    order = uow.orders.find(key)
    if order is None:
        raise NotFound("order", key)
    check_version(f"order {order.label}", order.version, expected)
    return order


class UpdateOrder:
    """PUT /orders/{id}: what may still change (eta, address, items while RECEIVED) as one ORDER_UPDATED
    event; a PUT that changes nothing writes nothing."""

    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, key: str, changes: OrderChanges, origin: Origin, expected: Expected = None) -> Order:
        with self.uow().acting_as(origin) as uow:
            order = _load(uow, key, expected)
            if order.update(changes, self.clock.now()):
                uow.commit()
        return order


class ChangeOrderStatus:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, key: str, status: str, reason: str | None, origin: Origin,
                 expected: Expected = None) -> Order:
        target = order_status_named(status)
        with self.uow().acting_as(origin) as uow:
            order = _load(uow, key, expected)
            order.move_to(target, self.clock.now(), reason)
            uow.commit()
        return order


class ChangeItemStatus:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, key: str, sku: str, status: str, reason: str | None, origin: Origin,
                 expected: Expected = None) -> Order:
        target = item_status_named(status)
        with self.uow().acting_as(origin) as uow:
            order = _load(uow, key, expected)
            order.change_item_status(sku, target, self.clock.now(), reason)
            uow.commit()
        return order


class CancelOrder:
    """Synchronous: the order is CANCELLED when the request's transaction commits."""

    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, key: str, reason: str | None, origin: Origin, expected: Expected = None) -> Order:
        with self.uow().acting_as(origin) as uow:
            order = _load(uow, key, expected)
            order.cancel(self.clock.now(), reason)
            uow.commit()
        return order


class OrderQueries:
    def __init__(self, uow: UowFactory) -> None:
        self.uow = uow

    def get(self, key: str) -> Order:
        with self.uow().reading() as uow:
            return _load(uow, key)

    def list(self, criteria: OrderFilter, page: PageRequest) -> Page[Order]:
        with self.uow().reading() as uow:
            return uow.orders.list(criteria, page)

    def history(self, key: str, include_items: bool = False) -> tuple[Order, list[OrderHistoryEntry]]:
        """The order and its recorded changes, oldest first (eventually consistent: written by a handler)."""
        with self.uow().reading() as uow:
            order = _load(uow, key)
            return order, uow.order_history.of_order(order.id, include_items)


class OrderHistoryHandler(EventHandler):
    """Keeps the append-only order history: one entry per order or item change, in both event modes."""

    name = "order_history"
    subscribes_to = frozenset(ORDER_EVENTS)

    def apply_batch(self, uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
        now = self.clock.now()
        uow.order_history.append([self._entry(d.event, d.envelope, now) for d in deliveries])

    @staticmethod
    def _entry(event: DomainEvent, envelope: EventEnvelope, now: datetime) -> OrderHistoryEntry:
        status = getattr(event, "to_status", None) or getattr(event, "status")
        from_status = getattr(event, "from_status", None)
        return OrderHistoryEntry(
            event_id=event.event_id, order_id=getattr(event, "order_id"), event_type=event.event_type,
            sku=getattr(event, "sku", None), from_status=from_status.value if from_status else None,
            to_status=status.value, reason=getattr(event, "reason", None), actor=envelope.actor,
            correlation_id=envelope.correlation_id, occurred_at=event.occurred_at, recorded_at=now,
        )

