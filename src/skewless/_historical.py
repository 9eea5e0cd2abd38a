"""Historical retrieval: entity frame in, point-in-time-correct features out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skewless.errors import EntityFrameError, TimestampError
from skewless.features._catalogue import ResolvedFeatures
from skewless.features._on_demand import ARROW_TYPES, run_on_demand
from skewless.features._references import FeatureRef
from skewless.offline._engine import ROW, TIME, OfflineEngine, ViewQuery, feature_column

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["HistoricalResult", "get_historical_features", "read_frame", "to_arrow_table"]


@dataclass(frozen=True)
class HistoricalResult:
    """The entity frame's columns followed by the requested features, one row per entity row."""

    table: pa.Table

    def to_arrow(self) -> pa.Table:
        return self.table

    def to_pandas(self) -> pd.DataFrame:
        return self.table.to_pandas()

    def __len__(self) -> int:
        return self.table.num_rows


def to_arrow_table(frame: Any, what: str = "entity frame") -> pa.Table:
    """Accept a pandas DataFrame or a pyarrow Table."""
    if isinstance(frame, pa.Table):
        return frame
    if type(frame).__name__ == "DataFrame" and hasattr(frame, "to_dict"):
        try:
            return pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise EntityFrameError(f"{what} cannot be converted to Arrow: {exc}") from exc
    raise EntityFrameError(f"{what} must be a pandas DataFrame or a pyarrow Table, "
                           f"not {type(frame).__name__}")


def _utc_times(table: pa.Table, column: str) -> pa.Array:
    if column not in table.column_names:
        raise EntityFrameError(
            f"the entity frame has no {column!r} column (it has {', '.join(table.column_names)}); "
            f"add the time of each row as {column!r}, or name it with timestamp_column="
        )
    times = table[column]
    if not pa.types.is_timestamp(times.type):
        raise TimestampError(
            f"entity frame column {column!r} is {times.type}, not a timestamp; convert it, "
            "e.g. pd.to_datetime(df[column], utc=True)"
        )
    if times.type.tz is None:
        raise TimestampError(
            f"entity frame column {column!r} has no time zone; skewless never guesses one. "
            "Make it UTC-aware, e.g. df[column] = df[column].dt.tz_localize('UTC')"
        )
    if times.null_count:
        first = pc.index(pc.is_null(times), True).as_py()
        raise TimestampError(f"entity frame column {column!r} is empty in row {first}; "
                             "every row needs its time")
    if times.type.unit == "ns":
        # Sources are read at microsecond precision, rounded up (a row is never seen early);
        # rounding entity times down keeps every comparison exact.
        times = pc.floor_temporal(times, unit="microsecond")
    return times.cast(ARROW_TYPES["timestamp"]).combine_chunks()


def _typed_column(table: pa.Table, name: str, dtype: str, role: str) -> pa.Array:
    if name not in table.column_names:
        raise EntityFrameError(
            f"the entity frame has no {role} column {name!r} (it has "
            f"{', '.join(table.column_names)})"
        )
    column = table[name]
    if dtype == "int64" and not (pa.types.is_integer(column.type) or pa.types.is_null(column.type)):
        raise EntityFrameError(f"entity frame column {name!r} is {column.type}; {role} "
                               f"{name!r} is int64")
    try:
        return column.cast(ARROW_TYPES[dtype]).combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise EntityFrameError(f"entity frame column {name!r} ({column.type}) cannot be read as "
                               f"{dtype} for {role} {name!r}: {exc}") from exc


def read_frame(path: Path, what: str = "entity file") -> pa.Table:
    """A Parquet or CSV file as an Arrow table; anything else is refused with the reason."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if not path.is_file():
        raise EntityFrameError(f"{what} {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pq.read_table(path)
        if suffix == ".csv":
            return pcsv.read_csv(path)
    except Exception as exc:  # pyarrow raises several unrelated types for unreadable files
        raise EntityFrameError(f"cannot read {what} {path}: {exc}") from exc
    raise EntityFrameError(f"{what} {path}: use a .parquet or .csv file")


def get_historical_features(
    engine: OfflineEngine,
    resolved: ResolvedFeatures,
    entity_frame: Any,
    *,
    full_names: bool,
    as_of_created: bool,
    timestamp_column: str,
) -> HistoricalResult:
    """Run the point-in-time join and the on-demand views; keep the entity frame's columns."""
    frame = to_arrow_table(entity_frame)
    names = resolved.output_names(full_names)
    clashes = sorted(set(names) & set(frame.column_names))
    if clashes:
        raise EntityFrameError(
            f"entity frame columns {', '.join(clashes)} have the names of requested features; "
            "rename them or pass full_names=True"
        )
    inputs = {
        ROW: pa.array(np.arange(frame.num_rows, dtype=np.int64)),
        TIME: _utc_times(frame, timestamp_column),
    }
    for key, dtype in resolved.entity_dtypes.items():
        inputs[key] = _typed_column(frame, key, dtype, "entity key")
    queries = [ViewQuery(view, tuple(features)) for view, features in resolved.views]
    joined = engine.historical(pa.table(inputs), queries, as_of_created)
    columns = {
        FeatureRef(view.name, f): joined[feature_column(view.name, f)]
        for view, features in resolved.views for f in features
    }
    for odfv in resolved.on_demand:
        requests = {request.name: _typed_column(frame, request.name, request.dtype,
                                                "request field")
                    for request in odfv.request_fields}
        outputs = run_on_demand(odfv, columns, resolved.dtypes, requests, frame.num_rows)
        for name, values in outputs.items():
            columns[FeatureRef(odfv.name, name)] = values
    table = frame
    for ref, name in zip(resolved.requested, names, strict=True):
        table = table.append_column(name, columns[ref].cast(ARROW_TYPES[resolved.dtypes[ref]]))
    return HistoricalResult(table)
