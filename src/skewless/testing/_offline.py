"""Conformance checks of offline engines: the time semantics of DESIGN.md, engine by engine.

Each check takes a factory ``make_engine(base_dir)`` that returns a fresh engine resolving
relative source paths against ``base_dir``. The check writes a tiny Parquet source into a new
temporary folder, asks the engine one question, closes it, and raises ``AssertionError`` saying
what differed. Times sit exactly on the boundaries (``ttl`` and window edges, one microsecond
either side, equal event times told apart by the created time), where engines go wrong.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from skewless.errors import SourceError
from skewless.features import Aggregation, Entity, FeatureView, Field, Source
from skewless.features._on_demand import ARROW_TYPES
from skewless.offline._engine import (
    ROW,
    TIME,
    OfflineEngine,
    ViewQuery,
    feature_column,
    timestamp_column,
)
from skewless.testing._runner import expect, expect_equal, run_checks

__all__ = ["OFFLINE_ENGINE_CHECKS", "OfflineEngineFactory", "check_offline_engine"]

OfflineEngineFactory = Callable[[Path], OfflineEngine]
"""Makes a fresh engine that resolves relative source paths against the folder it is given."""

T0 = datetime(2024, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
_USER = Entity("user_id")
_X = Field("x", "float64")
_FUNCTIONS = ("count", "sum", "mean", "min", "max", "std", "last")
_TIMESTAMP = ARROW_TYPES["timestamp"]


@contextmanager
def _fresh(factory: OfflineEngineFactory) -> Iterator[tuple[OfflineEngine, Path]]:
    """A new engine over a new, empty temporary folder; both are cleaned up afterwards."""
    with tempfile.TemporaryDirectory(prefix="skewless-offline-check-") as folder:
        engine = factory(Path(folder))
        try:
            yield engine, Path(folder)
        finally:
            engine.close()


def _source(base: Path, columns: Mapping[str, Sequence[Any]], *, path: str = "history.parquet",
            timezone: str | None = None) -> Source:
    """Write ``columns`` (event time ``ts``, optional ``created``) to ``base / path``."""
    pq.write_table(pa.table(dict(columns)), base / path)
    return Source(path, "ts", created="created" if "created" in columns else None,
                  timezone=timezone)


def _view(source: Source, *, name: str = "v", entities: Sequence[Entity] = (_USER,),
          fields: Sequence[Field] = (_X,), aggregations: Sequence[Aggregation] = (),
          ttl: str | None = None) -> FeatureView:
    """A view over ``source``, by default ``v`` keyed by ``user_id`` with one field ``x``."""
    return FeatureView(name, list(entities), source, fields=list(fields),
                       aggregations=list(aggregations), ttl=ttl)


def _query(view: FeatureView, *, apply_ttl: bool = True) -> ViewQuery:
    """Every feature of ``view``."""
    return ViewQuery(view, tuple(view.feature_names), apply_ttl)


def _entities(times: Sequence[datetime], **keys: Sequence[Any]) -> pa.Table:
    """The entity table an engine receives: row numbers, UTC times and typed keys."""
    columns: dict[str, pa.Array] = {ROW: pa.array(range(len(times)), pa.int64()),
                                    TIME: pa.array(times, _TIMESTAMP)}
    for name, values in keys.items():
        strings = bool(values) and isinstance(values[0], str)
        columns[name] = pa.array(values, pa.string() if strings else pa.int64())
    return pa.table(columns)


def _historical(engine: OfflineEngine, queries: ViewQuery | list[ViewQuery],
                times: Sequence[datetime], *, as_of_created: bool = True,
                **keys: Sequence[Any]) -> pa.Table:
    """Run ``historical`` and check the result has exactly one row per entity row, in order."""
    entities = _entities(times, **keys)
    result = engine.historical(entities, queries if isinstance(queries, list) else [queries],
                               as_of_created)
    expect_equal(result[ROW].to_pylist(), entities[ROW].to_pylist(),
                 f"{ROW} of the result (one row per entity row, in their order)")
    return result


def _close(got: float | None, expected: float | None) -> bool:
    """Equal up to floating-point rounding; a null only equals a null."""
    if got is None or expected is None:
        return got is expected
    return abs(got - expected) <= 1e-9 * max(1.0, abs(expected))


def _values(result: pa.Table, view: str, feature: str) -> list[Any]:
    """One feature column of an engine result as Python values (nulls as None)."""
    return result[feature_column(view, feature)].to_pylist()


def _expect_x(engine: OfflineEngine, query: ViewQuery, times: Sequence[datetime],
              keys: Sequence[int], expected: Sequence[Any], what: str, *,
              as_of_created: bool = True) -> None:
    """Feature ``x`` of ``query``'s view for users ``keys`` at ``times`` is ``expected``."""
    result = _historical(engine, query, times, as_of_created=as_of_created, user_id=keys)
    expect_equal(_values(result, query.view.name, "x"), list(expected), what)


