"""The in-process wake-up signal (SQLite, memory: the writers are in the relay's process)."""

from __future__ import annotations

import threading

from application.ports.wakeup import Wakeup


class InProcessWakeup(Wakeup):
    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def mark(self) -> int:
        return self._count

    def wait(self, mark: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._count != mark, timeout)

    def notify(self) -> None:
        with self._changed:
            self._count += 1
            self._changed.notify_all()
