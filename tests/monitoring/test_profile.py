"""Reference profiles: bins equal NumPy's quantiles, counts equal brute force, samples are
seeded and order-independent, categories are ranked deterministically, and the JSON form
round-trips bit for bit (NaN and ±inf included) through ``json.dumps(allow_nan=False)``."""

from __future__ import annotations

import json
import math
import struct
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats

from skewless.errors import TrainingError
from skewless.monitoring import (
    FORMAT_VERSION,
    FeatureProfile,
    ReferenceProfile,
    build_profile,
    profile_values,
)


def _levels(bins: int) -> np.ndarray:
    return np.arange(1, bins) / bins


def _bits(value: float | None) -> bytes | None:
    return None if value is None else struct.pack("<d", value)


def _feature_bits(profile: FeatureProfile) -> list[Any]:
    """Every float of a profile as its IEEE-754 bytes (so NaN == NaN and -0.0 != 0.0)."""
    scalars = [_bits(getattr(profile, key)) for key in ("min", "max", "mean", "std", "median")]
    return [*scalars, [_bits(v) for v in profile.edges], [_bits(v) for v in profile.sample]]


def _json_round_trip(profile: ReferenceProfile) -> ReferenceProfile:
    text = json.dumps(profile.to_json(), allow_nan=False)
    return ReferenceProfile.from_json(json.loads(text))


@pytest.fixture(scope="module")
def mixed_table() -> pa.Table:
    """Floats with nulls, integers, strings with nulls, booleans with nulls, a dictionary."""
    rng = np.random.default_rng(7)
    n = 20_000
    floats = rng.normal(3.0, 2.0, n)
    float_mask = rng.random(n) < 0.05
    colours = rng.choice(["red", "green", "blue", "cyan"], n, p=[0.5, 0.3, 0.15, 0.05])
    colour_mask = rng.random(n) < 0.1
    flags = rng.random(n) < 0.3
    flag_mask = rng.random(n) < 0.02
    return pa.table({
        "amount": pa.array(floats, mask=float_mask),
        "count": pa.array(rng.poisson(4.0, n)),
        "colour": pa.array(colours.astype(object), mask=colour_mask),
        "flag": pa.array(flags, mask=flag_mask),
        "country": pa.array(rng.choice(["de", "fr", "it"], n).astype(object)).dictionary_encode(),
    })


@pytest.mark.parametrize("bins", [2, 7, 10, 20])
def test_numeric_statistics_and_edges_equal_numpy(bins: int) -> None:
    x = np.random.default_rng(1).lognormal(0.0, 1.0, 10_007)
    profile = profile_values("x", x, bins=bins)

    assert profile.kind == "numeric"
    assert profile.dtype == "double"
    assert list(profile.edges) == np.quantile(x, _levels(bins)).tolist()
    assert len(profile.bin_counts) == bins
    assert (profile.min, profile.max) == (float(x.min()), float(x.max()))
    assert profile.median == float(np.median(x))
    assert profile.mean == pytest.approx(float(np.mean(x)), rel=1e-13)
    assert profile.std == pytest.approx(float(np.std(x)), rel=1e-13)
    assert (profile.rows, profile.null_count, profile.count) == (10_007, 0, 10_007)


def test_bin_counts_equal_brute_force_and_proportions_sum_to_one() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=5_001)
    profile = profile_values("x", x)
    bounds = [-math.inf, *profile.edges, math.inf]
    brute = [int(((x >= low) & (x < high)).sum()) for low, high in pairwise(bounds)]

    assert list(profile.bin_counts) == brute
    assert sum(profile.bin_counts) == 5_001
    assert math.fsum(profile.bin_proportions) == pytest.approx(1.0, abs=1e-12)
    assert profile.bin_proportions == tuple(c / 5_001 for c in brute)
    assert profile.count_bins(x).tolist() == brute

    shifted = rng.normal(0.3, 1.0, 3_000)
    expected = [int(((shifted >= low) & (shifted < high)).sum())
                for low, high in pairwise(bounds)]
    assert profile.count_bins(shifted).tolist() == expected


def test_point_masses_give_deduplicated_edges_above_the_minimum() -> None:
    x = np.random.default_rng(3).poisson(0.7, 10_000)
    profile = profile_values("visits", x)
    quantiles = np.unique(np.quantile(x, _levels(10)))

    assert profile.dtype == "int64"
    assert list(profile.edges) == quantiles[quantiles > x.min()].tolist()
    assert all(a < b for a, b in pairwise(profile.edges))
    assert list(profile.bin_counts) == profile.count_bins(x).tolist()
    assert profile.bin_counts[0] == int((x == 0).sum())
    assert all(count > 0 for count in profile.bin_counts)