# -- plain fields -------------------------------------------------------------------------------


def check_ttl_bounds_are_inclusive(factory: OfflineEngineFactory) -> None:
    """A row matches when ``t - ttl <= event_ts <= t``; one microsecond outside, it does not."""
    with _fresh(factory) as (engine, base):
        view = _view(_source(base, {"user_id": [1, 2], "ts": [T0, T0 - US], "x": [1.0, 2.0]}),
                     ttl="1h")
        times = [T0 + HOUR, T0 + HOUR, T0 + HOUR + US, T0, T0 - US]
        result = _historical(engine, _query(view), times, user_id=[1, 2, 1, 1, 1])
        expect_equal(_values(result, "v", "x"), [1.0, None, None, 1.0, None],
                     "x at t = event + ttl, older than ttl, just expired, t = event, before it")
        expect_equal(result[timestamp_column("v")].to_pylist(), [T0, None, None, T0, None],
                     "event time of the matched rows")


def check_apply_ttl_false_keeps_expired_rows(factory: OfflineEngineFactory) -> None:
    """``apply_ttl=False`` ignores the ttl but still never looks into the future."""
    with _fresh(factory) as (engine, base):
        view = _view(_source(base, {"user_id": [1], "ts": [T0], "x": [1.0]}), ttl="1h")
        _expect_x(engine, _query(view, apply_ttl=False), [T0 + timedelta(days=400), T0 - US],
                  [1, 1], [1.0, None], "x a year after the ttl ran out, and before the event")


def check_latest_event_wins(factory: OfflineEngineFactory) -> None:
    """Among matching rows the latest event time wins, whatever the order of the source."""
    with _fresh(factory) as (engine, base):
        source = _source(base, {"user_id": [1, 1, 1, 1], "ts": [T0 + 2 * HOUR, T0, T0 + HOUR,
                                                                 T0 + 3 * HOUR],
                                "x": [3.0, 1.0, 2.0, None]})
        _expect_x(engine, _query(_view(source)),
                  [T0 + 90 * MINUTE, T0 + 2 * HOUR, T0 + 3 * HOUR - US, T0 + 3 * HOUR],
                  [1, 1, 1, 1], [2.0, 3.0, 3.0, None],
                  "x between events, at an event, and at a latest row whose value is null")


def check_created_time_hides_later_rows(factory: OfflineEngineFactory) -> None:
    """With ``as_of_created`` a backfill is invisible before its created time; without, it is
    visible from its event time (Feast's rule)."""
    with _fresh(factory) as (engine, base):
        query = _query(_view(_source(base, {
            "user_id": [1, 1], "ts": [T0, T0 + HOUR], "created": [T0, T0 + 10 * HOUR],
            "x": [1.0, 2.0]})))
        times = [T0 + 2 * HOUR, T0 + 10 * HOUR - US, T0 + 10 * HOUR]
        _expect_x(engine, query, times, [1, 1, 1], [1.0, 1.0, 2.0],
                  "x around a backfill's created time, as_of_created=True")
        _expect_x(engine, query, times, [1, 1, 1], [2.0, 2.0, 2.0],
                  "x around a backfill's created time, as_of_created=False", as_of_created=False)


