"""Orders: both body shapes of the earlier systems, status and item moves, synchronous cancel, history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Body as BodyParam, Depends, Path, Request, Response, status
from pydantic import BaseModel, Field, PlainSerializer, Strict, field_validator

from application import listing
from application.listing import Finding
from application.orders import NewOrder
from domain.orders import OrderChanges
from application.pagination import PageRequest
from application.ports.orders import OrderFilter, OrderHistoryEntry
from domain.orders import (
    ADDRESS_MAX_LENGTH,
    CUSTOMER_ID_MAX_LENGTH,
    CUSTOMER_NAME_MAX_LENGTH,
    FACILITY_ID_MAX_LENGTH,
    MAX_QUANTITY,
    REASON_MAX_LENGTH,
    REFERENCE_MAX_LENGTH,
    SKU_MAX_LENGTH,
    ItemSpec,
    Order,
    OrderItem,
    OrderStatus,
)

from adapters.inbound.api.conditional import IfMatch, tagged
from adapters.inbound.api.deps import ContainerDep, OrderWriter, Reader, origin_of
from adapters.inbound.api.finding import CSV_RESPONSE, csv_response, finding, wants_csv
from adapters.inbound.api.schemas import Amount, Body, IsoDateTime, Limit, Offset, PageOut, example_datetime, text

router = APIRouter(prefix="/orders", tags=["orders"])

OrderKey = Annotated[text(100), Path(description="The order's UUID or its order_id")]
Sku = text(SKU_MAX_LENGTH)
AmountOut = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
OrderStatusName = Literal["RECEIVED", "PICKING", "IN_TRANSIT", "DELIVERED", "ON_HOLD", "CANCELLED"]
ItemStatusName = Literal["PENDING", "PICKED", "IN_TRANSIT", "DELIVERED", "CANCELLED"]
Reason = text(REASON_MAX_LENGTH, min_length=0, multiline=True) | None
CustomerId = text(CUSTOMER_ID_MAX_LENGTH)


class ItemIn(Body):
    sku: Sku = Field(examples=["ITEM-001"])
    quantity: Annotated[int, Strict(), Field(ge=1, le=MAX_QUANTITY)] = Field(examples=[2])
    unit_price: Amount = Field(examples=[45.00])
    sale_price: Amount = Field(examples=[49.99])


class OrderIn(Body):
    """`{"customer_name", "address"}` (delivery service: `address` is required) or `{"order_id",
    "customer_id", "facility_id", "items", "eta"}` (order management); `status` may only say the order
    is new; `total_amount`, when sent with items, must be their sum (quantity x sale_price, to the cent)."""

    order_id: text(REFERENCE_MAX_LENGTH) | None = Field(None, examples=["ORD-001"])
    customer_id: CustomerId | None = Field(None, examples=["CUST-001"])
    customer_name: text(CUSTOMER_NAME_MAX_LENGTH) | None = Field(None, examples=["João Silva"])
    address: text(ADDRESS_MAX_LENGTH, min_length=0, multiline=True) | None = Field(None, examples=["Rua Exemplo, 123"])
    facility_id: text(FACILITY_ID_MAX_LENGTH) | None = Field(None, examples=["FAC-001"])
    eta: IsoDateTime | None = Field(None, examples=[example_datetime(3)])
    order_datetime: IsoDateTime | None = None
    status: text(20) | None = Field(None, examples=["RECEIVED"])
    total_amount: Amount | None = Field(None, examples=[99.98])  # the example item's 2 x 49.99
    items: list[ItemIn] = Field(default_factory=list, max_length=500)

    @field_validator("status")
    @classmethod
    def _new_orders_start_received(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in ("RECEIVED", "PENDING"):
            raise ValueError("a new order is always RECEIVED; move it afterwards with PATCH /orders/{id}/status")
        return value


class OrderUpdateIn(Body):
    """What may still change: `eta` (until DELIVERED), `address` (until IN_TRANSIT), `items` (the whole
    list, while RECEIVED and none is picked). The other fields of the order may be sent back as read:
    they must repeat the order's values. Omitted fields are left as they are."""

    order_id: text(REFERENCE_MAX_LENGTH) | None = Field(None, examples=["ORD-001"])
    customer_id: CustomerId | None = None
    customer_name: text(CUSTOMER_NAME_MAX_LENGTH) | None = None
    address: text(ADDRESS_MAX_LENGTH, min_length=0, multiline=True) | None = Field(None, examples=["Rua Nova, 7"])
    facility_id: text(FACILITY_ID_MAX_LENGTH) | None = None
    eta: IsoDateTime | None = Field(None, examples=["2027-01-01T15:00:00Z"])
    order_datetime: IsoDateTime | None = None
    status: text(20) | None = None
    total_amount: Amount | None = None
    items: list[ItemIn] | None = Field(None, max_length=500)


