from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from application import listing
from application.listing import Finding
from application.pagination import PageRequest
from application.ports.repositories import SupplierFilter
from application.certificates import CertificateView
from application.suppliers import SupplierView
from domain.suppliers import ApprovalStatus

from adapters.inbound.api.conditional import IfMatch, tagged
from adapters.inbound.api.deps import (
    CertificateWriter, ContainerDep, Reader, StatusRequester, SupplierApprover, SupplierWriter, origin_of,
)
from adapters.inbound.api.finding import CSV_RESPONSE, csv_response, finding, wants_csv
from adapters.inbound.api.schemas import (
    ApprovalIn, ApprovalRequestIn, ApprovalStatusName, CertificateIn, CertificateListOut, CertificateOut, CertificatePatchIn,
    CertificationIn, Id, Limit, Offset, PageOut, SupplierIn, SupplierOut, text,
)

router = APIRouter(prefix="/suppliers", tags=["suppliers"])


def _out(view: SupplierView) -> SupplierOut:
    s = view.supplier
    return SupplierOut(id=s.id, name=s.name, certification_expiry=s.certification_expiry, at_risk=view.at_risk,
                       created_at=s.created_at, updated_at=s.updated_at, approval_status=s.approval_status.value,
                       status_reason=s.status_reason, status_changed_by=s.status_changed_by,
                       status_changed_at=s.status_changed_at, hold_until=s.hold_until,
                       next_evaluation_due=s.next_evaluation_due)


def _certificate(view: CertificateView) -> CertificateOut:
    c = view.certificate
    return CertificateOut(id=c.id, supplier_id=c.supplier_id, type=c.type.value, number=c.number, issuer=c.issuer,
                          issued_on=c.issued_on, expires_on=c.expires_on, required=c.required,
                          status=view.status.value, created_at=c.created_at, updated_at=c.updated_at,
                          withdrawn_at=c.withdrawn_at)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SupplierOut)
def create_supplier(body: SupplierIn, request: Request, response: Response, principal: SupplierWriter,
                    container: ContainerDep):
    view = container.create_supplier()(body.name, body.certification_expiry, origin_of(request, principal))
    tagged(response, view.supplier.version)
    return _out(view)


@router.get("", response_model=PageOut[SupplierOut], responses=CSV_RESPONSE)
def list_suppliers(request: Request, _: Reader, container: ContainerDep,
                   find: Annotated[Finding, Depends(finding(listing.SUPPLIERS, "the name", "created_at"))],
                   approval_status: ApprovalStatusName | None = None, limit: Limit = 50, offset: Offset = 0):
    criteria = SupplierFilter(find, ApprovalStatus(approval_status) if approval_status else None)
    queries = container.supplier_queries()
    if wants_csv(request):
        return csv_response(request, "suppliers", SupplierOut, lambda p: queries.list(p, criteria), _out)
    page = queries.list(PageRequest(limit, offset), criteria)
    return PageOut.of(page, [_out(v) for v in page.items])


@router.get("/{supplier_id}", response_model=SupplierOut)
def get_supplier(supplier_id: Id, _: Reader, response: Response, container: ContainerDep):
    view = container.supplier_queries().get(supplier_id)
    tagged(response, view.supplier.version)
    return _out(view)


@router.patch("/{supplier_id}/certification", response_model=SupplierOut)
def update_certification(supplier_id: Id, body: CertificationIn, request: Request,
                         principal: SupplierWriter, container: ContainerDep, expected: IfMatch, response: Response):
    view = container.update_certification()(supplier_id, body.certification_expiry, origin_of(request, principal),
                                            expected, body.reason)
    tagged(response, view.supplier.version)
    return _out(view)


# --- approval status (ADR 0025) ---------------------------------------------------------------

@router.patch("/{supplier_id}/approval", response_model=SupplierOut,
              responses={409: {"description": "A move the approval flow or its guards refuse; `allowed` lists "
                                              "the states the supplier may move to now"}})
def change_approval(supplier_id: Id, body: ApprovalIn, request: Request, principal: SupplierApprover,
                    container: ContainerDep, expected: IfMatch, response: Response):
    view = container.change_approval()(supplier_id, body.status, body.reason, origin_of(request, principal),
                                       expected, hold_until=body.hold_until,
                                       next_evaluation_due=body.next_evaluation_due)
    tagged(response, view.supplier.version)
    return _out(view)


@router.post("/{supplier_id}/approval-requests", status_code=status.HTTP_202_ACCEPTED, response_model=SupplierOut,
             responses={409: {"description": "Not a move of the approval flow from the current status"}})
def request_approval_change(supplier_id: Id, body: ApprovalRequestIn, request: Request,
                            principal: StatusRequester, container: ContainerDep, response: Response):
    """Procurement asks quality for a move: SUPPLIER_STATUS_CHANGE_REQUESTED; the supplier is unchanged."""
    view = container.request_approval_change()(supplier_id, body.status, body.reason, origin_of(request, principal))
    tagged(response, view.supplier.version)
    return _out(view)


# --- certificates (ADR 0025) ------------------------------------------------------------------

@router.post("/{supplier_id}/certificates", status_code=status.HTTP_201_CREATED, response_model=CertificateOut,
             responses={404: {"description": "No such supplier"},
                        409: {"description": "The supplier already has this type and number"}})
def add_certificate(supplier_id: Id, body: CertificateIn, request: Request, response: Response,
                    principal: CertificateWriter, container: ContainerDep):
    view = container.add_certificate()(supplier_id, body.type, body.number, body.issuer, body.issued_on,
                                       body.expires_on, body.required, origin_of(request, principal))
    tagged(response, view.certificate.version)
    return _certificate(view)


@router.get("/{supplier_id}/certificates", response_model=CertificateListOut)
def list_certificates(supplier_id: Id, _: Reader, container: ContainerDep, include_withdrawn: bool = False):
    views = container.certificate_queries().list(supplier_id, include_withdrawn)
    return CertificateListOut(items=[_certificate(v) for v in views])


@router.get("/{supplier_id}/certificates/{certificate_id}", response_model=CertificateOut)
def get_certificate(supplier_id: Id, certificate_id: Id, _: Reader, response: Response, container: ContainerDep):
    view = container.certificate_queries().get(supplier_id, certificate_id)
    tagged(response, view.certificate.version)
    return _certificate(view)


@router.patch("/{supplier_id}/certificates/{certificate_id}", response_model=CertificateOut,
              responses={409: {"description": "The certificate was withdrawn"}})
def update_certificate(supplier_id: Id, certificate_id: Id, body: CertificatePatchIn, request: Request,
                       principal: CertificateWriter, container: ContainerDep, expected: IfMatch, response: Response):
    values = body.model_dump(exclude_unset=True, exclude={"reason"})
    view = container.update_certificate()(supplier_id, certificate_id, values, origin_of(request, principal),
                                          expected, body.reason)
    tagged(response, view.certificate.version)
    return _certificate(view)


@router.delete("/{supplier_id}/certificates/{certificate_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={409: {"description": "Already withdrawn"}})
def withdraw_certificate(supplier_id: Id, certificate_id: Id, request: Request, principal: CertificateWriter,
                         container: ContainerDep, expected: IfMatch, reason: text(500) | None = None):
    """Withdraws the certificate: it no longer counts, its record and history stay (`include_withdrawn=true`)."""
    container.withdraw_certificate()(supplier_id, certificate_id, origin_of(request, principal), expected, reason)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
