"""The automatic fulfilment process: RECEIVED -> PICKING -> IN_TRANSIT -> DELIVERED, one step per event.

The process handler reacts to an order event by planning the next step as a timer row (due
`step_seconds` after the event); it never sleeps. The scheduler, run by the relay loop, takes due
timers and moves the order on in a transaction of its own, whose event goes through the outbox and
comes back to the handler: the same path in polling and Kafka modes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from domain.errors import DomainError
from domain.orders import OrderCancelled, OrderReceived, OrderStatusChanged

from application.dispatch import Delivery, EventHandler
from application.envelope import Origin
from application.ports.clock import Clock
from application.ports.orders import ConcurrentUpdate, FulfilmentStep
from application.ports.unit_of_work import UnitOfWork, UowFactory
from application.registry import HandlerOptions

log = logging.getLogger(__name__)

PROCESS_ACTOR = "fulfilment-process"


class FulfilmentProcess(EventHandler):
    """Plans the next step after every order event; stops on hold, cancel and delivery."""

    name = "fulfilment_process"
    subscribes_to = frozenset({OrderReceived, OrderStatusChanged, OrderCancelled})

    def __init__(self, clock: Clock, step_seconds: float) -> None:
        super().__init__(clock)
        self.step = timedelta(seconds=step_seconds)

    @classmethod
    def create(cls, clock: Clock, options: HandlerOptions) -> FulfilmentProcess | None:
        """Only when automatic fulfilment is on: otherwise order events never reach this handler."""
        return cls(clock, options.fulfilment_step_seconds) if options.fulfilment_auto else None

    def apply(self, uow: UnitOfWork, delivery: Delivery) -> None:
        event, envelope = delivery.event, delivery.envelope
        assert isinstance(event, (OrderReceived, OrderStatusChanged, OrderCancelled))
        order_id = event.order_id
        reached = event.status if isinstance(event, OrderReceived) else event.to_status
        order = uow.orders.get(order_id)
        if order is None or order.next_fulfilment_step() is None:
            uow.fulfilment.drop(order_id)
            return
        if order.status is not reached:
            return  # the order moved on since this event: the event of that move plans the next step
        uow.fulfilment.plan(
            FulfilmentStep(order_id=order_id, expected_status=reached, due_at=envelope.occurred_at + self.step,
                           correlation_id=envelope.correlation_id)
        )


@dataclass
class SchedulerReport:
    due: int = 0
    advanced: int = 0
    skipped: int = 0
    failed: int = 0


class FulfilmentScheduler:
    """Takes due steps and moves their orders on; a step whose order has moved since is dropped."""

    def __init__(self, uow: UowFactory, clock: Clock, batch_size: int = 100) -> None:
        self.uow, self.clock, self.batch_size = uow, clock, batch_size

    def run_once(self) -> SchedulerReport:
        with self.uow().reading() as uow:
            due = uow.fulfilment.due(self.clock.now(), self.batch_size)
        report = SchedulerReport(due=len(due))
        for step in due:
            try:
                advanced = self._advance(step)
            except Exception as error:  # noqa: BLE001 - the step stays planned and is retried next time
                log.warning("fulfilment step of order %s failed: %s: %s", step.order_id, type(error).__name__, error)
                report.failed += 1
                continue
            report.advanced += advanced
            report.skipped += not advanced
        return report

    def _advance(self, step: FulfilmentStep) -> bool:
        origin = Origin(actor=PROCESS_ACTOR, correlation_id=step.correlation_id)
        try:
            with self.uow().acting_as(origin) as uow:
                if not uow.fulfilment.take(step):
                    return False
                order = uow.orders.get(step.order_id)
                if order is None or order.status is not step.expected_status:
                    uow.commit()
                    return False
                order.fulfil_one_step(self.clock.now())
                uow.commit()
                return True
        except ConcurrentUpdate:
            raise  # the order changed under us: the step stays planned and is tried again
        except DomainError as refused:
            # a business rule stops the process; the order is left as it was and a person takes over
            log.warning("fulfilment of order %s stopped: %s", step.order_id, refused)
            with self.uow().acting_as(origin) as uow:
                uow.fulfilment.take(step)
                uow.commit()
            return False