def test_a_constant_column_has_a_single_bin() -> None:
    profile = profile_values("c", np.full(1_000, 2.5))

    assert profile.edges == ()
    assert profile.bin_counts == (1_000,)
    assert profile.bin_proportions == (1.0,)
    assert (profile.min, profile.max, profile.median, profile.std) == (2.5, 2.5, 2.5, 0.0)
    assert profile.count_bins([1.0, 2.5, 99.0]).tolist() == [3]


def test_sample_is_seeded_sorted_uniform_and_drawn_from_the_data() -> None:
    x = np.random.default_rng(4).normal(size=50_000)
    first = profile_values("x", x, sample_size=1_000, seed=11)
    again = profile_values("x", x, sample_size=1_000, seed=11)
    other = profile_values("x", x, sample_size=1_000, seed=12)

    assert first.sample == again.sample
    assert first.sample != other.sample
    assert len(first.sample) == 1_000
    assert list(first.sample) == sorted(first.sample)
    assert len(set(first.sample)) == 1_000
    assert set(first.sample) <= set(x.tolist())
    assert stats.ks_2samp(first.sample, x).pvalue > 0.01


def test_sample_holds_every_value_when_there_are_fewer_than_sample_size() -> None:
    x = np.array([3.0, 1.0, np.nan, 2.0, 1.0])
    profile = profile_values("x", x, sample_size=4)

    assert profile.sample == (1.0, 1.0, 2.0, 3.0)


def test_every_index_is_equally_likely_to_be_sampled() -> None:
    picks: Counter[float] = Counter()
    for seed in range(4_000):
        picks.update(profile_values("x", np.arange(20.0), sample_size=5, seed=seed).sample)

    assert set(picks) == set(range(20))
    assert all(850 <= count <= 1_150 for count in picks.values())
    assert stats.chisquare(list(picks.values())).pvalue > 0.001


def test_the_profile_does_not_depend_on_row_order_or_chunking(mixed_table: pa.Table) -> None:
    permutation = np.random.default_rng(5).permutation(mixed_table.num_rows)
    shuffled = mixed_table.take(permutation)
    chunked = pa.Table.from_batches(shuffled.to_batches(max_chunksize=3_000))

    reference = build_profile(mixed_table)
    assert build_profile(shuffled) == reference
    assert build_profile(chunked) == reference


def test_nulls_nan_and_infinities_are_counted_apart() -> None:
    values = pa.chunked_array([pa.array([1.0, None, math.nan, 4.0]),
                               pa.array([math.inf, 2.0, -math.inf, None, 3.0])])
    profile = profile_values("x", values, bins=2)

    assert (profile.rows, profile.null_count, profile.infinite_count, profile.count) == (9, 3, 2, 4)
    assert profile.null_rate == 3 / 9
    assert (profile.min, profile.max, profile.mean, profile.median) == (1.0, 4.0, 2.5, 2.5)
    assert profile.edges == (2.5,)
    assert profile.bin_counts == (2, 2)
    assert profile.sample == (1.0, 2.0, 3.0, 4.0)
    assert profile.count_bins(values).tolist() == [2, 2]


def test_an_all_null_numeric_column_has_no_statistics() -> None:
    profile = profile_values("x", pa.array([None, None, None], pa.float64()))

    assert (profile.kind, profile.rows, profile.null_count, profile.null_rate) == (
        "numeric", 3, 3, 1.0)
    assert (profile.min, profile.max, profile.mean, profile.std, profile.median) == (None,) * 5
    assert (profile.edges, profile.bin_counts, profile.sample) == ((), (), ())
    assert profile.bin_proportions == ()
    assert profile.default is None


def test_an_all_none_pandas_column_is_an_empty_categorical_profile() -> None:
    profile = build_profile(pd.DataFrame({"note": [None, None]})).features["note"]

    assert (profile.kind, profile.dtype, profile.rows, profile.null_count) == (
        "categorical", "null", 2, 2)
    assert profile.categories == ()
    assert (profile.most_frequent, profile.default, profile.other_share) == (None, None, 0.0)


def test_an_empty_table_profiles_to_empty_columns() -> None:
    profile = build_profile(pa.table({"x": pa.array([], pa.float64()),
                                      "s": pa.array([], pa.string())}))

    assert profile.rows == 0
    assert profile.features["x"].null_rate == 0.0
    assert profile.features["x"].bin_counts == ()
    assert profile.features["s"].categories == ()