def order_changes(body: OrderUpdateIn) -> OrderChanges:
    items = None if body.items is None else [ItemSpec(i.sku, i.quantity, i.unit_price, i.sale_price)
                                             for i in body.items]
    return OrderChanges(eta=body.eta, address=body.address, items=items, total_amount=body.total_amount,
                        reference=body.order_id, customer_id=body.customer_id, customer_name=body.customer_name,
                        facility_id=body.facility_id, ordered_at=body.order_datetime, status=body.status)


class StatusIn(Body):
    status: OrderStatusName
    reason: Reason = None


class ItemStatusIn(Body):
    status: ItemStatusName
    reason: Reason = None


class CancelIn(Body):
    reason: Reason = None


class ItemOut(BaseModel):
    sku: str
    quantity: int
    unit_price: AmountOut
    sale_price: AmountOut
    status: str
    updated_at: datetime | None


class OrderOut(BaseModel):
    id: UUID
    order_id: str | None
    customer_id: str | None
    customer_name: str | None
    address: str | None
    facility_id: str | None
    status: str
    on_hold_from: str | None
    allowed_next: list[str]
    total_amount: AmountOut
    eta: datetime | None
    order_datetime: datetime
    created_at: datetime
    updated_at: datetime
    items: list[ItemOut]


class OrderEventOut(BaseModel):
    """The delivery service's history shape (`id`, `order_id`, `status`, `timestamp`), with who and why."""

    id: UUID
    order_id: UUID
    status: str
    previous_status: str | None
    timestamp: datetime
    event_type: str
    sku: str | None
    reason: str | None
    actor: str


class JourneyStepOut(BaseModel):
    """The order-management journey shape."""

    current_status: str
    previous_status: str | None
    created_at: datetime
    reason: str | None
    actor: str


def _item_out(item: OrderItem) -> ItemOut:
    return ItemOut(sku=item.sku, quantity=item.quantity, unit_price=item.unit_price, sale_price=item.sale_price,
                   status=item.status.value, updated_at=item.updated_at)


def _out(order: Order) -> OrderOut:
    return OrderOut(
        id=order.id, order_id=order.reference, customer_id=order.customer_id, customer_name=order.customer_name,
        address=order.address, facility_id=order.facility_id, status=order.status.value,
        on_hold_from=order.held_from.value if order.held_from else None,
        allowed_next=[s.value for s in order.allowed_next()], total_amount=order.total_amount, eta=order.eta,
        order_datetime=order.ordered_at, created_at=order.created_at, updated_at=order.updated_at,
        items=[_item_out(item) for item in order.items],
    )


def _event_out(e: OrderHistoryEntry) -> OrderEventOut:
    return OrderEventOut(id=e.event_id, order_id=e.order_id, status=e.to_status, previous_status=e.from_status,
                         timestamp=e.occurred_at, event_type=e.event_type, sku=e.sku, reason=e.reason, actor=e.actor)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrderOut,
             responses={409: {"description": "An order with this order_id exists already"}})
def place_order(body: OrderIn, request: Request, response: Response, principal: OrderWriter,
                container: ContainerDep):
    new = NewOrder(
        reference=body.order_id, customer_id=body.customer_id, customer_name=body.customer_name,
        address=body.address, facility_id=body.facility_id, eta=body.eta, ordered_at=body.order_datetime,
        items=[ItemSpec(i.sku, i.quantity, i.unit_price, i.sale_price) for i in body.items],
        total_amount=body.total_amount,
    )
    order = container.place_order()(new, origin_of(request, principal))
    tagged(response, order.version)
    return _out(order)