def check_ties_go_to_the_latest_created(factory: OfflineEngineFactory) -> None:
    """Equal event times are decided by the latest created time; a null created time counts
    as the event time."""
    with _fresh(factory) as (engine, base):
        # users 1 and 3 hold the same tie in opposite file orders; user 2 a null created time
        query = _query(_view(_source(base, {
            "user_id": [1, 1, 2, 2, 3, 3], "ts": [T0] * 6,
            "created": [T0 + 2 * MINUTE, T0 + MINUTE, None, T0 - MINUTE, T0 + MINUTE,
                        T0 + 2 * MINUTE],
            "x": [2.0, 1.0, 3.0, 4.0, 1.0, 2.0]})))
        for as_of_created in (True, False):
            _expect_x(engine, query, [T0 + HOUR] * 3, [1, 2, 3], [2.0, 3.0, 2.0],
                      f"x of tied rows, as_of_created={as_of_created}",
                      as_of_created=as_of_created)
        _expect_x(engine, query, [T0 + 90 * timedelta(seconds=1), T0, T0 + MINUTE], [1, 2, 3],
                  [1.0, 3.0, 1.0], "x of tied rows when only some of them were created yet")


def check_latest_visible_row_with_late_rows(factory: OfflineEngineFactory) -> None:
    """The value at t comes from the latest row *visible* at t, which need not be the latest
    event before t; the ttl still applies to that row's event time."""
    with _fresh(factory) as (engine, base):
        source = _source(base, {"user_id": [1, 1, 1],
                                "ts": [T0, T0 + HOUR, T0 + 30 * MINUTE],
                                "created": [T0, T0 + 5 * HOUR, T0 + 2 * HOUR],
                                "x": [1.0, 2.0, 3.0]})
        times = [T0 + HOUR, T0 + 2 * HOUR, T0 + 4 * HOUR, T0 + 5 * HOUR]
        _expect_x(engine, _query(_view(source)), times, [1] * 4, [1.0, 3.0, 3.0, 2.0],
                  "x while rows arrive late")
        _expect_x(engine, _query(_view(source, ttl="2h")), times, [1] * 4,
                  [1.0, 3.0, None, None], "x while rows arrive late, with a 2h ttl")


def check_several_views_and_keys(factory: OfflineEngineFactory) -> None:
    """One call joins views with different entities, string keys and a two-entity key."""
    merchant = Entity("merchant", "string")
    with _fresh(factory) as (engine, base):
        users = _view(_source(base, {"user_id": [1, 2], "ts": [T0, T0], "x": [1.0, 2.0]},
                              path="users.parquet"), name="users")
        merchants = _view(_source(base, {"merchant": ["a", "A"], "ts": [T0, T0],
                                         "x": [10.0, 20.0]}, path="merchants.parquet"),
                          name="merchants", entities=[merchant])
        pairs = _view(_source(base, {"user_id": [1, 1, 2], "merchant": ["a", "b", "a"],
                                     "ts": [T0] * 3, "x": [11.0, 12.0, 21.0]},
                              path="pairs.parquet"), name="pairs", entities=[_USER, merchant])
        result = _historical(engine, [_query(users), _query(merchants), _query(pairs)], [T0] * 4,
                             user_id=[2, 1, 1, 3], merchant=["a", "b", "A", "a"])
        expect_equal(_values(result, "users", "x"), [2.0, 1.0, 1.0, None], "users:x")
        expect_equal(_values(result, "merchants", "x"), [10.0, None, 20.0, 10.0],
                     "merchants:x (string keys are case-sensitive)")
        expect_equal(_values(result, "pairs", "x"), [21.0, 12.0, None, None],
                     "pairs:x (keyed by user and merchant)")


def check_row_order_and_duplicates(factory: OfflineEngineFactory) -> None:
    """Many shuffled entity rows, duplicates included, come back one for one, in order."""
    rng = random.Random(0)
    keys = [rng.randrange(40) for _ in range(3_000)]
    times = [T0 + rng.randrange(-3, 3) * HOUR for _ in keys]
    with _fresh(factory) as (engine, base):
        source = _source(base, {"user_id": list(range(20)), "ts": [T0] * 20,
                                "x": [float(k) for k in range(20)]})
        expected = [float(k) if k < 20 and t >= T0 else None
                    for k, t in zip(keys, times, strict=True)]
        _expect_x(engine, _query(_view(source)), times, keys, expected,
                  "x of 3000 shuffled entity rows")


