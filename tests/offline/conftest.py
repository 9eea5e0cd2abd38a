"""Fixtures of the offline tests: an empty skewless project with the default (DuckDB) engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import skewless as sk


def _open_store(folder: Path) -> sk.FeatureStore:
    (folder / "skewless.yaml").write_text("project: offline_tests\n")
    return sk.FeatureStore(folder)


@pytest.fixture
def offline_store(tmp_path: Path) -> Iterator[sk.FeatureStore]:
    """A fresh project in ``tmp_path``; tests write their sources into ``offline_store.path``."""
    with _open_store(tmp_path) as store:
        yield store


@pytest.fixture(scope="module")
def module_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sk.FeatureStore]:
    """One project shared by a module's tests (property tests re-apply a view per example)."""
    with _open_store(tmp_path_factory.mktemp("offline_project")) as store:
        yield store
