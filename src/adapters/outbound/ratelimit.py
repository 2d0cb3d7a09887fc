"""Rate limits with the `limits` library: a moving window per bucket and key, in memory or in Redis."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse, storage, strategies

from application.ports.security import RateLimiter


class LimitsRateLimiter(RateLimiter):
    """`rates`: bucket → limit in the library's notation ("5/minute"); `storage_url`: "memory://" (one
    process) or "redis://host:6379" (shared by every process)."""

    def __init__(self, storage_url: str, rates: dict[str, str]) -> None:
        self.window = strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_url))
        self.rates: dict[str, RateLimitItem] = {bucket: parse(rate) for bucket, rate in rates.items()}

    def hit(self, bucket: str, key: str) -> int | None:
        rate = self.rates[bucket]
        return None if self.window.hit(rate, bucket, key) else self._wait(rate, bucket, key)

    def retry_after(self, bucket: str, key: str) -> int | None:
        rate = self.rates[bucket]
        return None if self.window.test(rate, bucket, key) else self._wait(rate, bucket, key)

    def clear(self, bucket: str, key: str) -> None:
        self.window.clear(self.rates[bucket], bucket, key)

    def _wait(self, rate: RateLimitItem, bucket: str, key: str) -> int:
        reset = self.window.get_window_stats(rate, bucket, key).reset_time
        return max(1, math.ceil(reset - time.time()))
