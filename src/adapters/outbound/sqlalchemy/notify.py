"""PostgreSQL's wake-up signal: LISTEN on the channel the outbox's insert trigger notifies.

The trigger of migration 0005 sends one notification per transaction that adds events (PostgreSQL
folds identical notifications of a transaction into one), whichever process committed it. A thread
of this process listens on a connection of its own, opened at the first wait, and re-opens it after
an outage; meanwhile relays fall back to their poll interval, so a lost notification delays, never loses.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from sqlalchemy.engine import make_url

from application.ports.wakeup import Wakeup

from adapters.outbound.wakeup import InProcessWakeup

CHANNEL = "supplytrace_outbox"
log = logging.getLogger(__name__)


def conninfo(url: str) -> str:
    """The libpq URI of a SQLAlchemy URL (`postgresql+psycopg://…` → `postgresql://…`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresWakeup(Wakeup):
    def __init__(self, url: str, connect_timeout: float = 5.0, reconnect_seconds: float = 1.0) -> None:
        self.url, self.connect_timeout, self.reconnect_seconds = url, connect_timeout, reconnect_seconds
        self.local = InProcessWakeup()
        self.stopping = threading.Event()
        self.listening = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def mark(self) -> int:
        self._start()
        return self.local.mark()

    def wait(self, mark: int, timeout: float) -> bool:
        self._start()
        return self.local.wait(mark, timeout)

    def notify(self) -> None:
        self.local.notify()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._listen, name="supplytrace-listen", daemon=True)
                self._thread.start()

    def _listen(self) -> None:
        while not self.stopping.is_set():
            try:
                with psycopg.connect(conninfo(self.url), autocommit=True,
                                     connect_timeout=max(1, round(self.connect_timeout))) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self.local.notify()  # what was committed while we were not listening is due now
                    while not self.stopping.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.local.notify()
            except psycopg.Error as error:
                log.warning("outbox notifications unavailable (%s): polling until they are back", error)
            finally:
                self.listening.clear()
            self.stopping.wait(self.reconnect_seconds)

    def close(self) -> None:
        self.stopping.set()
        self.local.notify()
        if self._thread is not None:
            self._thread.join(3)
