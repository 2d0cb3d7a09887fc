"""Idempotency keys and versions on the in-memory adapters (ADR 0020)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from adapters.inbound.api.conditional import BadHeader, parse_if_match
from application.conditional import PreconditionFailed
from application.idempotency import IdempotencyKeys, KeyReused, check_key, fingerprint
from application.inventories import AddInventoryLine, CreateInventory, DeleteInventory
from application.orders import ChangeOrderStatus, NewOrder, OrderQueries, PlaceOrder
from application.pagination import PageRequest
from application.ports.idempotency import Claim, KeyInUse, StoredResponse, claiming
from application.retention import PurgeHandledEvents
from domain.errors import NotFound, ValidationError

FUTURE = date(2027, 6, 30)
BODY = b'{"name": "Beta Metals", "certification_expiry": "2027-06-30"}'


@pytest.fixture
def keys(uow, clock) -> IdempotencyKeys:
    return IdempotencyKeys(uow, clock, timedelta(hours=24))


def _suppliers(app) -> int:
    return app.suppliers.list(PageRequest()).total


def _stored(uow, user: str, key: str):
    with uow().reading() as work:
        return work.idempotency.get(user, key)


def test_the_key_is_written_by_the_commit_of_the_write_and_the_answer_replayed(app, keys, uow, origin) -> None:
    claim = keys.begin("alice", "k-1", "POST", "/suppliers", BODY)
    assert isinstance(claim, Claim) and not claim.committed
    with claiming(claim):
        app.create_supplier("Beta Metals", FUTURE, origin)
    assert claim.committed and _stored(uow, "alice", "k-1").response is None  # written with the supplier
    with pytest.raises(KeyInUse):  # wrote, not answered yet: a retry must wait, never write again
        keys.begin("alice", "k-1", "POST", "/suppliers", BODY)

    keys.complete(claim, StoredResponse(201, {"content-type": "application/json"}, '{"id": 1}'))
    # the same request (keys in another order, other spacing) gets the stored answer
    again = keys.begin("alice", "k-1", "POST", "/suppliers", b'{"certification_expiry":"2027-06-30","name":"Beta Metals"}')
    assert again == StoredResponse(201, {"content-type": "application/json"}, '{"id": 1}')
    with pytest.raises(KeyReused) as reused:  # another body, or another path, under the key
        keys.begin("alice", "k-1", "POST", "/suppliers", b'{"name": "Gamma"}')
    assert reused.value.field == "Idempotency-Key"
    with pytest.raises(KeyReused):
        keys.begin("alice", "k-1", "POST", "/ncs", BODY)
    assert isinstance(keys.begin("bob", "k-1", "POST", "/suppliers", BODY), Claim)  # keys are per user
    assert _suppliers(app) == 1


def test_a_failed_request_leaves_no_key_and_a_racing_request_writes_nothing(app, keys, uow, origin) -> None:
    claim = keys.begin("alice", "k-2", "POST", "/ncs", b"{}")
    with claiming(claim), pytest.raises(NotFound):
        app.raise_nc(999, "high", "weld porosity", origin)
    assert not claim.committed and _stored(uow, "alice", "k-2") is None  # the key is not burnt

    first = keys.begin("alice", "k-3", "POST", "/suppliers", BODY)
    second = keys.begin("alice", "k-3", "POST", "/suppliers", BODY)  # both looked before either wrote
    with claiming(first):
        app.create_supplier("Beta Metals", FUTURE, origin)
    with claiming(second), pytest.raises(KeyInUse):
        app.create_supplier("Beta Metals", FUTURE, origin)
    assert _suppliers(app) == 1 and not second.committed


def test_a_key_expires_with_the_window_and_the_purge_removes_it(app, keys, uow, clock, origin) -> None:
    claim = keys.begin("alice", "k-4", "POST", "/suppliers", BODY)
    with claiming(claim):
        app.create_supplier("Beta Metals", FUTURE, origin)
    keys.complete(claim, StoredResponse(201, {}, "{}"))
    clock.advance(timedelta(hours=25).total_seconds())
    later = keys.begin("alice", "k-4", "POST", "/suppliers", b'{"name": "another"}')  # expired: free again
    with claiming(later):
        app.create_supplier("Gamma Steel", FUTURE, origin)
    assert later.committed and _stored(uow, "alice", "k-4").fingerprint == later.fingerprint

    clock.advance(timedelta(hours=25).total_seconds())
    report = PurgeHandledEvents(uow, clock, timedelta(days=7), idempotency_window=timedelta(hours=24))()
    assert report.removed.get("idempotency_keys") == 1 and _stored(uow, "alice", "k-4") is None


def test_key_and_fingerprint_rules() -> None:
    assert check_key("a" * 255) == "a" * 255
    for bad in ("", "a" * 256, "tab\there", "é"):
        with pytest.raises(ValidationError):
            check_key(bad)
    assert fingerprint("post", "/suppliers", b'{"a": 1, "b": 2}') == fingerprint("POST", "/suppliers", b'{"b":2,"a":1}')
    assert fingerprint("POST", "/suppliers", b"x") != fingerprint("POST", "/suppliers?x=1", b"x")


def test_every_change_moves_the_version_and_a_stale_one_is_refused(app, uow, clock, origin) -> None:
    view = app.create_supplier("Beta Metals", FUTURE, origin)
    assert view.supplier.version == 1
    assert app.update_certification(1, FUTURE, origin, expected={1}).supplier.version == 1  # unchanged: same version
    assert app.update_certification(1, date(2028, 1, 1), origin, expected={1}).supplier.version == 2
    with pytest.raises(PreconditionFailed) as stale:
        app.update_certification(1, date(2029, 1, 1), origin, expected={1})
    assert stale.value.current == 2 and app.suppliers.get(1).supplier.certification_expiry == date(2028, 1, 1)
    assert app.update_certification(1, date(2029, 1, 1), origin, expected=None).supplier.version == 3

    nc = app.raise_nc(1, "high", "weld porosity", origin)
    with pytest.raises(PreconditionFailed):
        app.close_nc(nc.id, origin, expected={2})
    assert app.close_nc(nc.id, origin, expected={1}).version == 2

    inventory = CreateInventory(uow, clock)("ACME", FUTURE, origin)
    AddInventoryLine(uow, clock)(inventory.id, "bolts", 5, origin)
    with pytest.raises(PreconditionFailed):
        DeleteInventory(uow, clock)(inventory.id, origin, expected={1})
    DeleteInventory(uow, clock)(inventory.id, origin, expected={2})

    order = PlaceOrder(uow, clock)(NewOrder(customer_name="João Silva", address="Rua Exemplo, 123"), origin)
    assert order.version == 1
    with pytest.raises(PreconditionFailed):
        ChangeOrderStatus(uow, clock)(str(order.id), "PICKING", None, origin, expected={0})
    assert ChangeOrderStatus(uow, clock)(str(order.id), "PICKING", None, origin, expected={1}).version == 2
    assert OrderQueries(uow).get(str(order.id)).version == 2


def test_if_match_is_read_with_strong_comparison() -> None:
    assert parse_if_match(None) is None and parse_if_match(" * ") is None
    assert parse_if_match('"3"') == {3}
    assert parse_if_match('"1", "2" ,W/"4"') == {1, 2}  # a weak tag never matches an If-Match
    assert parse_if_match('"abc"') == frozenset()  # well formed, names no version: 412
    for bad in ("3", '"3', "", '"3" "4"', 'W/3'):
        with pytest.raises(BadHeader):
            parse_if_match(bad)
