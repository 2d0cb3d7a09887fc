"""The delivery timeline and the dead letters in memory."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from application.pagination import Page, PageRequest
from application.ports.delivery_log import (
    DeadLetter,
    DeadLetterFilter,
    DeadLetters,
    DeadLetterStatus,
    DeliveryStep,
    DeliverySteps,
)

from adapters.outbound.memory.database import MemoryState
from adapters.outbound.memory.repositories import paginate


class MemoryDeliverySteps(DeliverySteps):
    def __init__(self, state: MemoryState) -> None:
        super().__init__()
        self.state = state

    def record(self, steps: Sequence[DeliveryStep]) -> None:
        self.state.steps.extend(steps)

    def of_event(self, event_id: UUID) -> list[DeliveryStep]:
        return [step for step in self.state.steps if step.event_id == event_id]


class MemoryDeadLetters(DeadLetters):
    def __init__(self, state: MemoryState) -> None:
        self.state = state

    def record(self, letters: Sequence[DeadLetter], now: datetime) -> None:
        for letter in letters:
            known = self.state.dead_letters.get(letter.key)
            if known is None:
                self.state.dead_letters[letter.key] = dataclasses.replace(
                    letter, id=self.state.next_id("dead_letters"), first_seen=now, last_seen=now, occurrences=1,
                    status=DeadLetterStatus.OPEN)
            else:
                self.state.dead_letters[letter.key] = dataclasses.replace(
                    known, error=letter.error, last_seen=now, topic=letter.topic, partition=letter.partition,
                    offset=letter.offset, headers=letter.headers, occurrences=known.occurrences + 1,
                    status=DeadLetterStatus.OPEN)

    def get(self, letter_id: int) -> DeadLetter | None:
        return next((letter for letter in self.state.dead_letters.values() if letter.id == letter_id), None)

    def find(self, key: str) -> DeadLetter | None:
        return self.state.dead_letters.get(key)

    def resolve(self, letter_id: int, status: DeadLetterStatus, now: datetime, actor: str) -> bool:
        letter = self.get(letter_id)
        if letter is None or letter.status is not DeadLetterStatus.OPEN:
            return False
        self.state.dead_letters[letter.key] = dataclasses.replace(
            letter, status=status, replayed_at=now, replayed_by=actor)
        return True

    def list(self, criteria: DeadLetterFilter, page: PageRequest) -> Page[DeadLetter]:
        wanted = {name: value for name, value in dataclasses.asdict(criteria).items() if value is not None}
        letters = [letter for letter in self.state.dead_letters.values()
                   if all(getattr(letter, name) == value for name, value in wanted.items())]
        return paginate(sorted(letters, key=lambda letter: (letter.last_seen, letter.id), reverse=True), page)
