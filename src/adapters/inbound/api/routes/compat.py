"""Compatibility routes: the earlier systems' paths and shapes, as thin adapters over the native use cases.

The order system (seed 004) `POST /create_order`, `GET /get_order_details?order_id=`, `PUT|PATCH
/update_order_status` and `PUT|PATCH /update_item_status`; the inventory service (seed 003)
`/inventario`, `/inventario/{id}`, `/inventario/{id}/linea` with its Spanish field names. Each route
translates the shape, calls the same container use case as the native route and translates the
answer back: no rule of its own. Same bearer-token auth and roles, same errors. Left out of the app
with `SUPPLYTRACE_COMPAT_ROUTES=false`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field, field_validator

from application.inventories import InventoryDetail
from application.orders import NewOrder
from application.pagination import PageRequest
from application.ports.inventories import InventoryFilter, InventorySummary
from domain.orders import (
    CUSTOMER_ID_MAX_LENGTH,
    FACILITY_ID_MAX_LENGTH,
    REASON_MAX_LENGTH,
    REFERENCE_MAX_LENGTH,
    ItemSpec,
    Order,
)

from adapters.inbound.api.deps import ContainerDep, InventoryWriter, OrderWriter, Reader, origin_of
from adapters.inbound.api.routes.inventories import Customer, Product, Quantity
from adapters.inbound.api.routes.orders import AmountOut, ItemIn, OrderIn, Sku
from adapters.inbound.api.schemas import Amount, Body, Id, IsoDate, IsoDateTime, Limit, Offset, text

router = APIRouter(tags=["compatibility"])
Reason = text(REASON_MAX_LENGTH, min_length=0, multiline=True) | None
StatusText = text(20)
OrderKey = text(100)  # the order's order_id, or its UUID
ORDER_ERRORS = {404: {"description": "No such order (or item)"},
                409: {"description": "The move is not allowed now; `allowed` names the next states"}}


# --- the order system (seed 004) ---------------------------------------------------------------------

class LegacyOrderIn(Body):
    """The order system's order body, as its README shows it."""

    order_id: text(REFERENCE_MAX_LENGTH) = Field(examples=["ORD-001"])
    customer_id: text(CUSTOMER_ID_MAX_LENGTH) = Field(examples=["CUST-001"])
    facility_id: text(FACILITY_ID_MAX_LENGTH) = Field(examples=["FAC-001"])
    status: StatusText | None = Field(None, examples=["pending"], description="Only a new order's status: "
                                      "pending or RECEIVED")
    total_amount: Amount | None = Field(None, examples=[99.98], description="When sent, the items' sum "
                                        "(quantity x sale_price, to the cent); a different one is a 422")
    order_datetime: IsoDateTime | None = Field(None, examples=["2027-01-01T10:00:00"])
    eta: IsoDateTime | None = Field(None, examples=["2027-01-01T15:00:00"])
    items: list[ItemIn] = Field(default_factory=list, max_length=500)

    # the same rule as POST /orders: a new order is RECEIVED ("pending")
    _new_orders_start_received = field_validator("status")(OrderIn._new_orders_start_received.__func__)


class LegacyStatusIn(Body):
    order_id: OrderKey = Field(examples=["ORD-001"])
    status: StatusText = Field(examples=["PICKING"], description="An order status, any case; `pending` is RECEIVED")
    reason: Reason = None


class LegacyItemStatusIn(Body):
    order_id: OrderKey = Field(examples=["ORD-001"])
    sku: Sku = Field(examples=["ITEM-001"])
    status: StatusText = Field(examples=["picked"], description="An item status, any case")
    reason: Reason = None


class LegacyItemOut(BaseModel):
    sku: str
    quantity: int
    unit_price: AmountOut
    sale_price: AmountOut
    status: str


class LegacyOrderOut(BaseModel):
    """The order system's order row plus its items; `order_id` is the client's reference (or, for an
    order placed without one, SupplyTrace's UUID)."""

    order_id: str
    customer_id: str | None
    facility_id: str | None
    status: str
    total_amount: AmountOut
    order_datetime: datetime
    eta: datetime | None
    created_at: datetime
    updated_at: datetime
    items: list[LegacyItemOut]


def _legacy_order(order: Order) -> LegacyOrderOut:
    return LegacyOrderOut(
        order_id=order.reference or str(order.id), customer_id=order.customer_id, facility_id=order.facility_id,
        status=order.status.value, total_amount=order.total_amount, order_datetime=order.ordered_at, eta=order.eta,
        created_at=order.created_at, updated_at=order.updated_at,
        items=[LegacyItemOut(sku=i.sku, quantity=i.quantity, unit_price=i.unit_price, sale_price=i.sale_price,
                             status=i.status.value) for i in order.items])


@router.post("/create_order", status_code=status.HTTP_201_CREATED, response_model=LegacyOrderOut,
             responses={409: {"description": "An order with this order_id exists already"}})
def create_order(body: LegacyOrderIn, request: Request, principal: OrderWriter, container: ContainerDep):
    """`POST /orders` in the order system's shape (seed 004)."""
    new = NewOrder(reference=body.order_id, customer_id=body.customer_id, facility_id=body.facility_id,
                   eta=body.eta, ordered_at=body.order_datetime, total_amount=body.total_amount,
                   items=[ItemSpec(i.sku, i.quantity, i.unit_price, i.sale_price) for i in body.items])
    return _legacy_order(container.place_order()(new, origin_of(request, principal)))


