"""The offline engine interface: point-in-time retrieval over a view's history."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from skewless.features import FeatureView, Source

__all__ = ["ROW", "TIME", "OfflineEngine", "ViewQuery", "feature_column", "timestamp_column"]

ROW = "__row"
"""Column of the entity table holding each row's position; results come back in its order."""
TIME = "__t"
"""Column of the entity table holding each row's point in time (UTC)."""


def feature_column(view: str, feature: str) -> str:
    """Name of a feature's column in an engine result."""
    return f"{view}__{feature}"


def timestamp_column(view: str) -> str:
    """Name of the column with the event time of a view's matched row in an engine result."""
    return f"__ts__{view}"


@dataclass(frozen=True)
class ViewQuery:
    """The features wanted from one view; ``apply_ttl=False`` keeps expired values (for
    materialization, where the online store applies the ttl at read time instead)."""

    view: FeatureView
    features: tuple[str, ...]
    apply_ttl: bool = True


class OfflineEngine(ABC):
    """Executes the time semantics of DESIGN.md over sources.

    Implementations must pass ``skewless.testing.check_offline_engine``.
    """

    @abstractmethod
    def source_columns(self, source: Source) -> dict[str, str]:
        """Column name → skewless dtype of a source (``"timestamp_naive"`` for naive times,
        ``"other:<type>"`` for anything else). Raises ``SourceError`` for a missing, unreadable
        or empty source."""

    @abstractmethod
    def historical(self, entities: pa.Table, queries: list[ViewQuery],
                   as_of_created: bool) -> pa.Table:
        """Point-in-time join of every query onto ``entities``.

        ``entities`` has ``ROW`` (int64), ``TIME`` (timestamp UTC) and the entity key columns,
        already typed. The result has ``ROW`` in the same order, one row per entity row, a
        ``feature_column`` per feature and, for views with fields, a ``timestamp_column``.
        """

    @abstractmethod
    def keys_to_materialize(self, view: FeatureView, start: datetime | None, end: datetime,
                            as_of_created: bool) -> pa.Table:
        """The distinct entity keys whose value may have changed between ``start`` and ``end``:
        keys with a row that became visible in that interval, or, for a view with aggregations,
        every key with a row visible by ``end`` (events leave windows as time passes)."""

    @abstractmethod
    def close(self) -> None:
        """Release resources."""
