"""The RabbitMQ topology of one SupplyTrace deployment (ADR 0029), all named after a prefix P:

- exchange `P` (direct, durable): the relay publishes each event with routing key `<n>`, the
  partition of its aggregate id (`partition_of`: CRC-32 of the id modulo the partition count);
- queues `P.0` … `P.<N-1>` (durable, single active consumer, dead letters to `P.dlx`): each bound to
  `P` with its own number. One consumer at a time takes a partition queue, so one aggregate's events
  are handled in publish order however many consumers run; the others stand by and take over;
- exchange `P.dlx` (fanout, durable) and queue `P.dlq`: the dead letters (copies the consumers
  publish with the error in headers, and anything the broker itself dead-letters).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Literal

QueueType = Literal["quorum", "classic"]


def partition_of(aggregate_id: str, partitions: int) -> int:
    """Stable across processes and releases (Python's hash() is salted per process)."""
    return zlib.crc32(aggregate_id.encode()) % partitions


@dataclass(frozen=True)
class Topology:
    prefix: str
    partitions: int = 4
    queue_type: QueueType = "quorum"

    @property
    def exchange(self) -> str:
        return self.prefix

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.prefix}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.prefix}.dlq"

    def queue(self, partition: int) -> str:
        return f"{self.prefix}.{partition}"

    @property
    def queues(self) -> list[str]:
        return [self.queue(n) for n in range(self.partitions)]

    def partition(self, queue: str) -> int:
        return int(queue.rsplit(".", 1)[1])

    def route(self, aggregate_id: str) -> tuple[str, int]:
        """(routing key, partition) of an aggregate's events."""
        partition = partition_of(aggregate_id, self.partitions)
        return str(partition), partition

    def queue_arguments(self) -> dict[str, Any]:
        return {"x-queue-type": self.queue_type, "x-single-active-consumer": True,
                "x-dead-letter-exchange": self.dead_letter_exchange}

    def declare(self, channel: Any) -> None:
        """Idempotent (a declaration equal to the existing one is a no-op): exchanges, queues, bindings.
        `channel` is a pika BlockingChannel."""
        channel.exchange_declare(self.dead_letter_exchange, exchange_type="fanout", durable=True)
        channel.queue_declare(self.dead_letter_queue, durable=True, arguments={"x-queue-type": self.queue_type})
        channel.queue_bind(self.dead_letter_queue, self.dead_letter_exchange)
        channel.exchange_declare(self.exchange, exchange_type="direct", durable=True)
        for n in range(self.partitions):
            channel.queue_declare(self.queue(n), durable=True, arguments=self.queue_arguments())
            channel.queue_bind(self.queue(n), self.exchange, routing_key=str(n))
