"""Order aggregate: items, the delivery state machine and the events of every change."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from domain.errors import InvalidTransition, NotFound, TransitionRefused, ValidationError
from domain.events import DomainEvent
from domain.text import optional_text, required_text

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999.99")  # every stored amount, totals too, is a numeric(12,2)
MAX_QUANTITY = 1_000_000
REFERENCE_MAX_LENGTH = CUSTOMER_ID_MAX_LENGTH = FACILITY_ID_MAX_LENGTH = 50
SKU_MAX_LENGTH = 100
CUSTOMER_NAME_MAX_LENGTH = 200
ADDRESS_MAX_LENGTH = REASON_MAX_LENGTH = 500


class OrderStatus(StrEnum):
    RECEIVED = "RECEIVED"
    PICKING = "PICKING"
    IN_TRANSIT = "IN_TRANSIT"
    DELIVERED = "DELIVERED"
    ON_HOLD = "ON_HOLD"
    CANCELLED = "CANCELLED"


class ItemStatus(StrEnum):
    PENDING = "PENDING"
    PICKED = "PICKED"
    IN_TRANSIT = "IN_TRANSIT"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"


S, I = OrderStatus, ItemStatus
# ON_HOLD also resumes to the state it left: see Order.allowed_next()
ORDER_FLOW: dict[OrderStatus, tuple[OrderStatus, ...]] = {
    S.RECEIVED: (S.PICKING, S.ON_HOLD, S.CANCELLED),
    S.PICKING: (S.IN_TRANSIT, S.ON_HOLD, S.CANCELLED),
    S.IN_TRANSIT: (S.DELIVERED,),
    S.DELIVERED: (),
    S.ON_HOLD: (S.CANCELLED,),
    S.CANCELLED: (),
}
ITEM_FLOW: dict[ItemStatus, tuple[ItemStatus, ...]] = {
    I.PENDING: (I.PICKED, I.CANCELLED),
    I.PICKED: (I.IN_TRANSIT, I.CANCELLED),
    I.IN_TRANSIT: (I.DELIVERED,),
    I.DELIVERED: (),
    I.CANCELLED: (),
}
# the path the fulfilment process walks, one step per event
FULFILMENT_PATH: dict[OrderStatus, OrderStatus] = {
    S.RECEIVED: S.PICKING,
    S.PICKING: S.IN_TRANSIT,
    S.IN_TRANSIT: S.DELIVERED,
}
# items follow their order into these states; they are never moved there one by one
ITEM_MOVES_WITH_ORDER: dict[OrderStatus, tuple[ItemStatus, ItemStatus]] = {
    S.IN_TRANSIT: (I.PICKED, I.IN_TRANSIT),
    S.DELIVERED: (I.IN_TRANSIT, I.DELIVERED),
}
ITEMS_EDITABLE_IN = {S.RECEIVED: (I.PICKED, I.CANCELLED), S.PICKING: (I.PICKED, I.CANCELLED),
                     S.ON_HOLD: (I.CANCELLED,)}


def parse_status(kind: type[StrEnum], value: str, field_name: str = "status") -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ValidationError(field_name, f"must be one of {', '.join(kind)}") from None


# --- events ---------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class _OrderEvent(DomainEvent):
    aggregate_type = "order"
    order_id: UUID

    @property
    def aggregate_id(self) -> str:
        return str(self.order_id)


@dataclass(frozen=True, kw_only=True)
class OrderReceived(_OrderEvent):
    event_type = "ORDER_RECEIVED"
    reference: str | None
    customer_id: str | None
    customer_name: str | None
    address: str | None
    facility_id: str | None
    eta: datetime | None
    total_amount: Decimal
    items: tuple[dict[str, Any], ...]
    status: OrderStatus = OrderStatus.RECEIVED

    def field_changes(self) -> list[tuple[str, Any, Any]]:
        return self.initial("status", "reference", "customer_id", "customer_name", "address", "facility_id", "eta",
                            "total_amount", *(("items",) if self.items else ()))


@dataclass(frozen=True, kw_only=True)
class OrderStatusChanged(_OrderEvent):
    event_type = "ORDER_STATUS_CHANGED"
    from_status: OrderStatus
    to_status: OrderStatus
    reason: str | None = None

    def field_changes(self) -> list[tuple[str, Any, Any]]:
        return [("status", self.from_status, self.to_status)]


@dataclass(frozen=True, kw_only=True)
class OrderItemStatusChanged(_OrderEvent):
    event_type = "ORDER_ITEM_STATUS_CHANGED"
    sku: str
    from_status: ItemStatus
    to_status: ItemStatus
    reason: str | None = None

    def field_changes(self) -> list[tuple[str, Any, Any]]:
        return [(f"items[{self.sku}].status", self.from_status, self.to_status)]


@dataclass(frozen=True, kw_only=True)
class OrderCancelled(_OrderEvent):
    event_type = "ORDER_CANCELLED"
    from_status: OrderStatus
    reason: str | None = None
    to_status: OrderStatus = OrderStatus.CANCELLED

    def field_changes(self) -> list[tuple[str, Any, Any]]:
        return [("status", self.from_status, self.to_status)]


@dataclass(frozen=True, kw_only=True)
class OrderUpdated(_OrderEvent):
    """What `PUT /orders/{id}` changed, in one event: `changed` names the fields, the others carry their
    new values (`items` and `total_amount` only when the items changed), `previous` the changed fields'
    values before."""

    event_type = "ORDER_UPDATED"
    status: OrderStatus
    changed: tuple[str, ...]
    eta: datetime | None
    address: str | None
    items: tuple[dict[str, Any], ...] | None = None
    total_amount: Decimal | None = None
    reason: str | None = None
    previous: dict[str, Any] = field(default_factory=dict)

    def field_changes(self) -> list[tuple[str, Any, Any]]:
        return [(name, self.previous.get(name), getattr(self, name)) for name in self.changed]


ORDER_EVENTS: tuple[type[DomainEvent], ...] = (OrderReceived, OrderStatusChanged, OrderItemStatusChanged,
                                               OrderCancelled, OrderUpdated)
# what may still change, and until when (PUT /orders/{id})
ETA_EDITABLE_IN = frozenset({S.RECEIVED, S.PICKING, S.ON_HOLD, S.IN_TRANSIT})
ADDRESS_EDITABLE_IN = frozenset({S.RECEIVED, S.PICKING, S.ON_HOLD})
ITEMS_REPLACEABLE_IN = frozenset({S.RECEIVED})
# the seed order system's lower-case statuses, as the order's own
STATUS_ALIASES: dict[str, OrderStatus] = {"PENDING": S.RECEIVED, "CANCELED": S.CANCELLED}


# --- values ---------------------------------------------------------------------------------------

def money(value: object, field_name: str) -> Decimal:
    """A non-negative amount with at most two decimals."""
    if isinstance(value, bool):
        raise ValidationError(field_name, "must be a decimal number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError(field_name, "must be a decimal number") from None
    if not amount.is_finite() or amount < 0:
        raise ValidationError(field_name, "must be a number >= 0")
    if amount > MAX_AMOUNT:  # before quantize(), which fails past the context's precision
        raise ValidationError(field_name, f"must be at most {MAX_AMOUNT}")
    if amount != amount.quantize(CENT):
        raise ValidationError(field_name, "must have at most 2 decimal places")
    return abs(amount.quantize(CENT))  # abs: -0 is stored as 0 by every adapter


def order_status_named(value: str, field_name: str = "status") -> OrderStatus:
    """An order status by its name in any case, or by the seed order system's word for it ("pending")."""
    name = value.strip().upper() if isinstance(value, str) else value
    if name in STATUS_ALIASES:
        return STATUS_ALIASES[name]
    return parse_status(OrderStatus, name, field_name)


