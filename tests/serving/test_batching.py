"""Micro-batching: requests that arrive together share one predictor call, and each still gets
the answer (or the error) it would have got alone."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from skewless.errors import PredictionRequestError
from skewless.serving._batching import Batcher
from skewless.serving._models import Outputs
from skewless.serving._pipeline import Answer, with_fallbacks
from skewless.serving._requests import Row

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _row(value: float) -> Row:
    return Row({"x": value}, (), (value,))


class Doubler:
    """A predictor answering ``2 * x`` per row, recording the rows of each call; a row with
    ``x < 0`` makes the whole call fail, ``x == 999`` makes it time out."""

    def __init__(self) -> None:
        self.calls: list[list[float]] = []
        self.nows: list[datetime] = []

    async def __call__(self, rows: list[Row], now: datetime) -> Answer:
        values = [row.request[0] for row in rows]
        self.calls.append(values)
        self.nows.append(now)
        if any(v < 0 for v in values):
            raise ValueError("negative x")
        if 999 in values:
            raise TimeoutError
        if 422 in values:
            raise PredictionRequestError("x must not be 422", "request.x")
        return Answer(None, Outputs([2 * v for v in values], None), None, None)


async def _second_opinion(rows: list[Row], now: datetime) -> Answer:
    return Answer(None, Outputs([-1.0] * len(rows), None), None, "default")


def _gather(predictor: Callable[[list[Row], datetime], Awaitable[Answer]],
            requests: list[list[float]], nows: list[datetime] | None = None
            ) -> list[Answer | BaseException]:
    """Every request sent in the same event-loop iteration, as concurrent requests arrive."""
    async def main() -> list[Answer | BaseException]:
        times = nows or [NOW] * len(requests)
        return await asyncio.gather(*(predictor([_row(v) for v in values], now)
                                      for values, now in zip(requests, times, strict=True)),
                                    return_exceptions=True)

    return asyncio.run(main())


def test_requests_that_arrive_together_share_one_call() -> None:
    inner = Doubler()
    sizes: list[int] = []
    batcher = Batcher(inner, max_rows=100, observe=sizes.append)
    later = NOW + timedelta(milliseconds=3)
    answers = _gather(batcher, [[1.0], [2.0, 3.0], [4.0]], [NOW, later, NOW])
    assert inner.calls == [[1.0, 2.0, 3.0, 4.0]]
    assert inner.nows == [later]  # read as of the latest arrival
    assert sizes == [3]
    assert [a.outputs.predictions for a in answers] == [[2.0], [4.0, 6.0], [8.0]]  # type: ignore[union-attr]


def test_a_lone_request_is_answered_alone_with_its_own_time() -> None:
    inner = Doubler()
    answers = _gather(Batcher(inner, max_rows=100), [[5.0]])
    assert inner.calls == [[5.0]]
    assert inner.nows == [NOW]
    assert answers[0].outputs.predictions == [10.0]  # type: ignore[union-attr]


def test_batches_hold_at_most_max_rows() -> None:
    inner = Doubler()
    answers = _gather(Batcher(inner, max_rows=3), [[1.0, 2.0], [3.0], [4.0], [5.0, 6.0, 7.0, 8.0]])
    assert inner.calls == [[1.0, 2.0, 3.0], [4.0], [5.0, 6.0, 7.0, 8.0]]
    assert [a.outputs.predictions for a in answers] == [  # type: ignore[union-attr]
        [2.0, 4.0], [6.0], [8.0], [10.0, 12.0, 14.0, 16.0]]


def test_one_bad_request_does_not_degrade_the_others_of_its_batch() -> None:
    inner = Doubler()
    batcher = Batcher(with_fallbacks(inner, _second_opinion), max_rows=100)
    answers = _gather(batcher, [[1.0], [-1.0], [3.0]])
    assert inner.calls == [[1.0, -1.0, 3.0], [1.0], [-1.0], [3.0]]  # the batch, then each alone
    good, bad, other = answers
    assert (good.outputs.predictions, good.degraded) == ([2.0], None)  # type: ignore[union-attr]
    assert (other.outputs.predictions, other.degraded) == ([6.0], None)  # type: ignore[union-attr]
    assert bad.outputs.predictions == [-1.0]  # type: ignore[union-attr]
    assert bad.fallback == "error"  # type: ignore[union-attr]
    assert bad.degraded == "error: ValueError: negative x; default"  # type: ignore[union-attr]


def test_an_error_of_one_request_reaches_that_request_alone() -> None:
    inner = Doubler()
    answers = _gather(Batcher(inner, max_rows=100), [[1.0], [422.0], [-5.0]])
    assert answers[0].outputs.predictions == [2.0]  # type: ignore[union-attr]
    assert isinstance(answers[1], PredictionRequestError)
    assert answers[1].field == "request.x"
    assert isinstance(answers[2], ValueError)


def test_a_timeout_degrades_the_whole_batch_without_retrying_it() -> None:
    inner = Doubler()
    batcher = Batcher(with_fallbacks(inner, _second_opinion), max_rows=100)
    answers = _gather(batcher, [[1.0], [999.0], [3.0]])
    assert inner.calls == [[1.0, 999.0, 3.0]]
    assert [(a.outputs.predictions, a.fallback) for a in answers] == [  # type: ignore[union-attr]
        ([-1.0], "timeout")] * 3


def test_requests_of_a_cancelled_batch_do_not_wait_for_ever() -> None:
    started = asyncio.Event()

    async def stuck(rows: list[Row], now: datetime) -> Answer:
        started.set()
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def main() -> list[Answer | BaseException]:
        batcher = Batcher(stuck, max_rows=100)
        waiting = [asyncio.ensure_future(batcher([_row(1.0)], NOW)) for _ in range(3)]
        await started.wait()
        for task in list(batcher._running):
            task.cancel()
        return await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), 5)

    results = asyncio.run(main())
    assert all(isinstance(r, asyncio.CancelledError) for r in results)


@pytest.mark.parametrize("max_rows", [0, -1])
def test_max_rows_must_be_positive(max_rows: int) -> None:
    with pytest.raises(ValueError, match="max_rows must be at least 1"):
        Batcher(Doubler(), max_rows=max_rows)
