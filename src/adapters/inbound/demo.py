"""`supplytrace demo`: the QHSE demo's workflow, driven over HTTP like a user would."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import httpx
import uvicorn

Echo = Callable[[str], None]


@contextmanager
def embedded_server() -> Iterator[str]:
    """SupplyTrace with its worker on a new SQLite file and a free port, for the demo's duration."""
    from adapters.inbound.api.app import create_app
    from bootstrap.container import build_container
    from adapters.inbound.runtime import background_workers, prepare_database
    from bootstrap.settings import Settings

    with tempfile.TemporaryDirectory(prefix="supplytrace-demo-") as folder:
        settings = Settings(database_url=f"sqlite:///{Path(folder) / 'demo.db'}")
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
        self.tokens = {role: self._login(role, password) for role in ("procurement", "quality", "auditor")}

    def _login(self, username: str, password: str) -> str:
        response = self.client.post("/auth/login", data={"username": username, "password": password})
        response.raise_for_status()
        return response.json()["access_token"]

    def call(self, role: str, method: str, path: str, **kwargs: object) -> httpx.Response:
        return self.client.request(method, path, headers={"Authorization": f"Bearer {self.tokens[role]}"}, **kwargs)

    def kpi(self) -> dict[str, int]:
        return self.call("auditor", "GET", "/kpi").raise_for_status().json()

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
        echo("Demo complete: every step behaved as expected." if ok else "Demo FAILED: see the steps above.")
        return 0 if ok else 1
