"""The supplier-at-risk policy of the QHSE demo."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from domain.nonconformities import NonConformity
from domain.suppliers import Supplier


def supplier_at_risk(supplier: Supplier, ncs: Iterable[NonConformity], today: date) -> bool:
    """At risk when the certification expired before `today` or an OPEN high NC exists."""
    if supplier.certification_expired(today):
        return True
    return any(nc.supplier_id == supplier.id and nc.is_open_high for nc in ncs)
