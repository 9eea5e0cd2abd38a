"""Concurrent registrations and alias moves from many processes, on SQLite and PostgreSQL.

Versions are allocated in the same transaction as their row: 8 processes registering 25
versions each at once must leave exactly versions 1..200 — no gap, no duplicate, none lost —
each with its own files that verify and load as the model that was registered under it.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from itertools import pairwise
from typing import Any

import numpy as np
import pytest

import _registry_workers as work
import skewless as sk
from skewless._project import Project


@pytest.fixture(scope="module")
def pool() -> Iterator[tuple[ProcessPoolExecutor, Any]]:
    """PROCESSES spawned processes, started once for the module, and the barrier they share."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(work.PROCESSES)
    with ProcessPoolExecutor(work.PROCESSES, mp_context=context, initializer=work.init,
                             initargs=(barrier,)) as executor:
        yield executor, barrier


def _run_workers(pool: tuple[ProcessPoolExecutor, Any], function: Callable[..., Any],
                 *arguments: Any) -> list[Any]:
    """``function(*arguments, worker)`` in every process at once (they meet at the barrier
    first, so each of the PROCESSES calls runs in its own process)."""
    executor, barrier = pool
    futures = [executor.submit(function, *arguments, worker) for worker in range(work.PROCESSES)]
    try:
        return [future.result(timeout=300) for future in futures]
    finally:
        barrier.reset()  # a failed round must not leave the next one waiting


def test_concurrent_registrations_get_every_version_exactly_once(
        pool: tuple[ProcessPoolExecutor, Any], project: Project) -> None:
    _ = project.database  # migrated once here, not raced by the workers

    results = _run_workers(pool, work.register_many, str(project.path))

    total = work.PROCESSES * work.VERSIONS_EACH
    returned = [entry for worker in results for entry in worker]
    assert sorted(version for version, _, _, _ in returned) == list(range(1, total + 1))
    for worker in results:  # each process saw its own registrations in order
        assert [v for v, _, _, _ in worker] == sorted(v for v, _, _, _ in worker)

    records = sk.model_versions(work.MODEL, project=project.path)
    assert [r.version for r in records] == list(range(1, total + 1))
    assert sk.list_models(project=project.path) == [(work.MODEL, total)]
    assert [r.created_at for r in records] == sorted(r.created_at for r in records)
    expected = {version: (worker, index, sha) for version, worker, index, sha in returned}
    assert len({r.artifact_path for r in records}) == total
    assert len({f.sha256 for r in records for f in r.files}) == total
    for record in records:
        worker, index, sha = expected[record.version]
        assert record.tags == {"worker": str(worker), "index": str(index)}
        assert record.created_by == f"worker-{worker}"
        assert [f.sha256 for f in record.files] == [sha]
        # load verifies the digest, and the bytes are the model registered under this number
        model = sk.load_model(record.ref, allow_pickle=True, project=project.path)
        assert model.predict(np.zeros((2, 1))).tolist() == [work.model_value(worker, index)] * 2


def test_concurrent_alias_moves_lose_no_history(pool: tuple[ProcessPoolExecutor, Any],
                                                 project: Project) -> None:
    versions = work.PROCESSES
    for value in range(versions):
        project.registry.register_model(work.Constant(value), work.MODEL, flavor="pickle",
                                        allow_pickle=True)
    results = _run_workers(pool, work.move_alias, str(project.path), versions)

    history = sk.alias_history(work.MODEL, "production", project=project.path)
    moves = [(m.from_version, m.to_version) for m in history]
    # every move a worker saw happen is recorded once, and nothing else is
    assert Counter(moves) == Counter(move for worker in results for move in worker)
    assert moves[0][0] is None
    # each move starts where the previous one left the alias: no lost update
    assert all(later[0] == earlier[1] for earlier, later in pairwise(moves))
    assert {m.action for m in history} == {"set"}
    assert {m.by for m in history} <= {f"worker-{w}" for w in range(work.PROCESSES)}
    assert [m.at for m in history] == sorted(m.at for m in history)
    final = sk.get_model_version(f"{work.MODEL}@production", project=project.path)
    assert final.version == moves[-1][1]