def test_categorical_top_k_ranks_by_count_then_value_and_counts_the_rest() -> None:
    values = ["b"] * 5 + ["a"] * 5 + ["c"] * 3 + ["e"] * 2 + ["d"] * 2 + ["f"] + [None] * 2
    profile = profile_values("letter", values, max_categories=4)

    assert profile.kind == "categorical"
    assert profile.categories == (("a", 5), ("b", 5), ("c", 3), ("d", 2))
    assert (profile.other_count, profile.distinct_count, profile.null_count) == (3, 6, 2)
    assert profile.count == 18
    assert profile.other_share == 3 / 18
    assert profile.category_shares == {"a": 5 / 18, "b": 5 / 18, "c": 3 / 18, "d": 2 / 18}
    assert math.fsum([*profile.category_shares.values(), profile.other_share]) == 1.0
    assert profile.most_frequent == profile.default == "a"

    complete = profile_values("letter", values)
    assert complete.other_count == 0
    assert len(complete.categories) == complete.distinct_count == 6


def test_booleans_stay_booleans_and_integers_can_be_categories() -> None:
    flags = profile_values("flag", [True, False, True, None])
    assert (flags.kind, flags.dtype, flags.categories) == ("categorical", "bool",
                                                           ((True, 2), (False, 1)))
    assert flags.default is True

    classes = profile_values("label", np.array([2, 0, 2, 1, 2]), kind="categorical")
    assert (classes.kind, classes.dtype) == ("categorical", "int64")
    assert classes.categories == ((2, 3), (0, 1), (1, 1))
    assert classes.default == 2


def test_dictionary_and_plain_strings_profile_alike() -> None:
    values = ["x", "y", None, "x", "z"]
    plain = profile_values("s", pa.array(values))

    assert profile_values("s", pa.array(values).dictionary_encode()) == plain
    assert profile_values("s", pa.array(values, pa.large_string())) == plain
    assert profile_values("s", pd.Series(values, dtype="category")) == plain
    assert plain.dtype == "string"


def test_defaults_serving_falls_back_to() -> None:
    assert profile_values("x", [1.0, 2.0, 10.0, 4.0]).default == 3.0
    assert profile_values("n", [1, 2]).default == 2
    assert profile_values("n", [1, 2, 3, 4]).default == 2
    assert profile_values("n", [1, 9, 8]).default == 8
    assert isinstance(profile_values("n", [1, 2, 3, 4]).default, int)
    assert profile_values("s", ["u", "v", "v"]).default == "v"


def test_pandas_and_arrow_input_give_the_same_profile(mixed_table: pa.Table) -> None:
    frame = mixed_table.to_pandas()
    assert frame["flag"].dtype == object
    assert isinstance(frame["country"].dtype, pd.CategoricalDtype)

    from_arrow = build_profile(mixed_table, sample_size=500)
    from_pandas = build_profile(frame, sample_size=500)
    assert from_pandas == from_arrow
    assert [p.dtype for p in from_arrow.features.values()] == [
        "double", "int64", "string", "bool", "string"]


def test_build_profile_covers_the_requested_columns(mixed_table: pa.Table) -> None:
    profile = build_profile(mixed_table, ["colour", "amount"], bins=5, categorical=[],
                            created_from="unit test")
    amount = mixed_table.column("amount").drop_null().to_numpy()

    assert list(profile.features) == ["colour", "amount"]
    assert profile.rows == mixed_table.num_rows
    assert profile.features["amount"].edges == tuple(np.quantile(amount, _levels(5)).tolist())
    assert profile.features["amount"].null_count == mixed_table.column("amount").null_count
    assert (profile.bins, profile.created_from, profile.skipped) == (5, "unit test", {})

    by_code = build_profile(mixed_table, ["count"], categorical=["count"])
    assert by_code.features["count"].kind == "categorical"


def test_prediction_profile_uses_the_same_settings(mixed_table: pa.Table) -> None:
    scores = np.random.default_rng(6).random(3_000)
    profile = build_profile(mixed_table, ["amount"], bins=4, sample_size=100,
                            predictions=scores)

    assert profile.predictions == profile_values("prediction", scores, bins=4, sample_size=100)
    assert len(profile.predictions.sample) == 100


def test_timestamps_and_dates_are_skipped_with_a_reason_durations_are_seconds() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    table = pa.table({
        "at": pa.array([start, start + timedelta(days=1)], pa.timestamp("us", "UTC")),
        "day": pa.array([start.date(), start.date()]),
        "wait": pa.array([timedelta(seconds=1.5), timedelta(minutes=1)], pa.duration("ms")),
    })
    profile = build_profile(table)

    assert list(profile.features) == ["wait"]
    assert set(profile.skipped) == {"at", "day"}
    assert "absolute time" in profile.skipped["at"]
    assert profile.features["wait"].sample == (1.5, 60.0)
    assert profile.features["wait"].dtype == "duration[ms]"
    with pytest.raises(TrainingError, match="'at'"):
        profile_values("at", table.column("at"))


