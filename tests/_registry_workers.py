"""The work of each process in the registry concurrency tests, and a tiny picklable model.

Spawned processes import workers by module name, so they live here (``tests/`` is on
``pythonpath``) rather than in a test module, which pytest imports under a path-derived name.
The models are tiny pickles (``Constant``) so a worker does not spend its time importing
scikit-learn: what is under test is the registry's transaction, not a flavor.
"""

from __future__ import annotations

from threading import Barrier
from typing import Any

import numpy as np

from skewless._project import get_project

PROCESSES = 8
VERSIONS_EACH = 25
ALIAS_MOVES_EACH = 15
MODEL = "shared"

_start_together: Barrier | None = None


class Constant:
    """A model that predicts ``value`` for every row (distinct values → distinct files)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def predict(self, X: Any) -> np.ndarray:
        return np.full(len(X), self.value)


def model_value(worker: int, index: int) -> int:
    return worker * 1_000 + index


def init(barrier: Barrier) -> None:
    """Pool initializer: keep the barrier all workers wait at before working."""
    global _start_together
    _start_together = barrier


def _wait_for_the_others() -> None:
    assert _start_together is not None, "run through a pool initialized with init()"
    _start_together.wait(timeout=120)


def register_many(folder: str, worker: int) -> list[tuple[int, int, int, str]]:
    """Register VERSIONS_EACH versions of MODEL; ``(version, worker, index, sha256)`` of each."""
    project = get_project(folder)
    project.actor = f"worker-{worker}"
    _ = project.database  # opened before the start, so the registrations overlap
    _wait_for_the_others()
    registered = []
    try:
        for index in range(VERSIONS_EACH):
            version = project.registry.register_model(
                Constant(model_value(worker, index)), MODEL, flavor="pickle", allow_pickle=True,
                tags={"worker": str(worker), "index": str(index)})
            [stored] = version.files
            registered.append((version.version, worker, index, stored.sha256))
    finally:
        project.close()
    return registered


def alias_target(worker: int, move: int, versions: int) -> int:
    """The version a worker points the alias at on one move: workers disagree all the time."""
    return (worker + move) % versions + 1


def move_alias(folder: str, versions: int, worker: int) -> list[tuple[int | None, int]]:
    """Point ``MODEL@production`` ALIAS_MOVES_EACH times; ``(from, to)`` of each real move."""
    project = get_project(folder)
    project.actor = f"worker-{worker}"
    _ = project.database
    _wait_for_the_others()
    moves = []
    try:
        for move in range(ALIAS_MOVES_EACH):
            target = alias_target(worker, move, versions)
            before = project.registry.set_alias(MODEL, "production", target)
            if before != target:
                moves.append((before, target))
    finally:
        project.close()
    return moves
