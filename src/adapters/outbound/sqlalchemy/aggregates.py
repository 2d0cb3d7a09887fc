"""Supplier and non-conformity repositories: Core statements, explicit mapping, dirty-checking."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from application import listing
from application.pagination import Page, PageRequest, page_of
from application.ports import counters as names
from application.ports.counters import Counters
from application.ports.repositories import (
    ConcurrentUpdate, NcFilter, NonConformityRepository, SupplierFilter, SupplierRepository,
)
from domain.nonconformities import (
    ActionStatus, ActionType, Disposition, NcAction, NcStatus, NonConformity, RcaMethod, RootCause, Severity,
    SourceType,
)
from domain.suppliers import APPROVAL_FIELDS, ApprovalStatus, Supplier

from adapters.outbound.counting import StateTally, nc_tally, supplier_tally
from adapters.outbound.sqlalchemy.finding import find
from adapters.outbound.sqlalchemy.tables import nc_actions, non_conformities, suppliers

E = TypeVar("E", Supplier, NonConformity)


class TableMapper(Generic[E]):
    """Loads rows into entities and writes back only the entities whose columns changed."""

    def __init__(self, conn: sa.Connection, table: sa.Table, to_row: Callable[[E], dict[str, Any]],
                 from_row: Callable[[sa.Row], E], tally: StateTally[E] | None = None) -> None:
        self.conn, self.table, self.to_row, self.from_row, self.tally = conn, table, to_row, from_row, tally
        self.snapshots: dict[int, dict[str, Any]] = {}

    def insert(self, entity: E) -> None:
        row = self.to_row(entity)
        entity.id = self.conn.execute(self.table.insert(), {**row, "version": 1}).inserted_primary_key[0]
        entity.version = 1
        self.snapshots[entity.id] = row
        if self.tally is not None:
            self.tally.inserted(entity)

    def load(self, identity: int) -> E | None:
        row = self.conn.execute(sa.select(self.table).where(self.table.c.id == identity)).one_or_none()
        if row is None:
            return None
        entity = self.from_row(row)
        self.snapshots[identity] = self.to_row(entity)
        if self.tally is not None:
            self.tally.loaded(entity)
        return entity

    def touch(self, entity: E) -> None:
        """The entity changed outside its row (a line added): its next flush writes a new version."""
        self.snapshots.pop(entity.id, None)

    def flush(self, entities: list[E]) -> None:
        """Write back what changed, one version up; the version read guards the UPDATE (ADR 0020), so
        of two transactions that changed the same version, the second finds no row and fails."""
        for entity in entities:
            row = self.to_row(entity)
            if self.snapshots.get(entity.id) != row:
                updated = self.conn.execute(
                    sa.update(self.table).where(self.table.c.id == entity.id, self.table.c.version == entity.version)
                    .values(version=entity.version + 1, **row))
                if updated.rowcount != 1:
                    raise ConcurrentUpdate(f"{self.table.name} {entity.id} was changed by another request; "
                                           "read it again and retry")
                entity.version += 1
                self.snapshots[entity.id] = row
        if self.tally is not None:
            self.tally.flush(entities)


def count_upto(conn: sa.Connection, query: sa.Select) -> Callable[[int], int]:
    """A count of the query's rows that stops at `cap` (it reads at most `cap` rows)."""
    def count(cap: int) -> int:
        capped = query.with_only_columns(sa.literal(1), maintain_column_froms=True).limit(cap).subquery()
        return conn.execute(sa.select(sa.func.count()).select_from(capped)).scalar_one()
    return count


def fetch_page(conn: sa.Connection, query: sa.Select, order: Any, page: PageRequest, mapper: Callable,
               total: int | None = None) -> Page:
    """One page; `total` from a counter when the caller has one, else counted only as far as needed."""
    order = order if isinstance(order, (list, tuple)) else (order,)
    rows = conn.execute(query.order_by(*order).limit(page.limit).offset(page.offset)).all()
    return page_of([mapper(r) for r in rows], page, total, count_upto(conn, query))