@router.get("", response_model=PageOut[OrderOut], responses=CSV_RESPONSE)
def list_orders(
    request: Request,
    _: Reader,
    container: ContainerDep,
    find: Annotated[Finding, Depends(finding(listing.ORDERS, "customer_id, customer_name or order_id",
                                             "created_at"))],
    status: OrderStatusName | None = None,
    customer_id: CustomerId | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
):
    """Newest first unless `sort` says otherwise; `customer_id` is exact, `q` searches."""
    criteria = OrderFilter(status=OrderStatus(status) if status else None, customer_id=customer_id, find=find)
    queries = container.order_queries()
    if wants_csv(request):
        return csv_response(request, "orders", OrderOut, lambda p: queries.list(criteria, p), _out)
    page = queries.list(criteria, PageRequest(limit, offset))
    return PageOut.of(page, [_out(o) for o in page.items])


@router.get("/{order_key}", response_model=OrderOut)
def get_order(order_key: OrderKey, _: Reader, response: Response, container: ContainerDep):
    order = container.order_queries().get(order_key)
    tagged(response, order.version)
    return _out(order)


@router.get("/{order_key}/events", response_model=list[OrderEventOut])
def order_events(order_key: OrderKey, _: Reader, container: ContainerDep, include_items: bool = False):
    """Every recorded change, oldest first; `include_items=true` adds the item changes (with `sku`)."""
    _, history = container.order_queries().history(order_key, include_items)
    return [_event_out(e) for e in history]


@router.get("/{order_key}/journey", response_model=list[JourneyStepOut])
def order_journey(order_key: OrderKey, _: Reader, container: ContainerDep):
    _, history = container.order_queries().history(order_key)
    return [JourneyStepOut(current_status=e.to_status, previous_status=e.from_status, created_at=e.occurred_at,
                           reason=e.reason, actor=e.actor) for e in history]


@router.put("/{order_key}", response_model=OrderOut,
            responses={409: {"description": "That may no longer change (the order is past the state that "
                                            "allows it, an item is picked, or a field that never changes differs)"}})
def update_order(order_key: OrderKey, body: OrderUpdateIn, request: Request, principal: OrderWriter,
                 container: ContainerDep, expected: IfMatch, response: Response):
    """Update what may still change, as one ORDER_UPDATED event (none when nothing changes)."""
    order = container.update_order()(order_key, order_changes(body), origin_of(request, principal), expected)
    tagged(response, order.version)
    return _out(order)


@router.patch("/{order_key}/status", response_model=OrderOut)
def change_status(order_key: OrderKey, body: StatusIn, request: Request, principal: OrderWriter,
                  container: ContainerDep, expected: IfMatch, response: Response):
    order = container.change_order_status()(order_key, body.status, body.reason, origin_of(request, principal),
                                            expected)
    tagged(response, order.version)
    return _out(order)


@router.patch("/{order_key}/items/{sku}/status", response_model=OrderOut)
def change_item_status(order_key: OrderKey, sku: Sku,
                       body: ItemStatusIn, request: Request, principal: OrderWriter, container: ContainerDep,
                       expected: IfMatch, response: Response):
    order = container.change_item_status()(order_key, sku, body.status, body.reason, origin_of(request, principal),
                                           expected)
    tagged(response, order.version)
    return _out(order)


@router.put("/{order_key}/cancel", response_model=OrderOut)
def cancel_order(order_key: OrderKey, request: Request, principal: OrderWriter, container: ContainerDep,
                 expected: IfMatch, response: Response, body: Annotated[CancelIn | None, BodyParam()] = None):
    """Synchronous: the answer is the CANCELLED order, committed with its events."""
    reason = body.reason if body else None
    order = container.cancel_order()(order_key, reason, origin_of(request, principal), expected)
    tagged(response, order.version)
    return _out(order)
