"""Inventories: commands on the write model; reads from the `inventory_summary` projection."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import AliasChoices, BaseModel, Field, Strict

from application import listing
from application.inventories import InventoryDetail
from application.listing import Finding
from application.pagination import PageRequest
from application.ports.inventories import InventoryFilter, InventorySummary
from domain.inventories import CUSTOMER_MAX_LENGTH, PRODUCT_MAX_LENGTH, QUANTITY_MAX, Inventory, InventoryLine

from adapters.inbound.api.conditional import IfMatch, tagged
from adapters.inbound.api.deps import ContainerDep, InventoryWriter, Reader, origin_of
from adapters.inbound.api.finding import CSV_RESPONSE, csv_response, finding, wants_csv
from adapters.inbound.api.schemas import Body, Id, IsoDate, Limit, Offset, PageOut, example_date, text

router = APIRouter(prefix="/inventories", tags=["inventories"])
Customer = text(CUSTOMER_MAX_LENGTH)
Product = text(PRODUCT_MAX_LENGTH)
Quantity = Annotated[int, Strict(), Field(ge=1, le=QUANTITY_MAX)]


# the seed system's Spanish names are accepted too (cliente, fecha_caducidad, producto, cantidad)
class InventoryIn(Body):
    customer: Customer = Field(validation_alias=AliasChoices("customer", "cliente"), examples=["ACME"])
    expiry_date: IsoDate = Field(validation_alias=AliasChoices("expiry_date", "fecha_caducidad"),
                                 examples=[example_date(60)])


class LineIn(Body):
    product: Product = Field(validation_alias=AliasChoices("product", "producto"), examples=["bolts M8"])
    quantity: Quantity = Field(validation_alias=AliasChoices("quantity", "cantidad"), examples=[5])


class InventoryOut(BaseModel):
    id: int
    customer: str
    expiry_date: date
    total_items: int
    line_count: int
    created_at: datetime


class LineOut(BaseModel):
    id: int
    inventory_id: int
    product: str
    quantity: int
    added_at: datetime


class SummaryOut(BaseModel):
    inventory_id: int
    customer: str
    total_items: int
    line_count: int
    expiry_date: date
    updated_at: datetime
    created_at: datetime


class DetailOut(SummaryOut):
    lines: list[LineOut]


def _inventory_out(inventory: Inventory) -> InventoryOut:
    return InventoryOut(id=inventory.id, customer=inventory.customer, expiry_date=inventory.expiry_date,
                        total_items=inventory.total_items, line_count=len(inventory.lines),
                        created_at=inventory.created_at)


def _line_out(inventory_id: int, line: InventoryLine) -> LineOut:
    return LineOut(id=line.id, inventory_id=inventory_id, product=line.product, quantity=line.quantity,
                   added_at=line.added_at)


def _summary_out(summary: InventorySummary) -> SummaryOut:
    return SummaryOut(inventory_id=summary.inventory_id, customer=summary.customer, total_items=summary.total_items,
                      line_count=summary.line_count, expiry_date=summary.expiry_date, updated_at=summary.updated_at,
                      created_at=summary.created_at)


def _detail_out(detail: InventoryDetail) -> DetailOut:
    lines = [_line_out(detail.summary.inventory_id, line) for line in detail.lines]
    return DetailOut(**_summary_out(detail.summary).model_dump(), lines=lines)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=InventoryOut)
def create_inventory(body: InventoryIn, request: Request, response: Response, principal: InventoryWriter,
                     container: ContainerDep):
    inventory = container.create_inventory()(body.customer, body.expiry_date, origin_of(request, principal))
    tagged(response, inventory.version)
    return _inventory_out(inventory)


@router.post("/{inventory_id}/lines", status_code=status.HTTP_201_CREATED, response_model=LineOut)
def add_line(inventory_id: Id, body: LineIn, request: Request, principal: InventoryWriter,
             container: ContainerDep):
    line = container.add_inventory_line()(inventory_id, body.product, body.quantity, origin_of(request, principal))
    return _line_out(inventory_id, line)


@router.delete("/{inventory_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_inventory(inventory_id: Id, request: Request, principal: InventoryWriter,
                     container: ContainerDep, expected: IfMatch) -> Response:
    container.delete_inventory()(inventory_id, origin_of(request, principal), expected)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("", response_model=PageOut[SummaryOut], responses=CSV_RESPONSE)
def list_inventories(
    request: Request,
    _: Reader,
    container: ContainerDep,
    find: Annotated[Finding, Depends(finding(listing.INVENTORIES, "the customer", "created_at"))],
    customer: Customer | None = None,
    expiring_before: IsoDate | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
):
    """The projection, latest expiry date first unless `sort` says otherwise: it shows a change once its event
    has been handled. `customer` is exact, `q` searches."""
    criteria = InventoryFilter(customer, expiring_before, find)
    queries = container.inventory_queries()
    if wants_csv(request):
        return csv_response(request, "inventories", SummaryOut, lambda p: queries.list(criteria, p), _summary_out)
    page = queries.list(criteria, PageRequest(limit, offset))
    return PageOut.of(page, [_summary_out(s) for s in page.items])


@router.get("/{inventory_id}", response_model=DetailOut)
def get_inventory(inventory_id: Id, _: Reader, response: Response, container: ContainerDep):
    """The projection row and the lines it accounts for; 404 once the inventory is deleted. The ETag is
    the inventory's version (a DELETE's If-Match), which may be ahead of the projection."""
    detail = container.inventory_queries().get(inventory_id)
    tagged(response, detail.version)
    return _detail_out(detail)
