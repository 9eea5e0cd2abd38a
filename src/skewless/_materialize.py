"""Materialization: the offline engine's own answer at ``end``, written to the online store.

The online value of a feature is computed by the very point-in-time join that builds training
data, evaluated at the materialization time, so online and offline agree by construction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skewless._online_features import entity_key, namespaces
from skewless._time import micros
from skewless.features import FeatureView
from skewless.features._on_demand import ARROW_TYPES
from skewless.offline._engine import (
    ROW,
    TIME,
    OfflineEngine,
    ViewQuery,
    feature_column,
    timestamp_column,
)
from skewless.online._store import OnlineStore, Record

__all__ = ["MaterializationReport", "materialize_view"]

KEY_BATCH = 500_000
"""Entity keys per point-in-time query; bounds memory on very large key spaces."""
WRITE_BATCH = 10_000
"""Records per write to the online store."""


@dataclass(frozen=True)
class MaterializationReport:
    """What one view's materialization did."""

    view: str
    start: datetime | None
    end: datetime
    keys: int
    written: int


def _pylist(column: pa.ChunkedArray) -> list[object]:
    if pa.types.is_timestamp(column.type):
        return column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_pylist()
    return column.to_pylist()


def _records(keys: list[str], version: list[int] | int, columns: list[list[object]],
             present: np.ndarray | None) -> list[Record]:
    records: list[Record] = []
    versions = version if isinstance(version, list) else [version] * len(keys)
    for i, row in enumerate(zip(*columns, strict=True)):
        if present is None or present[i]:
            records.append((keys[i], versions[i], json.dumps([versions[i], *row],
                                                           separators=(",", ":")).encode()))
    return records


def materialize_view(
    engine: OfflineEngine,
    store: OnlineStore,
    view: FeatureView,
    start: datetime | None,
    end: datetime,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> MaterializationReport:
    """Write the latest values of ``view`` as of ``end`` for every key that may have changed."""
    fields_ns, aggregates_ns = namespaces(view)
    keys = engine.keys_to_materialize(view, start, end, as_of_created=True)
    total = keys.num_rows
    written = 0
    done = 0
    on_progress(0, total)
    for offset in range(0, total, KEY_BATCH):
        batch = keys.slice(offset, KEY_BATCH)
        entities = {ROW: pa.array(np.arange(batch.num_rows, dtype=np.int64)),
                    TIME: pa.array([end] * batch.num_rows, type=ARROW_TYPES["timestamp"])}
        entities.update({k: batch[k] for k in view.join_keys})
        result = engine.historical(
            pa.table(entities), [ViewQuery(view, tuple(view.feature_names), apply_ttl=False)],
            as_of_created=True)
        entity_keys = [entity_key(parts) for parts in
                       zip(*(batch[k].to_pylist() for k in view.join_keys), strict=True)]
        for row in range(0, batch.num_rows, WRITE_BATCH):
            chunk = result.slice(row, WRITE_BATCH)
            chunk_keys = entity_keys[row:row + WRITE_BATCH]
            if view.fields:
                stamps = chunk[timestamp_column(view.name)]
                present = pc.is_valid(stamps).to_numpy(zero_copy_only=False)
                versions = _pylist(stamps)
                columns = [_pylist(chunk[feature_column(view.name, f.name)]) for f in view.fields]
                written += store.write(fields_ns, _records(chunk_keys, versions, columns, present))
            if view.aggregations:
                columns = [_pylist(chunk[feature_column(view.name, a.name)])
                           for a in view.aggregations]
                written += store.write(aggregates_ns, _records(chunk_keys, micros(end), columns,
                                                               None))
            done += chunk.num_rows
            on_progress(done, total)
    return MaterializationReport(view.name, start, end, total, written)
