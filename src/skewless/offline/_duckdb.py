"""The embedded offline engine: DuckDB over Parquet/CSV, out of core.

Plain fields are joined with an ASOF join. Without a created column the candidate rows are the
source rows themselves. With ``as_of_created=False`` the ASOF join runs on a 128-bit key
(event time, created time), so "latest event time, ties by latest created time" is one lookup
with no deduplication pass. With a created column and ``as_of_created=True`` a row is
visible only from ``max(event_ts, created_ts)`` on, and "the latest visible row" is not
monotone in the event time, so each row carries the best row among everything visible by its own
visibility time (a running arg-max over visibility order); the ASOF join then looks up that state.

Windowed aggregations are a range join of entity rows onto events of the largest window, with
one filtered aggregate per (function, window). Each part (a view's fields, a view's
aggregations) is its own query returning columns in entity-row order; the parts are placed side
by side in Arrow instead of being joined on the row number.

Rows without an event time are never visible. Nanosecond times (pandas 2 and Spark write them)
are rounded *up* to the microsecond: entity times are whole microseconds, so a row is then
visible exactly when its nanosecond time is, and no row is ever seen before it happened.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skewless.errors import (
    ConfigError,
    OfflineEngineError,
    SourceError,
    SourceSchemaError,
    TimestampError,
)
from skewless.features import FeatureView, Source
from skewless.features._on_demand import ARROW_TYPES
from skewless.offline._engine import (
    ROW,
    TIME,
    OfflineEngine,
    ViewQuery,
    feature_column,
    timestamp_column,
)

__all__ = ["DuckDBEngine"]

_SQL_TYPES = {"int64": "BIGINT", "float64": "DOUBLE", "string": "VARCHAR", "bool": "BOOLEAN",
              "timestamp": "TIMESTAMPTZ"}
_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER",
             "UBIGINT", "HUGEINT"}
_FLOATS = {"FLOAT", "DOUBLE", "REAL"}
_AWARE_TIMES = {"TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ", "TIMESTAMPTZ_NS"}
_NAIVE_TIMES = {"TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "DATETIME"}
_NANOSECOND_TIMES = {"TIMESTAMP_NS", "TIMESTAMPTZ_NS"}
_AGGREGATES = {"count": "count({x})", "sum": "sum({x})", "mean": "avg({x})", "min": "min({x})",
               "max": "max({x})", "std": "stddev_samp({x})",
               "last": "arg_max({x}, struct_pack(__ts, __cr))"}


_MAX_LOW = "18446744073709551615::HUGEINT"  # 2**64 - 1: above every created part of the key
_ORDER_KEY = ("(epoch_us(__ts)::HUGEINT << 64) + "
              "(epoch_us(__cr)::HUGEINT + 9223372036854775808::HUGEINT)")
"""(event time, created time) as one HUGEINT that sorts like the pair; created µs are shifted
by 2**63 so that pre-1970 times stay in the low 64 bits."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _dtype(duck_type: str) -> str:
    upper = duck_type.upper()
    if upper in _INTEGERS:
        return "int64"
    if upper in _FLOATS or upper.startswith("DECIMAL"):
        return "float64"
    if upper == "VARCHAR":
        return "string"
    if upper == "BOOLEAN":
        return "bool"
    if upper in _AWARE_TIMES:
        return "timestamp"
    if upper in _NAIVE_TIMES:
        return "timestamp_naive"
    return f"other:{duck_type}"


def _microseconds_up(column: str) -> str:
    """A nanosecond time column as a naive microsecond ``TIMESTAMP``, rounded up (DuckDB's
    cast rounds to the nearest, which could make a row visible up to 500ns early)."""
    nanos = f"epoch_ns({column})"
    return f"make_timestamp({nanos} // 1000 + CAST({nanos} % 1000 > 0 AS BIGINT))"


def _interval(duration: timedelta) -> str:
    return f"to_microseconds({duration // timedelta(microseconds=1)})"