def check_empty_entity_table(factory: OfflineEngineFactory) -> None:
    """No entity rows give an empty result that still has every feature column."""
    with _fresh(factory) as (engine, base):
        view = _view(_source(base, {"user_id": [1], "ts": [T0], "x": [1.0]}),
                     aggregations=[Aggregation("x", "count", "1h")])
        entities = _entities([], user_id=[])
        result = engine.historical(entities, [_query(view)], True)
        expect_equal(result.num_rows, 0, "rows of the result")
        for name in (feature_column("v", "x"), feature_column("v", "x_count_1h")):
            expect(name in result.column_names, f"the empty result has no column {name!r}")


def check_historical_without_queries(factory: OfflineEngineFactory) -> None:
    """No queries (on-demand views of request values only) still give one row per entity."""
    with _fresh(factory) as (engine, _):
        result = _historical(engine, [], [T0, T0, T0 - HOUR], user_id=[1, 1, 2])
        expect_equal(result.column_names, [ROW], "columns of a result without queries")


def check_rows_without_event_time_are_ignored(factory: OfflineEngineFactory) -> None:
    """A source row with a null event time is never visible, whatever its created time."""
    with _fresh(factory) as (engine, base):
        view = _view(_source(base, {"user_id": [1, 1], "ts": [T0, None], "created": [T0, T0],
                                    "x": [1.0, 2.0]}),
                     aggregations=[Aggregation("x", "count", "1d")])
        for as_of_created in (True, False):
            result = _historical(engine, _query(view), [T0 + HOUR], user_id=[1],
                                 as_of_created=as_of_created)
            expect_equal((_values(result, "v", "x"), _values(result, "v", "x_count_1d")),
                         ([1.0], [1]), f"x and its count, as_of_created={as_of_created}")


def check_nanosecond_times_are_never_early(factory: OfflineEngineFactory) -> None:
    """Nanosecond source times (aware, or naive in a declared zone) count from the exact
    instant: a row 400ns after t is not visible at t, and is at the next microsecond."""
    nanos = (T0 - datetime(1970, 1, 1, tzinfo=UTC)) // US * 1_000 + 400
    paris = nanos + HOUR // US * 1_000  # the same instant on the wall clocks of Paris
    cases = [("aware", pa.array([nanos], pa.timestamp("ns", tz="UTC")), None),
             ("naive", pa.array([paris], pa.timestamp("ns")), "Europe/Paris")]
    for what, ts, timezone in cases:
        with _fresh(factory) as (engine, base):
            view = _view(_source(base, {"user_id": [1], "ts": ts, "x": [1.0]},
                                 timezone=timezone),
                         aggregations=[Aggregation("x", "count", "1h")])
            result = _historical(engine, _query(view), [T0, T0 + US], user_id=[1, 1])
            expect_equal(_values(result, "v", "x"), [None, 1.0],
                         f"x around a row 400ns after T0 ({what} nanoseconds)")
            expect_equal(_values(result, "v", "x_count_1h"), [0, 1],
                         f"its count over 1h ({what} nanoseconds)")


def check_declared_source_timezone(factory: OfflineEngineFactory) -> None:
    """Naive source times are read in the source's declared zone, daylight saving included."""
    with _fresh(factory) as (engine, base):
        source = _source(base, {"user_id": [1, 1],
                                "ts": [datetime(2024, 1, 1, 12), datetime(2024, 7, 1, 12)],
                                "x": [1.0, 2.0]}, timezone="Europe/Paris")
        winter, summer = datetime(2024, 1, 1, 11, tzinfo=UTC), datetime(2024, 7, 1, 10, tzinfo=UTC)
        _expect_x(engine, _query(_view(source)), [winter - US, winter, summer - US, summer],
                  [1] * 4, [None, 1.0, 1.0, 2.0], "x around noon in Paris, winter and summer")


# -- windowed aggregations ----------------------------------------------------------------------


def check_window_bounds(factory: OfflineEngineFactory) -> None:
    """A window at t covers ``t - window < event_ts <= t``; an empty one counts 0."""
    with _fresh(factory) as (engine, base):
        view = _view(_source(base, {"user_id": [1, 1, 1], "ts": [T0, T0 + 30 * MINUTE, T0 + HOUR],
                                    "x": [1.0, 2.0, 4.0]}), fields=[],
                     aggregations=[Aggregation("x", "sum", "1h"), Aggregation("x", "count", "1h"),
                                   Aggregation("x", "sum", "30m")])
        times = [T0 + HOUR, T0 + HOUR - US, T0 + 2 * HOUR, T0 - US, T0 + HOUR]
        result = _historical(engine, _query(view), times, user_id=[1, 1, 1, 1, 9])
        expect_equal(_values(result, "v", "x_sum_1h"), [6.0, 3.0, None, None, None], "x_sum_1h")
        expect_equal(_values(result, "v", "x_count_1h"), [2, 2, 0, 0, 0], "x_count_1h")
        expect_equal(_values(result, "v", "x_sum_30m"), [4.0, 2.0, None, None, None],
                     "x_sum_30m (a narrower window of the same view)")


