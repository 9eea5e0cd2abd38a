"""Data quality: null rate, type, range and unseen categories against the reference, each
flagged only when significant (exact tests that treat the reference as a sample) and material
(the rule's thresholds)."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from monitoring._drift_data import make_table, reference_profile
from skewless.monitoring import FeatureProfile, profile_values
from skewless.monitoring._drift import DriftRule
from skewless.monitoring._quality import check_quality, extremes_pvalue, unseen_pvalue


@pytest.fixture(scope="module")
def uniform() -> FeatureProfile:
    """``n16_uniform`` of the 1M-row reference: uniform(0, 1) with 1% nulls."""
    return reference_profile().features["n16_uniform"]


def _with_nulls(values: np.ndarray, rate: float, seed: int) -> pa.Array:
    return pa.array(values, mask=np.random.default_rng(seed).random(len(values)) < rate)


def test_a_null_spike_in_1000_rows_is_flagged(uniform: FeatureProfile) -> None:
    rng = np.random.default_rng(1)
    same = check_quality(uniform, _with_nulls(rng.uniform(0, 1, 1_000), 0.01, 2))
    spike = check_quality(uniform, _with_nulls(rng.uniform(0, 1, 1_000), 0.20, 3))

    assert not same.failed
    assert same.reasons == ()
    assert spike.null_flag
    assert spike.failed
    assert spike.reference_null_rate == pytest.approx(0.01, abs=0.001)
    assert spike.null_rate == pytest.approx(0.2, abs=0.03)
    assert spike.reasons[0].startswith(f"nulls: {spike.null_rate:.1%} of rows vs 1.0%")
    nulls = round(spike.null_rate * 1_000)
    table = [[nulls, 1_000 - nulls],
             [uniform.null_count, uniform.rows - uniform.null_count]]
    assert spike.null_pvalue == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-9)


def test_nulls_that_vanish_are_flagged_too_and_nan_is_missing() -> None:
    reference = profile_values("x", np.where(np.arange(10_000) % 5 == 0, np.nan, 1.0))
    assert reference.null_rate == pytest.approx(0.2)
    check = check_quality(reference, np.ones(1_000))
    assert check.null_flag
    assert check.null_rate == 0.0
    nan = check_quality(reference, np.where(np.arange(1_000) % 5 == 0, np.nan, 1.0))
    assert nan.null_rate == pytest.approx(0.2)
    assert not nan.failed


def test_a_reference_null_rate_of_zero_is_an_estimate() -> None:
    reference = profile_values("x", np.arange(1_000_000, dtype=np.float64))
    one = np.arange(1_000, dtype=np.float64)
    one[0] = np.nan
    assert not check_quality(reference, one).null_flag  # p ≈ 0.001 (a z-test says ≈ 0)
    many = np.where(np.arange(1_000) % 30 == 0, np.nan, 1.0)
    assert check_quality(reference, many).null_flag


def test_on_large_windows_the_null_change_must_be_material(uniform: FeatureProfile) -> None:
    values = np.random.default_rng(4).uniform(0, 1, 1_000_000)
    small_change = check_quality(uniform, _with_nulls(values, 0.02, 5))
    assert small_change.null_pvalue is not None
    assert small_change.null_pvalue < 1e-100  # significant, but one point is not material
    assert not small_change.null_flag
    assert check_quality(uniform, _with_nulls(values, 0.04, 6)).null_flag


def test_values_out_of_the_training_range() -> None:
    profile = reference_profile().features["n00_normal"]
    assert profile.min is not None
    assert profile.max is not None
    rng = np.random.default_rng(7)
    values = rng.normal(50, 10, 10_000)
    values[:500] = profile.max + rng.uniform(0.1, 5, 500)
    values[500:550] = -np.inf
    check = check_quality(profile, values)
    below, above = np.sum(values < profile.min), np.sum(values > profile.max)
    assert check.out_of_range == pytest.approx((below + above) / 10_000)
    assert check.out_of_range_flag
    assert "outside the training range" in check.reasons[0]

    same = make_table(1_000_000, seed=8)
    shares = {name: check_quality(reference_profile().features[name], same[name])
              for name in ("n00_normal", "n02_normal", "n03_normal", "n05_normal",
                           "n16_uniform", "n17_uniform", "n18_uniform", "n19_uniform")}
    assert any((c.out_of_range or 0) > 0 for c in shares.values())  # ~2 in 1M, as expected
    assert max(c.out_of_range or 0 for c in shares.values()) < 1e-5
    assert not any(c.out_of_range_flag for c in shares.values())


@pytest.mark.parametrize(("reference", "current"), [(3, 2), (4, 4), (2, 5), (6, 3)])
def test_the_extremes_test_equals_enumeration(reference: int, current: int) -> None:
    """Every way of choosing which of the pooled (distinct) values are current is equally
    likely; count how many current values fall outside the reference's range."""
    pooled = reference + current
    outside = []
    for chosen in combinations(range(pooled), current):
        kept = [i for i in range(pooled) if i not in chosen]
        outside.append(sum(1 for i in chosen if i < kept[0] or i > kept[-1]))
    for k in range(current + 1):
        expected = sum(1 for count in outside if count >= k) / len(outside)
        assert extremes_pvalue(k, current, reference) == pytest.approx(expected, abs=1e-12)


