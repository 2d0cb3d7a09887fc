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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--kind", choices=["nc", "order"], default="nc")
    parser.add_argument("--suppliers", default="")
    parser.add_argument("--count", type=int, default=0, help="calls of this process (0: until --seconds)")
    parser.add_argument("--seconds", type=float, default=0)
    parser.add_argument("--rate", type=float, default=0, help="offered calls/s of all writer processes together")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--process", type=int, default=0)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--t0", type=float, default=0)
    parser.add_argument("--out", default="")
    args = parser.parse_args()

    container = build_container(Settings(_env_file=None, database_url=args.url, demo_password="bench-unused"))
    origin = Origin("bench", "bench")
    suppliers = [int(s) for s in args.suppliers.split(",") if s]
    if args.kind == "nc":
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
            return str(place(NewOrder(reference=f"B{tag}-{args.process}-{n}", customer_id=f"C-{n % 50}",
                                      items=items), origin).id)

    lanes = args.threads * args.processes
    t0 = args.t0 or time.monotonic()
    end = t0 + args.seconds if args.seconds else float("inf")
    per_thread = [args.count // args.threads + (1 if t < args.count % args.threads else 0) for t in range(args.threads)]
    records: list[list[tuple[str, float]]] = [[] for _ in range(args.threads)]
    errors: list[str] = []

    def lane(t: int) -> None:
        slot = args.process * args.threads + t
        done = 0
        while (args.count == 0 or done < per_thread[t]) and not errors:
            if args.rate:
                due = t0 + slot / args.rate
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
    threads = [threading.Thread(target=lane, args=(t,)) for t in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    written = sum(len(r) for r in records)
    if args.out:
        with open(args.out, "w") as output:
            for lane_records in records:
                for key, at in lane_records:
                    output.write(f"{key} {at:.6f}\n")
    container.engine().dispose()
    print(json.dumps({"written": written, "seconds": elapsed, "errors": errors[:3]}), flush=True)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
