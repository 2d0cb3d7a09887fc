"""`supplytrace demo`: the QHSE workflow, then an order and an inventory, driven over HTTP like a user would."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import uvicorn

Echo = Callable[[str], None]


@contextmanager
def embedded_server() -> Iterator[str]:
    """SupplyTrace with its worker on a new SQLite file and a free port, for the demo's duration."""
    from adapters.inbound.api.app import create_app
    from bootstrap.container import build_container
    from adapters.inbound.runtime import background_workers, prepare_database
    from bootstrap.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="supplytrace-demo-") as folder:
        settings = load_settings(database_url=f"sqlite:///{Path(folder) / 'demo.db'}")
        container = build_container(settings)
        prepare_database(container, auto_migrate=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(container, background_workers(container)),
                                               host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(10)
            container.engine().dispose()


class Demo:
    def __init__(self, client: httpx.Client, password: str, echo: Echo) -> None:
        self.client, self.echo = client, echo
        self.tokens = {role: self._login(role, password)
                       for role in ("procurement", "quality", "auditor", "logistics")}

    def _login(self, username: str, password: str) -> str:
        response = self.client.post("/auth/login", data={"username": username, "password": password})
        response.raise_for_status()
        return response.json()["access_token"]

    def call(self, role: str, method: str, path: str, **kwargs: object) -> httpx.Response:
        return self.client.request(method, path, headers={"Authorization": f"Bearer {self.tokens[role]}"}, **kwargs)

    def kpi(self) -> dict[str, int]:
        return self.call("auditor", "GET", "/kpi").raise_for_status().json()

    def wait_for(self, what: str, path: str, ready: Callable[[httpx.Response], bool], timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.call("auditor", "GET", path)
            if ready(response):
                return response.json()
            time.sleep(0.2)
        raise TimeoutError(f"{what} not seen within {timeout}s: is the worker running?")

    def wait_audited(self, event_type: str, entity_id: int, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            items = self.call("auditor", "GET", "/audit-log", params={
                "event_type": event_type, "entity_id": str(entity_id)}).raise_for_status().json()["items"]
            if items:
                return items[0]
            time.sleep(0.2)
        raise TimeoutError(f"{event_type} for {entity_id} was not handled within {timeout}s: is the worker running?")


def run_demo(url: str | None, password: str, echo: Echo) -> int:
    if url is None:
        with embedded_server() as embedded:
            echo(f"Started SupplyTrace with its worker at {embedded} on a new SQLite file")
            return run_demo(embedded, password, echo)
    with httpx.Client(base_url=url, timeout=10) as client:
        echo(f"0. health: {client.get('/health').json()}")
        demo = Demo(client, password, echo)
        before = demo.kpi()
        echo(f"1. KPI at start: {before}")
        supplier = demo.call("procurement", "POST", "/suppliers", json={
            "name": "Beta Metals", "certification_expiry": str(date.today() + timedelta(days=365))}).json()
        echo(f"2. supplier created: {supplier}")
        nc = demo.call("quality", "POST", "/ncs", json={
            "supplier_id": supplier["id"], "severity": "low",
            "description": "Certificato materiale mancante"}).json()
        echo(f"3. NC raised (severity low): {nc}")
        audit = demo.wait_audited("NC_CREATED", nc["id"])
        echo(f"4. worker consumed NC_CREATED {audit['event_id']}: audit record {audit['id']} by {audit['actor']}")
        closed = demo.call("quality", "PATCH", f"/ncs/{nc['id']}/close").json()
        echo(f"5. NC closed: status {closed['status']}")
        again = demo.call("quality", "PATCH", f"/ncs/{nc['id']}/close")
        echo(f"6. closing it again is refused: {again.status_code} {again.json()['detail']}")
        demo.wait_audited("NC_CLOSED", nc["id"])
        middle = demo.kpi()
        echo(f"7. KPI before the certification expires: suppliers_at_risk={middle['suppliers_at_risk']}")
        updated = demo.call("procurement", "PATCH", f"/suppliers/{supplier['id']}/certification",
                            json={"certification_expiry": "2020-01-01"}).json()
        echo(f"8. certification set to 2020-01-01: at_risk={updated['at_risk']}")
        demo.wait_audited("SUPPLIER_CERT_UPDATED", supplier["id"])
        after = demo.kpi()
        echo(f"9. KPI after: suppliers_at_risk {middle['suppliers_at_risk']} -> {after['suppliers_at_risk']}, "
             f"audit_events_total {after['audit_events_total']}, outbox_pending {after['outbox_pending']}, "
             f"outbox_failed {after['outbox_failed']}")
        ok = after["suppliers_at_risk"] == middle["suppliers_at_risk"] + 1 and again.status_code == 409
        ok = run_order_steps(demo, echo) and ok
        ok = run_inventory_steps(demo, echo) and ok
        ok = run_capa_steps(demo, supplier["id"], echo) and ok
        ok = run_reminder_steps(demo, supplier["id"], echo) and ok
        echo("Demo complete: every step behaved as expected." if ok else "Demo FAILED: see the steps above.")
        return 0 if ok else 1


def run_order_steps(demo: Demo, echo: Echo) -> bool:
    reference = f"ORD-DEMO-{uuid4().hex[:6].upper()}"
    order = demo.call("logistics", "POST", "/orders", json={
        "order_id": reference, "customer_id": "CUST-001", "facility_id": "FAC-001",
        "items": [{"sku": "ITEM-001", "quantity": 2, "unit_price": 45.00, "sale_price": 49.99},
                  {"sku": "ITEM-002", "quantity": 1, "unit_price": 10.00, "sale_price": 12.50}]}).json()
    echo(f"10. order {reference} received: status {order['status']}, total_amount {order['total_amount']}")
    early = demo.call("logistics", "PATCH", f"/orders/{reference}/status", json={"status": "IN_TRANSIT"})
    echo(f"11. sending it before picking is refused: {early.status_code} {early.json()['detail']}")
    moves = [("items/ITEM-001/status", "PICKED"), ("items/ITEM-002/status", "PICKED"), ("status", "PICKING"),
             ("status", "IN_TRANSIT"), ("status", "DELIVERED")]
    for path, status in moves:
        moved = demo.call("logistics", "PATCH", f"/orders/{reference}/{path}", json={"status": status})
        if moved.status_code != 200:
            echo(f"    {path} -> {status} refused: {moved.status_code} {moved.json()['detail']}")
            return False
    final = moved.json()
    echo(f"12. picked, in transit, delivered by logistics: status {final['status']}, "
         f"items {[i['status'] for i in final['items']]}")
    history = demo.wait_for("the order's history", f"/orders/{reference}/events",
                            lambda r: len(r.json()) == 4)
    echo(f"13. worker wrote the history: {' -> '.join(e['status'] for e in history)}")
    return early.status_code == 409 and final["status"] == "DELIVERED"


def run_inventory_steps(demo: Demo, echo: Echo) -> bool:
    customer = f"ACME {uuid4().hex[:6]}"
    inventory = demo.call("logistics", "POST", "/inventories", json={
        "customer": customer, "expiry_date": str(date.today() + timedelta(days=90))}).json()
    for product, quantity in (("bolts M8", 5), ("nuts M8", 7)):
        demo.call("logistics", "POST", f"/inventories/{inventory['id']}/lines",
                  json={"product": product, "quantity": quantity}).raise_for_status()
    bad = demo.call("logistics", "POST", f"/inventories/{inventory['id']}/lines",
                    json={"product": "washers", "quantity": 0})
    echo(f"14. inventory {inventory['id']} with lines of 5 and 7; a line of 0 is refused: {bad.status_code}")
    listed = demo.wait_for("the inventory projection", f"/inventories?customer={customer}",
                           lambda r: [i["total_items"] for i in r.json()["items"]] == [12])
    echo(f"15. worker updated the projection: total_items {listed['items'][0]['total_items']}, "
         f"line_count {listed['items'][0]['line_count']}")
    deleted = demo.call("logistics", "DELETE", f"/inventories/{inventory['id']}")
    gone = demo.call("auditor", "GET", f"/inventories/{inventory['id']}")
    echo(f"16. inventory deleted: {deleted.status_code}, then reading it: {gone.status_code}")
    return bad.status_code == 422 and deleted.status_code == 204 and gone.status_code == 404


def run_capa_steps(demo: Demo, supplier_id: int, echo: Echo) -> bool:
    """One CAPA cycle (ADR 0024): a high NC investigated, its root cause, a corrective action done by
    its owner (procurement) and verified by someone else (quality), then closed."""
    nc = demo.call("quality", "POST", "/ncs", json={
        "supplier_id": supplier_id, "severity": "high", "description": "Porosity in cast housings, lot 41"}).json()
    path = f"/ncs/{nc['id']}"
    early = demo.call("quality", "PATCH", f"{path}/status", json={"status": "ACTION_PLANNED"})
    echo(f"17. high NC {nc['id']} raised; planning actions before investigating is refused: {early.status_code}, "
         f"allowed {early.json().get('allowed')}")
    steps = [
        ("quality", "PATCH", f"{path}/status", {"status": "INVESTIGATING", "owner": "quality"}),
        ("quality", "PATCH", path, {"root_cause_category": "MATERIAL", "rca_method": "FIVE_WHYS",
                                    "root_cause_analysis": "the resin lot was stored in a wet warehouse"}),
        ("quality", "POST", f"{path}/actions", {
            "type": "CORRECTIVE", "description": "the supplier dries every resin lot before casting",
            "owner": "procurement", "due_date": str(date.today() + timedelta(days=14)),
            "effectiveness_criteria": "no porosity in the next 3 lots"}),
        ("quality", "PATCH", f"{path}/status", {"status": "ACTION_PLANNED"}),
        ("procurement", "PATCH", f"{path}/actions/1/status", {"status": "IN_PROGRESS"}),
        ("procurement", "PATCH", f"{path}/actions/1/status", {"status": "DONE", "note": "drying step added"}),
    ]
    for role, method, target, body in steps:
        response = demo.call(role, method, target, json=body)
        if response.status_code >= 300:
            echo(f"    {method} {target} refused: {response.status_code} {response.text}")
            return False
    own = demo.call("procurement", "PATCH", f"{path}/actions/1/status",
                    json={"status": "VERIFIED", "result": "3 lots without porosity"})
    echo(f"18. root cause MATERIAL, corrective action done by procurement; its owner may not verify it: "
         f"{own.status_code}")
    verified = demo.call("quality", "PATCH", f"{path}/actions/1/status",
                         json={"status": "VERIFIED", "result": "lots 42-44 without porosity"}).json()
    closed = demo.call("quality", "PATCH", f"{path}/status",
                       json={"status": "CLOSED", "closure_note": "corrective action effective"}).json()
    echo(f"19. quality verified it ({verified['status']} by {verified['verified_by']}); NC {closed['status']}, "
         f"closed_without_capa {closed['closed_without_capa']}")
    demo.wait_audited("NC_CLOSED", nc["id"])
    kpi = demo.kpi()
    echo(f"20. KPI: capa_effectiveness_rate {kpi['capa_effectiveness_rate']}, nc_by_root_cause "
         f"{kpi['nc_by_root_cause']}, nc_high_closed_without_capa {kpi['nc_high_closed_without_capa']}")
    return (early.status_code == 409 and own.status_code == 403 and closed["status"] == "CLOSED"
            and not closed["closed_without_capa"])


def run_reminder_steps(demo: Demo, supplier_id: int, echo: Echo) -> bool:
    """One certificate reminder (ADR 0027): a required certificate 30 days from expiry gets its
    CERT_EXPIRING once, however often the job runs (the workers run it too)."""
    expires = date.today() + timedelta(days=30)
    certificate = demo.call("quality", "POST", f"/suppliers/{supplier_id}/certificates", json={
        "type": "ISO_9001", "number": f"Q-{uuid4().hex[:6].upper()}", "issuer": "TÜV Rheinland",
        "issued_on": str(expires - timedelta(days=3 * 365)), "expires_on": str(expires), "required": True}).json()
    runs = [demo.call("quality", "POST", "/reminders/run").raise_for_status().json() for _ in range(2)]
    echo(f"21. certificate {certificate['number']} expires on {expires} ({certificate['status']}); the reminder "
         f"job run twice sent {runs[0]['sent'].get('CERT_EXPIRING', 0)}, then "
         f"{runs[1]['sent'].get('CERT_EXPIRING', 0)} CERT_EXPIRING")
    deadline = time.monotonic() + 20
    reminders: list[dict] = []
    while time.monotonic() < deadline:
        items = demo.call("auditor", "GET", "/audit-log", params={
            "event_type": "CERT_EXPIRING", "entity_id": str(supplier_id), "limit": 50}).raise_for_status().json()
        reminders = [e for e in items["items"] if e["details"]["certificate_id"] == certificate["id"]]
        if reminders:
            break
        time.sleep(0.2)
    for reminder in reminders:
        echo(f"22. worker delivered CERT_EXPIRING: threshold {reminder['details']['threshold']} days, "
             f"{reminder['details']['days_left']} days left, audit record {reminder['id']} by {reminder['actor']}")
    return len(reminders) == 1 and runs[1]["sent"].get("CERT_EXPIRING", 0) == 0

