"""Ground-truth labels that arrive after the prediction, joined to it by request id.

Labels come from ``POST /v1/feedback`` or ``skewless feedback load FILE`` and are stored beside
the prediction log (Parquet segments, or a PostgreSQL table). Every label is kept; a later one
for the same request id supersedes the earlier when read, so a corrected label is one more
post. ``labelled_predictions`` gives monitoring the prediction log of a model with the latest
label of each row (``label`` null: not known yet).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, distinct_on
from sqlalchemy.exc import SQLAlchemyError

from skewless._time import to_utc, utc_now
from skewless.errors import FeedbackError, TimestampError
from skewless.serving._prediction_log import (
    PostgresTables,
    PredictionLogError,
    PredictionSink,
    resolve_path,
    write_segments,
)

if TYPE_CHECKING:
    from skewless.config import PredictionLogConfig

__all__ = [
    "FeedbackError",
    "FeedbackRecord",
    "FeedbackStore",
    "ParquetFeedbackStore",
    "PostgresFeedbackStore",
    "label_coverage",
    "load_feedback_file",
]

Label = bool | int | float | str

_TIMESTAMP = pa.timestamp("us", tz="UTC")
_LABELS = pa.schema([("request_id", pa.string()), ("label", pa.null()),
                     ("label_at", _TIMESTAMP)])
_TIME_COLUMNS = ("at", "timestamp")
_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """The true ``label`` of the prediction answered with ``request_id``, known at ``at``."""

    request_id: str
    label: Label
    at: datetime


def _checked(records: Sequence[FeedbackRecord]) -> list[FeedbackRecord]:
    for record in records:
        if not isinstance(record.request_id, str) or not record.request_id:
            raise FeedbackError(f"feedback request_id must be a non-empty string, got "
                                f"{record.request_id!r}")
        if record.label is None or not isinstance(record.label, bool | int | float | str):
            raise FeedbackError(f"the label of request {record.request_id} must be a number, "
                                f"string or boolean, got {record.label!r}")
    return [FeedbackRecord(r.request_id, r.label, to_utc(r.at, "feedback time"))
            for r in records]


def _label_column(labels: Sequence[Label]) -> pa.Array:
    """Labels typed by inference; mixed numbers become float64, anything else mixed text."""
    try:
        return pa.array(labels)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        if all(isinstance(v, int | float) for v in labels):
            return pa.array([float(v) for v in labels], pa.float64())
        return pa.array([str(v) for v in labels], pa.string())


class FeedbackStore(ABC):
    """Where labels are kept, and the prediction log they are joined to."""

    def __init__(self, predictions: PredictionSink) -> None:
        self.predictions = predictions

    @classmethod
    def from_config(cls, config: PredictionLogConfig, project_dir: Path) -> FeedbackStore | None:
        """The store beside the prediction log skewless.yaml describes: Parquet under
        ``feedback_path`` for the Parquet log, the ``prediction_feedback`` table for the
        PostgreSQL one; ``None`` when the log is ``off`` (nothing to join labels to)."""
        predictions = PredictionSink.from_config(config, project_dir)
        if predictions is None:
            return None
        if config.sink == "postgresql":
            return PostgresFeedbackStore(str(config.url), schema=config.db_schema,
                                         predictions=predictions)
        return ParquetFeedbackStore(resolve_path(project_dir, config.feedback_path),
                                    predictions=predictions)

    @abstractmethod
    def add(self, records: Sequence[FeedbackRecord]) -> int:
        """Store ``records`` (all or nothing) and return how many; naive times and labels
        that are not scalars raise ``FeedbackError``/``TimestampError`` before anything is
        stored."""

    @abstractmethod
    def latest_labels(self, request_ids: pa.Array | Sequence[str] | None = None) -> pa.Table:
        """``request_id``, ``label``, ``label_at``: the latest label of each request id (of
        ``request_ids`` when given, else of all)."""

    def labelled_predictions(self, model: str, version: int | None = None,
                             start: datetime | None = None, end: datetime | None = None
                             ) -> pa.Table:
        """The prediction log of ``model`` in ``[start, end)`` (see ``PredictionSink.read``)
        with ``label`` and ``label_at`` of the latest label of each row, null when none has
        arrived; rows keep the log's order."""
        predictions = self.predictions.read(model, version, start, end)
        labels = self.latest_labels(predictions.column("request_id"))
        if labels.num_rows == 0:
            return predictions.append_column("label", pa.nulls(predictions.num_rows)) \
                .append_column("label_at", pa.nulls(predictions.num_rows, _TIMESTAMP))
        numbered = predictions.append_column(
            "__row", pa.array(range(predictions.num_rows), pa.int64()))
        joined = numbered.join(labels, "request_id", join_type="left outer")
        return joined.sort_by("__row").drop_columns(["__row"]) \
            .select([*predictions.column_names, "label", "label_at"])

    def close(self) -> None:
        """Release connections (the prediction reader's too)."""
        self.predictions.close()