def item_status_named(value: str, field_name: str = "status") -> ItemStatus:
    """An item status by its name in any case ("picked")."""
    return parse_status(ItemStatus, value.strip().upper() if isinstance(value, str) else value, field_name)


def _check_total(declared: object, lines: Sequence[OrderItem]) -> Decimal | None:
    """The declared total, which must be what the items add up to (quantity x sale_price, to the cent)."""
    if declared is None:
        return None
    amount = money(declared, "total_amount")
    if lines:
        computed = sum((line.line_total for line in lines if line.live), Decimal("0.00"))
        if amount != computed:
            raise ValidationError("total_amount", f"is {amount} but the items add up to {computed} "
                                                  f"(quantity x sale_price); send the items' total or leave it out")
    return amount


def _items_from(specs: Iterable[ItemSpec], now: datetime) -> list[OrderItem]:
    lines = [OrderItem.from_spec(spec, i, now) for i, spec in enumerate(specs)]
    skus = [line.sku for line in lines]
    duplicates = sorted({sku for sku in skus if skus.count(sku) > 1})
    if duplicates:
        raise ValidationError("items", f"each sku may appear once; repeated: {', '.join(duplicates)}")
    return lines


@dataclass(frozen=True)
class OrderChanges:
    """What a PUT of an order may carry; None means "not sent". The fields that never change
    (order_id, customer, facility, order time, status) are accepted when they repeat the order's
    values, so that a client may send back the whole order it read."""

    eta: datetime | None = None
    address: str | None = None
    items: Sequence[ItemSpec] | None = None
    total_amount: object = None
    reference: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    facility_id: str | None = None
    ordered_at: datetime | None = None
    status: str | None = None