def test_unseen_categories() -> None:
    counts = {"a": 600_000, "b": 300_000, "c": 100_000}
    reference = profile_values("c", pa.DictionaryArray.from_arrays(
        np.repeat(np.arange(3, dtype=np.int32), list(counts.values())), ["a", "b", "c"]))
    assert reference.other_count == 0
    new = pa.array(["a"] * 600 + ["b"] * 300 + ["c"] * 70 + ["zzz"] * 25 + ["yy"] * 5)
    check = check_quality(reference, new)
    assert check.unseen_known
    assert check.unseen == pytest.approx({"zzz": 0.025, "yy": 0.005})
    assert list(check.unseen) == ["zzz", "yy"]
    assert check.unseen_share == pytest.approx(0.03)
    assert check.unseen_flag
    assert check.reasons == ("unseen categories: 3.0% of values ('zzz', 'yy') ≥ 0.01",)

    two = check_quality(reference, pa.array(["a"] * 998 + ["zzz"] * 2))
    assert two.unseen_pvalue is not None
    assert two.unseen_pvalue < 1e-4  # never seen in 1M rows: real, but 0.2% is not material
    assert not two.unseen_flag
    assert unseen_pvalue(2, 1_000, 1_000_000, 4) == pytest.approx(
        4 * (1_000 * 999) / (1_001_000 * 1_000_999))


def test_unseen_is_unknown_when_the_reference_lists_only_the_top_categories() -> None:
    values = [f"v{i}" for i in range(10) for _ in range(100 - i)]
    reference = profile_values("c", values, max_categories=5)
    assert reference.other_count > 0
    check = check_quality(reference, ["v0"] * 50 + ["v9"] * 30 + ["brand-new"] * 20)
    assert not check.unseen_known
    assert check.unseen == {}
    assert check.unseen_share is None
    assert not check.unseen_flag
    assert check.reasons[0].startswith("unseen categories unknown: the reference lists its 5 "
                                       "most frequent of 10 values")


@pytest.mark.parametrize(("values", "dtype", "expected"), [
    (pa.array(["1.5", "2.5"]), None, "string values where the reference is numeric (double)"),
    (pa.array([1.0, 2.0]), "string", "string values where the reference is numeric (double)"),
    (pa.array([True, False]), None, "bool values where the reference is numeric (double)"),
    (np.array([[1.0, 2.0]]), None, "values are not one typed column"),
])
def test_type_changes_of_a_numeric_feature(values: object, dtype: str | None,
                                           expected: str) -> None:
    reference = profile_values("x", np.linspace(0, 1, 100))
    check = check_quality(reference, values, dtype)
    assert check.type_changed
    assert check.failed
    assert expected in check.reasons[0]
    assert check.reference_dtype == "double"


def test_type_changes_of_a_categorical_feature() -> None:
    strings = profile_values("c", ["a", "b"] * 50)
    booleans = profile_values("b", [True, False] * 50)
    codes = profile_values("k", [1, 2, 3] * 50, kind="categorical")
    assert check_quality(strings, pa.array([1, 2])).type_changed
    assert check_quality(strings, pa.array([True, False])).type_changed
    assert check_quality(booleans, pa.array(["True"])).type_changed
    assert check_quality(codes, pa.array(["1"])).type_changed
    assert not check_quality(codes, pa.array([1, 2], pa.int32())).failed
    assert not check_quality(strings, pa.array(["a", "b"], pa.large_string())).failed
    assert not check_quality(strings, pa.array(["a", "b"]).dictionary_encode()).failed
    assert not check_quality(strings, pa.array([None, None], pa.null())).type_changed


def test_a_missing_column() -> None:
    check = check_quality(profile_values("x", [1.0, 2.0]), None)
    assert check.missing_column
    assert check.failed
    assert math.isnan(check.null_rate)
    assert check.dtype is None
    assert check.reasons == ("schema: column missing",)


def test_thresholds_come_from_the_rule(uniform: FeatureProfile) -> None:
    values = _with_nulls(np.random.default_rng(9).uniform(0, 1, 1_000_000), 0.04, 10)
    assert check_quality(uniform, values).null_flag
    assert not check_quality(uniform, values, rule=DriftRule(null_rate=0.05)).null_flag
    relaxed = DriftRule(overrides={"n16_uniform": {"null_rate": 0.05}})
    assert not check_quality(uniform, values, rule=relaxed).null_flag
