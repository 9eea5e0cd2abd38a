"""Materialization: the offline engine's own answer at ``end``, written to the online store.

The online value of a feature is computed by the very point-in-time join that builds training
data, evaluated at the materialization time, so online and offline agree by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa

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


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _encode(encoder: duckdb.DuckDBPyConnection, chunk: pa.Table, keys: list[str], version: str,
            columns: list[tuple[str, str]]) -> list[Record]:
    """Online records of a chunk of the point-in-time result: ``[version, value, ...]`` as JSON.

    DuckDB writes the JSON, vectorised (shortest round-trip floats, NaN/Infinity as Python's
    json reads them); ``version`` is a SQL expression for the record's event time in µs.
    Rows whose version is null (no visible row) are skipped. ``keys`` are indexed by the
    chunk's ``__i`` column.
    """
    values = [f"epoch_us({_quote(name)})" if dtype == "timestamp" else _quote(name)
              for name, dtype in columns]
    encoder.register("chunk", chunk)
    encoded = encoder.sql(
        f"SELECT __i, {version} AS version, json_array({version}, {', '.join(values)})::BLOB "
        f"AS payload FROM chunk WHERE {version} IS NOT NULL ORDER BY __i"
    ).to_arrow_table()
    return list(zip([keys[i] for i in encoded["__i"].to_pylist()],
                    encoded["version"].to_pylist(), encoded["payload"].to_pylist(), strict=True))


def materialize_view(
    engine: OfflineEngine,
    store: OnlineStore,
    view: FeatureView,
    start: datetime | None,
    end: datetime,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> MaterializationReport:
    """Write the latest values of ``view`` as of ``end`` for every key that may have changed."""
    keys = engine.keys_to_materialize(view, start, end, as_of_created=True)
    parts = []  # (namespace, SQL expression of the record version, value columns)
    fields_ns, aggregates_ns = namespaces(view)
    if view.fields:
        parts.append((fields_ns, f"epoch_us({_quote(timestamp_column(view.name))})",
                      [(feature_column(view.name, f.name), f.dtype) for f in view.fields]))
    if view.aggregations:
        parts.append((aggregates_ns, f"{micros(end)}::BIGINT",
                      [(feature_column(view.name, a.name), a.dtype) for a in view.aggregations]))
    total, done, written = keys.num_rows, 0, 0
    on_progress(0, total)
    with duckdb.connect() as encoder:
        for offset in range(0, total, KEY_BATCH):
            batch = keys.slice(offset, KEY_BATCH)
            entities = {ROW: pa.array(np.arange(batch.num_rows, dtype=np.int64)),
                        TIME: pa.array([end] * batch.num_rows, type=ARROW_TYPES["timestamp"])}
            entities.update({k: batch[k] for k in view.join_keys})
            result = engine.historical(
                pa.table(entities), [ViewQuery(view, tuple(view.feature_names), apply_ttl=False)],
                as_of_created=True)
            result = result.append_column("__i", pa.array(np.arange(result.num_rows)))
            entity_keys = [entity_key(parts) for parts in
                           zip(*(batch[k].to_pylist() for k in view.join_keys), strict=True)]
            for row in range(0, batch.num_rows, WRITE_BATCH):
                chunk = result.slice(row, WRITE_BATCH)
                for namespace, version, columns in parts:
                    records = _encode(encoder, chunk, entity_keys, version, columns)
                    written += store.write(namespace, records)
                done += chunk.num_rows
                on_progress(done, total)
    return MaterializationReport(view.name, start, end, total, written)