@dataclass(frozen=True)
class ItemSpec:
    """An item as asked for, before it is validated into an OrderItem."""

    sku: str
    quantity: int
    unit_price: object
    sale_price: object


@dataclass(eq=False)
class OrderItem:
    sku: str
    quantity: int
    unit_price: Decimal
    sale_price: Decimal
    status: ItemStatus = ItemStatus.PENDING
    updated_at: datetime | None = None

    @classmethod
    def from_spec(cls, spec: ItemSpec, index: int, now: datetime) -> OrderItem:
        where = f"items.{index}"
        sku = required_text(f"{where}.sku", spec.sku, SKU_MAX_LENGTH)
        if isinstance(spec.quantity, bool) or not isinstance(spec.quantity, int) or spec.quantity <= 0:
            raise ValidationError(f"{where}.quantity", "must be an integer > 0")
        if spec.quantity > MAX_QUANTITY:
            raise ValidationError(f"{where}.quantity", f"must be at most {MAX_QUANTITY}")
        return cls(sku=sku, quantity=spec.quantity, unit_price=money(spec.unit_price, f"{where}.unit_price"),
                   sale_price=money(spec.sale_price, f"{where}.sale_price"), updated_at=now)

    @property
    def live(self) -> bool:
        return self.status is not ItemStatus.CANCELLED

    @property
    def line_total(self) -> Decimal:
        return (self.sale_price * self.quantity).quantize(CENT)

    def as_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "quantity": self.quantity, "unit_price": self.unit_price,
                "sale_price": self.sale_price, "status": self.status}


# --- the aggregate --------------------------------------------------------------------------------