@router.get("/get_order_details", response_model=LegacyOrderOut, responses={404: {"description": "No such order"}})
def get_order_details(_: Reader, container: ContainerDep,
                      order_id: Annotated[OrderKey, Query(description="The order's order_id (or its UUID)")]):
    """`GET /orders/{id}` in the order system's shape: the order and its items."""
    return _legacy_order(container.order_queries().get(order_id))


def _change_status(body: LegacyStatusIn, request: Request, principal: OrderWriter, container: ContainerDep):
    order = container.change_order_status()(body.order_id, body.status, body.reason, origin_of(request, principal))
    return _legacy_order(order)


def _change_item_status(body: LegacyItemStatusIn, request: Request, principal: OrderWriter,
                        container: ContainerDep):
    change = container.change_item_status()
    return _legacy_order(change(body.order_id, body.sku, body.status, body.reason, origin_of(request, principal)))


# the order system took PUT or PATCH on both: one operation each, so every operationId stays unique
for _method in ("PUT", "PATCH"):
    router.add_api_route(
        "/update_order_status", _change_status, methods=[_method], response_model=LegacyOrderOut,
        responses=ORDER_ERRORS, name=f"update_order_status_{_method.lower()}",
        summary="Update overall order status",
        description="`PATCH /orders/{id}/status` in the order system's shape; `cancelled` cancels.")
    router.add_api_route(
        "/update_item_status", _change_item_status, methods=[_method], response_model=LegacyOrderOut,
        responses=ORDER_ERRORS, name=f"update_item_status_{_method.lower()}",
        summary="Update specific item status",
        description="`PATCH /orders/{id}/items/{sku}/status` in the order system's shape.")


# --- the inventory service (seed 003) ------------------------------------------------------------------

class InventarioIn(Body):
    cliente: Customer = Field(examples=["ACME"])
    fecha_caducidad: IsoDate = Field(examples=["2027-01-31"])


class LineaIn(Body):
    producto: Product = Field(examples=["tornillos M8"])
    cantidad: Quantity = Field(examples=[5])


class LineaOut(BaseModel):
    id: int
    inventario_id: int
    producto: str
    cantidad: int


class InventarioResumenOut(BaseModel):
    """A row of the service's `inventario_resumen` projection."""

    inventario_id: int
    cliente: str
    total_items: int
    fecha_caducidad: date


class InventarioOut(InventarioResumenOut):
    lineas: list[LineaOut]


def _resumen(s: InventorySummary) -> InventarioResumenOut:
    return InventarioResumenOut(inventario_id=s.inventory_id, cliente=s.customer, total_items=s.total_items,
                                fecha_caducidad=s.expiry_date)


def _detalle(d: InventoryDetail) -> InventarioOut:
    lineas = [LineaOut(id=line.id, inventario_id=d.summary.inventory_id, producto=line.product,
                       cantidad=line.quantity) for line in d.lines]
    return InventarioOut(**_resumen(d.summary).model_dump(), lineas=lineas)


@router.post("/inventario", status_code=status.HTTP_201_CREATED, response_model=InventarioOut)
def create_inventario(body: InventarioIn, request: Request, principal: InventoryWriter, container: ContainerDep):
    """`POST /inventories` in the inventory service's shape: the new inventory, `total_items` 0."""
    inventory = container.create_inventory()(body.cliente, body.fecha_caducidad, origin_of(request, principal))
    return InventarioOut(inventario_id=inventory.id, cliente=inventory.customer, total_items=inventory.total_items,
                         fecha_caducidad=inventory.expiry_date,
                         lineas=[LineaOut(id=line.id, inventario_id=inventory.id, producto=line.product,
                                          cantidad=line.quantity) for line in inventory.lines])


@router.post("/inventario/{inventario_id}/linea", status_code=status.HTTP_201_CREATED, response_model=LineaOut,
             responses={404: {"description": "No such inventory"}})
def add_inventario_linea(inventario_id: Id, body: LineaIn, request: Request, principal: InventoryWriter,
                  container: ContainerDep):
    """`POST /inventories/{id}/lines` in the inventory service's shape."""
    line = container.add_inventory_line()(inventario_id, body.producto, body.cantidad, origin_of(request, principal))
    return LineaOut(id=line.id, inventario_id=inventario_id, producto=line.product, cantidad=line.quantity)


@router.delete("/inventario/{inventario_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses={404: {"description": "No such inventory"}})
def delete_inventario(inventario_id: Id, request: Request, principal: InventoryWriter,
                        container: ContainerDep) -> Response:
    container.delete_inventory()(inventario_id, origin_of(request, principal))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/inventario", response_model=list[InventarioResumenOut])
def list_inventario(_: Reader, container: ContainerDep, limit: Limit = 50, offset: Offset = 0):
    """The projection (`inventario_resumen`), latest `fecha_caducidad` first, as a plain list (the
    service's shape: no page envelope); `limit`/`offset` page it like `GET /inventories`."""
    page = container.inventory_queries().list(InventoryFilter(None, None), PageRequest(limit, offset))
    return [_resumen(s) for s in page.items]


@router.get("/inventario/{inventario_id}", response_model=InventarioOut,
            responses={404: {"description": "No such inventory (or not yet in the projection)"}})
def get_inventario(inventario_id: Id, _: Reader, container: ContainerDep):
    """The projection row and its lines (`lineas`)."""
    return _detalle(container.inventory_queries().get(inventario_id))

