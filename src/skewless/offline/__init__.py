"""Offline engines: point-in-time-correct retrieval of history. DuckDB is the embedded default.

Engines are imported on first use, so serving online features never imports DuckDB.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["DuckDBEngine", "OfflineEngine", "ViewQuery"]

_HOMES = {"DuckDBEngine": "_duckdb", "OfflineEngine": "_engine", "ViewQuery": "_engine"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
