"""Orders end to end through the fulfilment process, and inventory lines through the projection.

    .venv/bin/python bench/order_flow.py [--orders 500] [--lines 3000] [--workers 1]

Per database (a temporary SQLite file and a scratch PostgreSQL database), in polling mode with all
the real handlers (audit, order history, fulfilment process, inventory projection):
- placing orders: orders/s through `PlaceOrder` (one thread);
- fulfilment with SUPPLYTRACE_FULFILMENT_STEP_SECONDS=0: orders/s taken RECEIVED -> DELIVERED by
  `--workers` relay+scheduler loops, the events/s that makes, and the time each order took;
- inventory lines: lines/s through `AddInventoryLine`, then lines/s applied to the projection.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.inbound.worker import RelayLoop  # noqa: E402
from adapters.outbound.sqlalchemy import migrate  # noqa: E402
from application.envelope import Origin  # noqa: E402
from application.orders import NewOrder  # noqa: E402
from application.pagination import PageRequest  # noqa: E402
from application.ports.inventories import InventoryFilter  # noqa: E402
from application.ports.orders import OrderFilter  # noqa: E402
from bootstrap.container import build_container  # noqa: E402
from bootstrap.settings import Settings  # noqa: E402
from domain.orders import ItemSpec, OrderStatus  # noqa: E402
from tests.support.databases import ScratchPostgres  # noqa: E402

ORIGIN = Origin("bench", "bench")


def run_workers(container, workers: int, done) -> None:  # noqa: ANN001
    """`workers` relay loops (each also fires the fulfilment timers), as `supplytrace worker` runs them."""
    loops = [RelayLoop(container.relay(), 0.01, name=f"bench-{n}", scheduler=container.fulfilment_scheduler())
             for n in range(workers)]
    for loop in loops:
        loop.start()
    while not done():
        time.sleep(0.25)
    for loop in loops:
        loop.stop()


def bench(url: str, orders: int, lines: int, workers: int) -> str:
    settings = Settings(_env_file=None, database_url=url, fulfilment_auto=True, fulfilment_step_seconds=0,
                        worker_poll_interval_seconds=0.01)
    container = build_container(settings)
    migrate.upgrade(container.engine())
    place, queries, kpi = container.place_order(), container.order_queries(), container.kpi()

    started = time.perf_counter()
    for n in range(orders):
        items = [ItemSpec(f"SKU-{k}", k + 1, "1.00", "2.00") for k in range(n % 3)]
        place(NewOrder(reference=f"ORD-{n}", customer_id=f"C-{n % 50}", items=items), ORIGIN)
    placing = orders / (time.perf_counter() - started)

    started = time.perf_counter()
    delivered_count = lambda: queries.list(OrderFilter(status=OrderStatus.DELIVERED), PageRequest(limit=1)).total  # noqa: E731
    run_workers(container, workers, lambda: delivered_count() == orders and kpi().outbox_pending == 0)
    elapsed = time.perf_counter() - started
    events = kpi().outbox_published
    delivered = queries.list(OrderFilter(status=OrderStatus.DELIVERED), PageRequest(limit=500)).items
    took = sorted((queries.history(str(o.id))[1][-1].occurred_at - o.created_at).total_seconds() for o in delivered)

    inventories = [container.create_inventory()(f"customer {n}", date(2027, 1, 1 + n % 28), ORIGIN)
                   for n in range(max(1, lines // 10))]
    add = container.add_inventory_line()
    started = time.perf_counter()
    for n in range(lines):
        add(inventories[n % len(inventories)].id, f"product {n}", 1 + n % 9, ORIGIN)
    adding = lines / (time.perf_counter() - started)
    started = time.perf_counter()
    run_workers(container, workers, lambda: kpi().projection_lag_events == 0)
    projecting = lines / (time.perf_counter() - started)
    page = container.inventory_queries().list(InventoryFilter(), PageRequest(limit=500))
    assert sum(s.line_count for s in page.items) == lines or page.total > 500

    container.engine().dispose()
    return (f"place {placing:6.0f} orders/s | fulfil {orders / elapsed:6.0f} orders/s "
            f"({events / elapsed:6.0f} events/s, {orders} orders, {workers} worker(s)), order latency "
            f"p50 {statistics.median(took):.2f} s, p95 {took[int(len(took) * 0.95) - 1]:.2f} s (first 500) | "
            f"lines {adding:6.0f}/s written, {projecting:6.0f}/s projected ({lines} lines)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    postgres = ScratchPostgres()
    try:
        with tempfile.TemporaryDirectory() as folder:
            for name, url in (("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}"), ("postgresql", postgres.owner_url)):
                print(f"{name:10s} {bench(url, args.orders, args.lines, args.workers)}", flush=True)
    finally:
        postgres.drop()


if __name__ == "__main__":
    main()