def check_aggregate_functions(factory: OfflineEngineFactory) -> None:
    """Every function ignores nulls; ``std`` is the sample std; ``last`` breaks event-time ties
    by the created time; ``count`` is int64 and the others float64."""
    with _fresh(factory) as (engine, base):
        # user 1: 1, 4, 2 and a later null; user 2: one value; users 3 and 4: a tie on event
        # time (in opposite file orders) that the created time decides for ``last``
        view = _view(_source(base, {
            "user_id": [1, 1, 1, 1, 2, 3, 3, 4, 4],
            "ts": [T0, T0 + MINUTE, T0 + 2 * MINUTE, T0 + 3 * MINUTE, T0, T0, T0, T0, T0],
            "created": [T0] * 5 + [T0 + 2 * MINUTE, T0 + MINUTE, T0 + MINUTE, T0 + 2 * MINUTE],
            "x": [1.0, 4.0, 2.0, None, 5.0, 7.0, 6.0, 6.0, 7.0]}),
            fields=[], aggregations=[Aggregation("x", f, "1d") for f in _FUNCTIONS])
        result = _historical(engine, _query(view), [T0 + HOUR] * 4, user_id=[1, 2, 3, 4])
        expected = {"count": [3, 1, 2, 2], "sum": [7.0, 5.0, 13.0, 13.0],
                    "mean": [7 / 3, 5.0, 6.5, 6.5], "min": [1.0, 5.0, 6.0, 6.0],
                    "max": [4.0, 5.0, 7.0, 7.0], "std": [(7 / 3) ** 0.5, None, 0.5 ** 0.5,
                                                         0.5 ** 0.5],
                    "last": [2.0, 5.0, 7.0, 7.0]}
        for function, values in expected.items():
            column = result[feature_column("v", f"x_{function}_1d")]
            expect_equal(column.type, pa.int64() if function == "count" else pa.float64(),
                         f"type of {function}")
            got = column.to_pylist()
            expect(len(got) == len(values) and all(map(_close, got, values)),
                   f"{function}: expected {values!r}, got {got!r}")


def check_aggregations_count_only_created_rows(factory: OfflineEngineFactory) -> None:
    """With ``as_of_created`` a window leaves out events not created by t; without, it
    counts them."""
    with _fresh(factory) as (engine, base):
        view = _view(_source(base, {"user_id": [1, 1, 1], "ts": [T0, T0 + MINUTE, T0 + MINUTE],
                                    "created": [T0, T0 + 2 * HOUR, None], "x": [1.0, 10.0, 100.0]}),
                     fields=[], aggregations=[Aggregation("x", "sum", "1d")])
        for as_of_created, total in ((True, 101.0), (False, 111.0)):
            result = _historical(engine, _query(view), [T0 + HOUR], user_id=[1],
                                 as_of_created=as_of_created)
            expect_equal(_values(result, "v", "x_sum_1d"), [total],
                         f"x_sum_1d, as_of_created={as_of_created}")


# -- materialization and sources ----------------------------------------------------------------


def check_keys_to_materialize(factory: OfflineEngineFactory) -> None:
    """Keys whose row became visible in ``(start, end]`` (each once); for a view with
    aggregations, every key with a row visible by ``end``."""
    start, end = T0 + 30 * MINUTE, T0 + 3 * HOUR
    with _fresh(factory) as (engine, base):
        source = _source(base, {
            "user_id": [1, 2, 2, 3, 4, 5],
            "ts": [T0, T0 + HOUR, T0 + 2 * HOUR, T0, end, end + US],
            "created": [T0, None, None, T0 + 2 * HOUR, end, end + US],
            "x": [1.0] * 6})
        plain, windowed = _view(source), _view(source, fields=[],
                                               aggregations=[Aggregation("x", "sum", "1h")])
        cases = [(plain, start, True, [2, 3, 4]), (plain, start, False, [2, 4]),
                 (plain, None, True, [1, 2, 3, 4]), (windowed, start, True, [1, 2, 3, 4]),
                 (windowed, start, False, [1, 2, 3, 4])]
        for view, since, as_of_created, expected in cases:
            keys = engine.keys_to_materialize(view, since, end, as_of_created)
            expect_equal(sorted(keys["user_id"].to_pylist()), expected,
                         f"keys of a view with {'aggregations' if view.aggregations else 'fields'}"
                         f" from {since} to {end}, as_of_created={as_of_created}")