def test_unsupported_input_is_refused_with_the_column_named() -> None:
    table = pa.table({"x": [1.0], "tags": pa.array([["a"]])})
    with pytest.raises(TrainingError, match=r"'tags' has type list<item: string>.*string"):
        build_profile(table)
    with pytest.raises(TrainingError, match="no column 'y'"):
        build_profile(table, ["x", "y"])
    with pytest.raises(TrainingError, match="listed more than once"):
        build_profile(table, ["x", "x"])
    with pytest.raises(TrainingError, match="only integer"):
        build_profile(table, ["x"], categorical=["x"])
    with pytest.raises(TrainingError, match="bins must be an integer >= 1"):
        build_profile(table, ["x"], bins=0)
    with pytest.raises(TrainingError, match="'mixed' cannot be read as one typed column"):
        build_profile(pd.DataFrame({"mixed": ["a", 1.5]}))
    with pytest.raises(TrainingError, match="one-dimensional"):
        profile_values("p", np.zeros((3, 2)))
    with pytest.raises(TrainingError, match=r"pyarrow\.Table or a pandas\.DataFrame"):
        build_profile({"x": [1.0]})
    with pytest.raises(TrainingError, match="categorical"):
        profile_values("s", ["a"]).count_bins(["a"])


def test_json_round_trip_is_exact_and_json_safe(mixed_table: pa.Table) -> None:
    table = mixed_table.append_column("at", pa.array(
        [datetime(2024, 1, 1, tzinfo=UTC)] * mixed_table.num_rows))
    table = table.append_column("empty", pa.nulls(table.num_rows, pa.float64()))
    profile = build_profile(table, predictions=np.random.default_rng(8).random(700),
                            created_from="training frame of 2024-01")

    loaded = _json_round_trip(profile)
    assert loaded == profile
    assert loaded.version == FORMAT_VERSION
    assert list(loaded.features) == list(profile.features)
    assert loaded.skipped == profile.skipped
    for name, feature in profile.features.items():
        assert _feature_bits(loaded.features[name]) == _feature_bits(feature)
    assert loaded.to_json() == profile.to_json()


def test_json_encodes_nan_and_infinities_explicitly() -> None:
    odd = FeatureProfile("odd", "numeric", "double", rows=4, null_count=0, min=-math.inf,
                         max=math.inf, mean=math.nan, std=math.inf, median=-0.0,
                         edges=(-0.0, 5e-324, 1.7976931348623157e308),
                         bin_counts=(1, 1, 1, 1), sample=(-math.inf, 0.1, 1 / 3, math.inf))
    profile = ReferenceProfile(rows=4, features={"odd": odd}, predictions=odd)

    data = profile.to_json()
    assert data["features"][0]["mean"] == "nan"
    assert data["features"][0]["sample"] == ["-inf", 0.1, 1 / 3, "inf"]
    loaded = _json_round_trip(profile)
    assert _feature_bits(loaded.features["odd"]) == _feature_bits(odd)
    assert _feature_bits(loaded.predictions) == _feature_bits(odd)
    assert math.copysign(1.0, loaded.features["odd"].median) == -1.0


def test_extreme_values_overflow_into_infinities_that_still_serialise() -> None:
    profile = profile_values("huge", [1e308, 1e308, -1e308, -1e308], bins=2)
    assert (profile.min, profile.max, profile.median) == (-1e308, 1e308, 0.0)
    assert (profile.mean, profile.std) == (-math.inf, math.inf)

    loaded = _json_round_trip(ReferenceProfile(rows=4, features={"huge": profile}))
    assert _feature_bits(loaded.features["huge"]) == _feature_bits(profile)


def test_from_json_refuses_newer_formats_and_malformed_data() -> None:
    data = build_profile(pa.table({"x": [1.0, 2.0]})).to_json()
    with pytest.raises(TrainingError, match="format version 2"):
        ReferenceProfile.from_json({**data, "version": FORMAT_VERSION + 1})
    with pytest.raises(TrainingError, match="not a reference profile"):
        ReferenceProfile.from_json({**data, "settings": None})
    feature = data["features"][0]
    with pytest.raises(TrainingError, match="not a feature profile"):
        FeatureProfile.from_json({**feature, "mean": "big"})


def test_profiles_refuse_fields_of_the_other_kind() -> None:
    with pytest.raises(ValueError, match="cannot have numeric statistics"):
        FeatureProfile("s", "categorical", "string", rows=1, null_count=0, mean=1.0)
    with pytest.raises(ValueError, match="cannot have categories"):
        FeatureProfile("x", "numeric", "double", rows=1, null_count=0, categories=(("a", 1),))
    with pytest.raises(ValueError, match="kind must be"):
        FeatureProfile("x", "ordinal", "double", rows=1, null_count=0)  # type: ignore[arg-type]