def label_coverage(table: pa.Table) -> float:
    """The fraction of rows of ``labelled_predictions`` whose label is known (0 when empty)."""
    if table.num_rows == 0:
        return 0.0
    return 1.0 - table.column("label").null_count / table.num_rows


def _ids_table(request_ids: pa.Array | Sequence[str]) -> pa.Table:
    ids = request_ids if isinstance(request_ids, pa.Array | pa.ChunkedArray) else \
        pa.array(list(request_ids), pa.string())
    return pa.table({"request_id": ids})


class ParquetFeedbackStore(FeedbackStore):
    """Label segments under ``folder``, written atomically like the prediction log's::

        folder/date=<YYYY-MM-DD of the label time>/part-<utc>-<pid>-<token>-<n>.parquet

    with columns ``request_id`` (string), ``label`` (typed) and ``at`` (timestamp, UTC).
    Equal times are broken by the later segment, then the later row.
    """

    def __init__(self, folder: str | os.PathLike[str], *, predictions: PredictionSink) -> None:
        super().__init__(predictions)
        self.folder = Path(folder)

    def add(self, records: Sequence[FeedbackRecord]) -> int:
        checked = _checked(records)
        days: dict[date, list[FeedbackRecord]] = {}
        for record in checked:
            days.setdefault(record.at.date(), []).append(record)
        segments = [(self.folder / f"date={day}", pa.table({
            "request_id": pa.array([r.request_id for r in group], pa.string()),
            "label": _label_column([r.label for r in group]),
            "at": pa.array([r.at for r in group], _TIMESTAMP),
        })) for day, group in days.items()]
        if segments:
            write_segments(segments, "feedback")
        return len(checked)

    def latest_labels(self, request_ids: pa.Array | Sequence[str] | None = None) -> pa.Table:
        files = sorted(str(p) for p in self.folder.glob("date=*/*.parquet"))
        if not files:
            return _LABELS.empty_table()
        ids = None if request_ids is None else _ids_table(request_ids)
        only = "" if ids is None else "WHERE request_id IN (SELECT request_id FROM ids)"
        sql = ('SELECT request_id, label, "at" AS label_at FROM read_parquet($files, '
               "hive_partitioning=false, union_by_name=true, filename=true, "
               f"file_row_number=true) {only} QUALIFY row_number() OVER (PARTITION BY "
               "request_id ORDER BY \"at\" DESC, filename DESC, file_row_number DESC) = 1")
        try:
            with duckdb.connect() as connection:
                connection.execute("SET TimeZone = 'UTC'")
                if ids is not None:
                    connection.register("ids", ids)
                return connection.sql(sql, params={"files": files}).to_arrow_table()
        except duckdb.Error as exc:
            raise PredictionLogError(f"cannot read the labels under {self.folder}: {exc}") \
                from exc


def _feedback_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "prediction_feedback", metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("request_id", sa.Text, nullable=False),
        sa.Column("label", JSONB, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Index("ix_prediction_feedback_request_id_at", "request_id", "at"),
    )


class PostgresFeedbackStore(FeedbackStore):
    """The table ``prediction_feedback`` (in ``schema`` when given), created on first use: one
    row per label ever received (``id`` orders labels with equal times)."""

    def __init__(self, url: str, schema: str | None = None, *,
                 predictions: PredictionSink) -> None:
        super().__init__(predictions)
        self._db = PostgresTables(url, schema, "feedback", _feedback_table)

    def add(self, records: Sequence[FeedbackRecord]) -> int:
        rows = [{"request_id": r.request_id, "label": r.label, "at": r.at}
                for r in _checked(records)]
        if rows:
            try:
                with self._db.connect() as connection, connection.begin():
                    connection.execute(sa.insert(self._db.table), rows)
            except SQLAlchemyError as exc:
                raise self._db.translate(exc) from exc
        return len(rows)

    def latest_labels(self, request_ids: pa.Array | Sequence[str] | None = None) -> pa.Table:
        t = self._db.table
        query = sa.select(t.c.request_id, t.c.label, t.c.at) \
            .ext(distinct_on(t.c.request_id)) \
            .order_by(t.c.request_id, t.c.at.desc(), t.c.id.desc())
        if request_ids is not None:
            ids = request_ids.to_pylist() if isinstance(request_ids, pa.Array | pa.ChunkedArray) \
                else list(request_ids)
            if not ids:
                return _LABELS.empty_table()
            query = query.where(t.c.request_id == sa.any_(sa.bindparam(
                "ids", value=ids, type_=ARRAY(sa.Text))))
        try:
            with self._db.connect() as connection:
                rows = connection.execute(query).all()
        except SQLAlchemyError as exc:
            raise self._db.translate(exc) from exc
        if not rows:
            return _LABELS.empty_table()
        return pa.table({"request_id": pa.array([r.request_id for r in rows], pa.string()),
                         "label": _label_column([r.label for r in rows]),
                         "label_at": pa.array([r.at for r in rows], _TIMESTAMP)})

    def close(self) -> None:
        self._db.close()
        super().close()


