"""Feature vectors for a served model: online values, on-demand views, and safe defaults.

The resolver reads the exact features a model version was trained on (by reference, in the
order of its feature vector) through the same online read path and on-demand code as
``FeatureStore.get_online_features``, so serving cannot compute them differently from the
materialized, point-in-time-equal values. When the online store cannot be reached, it answers
from the reference profile's defaults (median, most frequent) and says so, and leaves the store
alone for ``retry_s`` so that every request does not wait for the same timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from skewless.errors import OnlineStoreError

if TYPE_CHECKING:
    from skewless._store import FeatureStore

__all__ = ["FeatureResolver", "ResolvedRows"]

STORE_DOWN = "online_store_unavailable"


@dataclass(frozen=True, slots=True)
class ResolvedRows:
    """The feature matrix of a batch of rows, each feature's age per row, and why the values
    are defaults instead of online values (``None`` when they are online values)."""

    X: np.ndarray
    values: list[list[Any]]
    ages: list[list[float | None]] | None
    degraded: str | None


class FeatureResolver:
    """Builds the feature vectors of one model version from the online store.

    ``refs`` are the version's feature references in vector order; ``defaults`` one value per
    feature, used when the store is unreachable.
    """

    def __init__(self, store: FeatureStore, refs: Sequence[str], defaults: Sequence[Any],
                 *, retry_s: float) -> None:
        from skewless._online_features import OnlineReadPlan

        self.store = store
        self.retry_s = retry_s
        # full names ("view__feature") never clash; their order is the order of ``refs``
        self._plan = OnlineReadPlan.build(store.catalogue.resolve(list(refs)), full_names=True)
        self._defaults = list(defaults)
        self._down_until = 0.0
        self._lock = threading.Lock()
        self.store_failures = 0

    @property
    def entity_dtypes(self) -> dict[str, str]:
        return dict(self._plan.entity_dtypes)

    def resolve(self, rows: Sequence[Mapping[str, Any]], now: datetime) -> ResolvedRows:
        """Online features (and on-demand outputs) for each row of entity keys and request
        values; defaults, flagged, when the store is down."""
        from skewless._online_features import read_online

        if time.monotonic() < self._down_until:
            return self._fallback(len(rows))
        try:
            result = read_online(self.store.online, self._plan, rows, now)
        except OnlineStoreError:
            with self._lock:
                self.store_failures += 1
                self._down_until = time.monotonic() + self.retry_s
            return self._fallback(len(rows))
        columns = [result.values[name] for name in self._plan.names]
        stamps = [result.timestamps[name] for name in self._plan.names]
        values = [list(row) for row in zip(*columns, strict=True)]
        ages = [[None if stamp is None else (now - stamp).total_seconds() for stamp in row]
                for row in zip(*stamps, strict=True)]
        return ResolvedRows(_matrix(values), values, ages, None)

    def _fallback(self, count: int) -> ResolvedRows:
        values = [list(self._defaults) for _ in range(count)]
        return ResolvedRows(_matrix(values), values, None, STORE_DOWN)


def _matrix(values: list[list[Any]]) -> np.ndarray:
    """Rows of feature values as float64; missing values become NaN."""
    return np.array([[np.nan if v is None else v for v in row] for row in values],
                    dtype=np.float64).reshape(len(values), -1)
