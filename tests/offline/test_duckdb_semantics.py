"""The time semantics of DESIGN.md, one edge case per test, through the public FeatureStore API.

Every test writes a handful of hand-made rows into a fresh project and checks the exact values
``get_historical_features`` returns (nulls as ``None``, read from Arrow so nothing is coerced).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.offline.reference import AggregationSpec, Row, historical

import skewless as sk
from skewless.errors import (
    DefinitionError,
    FeatureNotFoundError,
    SourceSchemaError,
    TimestampError,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
USER = sk.Entity("user_id")
MERCHANT = sk.Entity("merchant_id")
X = sk.Field("x", "float64")
ALL_FUNCTIONS = ("count", "sum", "mean", "min", "max", "std", "last")


def write_source(store: sk.FeatureStore, path: str, columns: Mapping[str, Sequence[Any]]) -> str:
    """Write ``columns`` as a Parquet file inside the project; returns its relative path."""
    target = store.path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(dict(columns)), target)
    return path


def apply_view(
    store: sk.FeatureStore,
    columns: Mapping[str, Sequence[Any]],
    *,
    name: str = "v",
    entities: Sequence[sk.Entity] = (USER,),
    fields: Sequence[sk.Field] = (X,),
    aggregations: Sequence[sk.Aggregation] = (),
    ttl: str | timedelta | None = None,
) -> sk.FeatureView:
    """Write ``columns`` (event time ``ts``, optional ``created``) and apply a view over them."""
    path = write_source(store, f"{name}.parquet", columns)
    created = "created" if "created" in columns else None
    view = sk.FeatureView(name, list(entities), sk.Source(path, "ts", created=created),
                          fields=list(fields), aggregations=list(aggregations), ttl=ttl)
    store.apply([*entities, view])
    return view


def entity_frame(keys: Sequence[Any], times: Sequence[datetime], key: str = "user_id",
                 **extra: Sequence[Any]) -> pd.DataFrame:
    """An entity frame with one key column, ``event_timestamp`` and any extra columns."""
    return pd.DataFrame({key: list(keys), "event_timestamp": pd.to_datetime(list(times)),
                         **{name: list(values) for name, values in extra.items()}})


def fetch(store: sk.FeatureStore, frame: pd.DataFrame, features: Sequence[str],
          **kwargs: Any) -> dict[str, list[Any]]:
    """The result as plain Python lists per column (Arrow nulls become ``None``)."""
    return store.get_historical_features(frame, list(features), **kwargs).to_arrow().to_pydict()


def fetch_x(store: sk.FeatureStore, keys: Sequence[Any], times: Sequence[datetime],
            **kwargs: Any) -> list[Any]:
    """Feature ``v:x`` for the given user ids and times."""
    return fetch(store, entity_frame(keys, times), ["v:x"], **kwargs)["x"]


# -- plain fields: time bounds ------------------------------------------------------------------


def test_ttl_lower_bound_is_inclusive(offline_store: sk.FeatureStore) -> None:
    apply_view(offline_store, {"user_id": [1, 2], "ts": [T0, T0 - US], "x": [1.0, 2.0]},
               ttl="1h")
    got = fetch_x(offline_store, [1, 2, 1], [T0 + HOUR, T0 + HOUR, T0 + HOUR + US])
    assert got == [1.0, None, None]


def test_upper_bound_is_inclusive(offline_store: sk.FeatureStore) -> None:
    apply_view(offline_store, {"user_id": [1], "ts": [T0], "x": [1.0]}, ttl="1h")
    assert fetch_x(offline_store, [1, 1], [T0, T0 - US]) == [1.0, None]


def test_future_rows_never_match(offline_store: sk.FeatureStore) -> None:
    apply_view(offline_store, {"user_id": [1, 1], "ts": [T0, T0 + 2 * HOUR], "x": [1.0, 2.0]})
    got = fetch_x(offline_store, [1, 1, 1], [T0 + HOUR, T0 + 2 * HOUR - US, T0 - HOUR])
    assert got == [1.0, 1.0, None]


def test_latest_event_wins_and_without_ttl_nothing_expires(
        offline_store: sk.FeatureStore) -> None:
    apply_view(offline_store, {"user_id": [1, 1, 1],
                               "ts": [T0 + 2 * HOUR, T0, T0 + HOUR],
                               "x": [3.0, 1.0, 2.0]})
    got = fetch_x(offline_store, [1, 1], [T0 + 90 * MINUTE, T0 + timedelta(days=1000)])
    assert got == [2.0, 3.0]


def test_latest_row_wins_even_when_its_value_is_null(offline_store: sk.FeatureStore) -> None:
    apply_view(offline_store, {"user_id": [1, 1], "ts": [T0, T0 + HOUR], "x": [1.0, None]})
    assert fetch_x(offline_store, [1, 1], [T0 + 30 * MINUTE, T0 + HOUR]) == [1.0, None]


# -- plain fields: created (processing) time ----------------------------------------------------


@pytest.mark.parametrize("as_of_created", [True, False])
def test_ties_on_event_time_go_to_the_latest_created(offline_store: sk.FeatureStore,
                                                     as_of_created: bool) -> None:
    # the same tie for users 1 and 2, in opposite file orders
    apply_view(offline_store, {"user_id": [1, 1, 2, 2], "ts": [T0] * 4,
                               "created": [T0 + 2 * MINUTE, T0 + MINUTE, T0 + MINUTE,
                                           T0 + 2 * MINUTE],
                               "x": [2.0, 1.0, 1.0, 2.0]})
    got = fetch_x(offline_store, [1, 2], [T0 + HOUR] * 2, as_of_created=as_of_created)
    assert got == [2.0, 2.0]


@pytest.mark.parametrize(("as_of_created", "expected"),
                         [(True, [1.0, 1.0, 2.0]), (False, [2.0, 2.0, 2.0])])
def test_backfill_is_invisible_before_it_was_created(
        offline_store: sk.FeatureStore, as_of_created: bool, expected: list[float]) -> None:
    apply_view(offline_store, {"user_id": [1, 1], "ts": [T0, T0 + HOUR],
                               "created": [T0, T0 + 10 * HOUR], "x": [1.0, 2.0]})
    got = fetch_x(offline_store, [1, 1, 1], [T0 + 2 * HOUR, T0 + 10 * HOUR - US, T0 + 10 * HOUR],
                  as_of_created=as_of_created)
    assert got == expected


@pytest.mark.parametrize(("as_of_created", "expected"),
                         [(True, [1.0, 1.0, None]), (False, [1.0, 2.0, 2.0])])
def test_ttl_applies_to_the_event_time_of_visible_rows(
        offline_store: sk.FeatureStore, as_of_created: bool, expected: list[Any]) -> None:
    # At T0+3h the old row has expired and the newer one is not created yet: no value.
    apply_view(offline_store, {"user_id": [1, 1], "ts": [T0, T0 + HOUR],
                               "created": [T0, T0 + 5 * HOUR], "x": [1.0, 2.0]}, ttl="2h")
    got = fetch_x(offline_store, [1, 1, 1], [T0 + HOUR - US, T0 + 2 * HOUR, T0 + 3 * HOUR],
                  as_of_created=as_of_created)
    assert got == expected


def test_null_created_means_created_at_event_time(offline_store: sk.FeatureStore) -> None:
    # user 1: the null-created row is visible at once; the tie goes to the later created row
    # once that exists. user 2: a null created (= T0) beats a created time before T0.
    apply_view(offline_store, {"user_id": [1, 1, 2, 2], "ts": [T0, T0, T0, T0],
                               "created": [None, T0 + MINUTE, None, T0 - MINUTE],
                               "x": [1.0, 2.0, 3.0, 4.0]})
    got = fetch_x(offline_store, [1, 1, 2], [T0, T0 + MINUTE, T0 + HOUR])
    assert got == [1.0, 2.0, 3.0]


# -- the entity frame ---------------------------------------------------------------------------


def test_rows_keep_order_duplicates_and_unmatched_get_nulls(
        offline_store: sk.FeatureStore) -> None:
    rng = random.Random(7)
    rows = [Row((key,), T0 + hour * HOUR, None, {"x": float(10 * key + hour)})
            for key in (1, 2, 3) for hour in range(0, 12, key)]
    rng.shuffle(rows)
    apply_view(offline_store, {"user_id": [r.key[0] for r in rows], "ts": [r.ts for r in rows],
                               "x": [r.values["x"] for r in rows]}, ttl="3h")
    entities = [((rng.randint(0, 5),), T0 + rng.randint(-2, 16) * HOUR) for _ in range(30)]
    entities += entities[:5] + [((2,), T0 + 5 * HOUR)] * 3
    rng.shuffle(entities)
    frame = entity_frame([k[0] for k, _ in entities], [t for _, t in entities])
    got = fetch(offline_store, frame, ["v:x"])
    assert got["user_id"] == frame["user_id"].tolist()
    assert got["event_timestamp"] == [t for _, t in entities]
    assert got["x"] == historical(rows, entities, fields=["x"], ttl=3 * HOUR)["x"]
    assert None in got["x"]
    assert sum(x is not None for x in got["x"]) > 10


def test_extra_entity_columns_are_kept_first_as_given(offline_store: sk.FeatureStore) -> None:
    apply_view(offline_store, {"user_id": [1], "ts": [T0], "x": [1.0]})
    frame = pd.DataFrame({"label": [1, 0, 1], "event_timestamp": [T0, T0 - US, T0 + HOUR],
                          "note": ["a", None, "c"], "user_id": [1, 1, 2]})
    result = offline_store.get_historical_features(frame, ["v:x"]).to_pandas()
    assert list(result.columns) == ["label", "event_timestamp", "note", "user_id", "x"]
    pd.testing.assert_frame_equal(result[frame.columns], frame)
    assert result["x"].tolist()[0] == 1.0
    assert result["x"].isna().tolist() == [False, True, True]


def test_naive_entity_timestamps_are_rejected(offline_store: sk.FeatureStore) -> None:
    apply_view(offline_store, {"user_id": [1], "ts": [T0], "x": [1.0]})
    frame = pd.DataFrame({"user_id": [1], "event_timestamp": [datetime(2024, 1, 1)]})
    with pytest.raises(TimestampError, match="time zone"):
        offline_store.get_historical_features(frame, ["v:x"])


def test_aware_entity_timestamps_in_any_zone_are_compared_in_utc(
        offline_store: sk.FeatureStore) -> None:
    apply_view(offline_store, {"user_id": [1, 1], "ts": [T0 + 90 * MINUTE, T0 + 150 * MINUTE],
                               "x": [1.0, 2.0]})
    paris = ZoneInfo("Europe/Paris")
    # 03:00 in Paris is 02:00 UTC in winter; 03:30 in Paris is 02:30 UTC.
    times = [datetime(2024, 1, 1, 3, tzinfo=paris), datetime(2024, 1, 1, 3, 30, tzinfo=paris),
             datetime(2024, 1, 1, 2, 29, tzinfo=paris)]
    frame = pd.DataFrame({"user_id": [1, 1, 1],
                          "event_timestamp": pd.to_datetime(times).tz_convert(paris)})
    result = offline_store.get_historical_features(frame, ["v:x"]).to_arrow()
    assert result["x"].to_pylist() == [1.0, 2.0, None]
    assert result.schema.field("event_timestamp").type.tz == "Europe/Paris"


def test_naive_source_timestamps_are_rejected_without_a_timezone(
        offline_store: sk.FeatureStore) -> None:
    path = write_source(offline_store, "naive.parquet",
                        {"user_id": [1], "ts": [datetime(2024, 1, 1)], "x": [1.0]})
    view = sk.FeatureView("v", [USER], sk.Source(path, "ts"), fields=[X])
    with pytest.raises(SourceSchemaError, match="time zone"):
        offline_store.apply([USER, view])


def test_naive_source_timestamps_are_read_in_the_declared_zone(
        offline_store: sk.FeatureStore) -> None:
    # Noon in Paris is 11:00 UTC in winter and 10:00 UTC in summer (daylight saving time).
    path = write_source(offline_store, "naive.parquet", {
        "user_id": [1, 1], "ts": [datetime(2024, 1, 1, 12), datetime(2024, 7, 1, 12)],
        "x": [1.0, 2.0]})
    view = sk.FeatureView("v", [USER], sk.Source(path, "ts", timezone="Europe/Paris"),
                          fields=[X])
    offline_store.apply([USER, view])
    winter, summer = datetime(2024, 1, 1, 11, tzinfo=UTC), datetime(2024, 7, 1, 10, tzinfo=UTC)
    got = fetch_x(offline_store, [1] * 4, [winter - US, winter, summer - US, summer])
    assert got == [None, 1.0, 1.0, 2.0]


# -- several views and entities -----------------------------------------------------------------


def test_views_with_different_entities_in_one_call(offline_store: sk.FeatureStore) -> None:
    apply_view(offline_store, {"user_id": [1, 2], "ts": [T0, T0], "x": [1.0, 2.0]}, name="users")
    apply_view(offline_store, {"merchant_id": [1, 2], "ts": [T0, T0 + HOUR], "y": [10, 20]},
               name="merchants", entities=[MERCHANT], fields=[sk.Field("y", "int64")])
    frame = pd.DataFrame({"user_id": [2, 1, 3], "merchant_id": [1, 2, 2],
                          "event_timestamp": [T0 + 2 * HOUR, T0 + 2 * HOUR, T0]})
    got = fetch(offline_store, frame, ["users:x", "merchants:y"])
    assert got["x"] == [2.0, 1.0, None]
    assert got["y"] == [10, 20, None]


def test_view_with_two_entities_joins_on_both_keys(offline_store: sk.FeatureStore) -> None:
    apply_view(offline_store, {"user_id": [1, 1, 2, 1], "merchant_id": [1, 2, 1, 1],
                               "ts": [T0, T0, T0, T0 + HOUR], "x": [11.0, 12.0, 21.0, 110.0]},
               entities=[USER, MERCHANT])
    frame = pd.DataFrame({"user_id": [1, 1, 2, 2, 1], "merchant_id": [1, 2, 1, 2, 1],
                          "event_timestamp": [T0] * 4 + [T0 + HOUR]})
    assert fetch(offline_store, frame, ["v:x"])["x"] == [11.0, 12.0, 21.0, None, 110.0]


def test_string_entity_keys_match_exactly(offline_store: sk.FeatureStore) -> None:
    email = sk.Entity("email", "string")
    apply_view(offline_store, {"email": ["a@x", "A@x", "b@x"], "ts": [T0] * 3,
                               "x": [1.0, 2.0, 3.0]}, entities=[email])
    frame = entity_frame(["b@x", "a@x", "A@x", "c@x", "a@x "], [T0] * 5, key="email")
    assert fetch(offline_store, frame, ["v:x"])["x"] == [3.0, 1.0, 2.0, None, None]


# -- windowed aggregations ----------------------------------------------------------------------


def test_window_excludes_its_start_and_includes_its_end(offline_store: sk.FeatureStore) -> None:
    aggregations = [sk.Aggregation("x", "sum", "1h"), sk.Aggregation("x", "count", "1h")]
    apply_view(offline_store, {"user_id": [1, 1, 1], "ts": [T0, T0 + 30 * MINUTE, T0 + HOUR],
                               "x": [1.0, 2.0, 4.0]}, fields=[], aggregations=aggregations)
    frame = entity_frame([1] * 4, [T0 + HOUR, T0 + HOUR - US, T0 + 2 * HOUR, T0 - US])
    got = fetch(offline_store, frame, ["v:x_sum_1h", "v:x_count_1h"])
    assert got["x_sum_1h"] == [6.0, 3.0, None, None]
    assert got["x_count_1h"] == [2, 2, 0, 0]


def test_empty_windows_count_zero_and_other_functions_are_null(
        offline_store: sk.FeatureStore) -> None:
    aggregations = [sk.Aggregation("x", f, "1d") for f in ALL_FUNCTIONS]
    apply_view(offline_store, {"user_id": [1], "ts": [T0], "x": [1.0]}, fields=[],
               aggregations=aggregations)
    names = [a.name for a in aggregations]
    result = offline_store.get_historical_features(
        entity_frame([7, 1], [T0, T0 - US]), [f"v:{n}" for n in names]).to_arrow()
    assert result.schema.field("x_count_1d").type == pa.int64()
    assert result["x_count_1d"].to_pylist() == [0, 0]
    for name in names[1:]:
        assert result.schema.field(name).type == pa.float64()
        assert result[name].to_pylist() == [None, None], name


def test_all_functions_ignore_nulls_and_std_is_the_sample_std(
        offline_store: sk.FeatureStore) -> None:
    aggregations = [sk.Aggregation("x", f, "1d") for f in ALL_FUNCTIONS]
    # user 1: values 1, 4, 2 and a later null; user 2: one value; users 3 and 4: the same tie
    # on event time (in opposite file orders), decided by the created time; user 5: only nulls
    apply_view(offline_store, {
        "user_id": [1, 1, 1, 1, 2, 3, 3, 4, 4, 5],
        "ts": [T0, T0 + MINUTE, T0 + 2 * MINUTE, T0 + 3 * MINUTE] + [T0] * 6,
        "created": [T0] * 5 + [T0 + 2 * MINUTE, T0 + MINUTE, T0 + MINUTE, T0 + 2 * MINUTE, T0],
        "x": [1.0, 4.0, 2.0, None, 5.0, 7.0, 6.0, 6.0, 7.0, None]},
        fields=[], aggregations=aggregations)
    got = fetch(offline_store, entity_frame([1, 2, 3, 4, 5], [T0 + HOUR] * 5),
                [f"v:{a.name}" for a in aggregations])
    tie = (2, 13.0, 6.5, 6.0, 7.0, math.sqrt(0.5), 7.0)
    expected = [(3, 7.0, 7 / 3, 1.0, 4.0, math.sqrt(7 / 3), 2.0),
                (1, 5.0, 5.0, 5.0, 5.0, None, 5.0), tie, tie,
                (0, None, None, None, None, None, None)]
    rows = list(zip(*(got[a.name] for a in aggregations), strict=True))
    for user, (row, want) in enumerate(zip(rows, expected, strict=True), start=1):
        assert row == pytest.approx(want), f"user {user}: {row}"


@pytest.mark.parametrize(("as_of_created", "count", "total"), [(True, 1, 1.0), (False, 2, 11.0)])
def test_aggregations_count_only_events_created_by_then(
        offline_store: sk.FeatureStore, as_of_created: bool, count: int, total: float) -> None:
    aggregations = [sk.Aggregation("x", "count", "1d"), sk.Aggregation("x", "sum", "1d")]
    apply_view(offline_store, {"user_id": [1, 1], "ts": [T0, T0 + MINUTE],
                               "created": [T0, T0 + 2 * HOUR], "x": [1.0, 10.0]},
               fields=[], aggregations=aggregations)
    got = fetch(offline_store, entity_frame([1], [T0 + HOUR]), ["v:x_count_1d", "v:x_sum_1d"],
                as_of_created=as_of_created)
    assert (got["x_count_1d"], got["x_sum_1d"]) == ([count], [total])


# -- on-demand views, naming, errors ------------------------------------------------------------


def _ratio(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"ratio": columns["amount"] / columns["x"], "seen": columns["x_count_1d"] > 0}


def test_on_demand_view_computes_from_features_and_request_values(
        offline_store: sk.FeatureStore) -> None:
    apply_view(offline_store, {"user_id": [1, 2], "ts": [T0, T0], "x": [2.0, None]},
               aggregations=[sk.Aggregation("x", "count", "1d")])
    odfv = sk.OnDemandFeatureView("odfv", inputs=["v:x", "v:x_count_1d"],
                                  request_fields=[sk.Field("amount", "float64")],
                                  function=_ratio)
    offline_store.apply([odfv])
    frame = entity_frame([1, 2, 3, 1], [T0, T0, T0, T0 - US], amount=[5.0, 5.0, 5.0, 5.0])
    got = fetch(offline_store, frame, ["odfv:ratio", "odfv:seen"])
    assert got["ratio"] == [2.5, None, None, None]
    assert got["seen"] == [True, False, False, False]
    assert got["amount"] == [5.0] * 4


def test_on_demand_view_of_request_values_only(offline_store: sk.FeatureStore) -> None:
    odfv = sk.OnDemandFeatureView("fees", inputs=[], request_fields=[sk.Field("amount", "float64")],
                                  function=_fee, outputs=[sk.Field("fee", "float64")])
    offline_store.apply([odfv])
    frame = pd.DataFrame({"event_timestamp": [T0, T0], "amount": [10.0, None]})
    assert fetch(offline_store, frame, ["fees:fee"])["fee"] == [0.5, None]


def _fee(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"fee": columns["amount"] * 0.05}


def test_full_names_separate_features_of_the_same_name(offline_store: sk.FeatureStore) -> None:
    apply_view(offline_store, {"user_id": [1], "ts": [T0], "x": [1.0]}, name="a")
    apply_view(offline_store, {"user_id": [1], "ts": [T0], "x": [2.0]}, name="b")
    frame = entity_frame([1], [T0])
    with pytest.raises(DefinitionError, match="full_names=True"):
        fetch(offline_store, frame, ["a:x", "b:x"])
    got = fetch(offline_store, frame, ["a:x", "b:x"], full_names=True)
    assert list(got) == ["user_id", "event_timestamp", "a__x", "b__x"]
    assert (got["a__x"], got["b__x"]) == ([1.0], [2.0])


def test_unknown_feature_suggests_the_closest_name(offline_store: sk.FeatureStore) -> None:
    apply_view(offline_store, {"user_id": [1], "ts": [T0], "amount": [1.0]},
               fields=[sk.Field("amount", "float64")])
    with pytest.raises(FeatureNotFoundError, match="did you mean 'v:amount'"):
        fetch(offline_store, entity_frame([1], [T0]), ["v:amout"])


# -- source formats and empty input -------------------------------------------------------------


def test_rows_without_an_event_time_never_match(offline_store: sk.FeatureStore) -> None:
    apply_view(offline_store, {"user_id": [1, 1], "ts": [T0, None], "created": [T0, T0],
                               "x": [1.0, 2.0]}, aggregations=[sk.Aggregation("x", "count", "1d")])
    for as_of_created in (True, False):
        got = fetch(offline_store, entity_frame([1], [T0 + HOUR]), ["v:x", "v:x_count_1d"],
                    as_of_created=as_of_created)
        assert (got["x"], got["x_count_1d"]) == ([1.0], [1])


def test_nanosecond_source_times_are_never_seen_early(offline_store: sk.FeatureStore) -> None:
    # pandas 2 writes nanoseconds; DuckDB would round 400ns down and leak the row into T0.
    frame = pd.DataFrame({"user_id": [1],
                          "ts": pd.DatetimeIndex([T0]).as_unit("ns") + pd.Timedelta(400, "ns"),
                          "x": [1.0]})
    frame.to_parquet(offline_store.path / "v.parquet")
    view = sk.FeatureView("v", [USER], sk.Source("v.parquet", "ts"), fields=[X],
                          aggregations=[sk.Aggregation("x", "count", "1h")])
    offline_store.apply([USER, view])
    got = fetch(offline_store, entity_frame([1, 1], [T0, T0 + US]), ["v:x", "v:x_count_1h"])
    assert (got["x"], got["x_count_1h"]) == ([None, 1.0], [0, 1])


def test_csv_source(offline_store: sk.FeatureStore) -> None:
    (offline_store.path / "v.csv").write_text(
        "user_id,ts,x\n1,2024-01-01T00:00:00+00:00,1.5\n1,2024-01-01T02:00:00+01:00,2.5\n")
    view = sk.FeatureView("v", [USER], sk.Source("v.csv", "ts"), fields=[X])
    offline_store.apply([USER, view])
    assert fetch_x(offline_store, [1, 1, 1], [T0 - US, T0 + HOUR - US, T0 + HOUR]) == [
        None, 1.5, 2.5]


def test_glob_source_reads_every_file(offline_store: sk.FeatureStore) -> None:
    write_source(offline_store, "parts/part-0.parquet",
                 {"user_id": [1, 2], "ts": [T0, T0], "x": [1.0, 2.0]})
    write_source(offline_store, "parts/part-1.parquet",
                 {"user_id": [1], "ts": [T0 + HOUR], "x": [10.0]})
    view = sk.FeatureView("v", [USER], sk.Source("parts/*.parquet", "ts"), fields=[X])
    offline_store.apply([USER, view])
    assert fetch_x(offline_store, [1, 2, 1], [T0, T0 + HOUR, T0 + HOUR]) == [1.0, 2.0, 10.0]


def test_empty_entity_frame_gives_an_empty_result_with_every_column(
        offline_store: sk.FeatureStore) -> None:
    aggregations = [sk.Aggregation("x", "count", "1h"), sk.Aggregation("x", "mean", "1h")]
    apply_view(offline_store, {"user_id": [1], "ts": [T0], "x": [1.0]},
               aggregations=aggregations)
    frame = pd.DataFrame({"user_id": pd.Series([], dtype="int64"),
                          "event_timestamp": pd.Series([], dtype="datetime64[us, UTC]")})
    result = offline_store.get_historical_features(
        frame, ["v:x", "v:x_count_1h", "v:x_mean_1h"]).to_arrow()
    assert result.num_rows == 0
    assert result.schema.names == ["user_id", "event_timestamp", "x", "x_count_1h", "x_mean_1h"]
    assert [result.schema.field(n).type for n in result.schema.names[2:]] == [
        pa.float64(), pa.int64(), pa.float64()]


def test_reference_agrees_on_a_hand_checked_window() -> None:
    """The reference the property tests rely on gives the values worked out by hand above."""
    rows = [Row((1,), T0, None, {"x": 1.0}), Row((1,), T0 + 30 * MINUTE, None, {"x": 2.0}),
            Row((1,), T0 + HOUR, None, {"x": 4.0})]
    spec = AggregationSpec("x", "sum", HOUR, "s")
    got = historical(rows, [((1,), T0 + HOUR), ((1,), T0 + HOUR - US)], aggregations=[spec])
    assert got == {"s": [6.0, 3.0]}


def test_nanosecond_entity_times_are_floored_to_the_microsecond(
        offline_store: sk.FeatureStore) -> None:
    """An entity time 1 ns after a row's event time sees the row (never a raw Arrow error)."""
    rows = pa.table({"user_id": [1], "ts": pa.array([T0], pa.timestamp("us", tz="UTC")),
                     "x": [1.5]})
    pq.write_table(rows, offline_store.path / "ns.parquet")
    view = sk.FeatureView("ns_view", [sk.Entity("user_id")], sk.Source("ns.parquet", "ts"),
                          fields=[sk.Field("x", "float64")])
    offline_store.apply([view])
    times = pd.to_datetime([T0]).as_unit("ns") + pd.Timedelta(1, "ns")
    frame = pd.DataFrame({"user_id": [1], "event_timestamp": times})
    result = offline_store.get_historical_features(frame, ["ns_view:x"]).to_pandas()
    assert result["x"].tolist() == [1.5]
