"""The compatibility routes: on by default, tagged `compatibility`, left out with SUPPLYTRACE_COMPAT_ROUTES=false."""

from __future__ import annotations

from bootstrap.settings import Settings
from tests.support.harness import running_app

COMPAT_PATHS = {"/create_order", "/get_order_details", "/update_order_status", "/update_item_status", "/inventario",
                "/inventario/{inventario_id}", "/inventario/{inventario_id}/linea"}


def test_they_are_on_by_default_tagged_and_each_method_is_an_operation_of_its_own() -> None:
    with running_app("memory", "memory://") as app:
        spec = app.client.get("/openapi.json").json()
        tagged = {path for path, ops in spec["paths"].items() if any("compatibility" in o["tags"] for o in ops.values())}
        assert tagged == COMPAT_PATHS
        assert set(spec["paths"]["/update_order_status"]) == set(spec["paths"]["/update_item_status"]) == {"put", "patch"}
        ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
        assert len(ids) == len(set(ids))
        assert "put" in spec["paths"]["/orders/{order_key}"]  # the native PUT stays whatever the setting
        body = {"order_id": "ORD-1", "customer_id": "C", "facility_id": "F", "items": [
            {"sku": "A", "quantity": 1, "unit_price": 1, "sale_price": 2}]}
        assert app.call("logistics", "POST", "/create_order", json=body).status_code == 201
        for method, status in (("PUT", "picked"), ("PATCH", "cancelled")):  # either verb, the seed's lower case
            moved = app.call("logistics", method, "/update_item_status", json={"order_id": "ORD-1", "sku": "A",
                                                                               "status": status})
            assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == "CANCELLED"  # its last item cancelled: the order is too
        assert app.call("logistics", "PUT", "/update_order_status",
                        json={"order_id": "ORD-1", "status": "shipped"}).json()["detail"][0]["loc"] == ["body", "status"]


def test_the_setting_leaves_them_out(monkeypatch) -> None:
    monkeypatch.setenv("SUPPLYTRACE_COMPAT_ROUTES", "false")
    assert Settings(_env_file=None).compat_routes is False
    with running_app("memory", "memory://", compat_routes=False) as app:
        paths = set(app.client.get("/openapi.json").json()["paths"])
        assert not paths & COMPAT_PATHS and "/orders/{order_key}" in paths
        assert app.call("logistics", "POST", "/inventario", json={"cliente": "A", "fecha_caducidad": "2027-01-01"}
                        ).status_code == 404
        assert app.call("auditor", "GET", "/get_order_details?order_id=X").status_code == 404
