"""How a request becomes predictions: small async callables stacked around the model.

Each stage is a ``Predictor`` — ``await predictor(rows, now) -> Answer`` — so a deployment's
path is built by composition, read from the inside out::

    cached(cache, deployment,
           Batcher(with_fallbacks(primary(deployment, executor, timeout_s),
                                  fallback_model(deployment, executor),
                                  default_rule(deployment)), max_rows))

``primary`` reads features and runs the current version within a timeout (see ``run`` for
where it runs); ``with_fallbacks`` tries the next stage on timeout or error and marks the
answer degraded; ``Batcher`` (in ``_batching``) answers requests that arrive together with one
call; ``cached`` answers repeated rows from a bounded LRU with a TTL.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np

from skewless.errors import PredictionRequestError
from skewless.serving._deployment import Deployment
from skewless.serving._features import ResolvedRows
from skewless.serving._models import Outputs, ServedModel
from skewless.serving._requests import Row

__all__ = ["Answer", "NoAnswerError", "PredictionCache", "Predictor", "cached", "default_rule",
           "fallback_model", "primary", "run", "with_fallbacks"]


@dataclass(frozen=True, slots=True)
class Answer:
    """Predictions for a batch of rows and how they were made.

    ``model`` is the version that answered (``None`` for the default rule); ``degraded`` says
    why the answer is not the primary model's on live features (``None`` when it is), and
    ``fallback`` is the short form of that reason counted in the metrics (``timeout``,
    ``error``, ``online_store_unavailable``).
    """

    model: ServedModel | None
    outputs: Outputs
    resolved: ResolvedRows | None
    degraded: str | None
    fallback: str | None = None

    def select(self, indexes: Sequence[int]) -> Answer:
        """The answer for a subset of the rows, in the given order."""
        probabilities = None if self.outputs.probabilities is None else \
            self.outputs.probabilities[list(indexes)]
        outputs = Outputs([self.outputs.predictions[i] for i in indexes], probabilities)
        resolved = None if self.resolved is None else ResolvedRows(
            self.resolved.X[list(indexes)], [self.resolved.values[i] for i in indexes],
            None if self.resolved.ages is None else [self.resolved.ages[i] for i in indexes],
            self.resolved.degraded)
        return Answer(self.model, outputs, resolved, self.degraded, self.fallback)


class NoAnswerError(Exception):
    """Neither the primary version, a fallback version nor a default could answer."""


Predictor = Callable[[list[Row], datetime], Awaitable[Answer]]


def run_model(model: ServedModel, rows: list[Row], now: datetime,
              deadline: float | None = None) -> Answer:
    """Read features and predict, synchronously; an inline runner stops at ``deadline``."""
    if model.resolver is None:
        X = np.array([[np.nan if v is None else v for v in row.request] for row in rows],
                     dtype=np.float64)
        resolved = ResolvedRows(X, [list(row.request) for row in rows], None, None)
    else:
        resolved = model.resolver.resolve([row.flat for row in rows], now)
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError("reading the features used up the model's time")
    return Answer(model, model.runner(resolved.X, deadline), resolved, resolved.degraded,
                  resolved.degraded)


async def run(executor: Executor, model: ServedModel, rows: list[Row], now: datetime,
              timeout_s: float | None) -> Answer:
    """``run_model`` bounded by ``timeout_s``.

    A model with an inline runner (an ONNX export) runs right here on the event loop's thread
    and is stopped at the deadline by onnxruntime itself. Handing each request to a worker
    thread instead made the event loop and the thread queue for the GIL behind each other:
    p99 at 16 concurrent requests went from 31 ms to 85 ms in the serving benchmark. Other
    models run in ``executor``, and the timeout counts from when their work starts, so time
    queued behind other requests is latency, not a model timeout.
    """
    if model.runner.inline:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        return run_model(model, rows, now, deadline)
    loop = asyncio.get_running_loop()
    if timeout_s is None:
        return await loop.run_in_executor(executor, run_model, model, rows, now)
    started = asyncio.Event()

    def work() -> Answer:
        loop.call_soon_threadsafe(started.set)
        return run_model(model, rows, now)

    future = loop.run_in_executor(executor, work)
    await started.wait()
    return await asyncio.wait_for(future, timeout_s)


def primary(deployment: Deployment, executor: Executor, timeout_s: float) -> Predictor:
    """The deployment's current primary version, bounded by ``timeout_s`` (``TimeoutError``
    beyond it). The version is read once per request: a swap during the request does not
    change which version answers it."""

    async def predict(rows: list[Row], now: datetime) -> Answer:
        return await run(executor, deployment.primary, rows, now, timeout_s)

    return predict


def fallback_model(deployment: Deployment, executor: Executor) -> Predictor | None:
    """The version at alias ``fallback``, if the deployment has one when asked."""

    async def predict(rows: list[Row], now: datetime) -> Answer:
        model = deployment.fallback
        if model is None:
            raise NoAnswerError(f"{deployment.name} has no version at alias 'fallback'")
        return await run(executor, model, rows, now, None)

    return predict


def default_rule(deployment: Deployment) -> Predictor:
    """The configured default prediction (``serving.defaults``), for every row."""

    async def predict(rows: list[Row], now: datetime) -> Answer:
        if deployment.default is None:
            raise NoAnswerError(f"no default prediction is configured for {deployment.name} "
                                f"(serving.defaults.{deployment.name})")
        return Answer(None, Outputs([deployment.default] * len(rows), None), None, "default")

    return predict


def with_fallbacks(first: Predictor, *others: Predictor | None) -> Predictor:
    """Try ``first``, then each of ``others`` in turn when the previous one times out or
    fails; the answer of a later stage is degraded with the first failure's reason.

    Bad input is not a failure to fall back from: it is re-raised at once.
    """
    stages = [first, *[stage for stage in others if stage is not None]]

    async def predict(rows: list[Row], now: datetime) -> Answer:
        reason = None
        for stage in stages:
            try:
                answer = await stage(rows, now)
            except PredictionRequestError:
                raise
            except TimeoutError:
                reason = reason or "timeout"
                continue
            except NoAnswerError:
                continue
            except Exception as exc:  # any failure of a model or store: the next stage answers
                reason = reason or f"error: {type(exc).__name__}: {exc}"
                continue
            if reason is None:
                return answer
            return replace(answer, degraded=reason if answer.degraded is None
                           else f"{reason}; {answer.degraded}",
                           fallback=reason.split(":", 1)[0])
        raise NoAnswerError(f"no version could answer ({reason or 'no stage answered'}) and no "
                            "fallback or default is configured")

    return predict


class PredictionCache:
    """A bounded LRU of per-row answers with a time to live, keyed by (version, inputs)."""

    def __init__(self, size: int, ttl_s: float) -> None:
        self.size = size
        self.ttl_s = ttl_s
        self._entries: OrderedDict[tuple[Any, ...], tuple[float, Answer]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[Any, ...]) -> Answer | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[1]

    def put(self, key: tuple[Any, ...], answer: Answer) -> None:
        self._entries[key] = (time.monotonic() + self.ttl_s, answer)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


def cached(cache: PredictionCache, deployment: Deployment, predictor: Predictor) -> Predictor:
    """Answer rows seen within the TTL from ``cache``; only undegraded answers are kept."""

    async def predict(rows: list[Row], now: datetime) -> Answer:
        version = deployment.primary.version
        keys = [(version, row.entities, row.request) for row in rows]
        found = [cache.get(key) for key in keys]
        missing = [i for i, answer in enumerate(found) if answer is None]
        if not missing:
            return _join([a for a in found if a is not None])
        answer = await predictor([rows[i] for i in missing], now)
        if answer.degraded is None and answer.model is not None \
                and answer.model.version == version:
            for position, i in enumerate(missing):
                cache.put(keys[i], answer.select([position]))
        if len(missing) == len(rows):
            return answer
        parts = iter(answer.select([p]) for p in range(len(missing)))
        return _join([found[i] if found[i] is not None else next(parts)
                      for i in range(len(rows))])

    return predict


def _join(answers: list[Answer]) -> Answer:
    """Single-row answers of the same version back into one batch answer."""
    first = answers[0]
    probabilities = None if first.outputs.probabilities is None else np.vstack(
        [a.outputs.probabilities for a in answers])  # type: ignore[misc]
    outputs = Outputs([p for a in answers for p in a.outputs.predictions], probabilities)
    resolved = None
    if all(a.resolved is not None for a in answers):
        parts = [a.resolved for a in answers]
        resolved = ResolvedRows(
            np.vstack([p.X for p in parts]),  # type: ignore[union-attr]
            [v for p in parts for v in p.values],  # type: ignore[union-attr]
            None if any(p.ages is None for p in parts)  # type: ignore[union-attr]
            else [g for p in parts for g in p.ages],  # type: ignore[union-attr]
            None)
    return Answer(first.model, outputs, resolved, None)
