"""The audit log as a hash chain (ADR 0014): the one rule every store and the verifier share.

Each record's `hash` is the SHA-256 (hex) of a canonical JSON encoding of its business columns and of
`prev_hash`, the hash of the record before it (GENESIS for the first). Changing, removing or
reordering a record breaks the link of every record after it, so an edit made behind the append-only
triggers' back (by an owner of the database, or by whoever can write an SQLite file) is found by
walking the chain, unless the whole chain from that record on is rewritten (see the ADR).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from application.ports.consumption import AuditEntry
from application.ports.unit_of_work import UowFactory

GENESIS = "0" * 64  # the prev_hash of the first record
RULES = (1, 2)  # the hash rules (see `canonical`); new records are chained with the last one
CURRENT_RULE = RULES[-1]


def _timestamp(value: datetime) -> str:
    """UTC, microseconds always written: what PostgreSQL, SQLite and Python all keep exactly."""
    if value.tzinfo is None:
        raise ValueError("an audit timestamp must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_value(value: Any) -> Any:
    """An integral float as the integer its JSON text means: PostgreSQL's jsonb gives back 1e20 as the
    integer 100000000000000000000, and must hash as it did before it was stored."""
    if isinstance(value, float) and value.is_integer():
        return int(Decimal(repr(value)))
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def canonical(entry: AuditEntry, prev_hash: str) -> bytes:
    """Sorted keys (the column names), no whitespace, ASCII: the same bytes for the same record on
    every store, whatever order a database gives back the keys of `details` in.

    Rule 1 (ADR 0014) covers the columns a record had before migration 0016; rule 2 (ADR 0026) adds
    `changes`, `reason` and `hash_version` itself. A record keeps the rule it was chained with."""
    record = {
        "event_id": str(entry.event_id), "action": entry.event_type, "entity_type": entry.entity_type,
        "entity_id": entry.entity_id, "actor": entry.actor, "correlation_id": entry.correlation_id,
        "occurred_at": _timestamp(entry.occurred_at), "recorded_at": _timestamp(entry.recorded_at),
        "details": _json_value(entry.details), "prev_hash": prev_hash,
    }
    if entry.hash_version == 2:
        record.update(changes=_json_value(entry.changes), reason=entry.reason, hash_version=2)
    elif entry.hash_version != 1:
        raise ValueError(f"unknown audit hash rule {entry.hash_version!r}")
    return json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("ascii")


def entry_hash(entry: AuditEntry, prev_hash: str) -> str:
    return hashlib.sha256(canonical(entry, prev_hash)).hexdigest()


def mismatch(entry: AuditEntry, prev_hash: str) -> str | None:
    """Why a stored record does not hold on its link `prev_hash`, or None. A rule-1 record has no changes
    and no reason: rule 1 does not hash them, so one that carries either was written to afterwards."""
    if entry.prev_hash != prev_hash:
        return "prev_hash does not link"
    if entry.hash_version not in RULES:
        return "unknown hash rule"
    if entry.hash_version == 1 and (entry.changes is not None or entry.reason is not None):
        return "hash mismatch"
    return "hash mismatch" if entry_hash(entry, prev_hash) != entry.hash else None


def changes_of(value: Any) -> list[list[Any]]:
    """The `changes` of an event's payload as stored: a list of [field, old, new] with a text field; a
    missing or malformed value is no changes (the payload, kept whole in `details`, still shows it)."""
    if not isinstance(value, (list, tuple)):
        return []
    return [list(c) for c in value if isinstance(c, (list, tuple)) and len(c) == 3 and isinstance(c[0], str)]


def reason_of(value: Any) -> str | None:
    """The `reason` of an event's payload: a non-empty text, else None."""
    return value if isinstance(value, str) and value.strip() else None


def link(entries: Sequence[AuditEntry], recorded: Iterable[UUID], head: str | None) -> list[AuditEntry]:
    """The entries whose event is not recorded yet (the first of each), chained on from `head`, the
    hash of the last record (None: the log is empty). The caller holds the log's append lock from
    reading `recorded` and `head` until its transaction ends, so nobody else links onto the same head."""
    seen, linked, prev = set(recorded), [], head or GENESIS
    for entry in entries:
        if entry.event_id not in seen:
            seen.add(entry.event_id)
            entry = dataclasses.replace(entry, hash_version=CURRENT_RULE, changes=changes_of(entry.changes),
                                        reason=reason_of(entry.reason))
            linked.append(dataclasses.replace(entry, prev_hash=prev, hash=entry_hash(entry, prev)))
            prev = linked[-1].hash
    return linked


class VerifyAuditLog:
    """Walk the chain in id order and recompute it: the first record that does not hold is reported.

    One short reading transaction per page, so that neither memory nor an open snapshot grows with
    the log (a snapshot held for a million rows would keep the outbox's dead rows from being vacuumed).
    Records appended meanwhile are checked too when they come after the last page read."""

    def __init__(self, uow: UowFactory, page_size: int = 1000) -> None:
        self.uow, self.page_size = uow, page_size

    def __call__(self) -> dict[str, Any]:
        checked, after_id, prev = 0, 0, GENESIS
        while True:
            with self.uow().reading() as uow:
                page = uow.audit.chain(after_id, self.page_size)
            for entry in page:
                reason = mismatch(entry, prev)
                if reason is not None:
                    return {"ok": False, "records": checked,
                            "broken": {"id": entry.id, "event_id": str(entry.event_id), "reason": reason}}
                checked, after_id, prev = checked + 1, entry.id, entry.hash
            if len(page) < self.page_size:  # the head: the hash to keep outside the database (ADR 0014)
                return {"ok": True, "records": checked, "head": prev}
