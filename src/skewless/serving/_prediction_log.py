"""The prediction log: every answered row, written off the request path by a bounded writer.

``PredictionLog.log`` puts a ``PredictionRecord`` on an in-memory queue and returns at once; a
daemon thread takes records off it in batches and hands each batch to a ``PredictionSink``
(Parquet segments in the project folder, or a PostgreSQL table). The queue is bounded, so a slow
or failing sink costs memory up to ``queue_size`` records and then drops, never latency; every
record that is not written is counted in ``dropped`` (exported to ``/metrics``).

Both sinks read back to the same Arrow layout, so monitoring treats them alike::

    request_id, timestamp, model, version, entity__<key>..., request__<field>...,
    feature__<name>..., prediction, probability__<class>..., latency_ms, degraded, reason

(within each ``<prefix>__`` group the columns are in name order).
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import queue
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)

from skewless._time import to_utc
from skewless.errors import (
    ConfigError,
    PredictionLogError,
    PredictionLogUnavailableError,
)

if TYPE_CHECKING:
    from skewless.config import PredictionLogConfig

__all__ = [
    "ParquetPredictionSink",
    "PostgresPredictionSink",
    "PredictionLog",
    "PredictionLogError",
    "PredictionLogUnavailableError",
    "PredictionRecord",
    "PredictionSink",
    "read_predictions",
]

_log = logging.getLogger(__name__)

Scalar = float | int | str | bool


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """One answered row, as logged. Built on the request path, so nothing is checked here.

    ``at`` is an aware UTC datetime; ``entities``, ``request`` and ``features`` hold the values
    for ``entity_keys``, ``request_fields`` and ``feature_names`` in that order (the name tuples
    are the served version's own, shared by all its records); ``classes`` and
    ``probabilities`` are set for classifiers; ``reason`` says why the row is ``degraded``.
    """

    request_id: str
    at: datetime
    model: str
    version: int
    entity_keys: tuple[str, ...]
    entities: tuple[Any, ...]
    request_fields: tuple[str, ...]
    request: tuple[Any, ...]
    feature_names: tuple[str, ...]
    features: tuple[float | int | str | bool | None, ...]
    prediction: Scalar
    classes: tuple[Any, ...] | None
    probabilities: tuple[float, ...] | None
    latency_ms: float
    degraded: bool
    reason: str | None


# -- the common read layout ---------------------------------------------------------------------

_TIMESTAMP = pa.timestamp("us", tz="UTC")
_STANDARD = pa.schema([("request_id", pa.string()), ("timestamp", _TIMESTAMP),
                       ("model", pa.string()), ("version", pa.int64()),
                       ("prediction", pa.null()), ("latency_ms", pa.float64()),
                       ("degraded", pa.bool_()), ("reason", pa.string())])
_HEAD = ("request_id", "timestamp", "model", "version")
_GROUPS = ("entity__", "request__", "feature__")
_TAIL = ("latency_ms", "degraded", "reason")


def _layout(table: pa.Table) -> pa.Table:
    """``table``'s columns in the documented order; columns it does not know go last."""
    names = table.column_names

    def group(prefix: str) -> list[str]:
        return sorted(n for n in names if n.startswith(prefix))

    order = [n for n in _HEAD if n in names]
    for prefix in _GROUPS:
        order += group(prefix)
    order += [n for n in ("prediction",) if n in names] + group("probability__")
    order += [n for n in _TAIL if n in names]
    known = set(order)
    return table.select(order + [n for n in names if n not in known])


def _empty() -> pa.Table:
    return _STANDARD.empty_table()


def _column(values: Sequence[Any], empty: pa.DataType) -> pa.Array:
    """An Arrow column of Python values, typed by inference; all-null columns get ``empty``,
    and values Arrow cannot put in one type become float64 (numbers) or strings."""
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        if all(v is None or isinstance(v, int | float) for v in values):
            return pa.array([None if v is None else float(v) for v in values], pa.float64())
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    return array.cast(empty) if array.type == pa.null() else array


def _bounds(start: datetime | None, end: datetime | None) -> tuple[datetime | None,
                                                                    datetime | None]:
    return (None if start is None else to_utc(start, "start"),
            None if end is None else to_utc(end, "end"))


# -- sinks --------------------------------------------------------------------------------------

class PredictionSink(ABC):
    """Where batches of prediction records go, and how a window of them is read back."""

    @abstractmethod
    def write(self, records: Sequence[PredictionRecord]) -> None:
        """Store ``records`` all or nothing, so that retrying a failed batch duplicates
        nothing. Raises on failure (the log retries, then counts the records as dropped)."""

    @abstractmethod
    def read(self, model: str, version: int | None = None, start: datetime | None = None,
             end: datetime | None = None) -> pa.Table:
        """The records of ``model`` (one ``version`` or all) logged in ``[start, end)``,
        ordered by time, in the common layout (see the module docstring)."""

    def close(self) -> None:  # noqa: B027 - most sinks hold nothing to release
        """Release connections; the sink is not written after this."""

    @classmethod
    def from_config(cls, config: PredictionLogConfig, project_dir: Path) -> PredictionSink | None:
        """The sink ``prediction_log`` in skewless.yaml names; ``None`` when it is ``off``."""
        if config.sink == "off":
            return None
        if config.sink == "postgresql":
            if not config.url:
                raise ConfigError("prediction_log.url is required with sink: postgresql; set "
                                  "it to e.g. 'postgresql+psycopg://user@host:5432/db'")
            return PostgresPredictionSink(config.url, schema=config.db_schema)
        return ParquetPredictionSink(resolve_path(project_dir, config.path))


def resolve_path(project_dir: Path, path: str) -> Path:
    """``path`` from skewless.yaml: absolute, or relative to the project folder."""
    given = Path(path).expanduser()
    return given if given.is_absolute() else project_dir / given


_SEGMENT_COUNTER = itertools.count(1)
_PROCESS_TOKEN = secrets.token_hex(4)
"""In segment names beside the pid: hosts sharing a folder (pods with pid 1) never collide."""


def segment_name() -> str:
    """A new segment's file name: write time (UTC), process id and a per-process counter, so
    names never collide between processes and sort by write time."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"part-{stamp}-{os.getpid()}-{_PROCESS_TOKEN}-{next(_SEGMENT_COUNTER):06d}.parquet"


def write_segments(segments: Sequence[tuple[Path, pa.Table]], what: str) -> None:
    """Write each ``(folder, table)`` as a new Parquet segment, all or nothing.

    Every table goes to a hidden temporary file in its target folder first; only when all
    are complete are they renamed into place (``os.replace`` is atomic), so a reader never
    sees a partial file and a failed batch leaves nothing behind to duplicate on retry.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for folder, table in segments:
            folder.mkdir(parents=True, exist_ok=True)
            final = folder / segment_name()
            temporary = folder / f".{final.name}.tmp"
            staged.append((temporary, final))
            pq.write_table(table, temporary, compression="zstd")
        for temporary, final in staged:
            os.replace(temporary, final)
    except (OSError, pa.ArrowException) as exc:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise PredictionLogError(f"cannot write {what} segments under "
                                 f"{segments[0][0] if segments else '?'}: {exc}") from exc


def _day(at: datetime) -> date:
    return (at if at.tzinfo is UTC else at.astimezone(UTC)).date()


def _shape_table(records: list[PredictionRecord]) -> pa.Table:
    """The columns of records that share entity keys, request fields, features and classes,
    built column by column."""
    first = records[0]
    columns: dict[str, pa.Array] = {
        "request_id": pa.array([r.request_id for r in records], pa.string()),
        "timestamp": pa.array([r.at for r in records], _TIMESTAMP),
    }
    for prefix, names, rows, empty in (
            ("entity__", first.entity_keys, [r.entities for r in records], pa.string()),
            ("request__", first.request_fields, [r.request for r in records], pa.string()),
            ("feature__", first.feature_names, [r.features for r in records], pa.float64())):
        if names:
            for name, values in zip(names, zip(*rows, strict=True), strict=True):
                columns[prefix + name] = _column(values, empty)
    columns["prediction"] = _column([r.prediction for r in records], pa.string())
    if first.classes is not None and any(r.probabilities is not None for r in records):
        missing = (None,) * len(first.classes)
        rows = [missing if r.probabilities is None else r.probabilities for r in records]
        for label, values in zip(first.classes, zip(*rows, strict=True), strict=True):
            columns[f"probability__{label}"] = _column(values, pa.float64())
    columns["latency_ms"] = pa.array([r.latency_ms for r in records], pa.float64())
    columns["degraded"] = pa.array([r.degraded for r in records], pa.bool_())
    columns["reason"] = pa.array([r.reason for r in records], pa.string())
    return pa.table(columns)


class ParquetPredictionSink(PredictionSink):
    """Parquet segments under ``folder``, hive-partitioned for pruned reads::

        folder/model=<name>/version=<v>/date=<YYYY-MM-DD>/part-<utc>-<pid>-<token>-<n>.parquet

    Each batch writes one segment per (model, version, UTC date of the record) it holds;
    ``model`` and ``version`` live in the path only, ``date`` prunes time windows.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def write(self, records: Sequence[PredictionRecord]) -> None:
        shapes: dict[tuple[Any, ...], list[PredictionRecord]] = {}
        for r in records:
            key = (r.model, r.version, _day(r.at), r.entity_keys, r.request_fields,
                   r.feature_names, r.classes)
            shape = shapes.get(key)
            if shape is None:
                shapes[key] = [r]
            else:
                shape.append(r)
        partitions: dict[tuple[str, int, date], list[pa.Table]] = {}
        for key, group in shapes.items():
            partitions.setdefault(key[:3], []).append(_shape_table(group))
        segments = []
        for (model, version, day), tables in partitions.items():
            folder = self.folder / f"model={model}" / f"version={version}" / f"date={day}"
            segments += [(folder, table) for table in _combine(tables)]
        write_segments(segments, "prediction log")

    def read(self, model: str, version: int | None = None, start: datetime | None = None,
             end: datetime | None = None) -> pa.Table:
        start, end = _bounds(start, end)
        root = self.folder / f"model={model}"
        versions = [root / f"version={version}"] if version is not None else \
            sorted(root.glob("version=*"))
        files = []
        for folder in versions:
            for day_folder in sorted(folder.glob("date=*")):
                try:
                    day = date.fromisoformat(day_folder.name.removeprefix("date="))
                except ValueError:
                    continue
                if (start is None or day >= start.date()) and (end is None or day <= end.date()):
                    files += sorted(str(p) for p in day_folder.glob("*.parquet"))
        if not files:
            return _empty()
        where = ["TRUE"]
        params: dict[str, Any] = {"files": files}
        if start is not None:
            where.append("timestamp >= $start")
            params["start"] = start
        if end is not None:
            where.append("timestamp < $end")
            params["end"] = end
        sql = ("SELECT * EXCLUDE (date) FROM read_parquet($files, hive_partitioning=true, "
               "union_by_name=true, hive_types_autocast=false, hive_types={'model': 'VARCHAR', "
               f"'version': 'BIGINT', 'date': 'DATE'}}) WHERE {' AND '.join(where)} "
               "ORDER BY timestamp, request_id")
        try:
            with duckdb.connect() as connection:
                connection.execute("SET TimeZone = 'UTC'")
                table = connection.sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            raise PredictionLogError(f"cannot read the prediction log under {root}: {exc}") \
                from exc
        return _layout(table)


def _combine(tables: list[pa.Table]) -> list[pa.Table]:
    """One table when the shapes' columns can be unified (missing columns become nulls),
    else one per shape."""
    if len(tables) == 1:
        return tables
    try:
        return [pa.concat_tables(tables, promote_options="permissive")]
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return tables


def read_predictions(folder: str | os.PathLike[str], model: str, version: int | None = None,
                     start: datetime | None = None, end: datetime | None = None) -> pa.Table:
    """The Parquet prediction log under ``folder`` for ``model`` in ``[start, end)``, ordered
    by time; an empty table with the standard columns when nothing was logged."""
    return ParquetPredictionSink(folder).read(model, version, start, end)


def _json(value: Any) -> str:
    # orjson writes NaN and infinities as null: jsonb has no such numbers.
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY
                        | orjson.OPT_NON_STR_KEYS).decode()


def display_url(url: str) -> str:
    """``url`` as messages show it: with the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def postgres_engine(url: str, what: str) -> sa.Engine:
    """An engine for a PostgreSQL URL (psycopg 3), JSON columns written with orjson."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"{what} url {url!r} is not a database URL; use e.g. "
                          "'postgresql+psycopg://user@host:5432/db'") from exc
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError(f"{what} url {display_url(url)!r} must be a PostgreSQL URL")
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        return sa.create_engine(parsed, connect_args={"connect_timeout": 5},
                                pool_pre_ping=True, json_serializer=_json)
    except NoSuchModuleError as exc:
        raise ConfigError(f"{what} url {display_url(url)!r}: no driver for it ({exc})") from exc


class PostgresTables:
    """Tables created on first use (once per process and schema, under an advisory lock so
    that several server workers starting together do not race), with driver errors
    translated into ``PredictionLogError``."""

    def __init__(self, url: str, schema: str | None, what: str,
                 define: Callable[[sa.MetaData], sa.Table]) -> None:
        self.url = display_url(url)
        self.schema = schema
        self.what = what
        self.engine = postgres_engine(url, what)
        self.table = define(sa.MetaData(schema=schema))
        self._created = False
        self._lock = threading.Lock()

    def translate(self, exc: SQLAlchemyError) -> PredictionLogError:
        """The skewless error for a driver error: "unavailable" when no connection could be
        made or it was lost (no SQLSTATE, or class 08 / 57P), else a plain failure."""
        state = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
        if isinstance(exc, DBAPIError) and (exc.connection_invalidated or (
                isinstance(exc, OperationalError) and state[:2] in ("", "08", "57"))):
            return PredictionLogUnavailableError(
                f"cannot reach the {self.what} database at {self.url}: {exc.orig}; check that "
                "it is running and that prediction_log.url in skewless.yaml is right")
        detail = exc.orig if isinstance(exc, DBAPIError) else exc
        return PredictionLogError(f"the {self.what} database {self.url} failed: {detail}")

    def connect(self) -> sa.Connection:
        """A connection in a transaction-ready state, the tables created if needed."""
        try:
            if not self._created:
                with self._lock:
                    if not self._created:
                        self._create()
                        self._created = True
            return self.engine.connect()
        except SQLAlchemyError as exc:
            raise self.translate(exc) from exc

    def _create(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"),
                               {"name": f"skewless:{self.schema}:{self.table.name}"})
            if self.schema:
                connection.execute(sa.schema.CreateSchema(self.schema, if_not_exists=True))
            self.table.metadata.create_all(connection, checkfirst=True)

    def close(self) -> None:
        self.engine.dispose()


def _prediction_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "prediction_log", metadata,
        sa.Column("request_id", sa.Text, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("entities", JSONB, nullable=False),
        sa.Column("request", JSONB, nullable=False),
        sa.Column("features", JSONB, nullable=False),
        sa.Column("prediction", JSONB, nullable=False),
        sa.Column("probabilities", JSONB(none_as_null=True), nullable=True),
        sa.Column("latency_ms", sa.Float(precision=53), nullable=False),
        sa.Column("degraded", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Index("ix_prediction_log_model_version_at", "model", "version", "at"),
    )


def _flatten(rows: Sequence[Any]) -> pa.Table:
    """The common layout from ``prediction_log`` rows: each JSON object column becomes one
    column per key (null where a row lacks the key)."""
    arrays: dict[str, pa.Array] = {
        "request_id": pa.array([row.request_id for row in rows], pa.string()),
        "timestamp": pa.array([row.at for row in rows], _TIMESTAMP),
        "model": pa.array([row.model for row in rows], pa.string()),
        "version": pa.array([row.version for row in rows], pa.int64()),
    }
    for attribute, prefix, empty in (("entities", "entity__", pa.string()),
                                     ("request", "request__", pa.string()),
                                     ("features", "feature__", pa.float64()),
                                     ("probabilities", "probability__", pa.float64())):
        objects = [getattr(row, attribute) or {} for row in rows]
        for key in dict.fromkeys(k for obj in objects for k in obj):
            arrays[prefix + key] = _column([obj.get(key) for obj in objects], empty)
    arrays["prediction"] = _column([row.prediction for row in rows], pa.string())
    arrays["latency_ms"] = pa.array([row.latency_ms for row in rows], pa.float64())
    arrays["degraded"] = pa.array([row.degraded for row in rows], pa.bool_())
    arrays["reason"] = pa.array([row.reason for row in rows], pa.string())
    return _layout(pa.table(arrays))


class PostgresPredictionSink(PredictionSink):
    """The table ``prediction_log`` (in ``schema`` when given), created on first use: one row
    per record, entity keys, request values, features and probabilities as JSON objects
    (non-finite numbers are stored as null). A request id already logged is skipped, so a
    retried batch is written once."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        self._db = PostgresTables(url, schema, "prediction log", _prediction_table)
        table = self._db.table
        self._insert = insert(table).on_conflict_do_nothing(index_elements=["request_id"])

    @property
    def table(self) -> sa.Table:
        return self._db.table

    def write(self, records: Sequence[PredictionRecord]) -> None:
        rows = [{
            "request_id": r.request_id, "at": r.at, "model": r.model, "version": r.version,
            "entities": dict(zip(r.entity_keys, r.entities, strict=True)),
            "request": dict(zip(r.request_fields, r.request, strict=True)),
            "features": dict(zip(r.feature_names, r.features, strict=True)),
            "prediction": r.prediction,
            "probabilities": None if r.probabilities is None or r.classes is None else
            {str(c): p for c, p in zip(r.classes, r.probabilities, strict=True)},
            "latency_ms": r.latency_ms, "degraded": r.degraded, "reason": r.reason,
        } for r in records]
        if not rows:
            return
        try:
            with self._db.connect() as connection, connection.begin():
                connection.execute(self._insert, rows)
        except SQLAlchemyError as exc:
            raise self._db.translate(exc) from exc

    def read(self, model: str, version: int | None = None, start: datetime | None = None,
             end: datetime | None = None) -> pa.Table:
        start, end = _bounds(start, end)
        t = self.table
        query = sa.select(t).where(t.c.model == model)
        if version is not None:
            query = query.where(t.c.version == version)
        if start is not None:
            query = query.where(t.c.at >= start)
        if end is not None:
            query = query.where(t.c.at < end)
        try:
            with self._db.connect() as connection:
                rows = connection.execute(query.order_by(t.c.at, t.c.request_id)).all()
        except SQLAlchemyError as exc:
            raise self._db.translate(exc) from exc
        return _flatten(rows) if rows else _empty()

    def close(self) -> None:
        self._db.close()


# -- the writer ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Marker:
    """Put on the queue by ``flush``/``close``: the writer writes what it holds, then sets
    ``done`` (and stops when ``stop``)."""

    done: threading.Event
    stop: bool


class PredictionLog:
    """A bounded queue of prediction records and the thread that writes them to ``sink``.

    ``log`` never blocks: with ``queue_size`` records waiting it drops the record, counts it
    and returns False. The writer wakes when ``batch_size`` records are waiting, or every
    ``flush_interval_s``, and writes everything queued in batches of at most ``batch_size``,
    so a crash loses at most about one interval's records. A failed
    write is retried ``retries`` times with doubling pauses from ``retry_backoff_s``; then its
    records are counted as dropped and a warning is logged. ``close`` (also run at interpreter
    exit) writes everything still queued. The log owns its sink and closes it.

    Several threads may call ``log`` at once; the queue may then exceed ``queue_size`` by at
    most one record per thread.
    """

    def __init__(self, sink: PredictionSink, *, queue_size: int, batch_size: int,
                 flush_interval_s: float, retries: int = 3,
                 retry_backoff_s: float = 0.1) -> None:
        if queue_size < 1 or batch_size < 1 or flush_interval_s <= 0 or retries < 0:
            raise ConfigError("prediction_log: queue_size and batch_size must be at least 1, "
                              "flush_interval_s positive and retries not negative")
        self.sink = sink
        self._queue: queue.SimpleQueue[PredictionRecord | _Marker] = queue.SimpleQueue()
        self._qsize = self._queue.qsize
        self._put = self._queue.put
        self._queue_size = queue_size
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._retries = retries
        self._backoff = retry_backoff_s
        self._closed = False
        self._close_lock = threading.Lock()
        self._drop_lock = threading.Lock()
        self._rejected = 0
        self._given_up = 0
        self._written = 0
        self._failed_batches = 0
        self._in_hand = 0
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="skewless-prediction-log",
                                         daemon=True)
        self._thread.start()
        atexit.register(self.close)

    @classmethod
    def from_config(cls, config: PredictionLogConfig, project_dir: Path) -> PredictionLog | None:
        """The log ``prediction_log`` in skewless.yaml describes; ``None`` when it is ``off``.
        Create it in the process that logs (after any fork): its writer is a thread."""
        sink = PredictionSink.from_config(config, project_dir)
        if sink is None:
            return None
        return cls(sink, queue_size=config.queue_size, batch_size=config.batch_size,
                   flush_interval_s=config.flush_interval_s)

    def log(self, record: PredictionRecord) -> bool:
        """Queue ``record`` for writing; False (and counted in ``dropped``) when the queue is
        full or the log is closed. Never blocks."""
        if self._closed or self._qsize() >= self._queue_size:
            with self._drop_lock:
                self._rejected += 1
            return False
        self._put(record)
        if self._qsize() >= self._batch_size:
            self._wake.set()
        return True

    @property
    def queue_depth(self) -> int:
        """Records accepted but not yet written (queued or in the batch being written)."""
        return self._qsize() + self._in_hand

    @property
    def dropped(self) -> int:
        """Records that will never be written: refused by ``log`` or given up after retries."""
        return self._rejected + self._given_up

    @property
    def written(self) -> int:
        """Records the sink has stored."""
        return self._written

    @property
    def failed_batches(self) -> int:
        """Batches given up after every retry failed."""
        return self._failed_batches

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record logged before this call is written (or given up); False
        when ``timeout`` seconds passed first or the log is closed with records left."""
        if not self._thread.is_alive():
            return self._qsize() == 0
        marker = _Marker(threading.Event(), stop=False)
        self._put(marker)
        self._wake.set()
        return marker.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Write everything queued, stop the writer and close the sink. Idempotent; False when
        the writer did not finish within ``timeout`` seconds (what it still holds is lost)."""
        with self._close_lock:
            if self._closed:
                return not self._thread.is_alive()
            self._closed = True
        atexit.unregister(self.close)
        self._put(_Marker(threading.Event(), stop=True))
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            _log.warning("the prediction log did not finish writing within %.1f s; %d records "
                         "are still queued", timeout, self.queue_depth)
            return False
        self._drain_late()
        self.sink.close()
        return True

    def _drain_late(self) -> None:
        """Count records that raced past ``close`` onto the queue as dropped."""
        late = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Marker):
                item.done.set()
            else:
                late += 1
        with self._drop_lock:
            self._rejected += late

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _run(self) -> None:
        """Sleep until ``batch_size`` records wait, a flush or close is asked for, or
        ``flush_interval_s`` has passed; then take everything queued and write it.

        The writer wakes once per batch or interval, never once per record: a wake-up per
        record made the request thread and this one hand the GIL back and forth on every
        prediction, which tripled the server's p99 latency.
        """
        get = self._queue.get_nowait
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            batch: list[PredictionRecord] = []
            markers: list[_Marker] = []
            while True:
                try:
                    item = get()
                except queue.Empty:
                    break
                if isinstance(item, _Marker):
                    markers.append(item)
                else:
                    batch.append(item)
            self._in_hand = len(batch)
            for start in range(0, len(batch), self._batch_size):
                self._write(batch[start:start + self._batch_size])
            self._in_hand = 0
            for marker in markers:
                marker.done.set()
            if any(marker.stop for marker in markers):
                return

    def _write(self, batch: list[PredictionRecord]) -> None:
        """Write ``batch``, retrying a failed write with doubling pauses."""
        pause = self._backoff
        for attempt in range(self._retries + 1):
            try:
                self.sink.write(batch)
            except Exception as exc:
                if attempt < self._retries:
                    time.sleep(pause)
                    pause *= 2
                    continue
                self._failed_batches += 1
                self._given_up += len(batch)
                _log.warning("dropped %d prediction records: the prediction log could not "
                             "write them after %d attempts: %s", len(batch), attempt + 1, exc,
                             exc_info=exc)
            else:
                self._written += len(batch)
            break