def nc_total(counters: Counters, criteria: NcFilter) -> int | None:
    """The number of NCs matching, from the counters; None when a supplier narrows it (no counter)."""
    if criteria.supplier_id is not None or criteria.find.narrows:
        return None
    keys = [names.nc(status.value, severity.value) for status in NcStatus for severity in Severity
            if criteria.status in (None, status) and criteria.severity in (None, severity)]
    return sum(counters.read(keys).values())


def supplier_row(s: Supplier) -> dict[str, Any]:
    return {"name": s.name, "certification_expiry": s.certification_expiry, "created_at": s.created_at,
            "updated_at": s.updated_at, **{name: getattr(s, name) for name in APPROVAL_FIELDS},
            "approval_status": s.approval_status.value}


def supplier_from(row: sa.Row) -> Supplier:
    return Supplier(name=row.name, certification_expiry=row.certification_expiry, created_at=row.created_at,
                    updated_at=row.updated_at, id=row.id, version=row.version,
                    **{name: getattr(row, name) for name in APPROVAL_FIELDS if name != "approval_status"},
                    approval_status=ApprovalStatus(row.approval_status))


NC_SCALARS = ("owner", "due_date", "containment_note", "root_cause_analysis", "disposition_authorized_by",
              "qty_checked", "qty_nonconforming", "source_id", "closure_note", "closed_by", "closed_without_capa",
              "reopen_count", "cancel_reason")
NC_ENUMS = {"root_cause_category": RootCause, "rca_method": RcaMethod, "disposition": Disposition,
            "source_type": SourceType}
ACTION_COLUMNS = ("description", "owner", "due_date", "effectiveness_criteria", "created_at", "updated_at",
                  "started_at", "done_at", "completion_note", "verified_by", "verified_at", "verification_note",
                  "effectiveness_result", "cancel_reason")


def nc_row(nc: NonConformity) -> dict[str, Any]:
    return {"supplier_id": nc.supplier_id, "severity": nc.severity.value, "description": nc.description,
            "status": nc.status.value, "opened_at": nc.opened_at, "closed_at": nc.closed_at,
            "created_at": nc.created_at, "updated_at": nc.updated_at,
            **{name: getattr(nc, name) for name in NC_SCALARS},
            **{name: None if getattr(nc, name) is None else getattr(nc, name).value for name in NC_ENUMS}}


def nc_from(row: sa.Row) -> NonConformity:
    return NonConformity(supplier_id=row.supplier_id, severity=Severity(row.severity), description=row.description,
                         opened_at=row.opened_at, status=NcStatus(row.status), closed_at=row.closed_at,
                         created_at=row.created_at, updated_at=row.updated_at, id=row.id, version=row.version,
                         **{name: getattr(row, name) for name in NC_SCALARS},
                         **{name: None if getattr(row, name) is None else kind(getattr(row, name))
                            for name, kind in NC_ENUMS.items()})


def action_row(nc_id: int, a: NcAction) -> dict[str, Any]:
    return {"nc_id": nc_id, "id": a.id, "type": a.type.value, "status": a.status.value,
            **{name: getattr(a, name) for name in ACTION_COLUMNS}}


def action_from(row: sa.Row) -> NcAction:
    return NcAction(id=row.id, type=ActionType(row.type), status=ActionStatus(row.status),
                    **{name: getattr(row, name) for name in ACTION_COLUMNS})


class SqlSupplierRepository(SupplierRepository):
    def __init__(self, conn: sa.Connection, counters: Counters) -> None:
        super().__init__()
        self.conn, self.counters = conn, counters
        self.mapper = TableMapper(conn, suppliers, supplier_row, supplier_from, supplier_tally(counters))

    def _add(self, supplier: Supplier) -> None:
        self.mapper.insert(supplier)

    def flush(self) -> None:
        self.mapper.flush(self.seen)

    def _get(self, identity: int) -> Supplier | None:
        return self.mapper.load(identity)

    def list(self, page: PageRequest, criteria: SupplierFilter = SupplierFilter()) -> Page[Supplier]:
        narrowed = criteria.find.narrows or criteria.approval_status is not None
        total = None if narrowed else self.counters.read([names.SUPPLIERS])[names.SUPPLIERS]
        c = suppliers.c
        query = sa.select(suppliers)
        if criteria.approval_status is not None:
            query = query.where(c.approval_status == criteria.approval_status.value)
        query, order = find(query, criteria.find, listing.SUPPLIERS, c, [c.name], c.created_at)
        return fetch_page(self.conn, query, order, page, supplier_from, total)

    def touch(self, supplier: Supplier) -> None:
        self.mapper.touch(supplier)


