"""Online stores: the latest feature values for request-time reads. SQLite is the default.

Backends are imported on first use, so a process that reads SQLite never imports redis-py.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["OnlineStore", "Record", "RedisOnlineStore", "SQLiteOnlineStore"]

_HOMES = {"OnlineStore": "_store", "Record": "_store", "RedisOnlineStore": "_redis",
          "SQLiteOnlineStore": "_sqlite"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