@dataclass(eq=False)
class Order:
    """An order. `reference` is the client's own id (`order_id` in the API), unique when given."""

    id: UUID
    reference: str | None
    customer_id: str | None
    customer_name: str | None
    address: str | None
    facility_id: str | None
    eta: datetime | None
    ordered_at: datetime
    created_at: datetime
    updated_at: datetime
    items: list[OrderItem] = field(default_factory=list)
    status: OrderStatus = OrderStatus.RECEIVED
    held_from: OrderStatus | None = None
    declared_total: Decimal = Decimal("0.00")
    version: int = 0
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def receive(
        cls,
        now: datetime,
        *,
        reference: str | None = None,
        customer_id: str | None = None,
        customer_name: str | None = None,
        address: str | None = None,
        facility_id: str | None = None,
        eta: datetime | None = None,
        ordered_at: datetime | None = None,
        items: Iterable[ItemSpec] = (),
        total_amount: object = None,
    ) -> Order:
        reference = optional_text("order_id", reference, REFERENCE_MAX_LENGTH)
        if reference is not None and _looks_like_uuid(reference):
            raise ValidationError("order_id", "must not be a UUID: UUIDs are the ids SupplyTrace assigns")
        customer_id = optional_text("customer_id", customer_id, CUSTOMER_ID_MAX_LENGTH)
        customer_name = optional_text("customer_name", customer_name, CUSTOMER_NAME_MAX_LENGTH)
        if customer_id is None and customer_name is None:
            raise ValidationError("customer_name", "customer_name or customer_id is required")
        for name, value in (("eta", eta), ("order_datetime", ordered_at)):
            _check_moment(name, value)
        lines = _items_from(items, now)
        declared = _check_total(total_amount, lines)
        address = optional_text("address", address, ADDRESS_MAX_LENGTH, multiline=True)
        if customer_id is None and reference is None and not lines and address is None:
            raise ValidationError("address", "is required for a delivery order (customer_name without order_id, "
                                             "customer_id or items): where should it go?")
        order = cls(id=uuid4(), reference=reference, customer_id=customer_id, customer_name=customer_name,
                    address=address,
                    facility_id=optional_text("facility_id", facility_id, FACILITY_ID_MAX_LENGTH),
                    eta=eta, ordered_at=ordered_at or now, created_at=now, updated_at=now, items=lines,
                    declared_total=Decimal("0.00") if declared is None else declared)
        if order.total_amount > MAX_AMOUNT:  # the sum of the item lines, stored like every amount
            raise ValidationError("items", f"the order total (quantity x sale_price over the items) would be "
                                           f"{order.total_amount}; it must be at most {MAX_AMOUNT}")
        order.events.append(OrderReceived(
            occurred_at=now, order_id=order.id, reference=order.reference, customer_id=order.customer_id,
            customer_name=order.customer_name, address=order.address, facility_id=order.facility_id, eta=order.eta,
            total_amount=order.total_amount, items=tuple(item.as_dict() for item in lines)))
        return order

    # --- reading ---------------------------------------------------------------------------------

    @property
    def total_amount(self) -> Decimal:
        """The live items' sale prices times quantities; the declared total when there are no items."""
        if not self.items:
            return self.declared_total
        return sum((item.line_total for item in self.items if item.live), Decimal("0.00"))

    @property
    def live_items(self) -> list[OrderItem]:
        return [item for item in self.items if item.live]

    def item(self, sku: str) -> OrderItem:
        for item in self.items:
            if item.sku == sku:
                return item
        raise NotFound("order item", f"{sku} of order {self.id}")

    def allowed_next(self) -> tuple[OrderStatus, ...]:
        """The states the order may move to now (IN_TRANSIT only once every live item is PICKED)."""
        if self.status is OrderStatus.ON_HOLD and self.held_from is not None:
            return (self.held_from, *ORDER_FLOW[OrderStatus.ON_HOLD])
        if self._items_not_picked():
            return tuple(s for s in ORDER_FLOW[self.status] if s is not OrderStatus.IN_TRANSIT)
        return ORDER_FLOW[self.status]

    def _items_not_picked(self) -> list[str]:
        return [item.sku for item in self.live_items if item.status is not ItemStatus.PICKED]

    def allowed_item_moves(self, item: OrderItem) -> tuple[ItemStatus, ...]:
        editable = ITEMS_EDITABLE_IN.get(self.status, ())
        return tuple(s for s in ITEM_FLOW[item.status] if s in editable)

    # --- moving ----------------------------------------------------------------------------------

    def move_to(self, target: OrderStatus, now: datetime, reason: str | None = None) -> None:
        if target is OrderStatus.CANCELLED:
            self.cancel(now, reason)
            return
        allowed = self.allowed_next()
        if target not in allowed:
            waiting = self._items_not_picked() if target in ORDER_FLOW[self.status] else []
            why = f"every live item must be PICKED first; not yet: {', '.join(waiting)}" if waiting else ""
            raise TransitionRefused(f"order {self.label}", self.status, target, allowed, why=why)
        reason = _reason(reason)
        previous = self.status
        self.held_from = previous if target is OrderStatus.ON_HOLD else None
        self._set(target, now)
        self.events.append(OrderStatusChanged(occurred_at=now, order_id=self.id, from_status=previous,
                                              to_status=target, reason=reason))
        if target in ITEM_MOVES_WITH_ORDER:
            source, destination = ITEM_MOVES_WITH_ORDER[target]
            for item in self.items:
                if item.status is source:
                    self._move_item(item, destination, now, f"moved with the order to {target}")

    def cancel(self, now: datetime, reason: str | None = None) -> None:
        allowed = self.allowed_next()
        if OrderStatus.CANCELLED not in allowed:
            raise TransitionRefused(f"order {self.label}", self.status, OrderStatus.CANCELLED, allowed)
        reason = _reason(reason)
        previous = self.status
        self.held_from = None
        self._set(OrderStatus.CANCELLED, now)
        self.events.append(OrderCancelled(occurred_at=now, order_id=self.id, from_status=previous, reason=reason))
        for item in self.live_items:
            self._move_item(item, ItemStatus.CANCELLED, now, "the order was cancelled")

    def change_item_status(self, sku: str, target: ItemStatus, now: datetime, reason: str | None = None) -> None:
        item = self.item(sku)
        if target not in ITEM_FLOW[item.status]:
            raise TransitionRefused(f"item {sku}", item.status, target, self.allowed_item_moves(item))
        allowed = self.allowed_item_moves(item)
        if target not in allowed:
            why = (f"items move to {target} with their order" if target in (ItemStatus.IN_TRANSIT,
                                                                               ItemStatus.DELIVERED)
                   else f"the order is {self.status}")
            raise TransitionRefused(f"item {sku}", item.status, target, allowed, why=why)
        reason = _reason(reason)
        self._move_item(item, target, now, reason)
        self.updated_at = now
        if target is ItemStatus.CANCELLED and not self.live_items:
            previous = self.status
            self.held_from = None
            self._set(OrderStatus.CANCELLED, now)
            self.events.append(OrderCancelled(occurred_at=now, order_id=self.id, from_status=previous,
                                              reason="every item was cancelled"))

    def update(self, changes: OrderChanges, now: datetime) -> list[str]:
        """Apply what may still change as ONE event (ORDER_UPDATED); the names of the changed fields.

        eta until the order is delivered, address until it travels, items (the whole list, each
        PENDING again) while it is RECEIVED and none is picked. Anything else is refused (409) with why.
        """
        self._check_unchangeable(changes)
        changed: list[str] = []
        eta, address, lines = self.eta, self.address, None
        if changes.eta is not None:
            _check_moment("eta", changes.eta)
            if changes.eta != self.eta:
                self._editable("eta", ETA_EDITABLE_IN)
                eta = changes.eta
                changed.append("eta")
        if changes.address is not None:
            new_address = optional_text("address", changes.address, ADDRESS_MAX_LENGTH, multiline=True)
            if new_address is None:
                raise ValidationError("address", "must not be empty: leave it out to keep the address")
            if new_address != self.address:
                self._editable("address", ADDRESS_EDITABLE_IN)
                address = new_address
                changed.append("address")
        if changes.items is not None:
            new_lines = _items_from(changes.items, now)
            if [i.as_dict() for i in new_lines] != [i.as_dict() for i in self.items]:
                self._editable("items", ITEMS_REPLACEABLE_IN)
                picked = [i.sku for i in self.items if i.status is ItemStatus.PICKED]
                if picked:
                    raise InvalidTransition(f"the items of order {self.label} cannot change: already picked: "
                                            f"{', '.join(picked)}")
                total = sum((line.line_total for line in new_lines), Decimal("0.00"))
                if total > MAX_AMOUNT:
                    raise ValidationError("items", f"the order total would be {total}; it must be at most "
                                                   f"{MAX_AMOUNT}")
                lines = new_lines
                changed.append("items")
        _check_total(changes.total_amount, lines if lines is not None else self.items)
        declared = self.declared_total
        if changes.total_amount is not None and not (lines if lines is not None else self.items):
            declared = money(changes.total_amount, "total_amount")
            if declared != self.declared_total:
                self._editable("total_amount", ITEMS_REPLACEABLE_IN)
                changed.append("total_amount")
        if not changed:
            return []
        before = {"eta": self.eta, "address": self.address, "items": tuple(i.as_dict() for i in self.items),
                  "total_amount": self.total_amount}
        self.eta, self.address, self.declared_total = eta, address, declared
        if lines is not None:
            self.items = lines
        self.updated_at = now
        items_changed = "items" in changed or "total_amount" in changed
        self.events.append(OrderUpdated(
            occurred_at=now, order_id=self.id, status=self.status, changed=tuple(changed), eta=self.eta,
            address=self.address, items=tuple(i.as_dict() for i in self.items) if items_changed else None,
            total_amount=self.total_amount if items_changed else None, reason=f"updated {', '.join(changed)}",
            previous={name: before[name] for name in changed}))
        return changed

    def _editable(self, what: str, states: frozenset[OrderStatus]) -> None:
        if self.status not in states:
            allowed = ", ".join(s for s in OrderStatus if s in states)
            raise InvalidTransition(f"the {what} of order {self.label} cannot change: the order is {self.status} "
                                    f"(it may change while {allowed})")

    def _check_unchangeable(self, changes: OrderChanges) -> None:
        fixed = (("order_id", changes.reference, self.reference), ("customer_id", changes.customer_id,
                 self.customer_id), ("customer_name", changes.customer_name, self.customer_name),
                 ("facility_id", changes.facility_id, self.facility_id),
                 ("order_datetime", changes.ordered_at, self.ordered_at))
        for name, sent, current in fixed:
            if sent is not None and sent != current:
                raise InvalidTransition(f"the {name} of order {self.label} never changes (it is {current}, "
                                        f"{sent} was sent)")
        if changes.status is not None:
            wanted = order_status_named(changes.status)
            if wanted is not self.status:
                raise InvalidTransition(f"order {self.label} is {self.status}: PUT does not move it to {wanted}; "
                                        f"use PATCH /orders/{{id}}/status or /orders/{{id}}/cancel")

    def next_fulfilment_step(self) -> OrderStatus | None:
        """Where the fulfilment process takes the order next, or None when it must stop."""
        return FULFILMENT_PATH.get(self.status)

    def fulfil_one_step(self, now: datetime) -> OrderStatus | None:
        """One automatic step; to go IN_TRANSIT the pending live items are picked first."""
        target = self.next_fulfilment_step()
        if target is None:
            return None
        if target is OrderStatus.IN_TRANSIT:
            for item in self.live_items:
                if item.status is ItemStatus.PENDING:
                    self._move_item(item, ItemStatus.PICKED, now, "picked by the fulfilment process")
        self.move_to(target, now, reason="automatic fulfilment")
        return target

    @property
    def label(self) -> str:
        return self.reference or str(self.id)

    def _set(self, status: OrderStatus, now: datetime) -> None:
        self.status = status
        self.updated_at = now

    def _move_item(self, item: OrderItem, target: ItemStatus, now: datetime, reason: str | None) -> None:
        previous = item.status
        item.status, item.updated_at = target, now
        self.events.append(OrderItemStatusChanged(occurred_at=now, order_id=self.id, sku=item.sku,
                                                  from_status=previous, to_status=target, reason=reason))


def _check_moment(field_name: str, value: datetime | None) -> None:
    if value is None:
        return
    if value.tzinfo is None:
        raise ValidationError(field_name, "must include a timezone")
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValidationError(field_name, "is out of range once converted to UTC") from None


def _reason(reason: str | None) -> str | None:
    return optional_text("reason", reason, REASON_MAX_LENGTH, multiline=True)


def _looks_like_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True

