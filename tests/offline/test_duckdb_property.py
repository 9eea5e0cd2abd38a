"""Property tests: the DuckDB engine, through ``get_historical_features``, against the reference.

Random histories use few keys and a coarse time grid, so ties, ttl and window boundaries are
hit often. One project serves every example: each example writes its own Parquet file and
re-applies the view over it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.offline.reference import AggregationSpec, Row, historical

import skewless as sk

T0 = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=10)
"""The time grid: every event, created and entity time is a multiple of it from T0."""
USER = sk.Entity("user_id")
FIELDS = (sk.Field("x", "float64"), sk.Field("n", "int64"), sk.Field("s", "string"))
TIMESTAMP = pa.timestamp("us", tz="UTC")
_files = itertools.count()

values = st.fixed_dictionaries({
    "x": st.none() | st.integers(-5, 5).map(float) | st.floats(-1e3, 1e3, allow_nan=False),
    "n": st.none() | st.integers(-3, 3),
    "s": st.none() | st.sampled_from(["a", "b", ""]),
})


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Row], bool]:
    """Source rows of keys 0..2 (entity rows also ask for 3), and whether they have a created
    column. With one, each (key, event time) gets up to three versions with distinct created
    times (null meaning the event time), so ties on event time are frequent.
    """
    has_created = draw(st.booleans())
    events = draw(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 8)),
                           min_size=3, max_size=24, unique=True))
    versions = st.lists(st.sampled_from([None, -1, 0, 1, 2, 4, 6]), min_size=1, max_size=3,
                        unique_by=lambda delay: delay or 0)
    rows = []
    for key, step in events:
        for delay in draw(versions) if has_created else [None]:
            rows.append(Row((key,), T0 + step * STEP,
                            None if delay is None else T0 + (step + delay) * STEP, draw(values)))
    return rows, has_created


entity_rows = st.lists(
    st.tuples(st.integers(0, 3).map(lambda key: (key,)),
              st.integers(-1, 11).map(lambda step: T0 + step * STEP)),
    min_size=1, max_size=20)
durations = st.integers(1, 8).map(lambda steps: steps * STEP)
aggregation_specs = st.lists(
    st.builds(lambda function, window: sk.Aggregation("x", function, window),
              st.sampled_from(["count", "sum", "mean", "min", "max", "std", "last"]), durations),
    min_size=1, max_size=5, unique_by=lambda a: a.name)


def _apply(store: sk.FeatureStore, rows: Sequence[Row], has_created: bool,
           **view_args: Any) -> None:
    """Write ``rows`` to a new Parquet file and (re-)apply view ``v`` over it."""
    path = f"history-{next(_files)}.parquet"
    columns: dict[str, pa.Array] = {
        "user_id": pa.array([row.key[0] for row in rows], pa.int64()),
        "ts": pa.array([row.ts for row in rows], TIMESTAMP),
        "x": pa.array([row.values["x"] for row in rows], pa.float64()),
        "n": pa.array([row.values["n"] for row in rows], pa.int64()),
        "s": pa.array([row.values["s"] for row in rows], pa.string()),
    }
    if has_created:
        columns["created"] = pa.array([row.created for row in rows], TIMESTAMP)
    pq.write_table(pa.table(columns), store.path / path)
    source = sk.Source(path, "ts", created="created" if has_created else None)
    store.apply([USER, sk.FeatureView("v", [USER], source, **view_args)])


def _fetch(store: sk.FeatureStore, entities: Sequence[tuple[tuple[int], datetime]],
           names: Sequence[str], as_of_created: bool) -> dict[str, list[Any]]:
    frame = pa.table({"user_id": pa.array([key[0] for key, _ in entities], pa.int64()),
                      "event_timestamp": pa.array([t for _, t in entities], TIMESTAMP)})
    result = store.get_historical_features(frame, [f"v:{name}" for name in names],
                                           as_of_created=as_of_created)
    return result.to_arrow().select(list(names)).to_pydict()


def _same(got: Any, expected: Any) -> bool:
    """Equal, with floats compared to a tolerance and nulls exactly."""
    if got is None or expected is None:
        return got is None and expected is None
    if isinstance(expected, float):
        return isinstance(got, float) and math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)
    return type(got) is type(expected) and got == expected


def _assert_matches(got: dict[str, list[Any]], expected: dict[str, list[Any]],
                    entities: Sequence[tuple[tuple[int], datetime]]) -> None:
    for name, column in expected.items():
        for i, (value, want) in enumerate(zip(got[name], column, strict=True)):
            assert _same(value, want), (
                f"{name} of entity row {i} {entities[i]}: got {value!r}, expected {want!r}")


@settings(max_examples=80, deadline=None)
@given(history=histories(), entities=entity_rows, ttl=st.none() | durations,
       as_of_created=st.booleans())
def test_plain_fields_match_the_reference(
        module_store: sk.FeatureStore, history: tuple[list[Row], bool],
        entities: list[tuple[tuple[int], datetime]], ttl: timedelta | None,
        as_of_created: bool) -> None:
    rows, has_created = history
    _apply(module_store, rows, has_created, fields=FIELDS, ttl=ttl)
    names = [f.name for f in FIELDS]
    expected = historical(rows, entities, fields=names, ttl=ttl, as_of_created=as_of_created)
    _assert_matches(_fetch(module_store, entities, names, as_of_created), expected, entities)


@settings(max_examples=80, deadline=None)
@given(history=histories(), entities=entity_rows, aggregations=aggregation_specs,
       as_of_created=st.booleans())
def test_aggregations_match_the_reference(
        module_store: sk.FeatureStore, history: tuple[list[Row], bool],
        entities: list[tuple[tuple[int], datetime]], aggregations: list[sk.Aggregation],
        as_of_created: bool) -> None:
    rows, has_created = history
    _apply(module_store, rows, has_created, aggregations=aggregations)
    specs = [AggregationSpec(a.column, a.function, a.span, a.name) for a in aggregations]
    expected = historical(rows, entities, aggregations=specs, as_of_created=as_of_created)
    _assert_matches(_fetch(module_store, entities, [s.name for s in specs], as_of_created),
                    expected, entities)


@settings(max_examples=60, deadline=None)
@given(history=histories(), entities=entity_rows, ttl=st.none() | durations,
       aggregations=aggregation_specs, as_of_created=st.booleans())
def test_fields_and_aggregations_of_one_view_together(
        module_store: sk.FeatureStore, history: tuple[list[Row], bool],
        entities: list[tuple[tuple[int], datetime]], ttl: timedelta | None,
        aggregations: list[sk.Aggregation], as_of_created: bool) -> None:
    rows, has_created = history
    _apply(module_store, rows, has_created, fields=FIELDS, aggregations=aggregations, ttl=ttl)
    specs = [AggregationSpec(a.column, a.function, a.span, a.name) for a in aggregations]
    names = [f.name for f in FIELDS]
    expected = historical(rows, entities, fields=names, aggregations=specs, ttl=ttl,
                          as_of_created=as_of_created)
    _assert_matches(_fetch(module_store, entities, [*names, *(s.name for s in specs)],
                           as_of_created), expected, entities)
