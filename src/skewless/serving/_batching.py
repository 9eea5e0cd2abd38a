"""Micro-batching: requests that arrive together are answered by one call of the predictor.

Under load, a worker's event loop wakes with several requests ready at once. Answering them
one by one pays the per-call costs (one online-store query, one ``session.run``, one on-demand
call) once per request; gathering the rows of every request that reached the predictor in the
same loop iteration pays them once per batch. A request that arrives alone is not held back:
its batch starts on the next loop iteration, tens of microseconds later.

Batching must not change what a request is answered, so a batch keeps each request's fate its
own: when the batched call raises, or falls back because something went wrong with the rows
(an ``error``, which one bad row can cause), each of its requests is answered again on its
own. A timeout or an unreachable online store concerns the whole batch and is answered as it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from skewless.serving._pipeline import Answer, Predictor
from skewless.serving._requests import Row

__all__ = ["Batcher"]

_ROW_FALLBACKS = frozenset({"error"})  # fallbacks that one request's rows can cause


@dataclass(slots=True)
class _Waiting:
    rows: list[Row]
    now: datetime
    answer: asyncio.Future[Answer]


class Batcher:
    """A ``Predictor`` that gathers concurrent requests into calls of ``predictor`` of at most
    ``max_rows`` rows (a request with more rows is answered alone); ``observe`` is told how
    many requests each call answered."""

    def __init__(self, predictor: Predictor, max_rows: int,
                 observe: Callable[[int], None] = lambda requests: None) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        self.predictor = predictor
        self.max_rows = max_rows
        self.observe = observe
        self._open: list[_Waiting] | None = None
        self._open_rows = 0
        self._running: set[asyncio.Task[None]] = set()

    async def __call__(self, rows: list[Row], now: datetime) -> Answer:
        loop = asyncio.get_running_loop()
        if self._open is None or self._open_rows + len(rows) > self.max_rows:
            self._open, self._open_rows = [], 0
            task = loop.create_task(self._answer(self._open))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        waiting = _Waiting(rows, now, loop.create_future())
        self._open.append(waiting)
        self._open_rows += len(rows)
        return await waiting.answer

    async def _answer(self, batch: list[_Waiting]) -> None:
        """Runs one loop iteration after the batch opened: every request that reached the
        predictor in that iteration is in it."""
        if self._open is batch:
            self._open = None
        try:
            await self._answer_all(batch)
        finally:  # cancelled (the server stopping): no request waits for ever
            for waiting in batch:
                if not waiting.answer.done():
                    waiting.answer.cancel()

    async def _answer_all(self, batch: list[_Waiting]) -> None:
        if len(batch) > 1:
            self.observe(len(batch))
            rows = [row for waiting in batch for row in waiting.rows]
            try:
                answer: Answer | None = await self.predictor(rows, max(w.now for w in batch))
            except Exception:
                answer = None
            if answer is not None and answer.fallback not in _ROW_FALLBACKS:
                start = 0
                for waiting in batch:
                    end = start + len(waiting.rows)
                    _settle(waiting, answer.select(range(start, end)))
                    start = end
                return
        for waiting in batch:
            self.observe(1)
            try:
                _settle(waiting, await self.predictor(waiting.rows, waiting.now))
            except Exception as exc:
                if not waiting.answer.done():
                    waiting.answer.set_exception(exc)


def _settle(waiting: _Waiting, answer: Answer) -> None:
    if not waiting.answer.done():  # its request may have been cancelled meanwhile
        waiting.answer.set_result(answer)
