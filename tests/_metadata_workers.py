"""The work of each process in the metadata concurrency tests, and what it should leave behind.

Spawned processes import workers by module name, so they live here (``tests/`` is on
``pythonpath``) rather than in a test module, which pytest imports under a path-derived name.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from threading import Barrier
from typing import Any

from skewless.metadata import SqlMetadataBackend

PROCESSES = 6
ROUNDS = 8
SHARED = "shared"
SHARED_MARK = "shared@1"
START = datetime(2024, 1, 1, tzinfo=UTC)

_start_together: Barrier | None = None


def own_name(worker: int) -> str:
    return f"own_{worker}"


def definition_hash(name: str, worker: int, round_: int) -> str:
    return f"{name}-{worker}-{round_}".ljust(64, "0")


def shared_mark(worker: int, round_: int) -> datetime:
    """Ends in no particular order across workers and rounds, so many would move marks back."""
    return START + timedelta(minutes=(round_ * 7 + worker * 13) % 50)


def own_mark(round_: int) -> datetime:
    return START + timedelta(hours=round_)


def init(barrier: Barrier) -> None:
    """Pool initializer: keep the barrier all workers wait at before working."""
    global _start_together
    _start_together = barrier


def _definition(name: str, worker: int, round_: int) -> tuple[str, str, str, dict[str, Any]]:
    return ("feature_view", name, definition_hash(name, worker, round_),
            {"name": name, "worker": worker, "round": round_})


def apply_and_mark(url: str, schema: str | None, project: str, worker: int) -> None:
    """Open the backend (migrating it if needed), then apply and move marks for ROUNDS rounds."""
    backend = SqlMetadataBackend(url, project, schema=schema)
    actor = f"worker-{worker}"
    try:
        assert _start_together is not None, "run through a pool initialized with init()"
        _start_together.wait(timeout=120)
        for round_ in range(ROUNDS):
            backend.apply_definitions([_definition(SHARED, worker, round_),
                                       _definition(own_name(worker), worker, round_)], actor)
            backend.set_high_water_mark(SHARED_MARK, shared_mark(worker, round_), actor)
            backend.set_high_water_mark(own_name(worker), own_mark(round_), actor)
    finally:
        backend.close()
