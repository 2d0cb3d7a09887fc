"""A writer process: raises NCs (or places orders) through the use cases of `bootstrap.container`.

    python bench/writer.py --url URL --kind nc --suppliers 1,2,3 [--count N | --seconds S] [--rate R]
                           [--threads T] [--process P --processes PS --t0 MONOTONIC] [--out FILE]

One event per use-case call and transaction, as a client of the application makes them. With --rate the
calls follow an open-loop schedule shared by every thread of every writer process (slot k is due at
t0 + k / rate; a late thread catches up without waiting), so the offered rate does not depend on how fast
events are handled. --out records, per call, the aggregate id and the monotonic time (system-wide on
Linux) just after its transaction committed: the commit side of the commit→handled latency.
The last line of stdout is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from application.envelope import Origin  # noqa: E402
from bootstrap.container import build_container  # noqa: E402
from bootstrap.settings import Settings  # noqa: E402


def run_writer(url: str, kind: str = "nc", suppliers: list[int] | None = None, count: int = 0, seconds: float = 0,
               rate: float = 0, threads: int = 4, process: int = 0, processes: int = 1, t0: float = 0,
               jitter: bool = False, out: str = "") -> dict[str, object]:
    """The writer's work, callable in process too (the smoke run saves a process start that way)."""
    container = build_container(Settings(_env_file=None, database_url=url, demo_password="bench-unused"))
    origin = Origin("bench", "bench")
    suppliers = suppliers or [1]
    if kind == "nc":
        raise_nc = container.raise_nc()

        def write(n: int) -> str:
            return str(raise_nc(suppliers[n % len(suppliers)], ("low", "medium", "high")[n % 3], f"bench nc {n}",
                                origin).id)
    else:
        from application.orders import NewOrder
        from domain.orders import ItemSpec

        place = container.place_order()
        tag = uuid.uuid4().hex[:8]

        def write(n: int) -> str:
            items = [ItemSpec(f"SKU-{k}", k + 1, "1.00", "2.00") for k in range(1 + n % 3)]
            return str(place(NewOrder(reference=f"B{tag}-{process}-{n}", customer_id=f"C-{n % 50}",
                                      items=items), origin).id)

    lanes = threads * processes
    t0 = t0 or time.monotonic()
    end = t0 + seconds if seconds else float("inf")
    per_thread = [count // threads + (1 if t < count % threads else 0) for t in range(threads)]
    records: list[list[tuple[str, float]]] = [[] for _ in range(threads)]
    errors: list[str] = []

    def lane(t: int) -> None:
        slot = process * threads + t
        done = 0
        while (count == 0 or done < per_thread[t]) and not errors:
            if rate:
                due = t0 + (slot + (random.random() if jitter else 0)) / rate
                if due >= end:
                    return
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            elif time.monotonic() >= end:
                return
            try:
                key = write(slot)
            except Exception as error:  # noqa: BLE001 - reported, ends the writer
                errors.append(f"{type(error).__name__}: {error}")
                return
            records[t].append((key, time.monotonic()))
            slot += lanes
            done += 1

    started = time.monotonic()
    workers = [threading.Thread(target=lane, args=(t,)) for t in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.monotonic() - started
    if out:
        with open(out, "w") as output:
            for lane_records in records:
                for key, at in lane_records:
                    output.write(f"{key} {at:.6f}\n")
    container.engine().dispose()
    return {"written": sum(len(r) for r in records), "seconds": elapsed, "errors": errors[:3]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--kind", choices=["nc", "order"], default="nc")
    parser.add_argument("--suppliers", default="1")
    parser.add_argument("--count", type=int, default=0, help="calls of this process (0: until --seconds)")
    parser.add_argument("--seconds", type=float, default=0)
    parser.add_argument("--rate", type=float, default=0, help="offered calls/s of all writer processes together")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--process", type=int, default=0)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--t0", type=float, default=0)
    parser.add_argument("--jitter", action="store_true", help="each slot at a random point of its 1/rate interval")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    summary = run_writer(args.url, args.kind, [int(s) for s in args.suppliers.split(",") if s], args.count,
                         args.seconds, args.rate, args.threads, args.process, args.processes, args.t0, args.jitter,
                         args.out)
    print(json.dumps(summary), flush=True)
    sys.exit(1 if summary["errors"] else 0)


if __name__ == "__main__":
    main()
