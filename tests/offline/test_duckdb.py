"""The DuckDB engine passes every offline-engine conformance check, each reported on its own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from skewless.offline import DuckDBEngine, OfflineEngine
from skewless.testing import OFFLINE_ENGINE_CHECKS, check_offline_engine


def _make_engine(base_dir: Path) -> OfflineEngine:
    return DuckDBEngine(base_dir, memory_limit="256MB", threads=2)


@pytest.mark.parametrize("check", OFFLINE_ENGINE_CHECKS, ids=lambda check: check.__name__)
def test_duckdb_engine(check: Callable[[Callable[[Path], OfflineEngine]], None]) -> None:
    check(_make_engine)


def test_check_offline_engine_runs_every_check() -> None:
    check_offline_engine(_make_engine)