class DuckDBEngine(OfflineEngine):
    """Runs point-in-time retrieval in an embedded DuckDB that spills to ``temp_directory``.

    ``base_dir`` resolves relative source paths; ``memory_limit`` and ``threads`` bound DuckDB.
    """

    def __init__(self, base_dir: Path, *, memory_limit: str = "600MB", threads: int | None = None,
                 temp_directory: Path | None = None) -> None:
        self.base_dir = base_dir
        config = {"memory_limit": memory_limit}
        if threads:
            config["threads"] = str(threads)
        if temp_directory is not None:
            config["temp_directory"] = str(temp_directory)
        try:
            self._connection = duckdb.connect(config=config)
            self._connection.execute("SET TimeZone = 'UTC'")
        except duckdb.Error as exc:
            raise ConfigError(f"offline_engine settings rejected by DuckDB: {exc}") from exc
        self._lock = threading.Lock()
        self._columns: dict[tuple[str, ...], dict[str, str]] = {}

    def _scan(self, source: Source) -> str:
        path = Path(source.path)
        location = str(path if path.is_absolute() else self.base_dir / path)
        if source.format == "parquet":
            return f"read_parquet({_literal(location)}, union_by_name = true)"
        return f"read_csv({_literal(location)}, header = true, union_by_name = true)"

    def _run(self, sql: str, what: str, tables: dict[str, pa.Table] | None = None) -> pa.Table:
        with self._lock:
            cursor = self._connection.cursor()
        try:
            for name, table in (tables or {}).items():
                cursor.register(name, table)
            return cursor.sql(sql).to_arrow_table()
        except duckdb.IOException as exc:
            raise SourceError(f"{what}: cannot read the source ({exc}); check the path") from exc
        except duckdb.Error as exc:
            raise OfflineEngineError(f"{what} failed in DuckDB: {exc}") from exc
        finally:
            cursor.close()

    def _duck_types(self, source: Source) -> dict[str, str]:
        """Column name → DuckDB type of a source (cached); SourceError when it has no rows."""
        key = tuple(str(v) for v in source.spec().values())
        if key not in self._columns:
            described = self._run(f"DESCRIBE SELECT * FROM {self._scan(source)}",
                                  f"reading source {source.path!r}")
            columns = dict(zip(described["column_name"].to_pylist(),
                               described["column_type"].to_pylist(), strict=True))
            rows = self._run(f"SELECT count(*) AS n FROM {self._scan(source)}",
                             f"counting rows of {source.path!r}")["n"][0].as_py()
            if rows == 0:
                raise SourceError(f"source {source.path!r} has no rows; point it at data")
            self._columns[key] = columns
        return self._columns[key]

    def source_columns(self, source: Source) -> dict[str, str]:
        return {name: _dtype(duck_type) for name, duck_type in self._duck_types(source).items()}

    def _time(self, source: Source, column: str) -> str:
        duck_type = self._duck_types(source).get(column, "").upper()
        dtype = _dtype(duck_type) if duck_type else None
        quoted = _quote(column)
        if duck_type in _NANOSECOND_TIMES:
            quoted = _microseconds_up(quoted)
            if dtype == "timestamp":  # epoch_ns counted from UTC: make it aware again
                return f"timezone('UTC', {quoted})"
        if dtype == "timestamp":
            return quoted
        if dtype == "timestamp_naive":
            if source.timezone is None:
                raise TimestampError(
                    f"column {column!r} of source {source.path!r} holds times without a time "
                    "zone; store them as UTC-aware timestamps, or declare their zone with "
                    "Source(..., timezone='UTC')"
                )
            return f"timezone({_literal(source.timezone)}, {quoted})"
        raise SourceSchemaError(
            f"column {column!r} of source {source.path!r} is {dtype or 'missing'}, "
            "not a timestamp"
        )

    def _events(self, view: FeatureView, columns: list[tuple[str, str]]) -> str:
        """The source projected to typed keys, ``__ts``, ``__cr`` and the given columns."""
        source = view.source
        ts = self._time(source, source.timestamp)
        cr = f"coalesce({self._time(source, source.created)}, {ts})" if source.created else ts
        select = [f"CAST({_quote(e.name)} AS {_SQL_TYPES[e.dtype]}) AS {_quote(e.name)}"
                  for e in view.entities]
        select += [f"{ts} AS __ts", f"{cr} AS __cr"]
        for column, dtype in columns:
            expression = (self._time(source, column) if dtype == "timestamp"
                          else f"CAST({_quote(column)} AS {_SQL_TYPES[dtype]})")
            select.append(f"{expression} AS {_quote(column)}")
        return f"SELECT {', '.join(select)} FROM {self._scan(source)} WHERE {ts} IS NOT NULL"

    def _created_after(self, view: FeatureView, entities: pa.Table) -> bool:
        """Whether some row of the view's source was created after the earliest entity time.

        When none was, every row is visible at every entity time and the created-time rule
        gives the same answer as the plain tie-break — which needs no running arg-max, so
        materializing the present (the usual case) takes the fast path.
        """
        if not view.source.created or entities.num_rows == 0:
            return False
        earliest = pc.min(entities[TIME]).as_py()
        latest = self._run(f"SELECT max(greatest(__ts, __cr)) AS v FROM ({self._events(view, [])})",
                           f"reading created times of {view.name!r}")["v"][0].as_py()
        return latest is not None and latest > earliest

    def _fields_sql(self, query: ViewQuery, as_of_created: bool) -> str:
        view = query.view
        keys = ", ".join(map(_quote, view.join_keys))
        fields = [(f.name, f.dtype) for f in view.fields if f.name in query.features]
        events = self._events(view, fields)
        flat = ", ".join(["__ts", *(_quote(f) for f, _ in fields)])
        entity_time = f"e.{TIME}"
        if view.source.created and as_of_created:
            # The latest visible row is not monotone in event time: carry, for each row, the
            # best row visible by its own visibility time (a running arg-max).
            best = (f"arg_max(struct_pack({flat}), struct_pack(__ts, __cr)) OVER ("
                    f"PARTITION BY {keys} ORDER BY greatest(__ts, __cr) "
                    f"RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)")
            unpacked = ", ".join(f"__best.{c} AS {c}" for c in flat.split(", "))
            state = (f"SELECT {keys}, __vis, {unpacked} FROM (SELECT {keys}, "
                     f"greatest(__ts, __cr) AS __vis, {best} AS __best FROM ({events}))")
        elif view.source.created:
            # Latest event time, ties by latest created time, in one ASOF join: order rows by
            # the 128-bit key (event µs, created µs) and look up (t, +inf) for each entity row.
            state = (f"SELECT {keys}, {_ORDER_KEY} AS __vis, {flat} FROM ({events})")
            entity_time = f"(epoch_us(e.{TIME})::HUGEINT << 64) + {_MAX_LOW}"
        else:
            state = f"SELECT {keys}, __ts AS __vis, {flat} FROM ({events})"
        on = " AND ".join(f"e.{_quote(k)} = s.{_quote(k)}" for k in view.join_keys)
        fresh = "TRUE"
        if query.apply_ttl and isinstance(view.ttl, timedelta):
            fresh = f"s.__ts >= e.{TIME} - {_interval(view.ttl)}"
        outputs = [f"CASE WHEN {fresh} THEN s.__ts END AS {_quote(timestamp_column(view.name))}"]
        outputs += [f"CASE WHEN {fresh} THEN s.{_quote(f)} END AS "
                    f"{_quote(feature_column(view.name, f))}" for f, _ in fields]
        return (f"SELECT {', '.join(outputs)} FROM __entities e "
                f"ASOF LEFT JOIN ({state}) s ON {on} AND {entity_time} >= s.__vis "
                f"ORDER BY e.{ROW}")

    def _aggregations_sql(self, query: ViewQuery, as_of_created: bool) -> str:
        view = query.view
        aggregations = [a for a in view.aggregations if a.name in query.features]
        columns = list(dict.fromkeys(a.column for a in aggregations))
        events = self._events(view, [(c, "float64") for c in columns])
        widest = max(a.span for a in aggregations)
        on = [f"e.{_quote(k)} = ev.{_quote(k)}" for k in view.join_keys]
        on += [f"ev.__ts <= e.{TIME}", f"ev.__ts > e.{TIME} - {_interval(widest)}"]
        if view.source.created and as_of_created:
            on.append(f"ev.__cr <= e.{TIME}")
        outputs = []
        for aggregation in aggregations:
            column = f"ev.{_quote(aggregation.column)}"
            expression = _AGGREGATES[aggregation.function].format(x=column)
            if aggregation.span != widest:
                expression += f" FILTER (WHERE ev.__ts > e.{TIME} - {_interval(aggregation.span)})"
            name = _quote(feature_column(view.name, aggregation.name))
            outputs.append(f"{expression} AS {name}")
        return (f"SELECT e.{ROW}, {', '.join(outputs)} FROM __entities e "
                f"JOIN ({events}) ev ON {' AND '.join(on)} GROUP BY e.{ROW}")

    def historical(self, entities: pa.Table, queries: list[ViewQuery],
                   as_of_created: bool) -> pa.Table:
        # One query per part, each giving its columns in entity-row order; the parts are put
        # side by side in Arrow rather than joined on the row number in SQL (several times
        # faster on a million rows).
        rows = entities.num_rows
        columns: dict[str, pa.Array | pa.ChunkedArray] = {ROW: entities[ROW]}
        for query in queries:
            view = query.view
            if any(f.name in query.features for f in view.fields):
                hide_late = as_of_created and self._created_after(view, entities)
                part = self._run(self._fields_sql(query, hide_late),
                                 f"point-in-time join of {view.name!r}",
                                 {"__entities": entities})
                columns.update(zip(part.column_names, part.columns, strict=True))
            aggregations = [a for a in view.aggregations if a.name in query.features]
            if aggregations:
                part = self._run(self._aggregations_sql(query, as_of_created),
                                 f"aggregations of {view.name!r}", {"__entities": entities})
                positions = part[ROW].to_numpy()
                for aggregation in aggregations:
                    name = feature_column(view.name, aggregation.name)
                    columns[name] = _scatter(part[name], positions, rows,
                                             0 if aggregation.function == "count" else None)
        return _with_utc(pa.table(columns))

    def keys_to_materialize(self, view: FeatureView, start: datetime | None, end: datetime,
                            as_of_created: bool) -> pa.Table:
        keys = ", ".join(map(_quote, view.join_keys))
        visible = "greatest(__ts, __cr)" if view.source.created and as_of_created else "__ts"
        end_literal = f"TIMESTAMPTZ {_literal(end.isoformat())}"
        where = [f"{visible} <= {end_literal}"]
        if start is not None and not view.aggregations:
            where.append(f"{visible} >= TIMESTAMPTZ {_literal(start.isoformat())}")
        sql = (f"SELECT DISTINCT {keys} FROM ({self._events(view, [])}) "
               f"WHERE {' AND '.join(where)} ORDER BY {keys}")
        return self._run(sql, f"finding keys of {view.name!r} to materialize")

    def close(self) -> None:
        self._connection.close()


def _scatter(values: pa.ChunkedArray, positions: np.ndarray, rows: int,
             empty: int | None) -> pa.Array:
    """A column of ``rows`` values: ``values`` at ``positions``, ``empty`` everywhere else."""
    dense = values.to_numpy(zero_copy_only=False)
    if empty is not None:
        full = np.full(rows, empty, dtype=np.int64)
        full[positions] = dense
        return pa.array(full)
    full = np.zeros(rows, dtype=np.float64)
    present = np.zeros(rows, dtype=bool)
    full[positions] = dense
    present[positions] = ~pc.is_null(values).to_numpy(zero_copy_only=False)
    return pa.array(full, mask=~present)


def _with_utc(table: pa.Table) -> pa.Table:
    """DuckDB names its zone ``Etc/UTC``; skewless always says ``UTC``."""
    utc = ARROW_TYPES["timestamp"]
    fields = [pa.field(f.name, utc) if pa.types.is_timestamp(f.type) else f for f in table.schema]
    return table.cast(pa.schema(fields))


