"""The worker loops: the polling loop drives the outbox relay until told to stop; periodic loops run the
retention purge, the reminder job and the scorecard's month."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import structlog

from application.fulfilment import FulfilmentScheduler
from application.ports.wakeup import Wakeup
from application.relay import Relay
from application.reminders import ReminderReport, RunReminders
from application.retention import PurgeHandledEvents, PurgeReport
from application.scorecard import ComputeMonthlyScores

log = structlog.get_logger("supplytrace.worker")
R = TypeVar("R")


class RelayLoop:
    """Runs relay batches back to back while there is work; when idle it waits for the wake-up
    signal (new events committed), or `interval` at most (the fallback, and due retries); between
    batches it fires the fulfilment process's due timers, and every `reconcile_every` seconds it
    re-drives events published but never handled (see application/reconciliation.py).

    A database or broker failure is logged and retried with a growing pause; it never ends the loop.
    """

    def __init__(self, relay: Relay, interval: float, name: str = "relay", max_pause: float = 30.0,
                 scheduler: FulfilmentScheduler | None = None, reconcile: Callable[[], int] | None = None,
                 reconcile_every: float = 5.0, wakeup: Wakeup | None = None) -> None:
        self.relay, self.interval, self.name, self.max_pause = relay, interval, name, max_pause
        self.wakeup = wakeup
        self.scheduler, self.reconcile, self.reconcile_every = scheduler, reconcile, reconcile_every
        self._next_reconcile = 0.0
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        pause = self.interval
        log.info("worker.started", worker=self.name)
        while not self.stopping.is_set():
            mark = self.wakeup.mark() if self.wakeup else 0
            try:
                started = time.perf_counter()
                report = self.relay.run_once()
                duration_ms = round((time.perf_counter() - started) * 1000, 3)
                steps = self.scheduler.run_once() if self.scheduler else None
                if self.reconcile and time.monotonic() >= self._next_reconcile:
                    self.reconcile()
                    self._next_reconcile = time.monotonic() + self.reconcile_every
            except Exception as error:  # noqa: BLE001 - reported and retried
                log.error("worker.batch_failed", worker=self.name, error=f"{type(error).__name__}: {error}",
                          exc_info=error)
                self.stopping.wait(pause)
                pause = min(pause * 2, self.max_pause)
                continue
            if report.unavailable:
                # the broker is unreachable: events stay pending; wait longer before each new try
                self.stopping.wait(pause)
                pause = min(pause * 2, self.max_pause)
                continue
            pause = self.interval
            if steps is not None and steps.due:
                log.info("worker.fulfilment", worker=self.name, due=steps.due, advanced=steps.advanced,
                         skipped=steps.skipped, failed=steps.failed)
            if report.claimed:
                log.info("worker.batch", worker=self.name, claimed=report.claimed, published=report.published,
                         retried=report.retried, failed=report.failed, deferred=report.deferred,
                         unavailable=report.unavailable, duration_ms=duration_ms)
                if report.claimed == report.deferred:  # everything due waits behind an earlier event
                    self.stopping.wait(self.interval)
            elif self.wakeup is not None:
                self.wakeup.wait(mark, self.interval)
            else:
                self.stopping.wait(self.interval)
        log.info("worker.stopped", worker=self.name)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"supplytrace-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self.wakeup is not None:
            self.wakeup.notify()
        if self._thread is not None:
            self._thread.join(timeout)


class PeriodicLoop:
    """Runs a job at start, then every `every` seconds, in its own thread (`supplytrace-{name}`): the
    retention purge, the reminder job. Several processes may run the same one: the jobs are made for it
    (a purge that finds another running skips its round; a reminder is claimed once). A failure is logged
    and tried again at the next round; it never ends the loop. `report` logs what a round did."""

    def __init__(self, job: Callable[[], R], every: float, name: str,
                 report: Callable[[R], None] | None = None) -> None:
        self.job, self.every, self.name, self.report = job, every, name, report
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        log.info("worker.started", worker=self.name)
        while not self.stopping.is_set():
            self.run_once()
            self.stopping.wait(self.every)
        log.info("worker.stopped", worker=self.name)

    def run_once(self) -> R | None:
        try:
            outcome = self.job()
        except Exception as error:  # noqa: BLE001 - reported and retried next round
            log.error(f"{self.name}.failed", worker=self.name, error=f"{type(error).__name__}: {error}")
            return None
        if self.report is not None:
            self.report(outcome)
        return outcome

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"supplytrace-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)


def _purged(report: PurgeReport) -> None:
    if report.skipped or report.total:
        log.info("retention.purged", worker="retention", cutoff=report.cutoff.isoformat(), skipped=report.skipped,
                 batches=report.batches, **report.removed)


def _reminded(report: ReminderReport) -> None:
    if report.total:
        log.info("reminders.sent", worker="reminders", day=report.day.isoformat(), examined=report.examined,
                 **report.sent)


def _scored(stored: int) -> None:
    if stored:
        log.info("scorecard.stored", worker="scorecard", suppliers=stored)


def retention_loop(purge: PurgeHandledEvents, every: float) -> PeriodicLoop:
    """The purge of what the retention lets go (application/retention.py)."""
    return PeriodicLoop(purge, every, "retention", _purged)


def reminder_loop(remind: RunReminders, every: float) -> PeriodicLoop:
    """The reminders due today (application/reminders.py)."""
    return PeriodicLoop(remind, every, "reminders", _reminded)


def scorecard_loop(compute: ComputeMonthlyScores, every: float) -> PeriodicLoop:
    """The last complete month's scores of the suppliers without one (application/scorecard.py)."""
    return PeriodicLoop(compute, every, "scorecard", _scored)