def check_source_columns(factory: OfflineEngineFactory) -> None:
    """``source_columns`` maps each column to its skewless dtype."""
    with _fresh(factory) as (engine, base):
        pq.write_table(pa.table({
            "i32": pa.array([1], pa.int32()), "i64": pa.array([1], pa.int64()),
            "f32": pa.array([1.0], pa.float32()), "f64": pa.array([1.0], pa.float64()),
            "s": pa.array(["a"]), "b": pa.array([True]), "ts": pa.array([T0], _TIMESTAMP),
            "naive": pa.array([datetime(2024, 1, 1)], pa.timestamp("us")),
            "ts_ns": pa.array([T0], pa.timestamp("ns", tz="UTC")),
            "naive_ns": pa.array([datetime(2024, 1, 1)], pa.timestamp("ns")),
            "day": pa.array([T0.date()], pa.date32())}), base / "typed.parquet")
        columns = engine.source_columns(Source("typed.parquet", "ts"))
        other = columns.pop("day", "")
        expect(other.startswith("other:"), f"dtype of a date column: expected 'other:…', "
                                           f"got {other!r}")
        expect_equal(columns, {"i32": "int64", "i64": "int64", "f32": "float64",
                               "f64": "float64", "s": "string", "b": "bool", "ts": "timestamp",
                               "naive": "timestamp_naive", "ts_ns": "timestamp",
                               "naive_ns": "timestamp_naive"}, "source columns")


def check_unreadable_sources_raise_source_error(factory: OfflineEngineFactory) -> None:
    """A missing file, a glob matching nothing and a source without rows raise SourceError."""
    with _fresh(factory) as (engine, base):
        pq.write_table(pa.table({"user_id": pa.array([], pa.int64()),
                                 "ts": pa.array([], _TIMESTAMP)}), base / "empty.parquet")
        for path in ("missing.parquet", "nothing/*.parquet", "empty.parquet"):
            try:
                engine.source_columns(Source(path, "ts"))
            except SourceError:
                continue
            except Exception as exc:
                raise AssertionError(f"source {path!r}: expected SourceError, got "
                                     f"{type(exc).__name__}: {exc}") from exc
            raise AssertionError(f"source {path!r}: expected SourceError, nothing was raised")


OFFLINE_ENGINE_CHECKS: list[Callable[[OfflineEngineFactory], None]] = [
    check_ttl_bounds_are_inclusive,
    check_apply_ttl_false_keeps_expired_rows,
    check_latest_event_wins,
    check_created_time_hides_later_rows,
    check_ties_go_to_the_latest_created,
    check_latest_visible_row_with_late_rows,
    check_several_views_and_keys,
    check_row_order_and_duplicates,
    check_empty_entity_table,
    check_historical_without_queries,
    check_rows_without_event_time_are_ignored,
    check_nanosecond_times_are_never_early,
    check_declared_source_timezone,
    check_window_bounds,
    check_aggregate_functions,
    check_aggregations_count_only_created_rows,
    check_keys_to_materialize,
    check_source_columns,
    check_unreadable_sources_raise_source_error,
]
"""Every offline-engine check, in the order ``check_offline_engine`` runs them."""


def check_offline_engine(make_engine: OfflineEngineFactory) -> None:
    """Run every check of ``OFFLINE_ENGINE_CHECKS`` on engines made by ``make_engine``.

    ``make_engine(base_dir)`` must return a fresh engine that resolves relative source paths
    against ``base_dir``. Raises ``AssertionError`` listing every check that failed and why.
    """
    run_checks("offline engine", OFFLINE_ENGINE_CHECKS, make_engine)