def _nc_where(criteria: NcFilter) -> list[sa.ColumnElement[bool]]:
    c = non_conformities.c
    clauses = []
    if criteria.status is not None:
        clauses.append(c.status == criteria.status.value)
    if criteria.severity is not None:
        clauses.append(c.severity == criteria.severity.value)
    if criteria.supplier_id is not None:
        clauses.append(c.supplier_id == criteria.supplier_id)
    return clauses


def _nc_query(query: sa.Select, criteria: NcFilter) -> tuple[sa.Select, list[Any]]:
    c = non_conformities.c
    return find(query.where(*_nc_where(criteria)), criteria.find, listing.NCS, c, [c.description], c.created_at)


class SqlNonConformityRepository(NonConformityRepository):
    """The NC row and its actions' rows: one aggregate, one version (ADR 0024). A change of an action
    moves the NC's version up, so an ETag covers the actions too."""

    def __init__(self, conn: sa.Connection, counters: Counters) -> None:
        super().__init__()
        self.conn, self.counters = conn, counters
        self.mapper = TableMapper(conn, non_conformities, nc_row, nc_from)
        self.tally = nc_tally(counters)
        self.action_rows: dict[tuple[int, int], dict[str, Any]] = {}

    def _add(self, nc: NonConformity) -> None:
        self.mapper.insert(nc)
        self.tally.inserted(nc)

    def flush(self) -> None:
        for nc in self.seen:
            changed = False
            for action in nc.actions:
                key, row = (nc.id, action.id), action_row(nc.id, action)
                before = self.action_rows.get(key)
                if before == row:
                    continue
                if before is None:
                    self.conn.execute(nc_actions.insert(), row)
                else:
                    c = nc_actions.c
                    self.conn.execute(sa.update(nc_actions).where(c.nc_id == nc.id, c.id == action.id).values(row))
                self.action_rows[key] = row
                changed = True
            if changed:
                self.mapper.touch(nc)
        self.mapper.flush(self.seen)
        self.tally.flush(self.seen)

    def _get(self, identity: int) -> NonConformity | None:
        nc = self.mapper.load(identity)
        if nc is None:
            return None
        c = nc_actions.c
        for row in self.conn.execute(sa.select(nc_actions).where(c.nc_id == identity).order_by(c.id)):
            action = action_from(row)
            nc.actions.append(action)
            self.action_rows[(identity, action.id)] = action_row(identity, action)
        self.tally.loaded(nc)
        return nc

    def list(self, criteria: NcFilter, page: PageRequest) -> Page[NonConformity]:
        query, order = _nc_query(sa.select(non_conformities), criteria)
        return fetch_page(self.conn, query, order, page, nc_from, nc_total(self.counters, criteria))

    def count(self, criteria: NcFilter) -> int:
        total = nc_total(self.counters, criteria)
        if total is not None:
            return total
        query, _ = _nc_query(sa.select(sa.func.count()).select_from(non_conformities), criteria)
        return self.conn.execute(query).scalar_one()

    def open_for_suppliers(self, supplier_ids: list[int]) -> list[NonConformity]:
        if not supplier_ids:
            return []
        c = non_conformities.c
        query = sa.select(non_conformities).where(c.supplier_id.in_(supplier_ids), NC_IS_OPEN)
        return [nc_from(r) for r in self.conn.execute(query.order_by(c.id))]

    def raised_between(self, supplier_id: int, since: datetime,
                       before: datetime) -> dict[tuple[Severity, NcStatus], int]:
        c = non_conformities.c  # a range of ix_non_conformities_supplier_id_opened_at
        query = (sa.select(c.severity, c.status, sa.func.count())
                 .where(c.supplier_id == supplier_id, c.opened_at >= since, c.opened_at < before)
                 .group_by(c.severity, c.status))
        return {(Severity(severity), NcStatus(status)): n for severity, status, n in self.conn.execute(query)}



NC_IS_OPEN = sa.text("non_conformities.status NOT IN ('CLOSED', 'CANCELLED')")