# -- feedback files -----------------------------------------------------------------------------

def _read_table(path: Path) -> pa.Table:
    kind = _FORMATS.get(path.suffix.lower())
    if kind is None:
        raise FeedbackError(f"{path}: cannot tell the format from the extension; accepted: "
                            f"{', '.join(sorted(_FORMATS))}")
    try:
        if kind == "csv":
            strings = {name: pa.string() for name in ("request_id", *_TIME_COLUMNS)}
            return pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(
                column_types=strings))
        return pq.read_table(path)
    except FileNotFoundError as exc:
        raise FeedbackError(f"feedback file {path} does not exist") from exc
    except (OSError, pa.ArrowException) as exc:
        raise FeedbackError(f"cannot read feedback file {path} as {kind}: {exc}") from exc


def _times(column: pa.ChunkedArray, name: str, path: Path) -> list[datetime]:
    """Aware UTC times from a timestamp column with a zone, or ISO 8601 text with offsets."""
    kind = column.type
    if pa.types.is_timestamp(kind) and kind.tz is None:
        raise TimestampError(f"{path}: column {name!r} has no time zone; skewless never guesses "
                             "one: write times with an offset, e.g. 2024-05-01T12:00:00Z")
    if not (pa.types.is_timestamp(kind) or pa.types.is_string(kind)
            or pa.types.is_large_string(kind)):
        raise FeedbackError(f"{path}: column {name!r} must hold times, not {kind}")
    try:
        times = pc.cast(column, _TIMESTAMP)
    except pa.ArrowInvalid as exc:
        raise TimestampError(f"{path}: column {name!r} holds a time without a zone offset or "
                             f"that cannot be read ({exc}); write e.g. 2024-05-01T12:00:00Z") \
            from exc
    if times.null_count:
        raise FeedbackError(f"{path}: column {name!r} is empty in row "
                            f"{pc.index(pc.is_null(times), True).as_py() + 1}")
    return times.to_pylist()


def load_feedback_file(path: str | os.PathLike[str],
                       now: datetime | None = None) -> list[FeedbackRecord]:
    """The labels in a CSV or Parquet file with columns ``request_id`` and ``label`` and,
    optionally, the time each became known in ``at`` or ``timestamp`` (aware; ``now``, by
    default the current time, when absent). Labels keep their type: bool, int, float or str.
    """
    path = Path(path)
    table = _read_table(path)
    missing = [name for name in ("request_id", "label") if name not in table.column_names]
    if missing:
        raise FeedbackError(f"{path} has no column {missing[0]!r}; a feedback file has columns "
                            f"request_id, label and optionally one of {', '.join(_TIME_COLUMNS)}"
                            f" (found: {', '.join(table.column_names) or 'none'})")
    label = table.column("label")
    kind = label.type
    if not (pa.types.is_boolean(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind)
            or pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise FeedbackError(f"{path}: labels must be numbers, strings or booleans, not {kind}")
    for name in ("request_id", "label"):
        nulls = pc.is_null(table.column(name))
        if pc.any(nulls).as_py():
            raise FeedbackError(f"{path}: column {name!r} is empty in row "
                                f"{pc.index(nulls, True).as_py() + 1}")
    request_ids = pc.cast(table.column("request_id"), pa.string()).to_pylist()
    if "" in request_ids:
        raise FeedbackError(f"{path}: column 'request_id' is empty in row "
                            f"{request_ids.index('') + 1}")
    time_column = next((name for name in _TIME_COLUMNS if name in table.column_names), None)
    if time_column is None:
        at = to_utc(now, "now") if now is not None else utc_now()
        times: list[datetime] = [at] * table.num_rows
    else:
        times = [t.astimezone(UTC) for t in _times(table.column(time_column), time_column, path)]
    return [FeedbackRecord(r, v, t) for r, v, t in zip(request_ids, label.to_pylist(), times,
                                                      strict=True)]
