"""How much the fuzz run does: the one place for its example counts and its seed.

`make test` runs the bounded budget; `make fuzz` sets SUPPLYTRACE_FUZZ=long. SUPPLYTRACE_FUZZ_EXAMPLES and
SUPPLYTRACE_FUZZ_SEED override either, to reproduce or to dig deeper.
"""

from __future__ import annotations

import os

BOUNDED_EXAMPLES = 4  # per operation and generation mode (positive, negative), with every boundary case
LONG_EXAMPLES = 200
SEED = 20260310  # a fixed seed: the same cases on every machine and in CI


def examples() -> int:
    default = LONG_EXAMPLES if os.environ.get("SUPPLYTRACE_FUZZ") == "long" else BOUNDED_EXAMPLES
    return int(os.environ.get("SUPPLYTRACE_FUZZ_EXAMPLES", default))


def seed() -> int:
    return int(os.environ.get("SUPPLYTRACE_FUZZ_SEED", SEED))
