"""Conformance suites every backend must pass, in the spirit of scikit-learn's check_estimator.

Each ``check_*`` function takes a factory that makes a fresh, empty backend and runs every check
against it, raising ``AssertionError`` naming the failed check. The lists of individual checks
are exposed too, so a test suite can parametrize over them and report each one on its own::

    @pytest.mark.parametrize("check", ONLINE_STORE_CHECKS, ids=lambda c: c.__name__)
    def test_my_store(check):
        check(make_my_store)
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "METADATA_BACKEND_CHECKS",
    "OFFLINE_ENGINE_CHECKS",
    "ONLINE_STORE_CHECKS",
    "check_metadata_backend",
    "check_offline_engine",
    "check_online_store",
]

_HOMES = {
    "ONLINE_STORE_CHECKS": "_online",
    "check_online_store": "_online",
    "METADATA_BACKEND_CHECKS": "_metadata",
    "check_metadata_backend": "_metadata",
    "OFFLINE_ENGINE_CHECKS": "_offline",
    "check_offline_engine": "_offline",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
