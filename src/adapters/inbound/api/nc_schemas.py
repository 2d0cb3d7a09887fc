"""Bodies of the NC investigation and its CAPA actions (ADR 0024)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, Strict

from domain.nonconformities import (
    ActionStatus, ActionType, Disposition, NcStatus, RcaMethod, RootCause, SourceType,
)

from adapters.inbound.api.schemas import Body, Description, text

Username = text(100)
Note = text(4000, multiline=True)
Reason = text(500, multiline=True)
Quantity = Annotated[int, Strict(), Field(ge=0, le=1_000_000_000)]


def _literal(kind) -> object:  # type: ignore[no-untyped-def]
    return Literal[tuple(member.value for member in kind)]  # type: ignore[misc]


class NcFieldsIn(Body):
    """The fields of an open NC; only those sent change (null clears one)."""

    owner: Username | None = Field(None, description="A username of the user directory")
    due_date: date | None = None
    containment_note: Note | None = None
    root_cause_category: _literal(RootCause) | None = None  # type: ignore[valid-type]
    root_cause_analysis: Note | None = None
    rca_method: _literal(RcaMethod) | None = None  # type: ignore[valid-type]
    disposition: _literal(Disposition) | None = None  # type: ignore[valid-type]
    disposition_authorized_by: Username | None = Field(None, description="A username: who authorised the disposition")
    qty_checked: Quantity | None = None
    qty_nonconforming: Quantity | None = Field(None, description="At most qty_checked")
    source_type: _literal(SourceType) | None = None  # type: ignore[valid-type]
    source_id: text(100) | None = Field(None, description="The order id, order item sku, inventory line …")  # type: ignore[valid-type]
    closure_note: Note | None = None

    def values(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.model_fields_set if name in NcFieldsIn.model_fields
                and name != "reason"}


class NcPatchIn(NcFieldsIn):
    reason: Reason | None = None


class NcStatusIn(NcFieldsIn):
    status: _literal(NcStatus)  # type: ignore[valid-type]
    reason: Reason | None = Field(None, description="Required to cancel, to reopen and to send ACTION_PLANNED "
                                  "back to INVESTIGATING")

    def values(self) -> dict[str, object]:
        return {k: v for k, v in super().values().items() if k != "status"}


class ActionIn(Body):
    type: _literal(ActionType)  # type: ignore[valid-type]
    description: Description
    owner: Username = Field(description="A username of the user directory")
    due_date: date
    effectiveness_criteria: Note | None = Field(None, description="Required for a CORRECTIVE action")


class ActionStatusIn(Body):
    status: _literal(ActionStatus)  # type: ignore[valid-type]
    note: Note | None = Field(None, description="Required for DONE (what was done) and CANCELLED (why)")
    result: Note | None = Field(None, description="The effectiveness check's evidence; required to mark a "
                                "CORRECTIVE action VERIFIED or INEFFECTIVE")


class ActionOut(BaseModel):
    id: int
    nc_id: int
    type: str
    description: str
    owner: str
    due_date: date
    effectiveness_criteria: str | None
    status: str
    overdue: bool
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    done_at: datetime | None
    completion_note: str | None
    verified_by: str | None
    verified_at: datetime | None
    verification_note: str | None
    effectiveness_result: str | None
    cancel_reason: str | None
    allowed_next: list[str]
