"""Drift: every statistic equals scipy or a brute-force computation, and the default rule flags
exactly the injected drift — and nothing on a same-distribution window — at 1k, 100k and 1M
rows against a 1M-row reference profile (``_drift_data``)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from monitoring._drift_data import (
    CATEGORICAL,
    DRIFT,
    DRIFTED,
    NEW_CATEGORY,
    inject,
    make_table,
    reference_profile,
)
from skewless.errors import MonitoringError
from skewless.monitoring import ReferenceProfile, build_profile, profile_values
from skewless.monitoring._drift import (
    OTHER,
    PSI_EPSILON,
    CategoricalDrift,
    DriftRule,
    FeatureVerdict,
    NumericDrift,
    categorical_drift,
    compare,
    compare_values,
    holm,
    numeric_drift,
)


def _close(actual: float, expected: float) -> bool:
    """Equal to 1e-9, absolutely and (for tiny p-values) relatively."""
    return abs(actual - expected) <= 1e-9 and abs(actual - expected) <= 1e-9 * abs(expected) \
        + 1e-300


def _brute_psi(edges: tuple[float, ...], reference: np.ndarray, current: np.ndarray) -> float:
    def shares(values: np.ndarray) -> np.ndarray:
        values = values[np.isfinite(values)]
        counts = np.array([np.sum((values >= low) & (values < high)) for low, high in
                           zip((-np.inf, *edges), (*edges, np.inf), strict=True)])
        return counts / len(values)

    p = np.maximum(shares(reference), PSI_EPSILON)
    q = np.maximum(shares(current), PSI_EPSILON)
    return float(sum((qi - pi) * math.log(qi / pi) for pi, qi in zip(p, q, strict=True)))


def _drawn(kind: str, rng: np.random.Generator, n: int, moved: bool) -> np.ndarray:
    if kind == "normal":
        return rng.normal(0.2 if moved else 0.0, 1.3 if moved else 1.0, n)
    if kind == "counts":
        return rng.poisson(3.3 if moved else 3.0, n).astype(np.float64)
    if kind == "offset":  # large values: the prefix sums must not lose precision
        return rng.lognormal(0.1 if moved else 0.0, 1.0, n) + 1e6
    return rng.binomial(4, 0.35 if moved else 0.3, n).astype(np.float64)  # five values


CASES = [(kind, reference_rows, rows)
         for kind, reference_rows, rows in [
             ("normal", 200_000, 1_000), ("normal", 3_000, 50_000), ("normal", 20_000, 10_001),
             ("counts", 100_000, 9_999), ("counts", 100_000, 300_000), ("offset", 50_000, 700),
             ("offset", 50_000, 200_000), ("binomial", 100_000, 20_000),
             ("binomial", 4_000, 4_000), ("normal", 100_000, 1)]]


@pytest.mark.parametrize(("kind", "reference_rows", "rows"), CASES)
def test_numeric_statistics_equal_scipy_and_brute_force(kind: str, reference_rows: int,
                                                        rows: int) -> None:
    rng = np.random.default_rng(reference_rows + rows)
    reference = _drawn(kind, rng, reference_rows, moved=False)
    current = _drawn(kind, rng, rows, moved=True)
    current[: rows // 50] = np.nan
    profile = profile_values("x", reference)
    drift = numeric_drift(profile, current)
    assert isinstance(drift, NumericDrift)
    finite = current[np.isfinite(current)]
    sample = np.asarray(profile.sample)

    assert drift.rows == len(finite)
    assert _close(drift.psi, _brute_psi(profile.edges, reference, finite))
    exact = max(len(sample), len(finite)) <= 10_000 and len(sample) * len(finite) <= 10**7
    expected_ks = stats.ks_2samp(sample, finite, method="auto" if exact else "asymp")
    assert _close(drift.ks, float(expected_ks.statistic))
    assert _close(drift.ks_pvalue, float(expected_ks.pvalue))
    expected_w = stats.wasserstein_distance(sample, finite) / np.std(reference)
    assert drift.wasserstein == pytest.approx(expected_w, rel=1e-9, abs=1e-12)
    table = np.array([profile.bin_counts, profile.count_bins(finite)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] > 1:
        chi2, pvalue, _, _ = stats.chi2_contingency(table, correction=False)
        assert drift.bins_chi2 == pytest.approx(chi2, rel=1e-9)
        assert _close(drift.bins_pvalue, pvalue)
    assert drift.current_proportions == pytest.approx(
        profile.count_bins(finite) / len(finite), abs=1e-15)
    assert drift.current_mean == pytest.approx(np.mean(finite), rel=1e-12)
    assert drift.current_std == pytest.approx(np.std(finite), rel=1e-12, abs=1e-12)


def test_wasserstein_is_in_reference_standard_deviations() -> None:
    grid = stats.norm.ppf((np.arange(5_000) + 0.5) / 5_000)  # the sample is all of it
    profile = profile_values("x", 50 + 10 * grid)
    assert profile.std is not None
    shifted = numeric_drift(profile, 50 + 10 * grid + 0.3 * profile.std)
    wider = numeric_drift(profile, 50 + 15 * grid)
    assert shifted is not None
    assert wider is not None
    assert shifted.wasserstein == pytest.approx(0.3, rel=1e-9)  # mean + 0.3 sd
    assert wider.wasserstein == pytest.approx(0.5 * math.sqrt(2 / math.pi), rel=1e-3)  # sd ×1.5


def test_a_constant_reference_and_empty_windows() -> None:
    constant = profile_values("x", np.full(1_000, 7.0))
    same = numeric_drift(constant, np.full(10, 7.0))
    assert same is not None
    assert (same.wasserstein, same.ks, same.psi) == (0.0, 0.0, 0.0)
    moved = numeric_drift(constant, np.array([7.0, 8.0]))
    assert moved is not None
    assert moved.wasserstein == math.inf
    assert numeric_drift(constant, np.array([np.nan, np.inf])) is None
    with pytest.raises(MonitoringError, match="where the reference is numeric"):
        numeric_drift(constant, pa.array(["a", "b"]))


def _category_values(counts: dict[object, int], nulls: int = 0) -> list[object]:
    values: list[object] = [v for v, c in counts.items() for _ in range(c)]
    return values + [None] * nulls


@pytest.mark.parametrize("complete", [True, False])
def test_categorical_statistics_equal_scipy(complete: bool) -> None:
    reference_counts = {"a": 5_000, "b": 3_000, "c": 1_500, "d": 400, "e": 100}
    profile = profile_values("c", _category_values(reference_counts, nulls=30),
                             max_categories=5 if complete else 3)
    current_counts = {"a": 420, "b": 330, "c": 150, "e": 20, "new": 60, "newer": 20}
    drift = categorical_drift(profile, pa.array(_category_values(current_counts, nulls=7)))
    assert isinstance(drift, CategoricalDrift)
    listed = [value for value, _ in profile.categories]
    reference = np.array([reference_counts[v] for v in listed] + [profile.other_count])
    current = np.array([current_counts.get(v, 0) for v in listed]
                       + [sum(c for v, c in current_counts.items() if v not in listed)])
    table = np.array([reference, current])
    table = table[:, table.sum(axis=0) > 0]
    chi2, pvalue, dof, _ = stats.chi2_contingency(table, correction=False)

    assert drift.rows == 1_000
    assert drift.chi2 == pytest.approx(chi2, rel=1e-9)
    assert _close(drift.chi2_pvalue, pvalue)
    assert drift.dof == dof
    assert _close(drift.js_distance, float(jensenshannon(reference, current, base=2)))
    assert 0 <= drift.js_distance <= 1
    tails = []
    for count, total in zip(current, reference + current, strict=True):
        if total:
            fisher = [[count, 1_000 - count], [total - count, reference.sum() - total + count]]
            tails.append(2 * min(stats.fisher_exact(fisher, alternative="less").pvalue,
                                 stats.fisher_exact(fisher, alternative="greater").pvalue))
    assert _close(drift.shift_pvalue, min(1.0, min(tails) * len(tails)))
    if complete:
        assert drift.current_shares == pytest.approx(
            {"a": 0.42, "b": 0.33, "c": 0.15, "d": 0.0, "e": 0.02, "new": 0.06, "newer": 0.02})
    else:
        assert drift.current_shares == pytest.approx({"a": 0.42, "b": 0.33, "c": 0.15,
                                                      OTHER: 0.1})


def test_a_two_category_column_gets_no_yates_correction() -> None:
    profile = profile_values("flag", [True] * 700 + [False] * 300)
    drift = categorical_drift(profile, pa.array([True] * 60 + [False] * 40))
    assert drift is not None
    chi2, pvalue, dof, _ = stats.chi2_contingency([[700, 300], [60, 40]], correction=False)
    assert (drift.chi2, drift.dof) == (pytest.approx(chi2, rel=1e-9), dof)
    assert _close(drift.chi2_pvalue, pvalue)


def _holm_step_down(pvalues: list[float], alpha: float) -> list[bool]:
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    rejected = [False] * len(pvalues)
    for rank, index in enumerate(order):
        if pvalues[index] > alpha / (len(pvalues) - rank):
            break
        rejected[index] = True
    return rejected


def test_holm_adjusted_pvalues_reject_what_the_step_down_procedure_rejects() -> None:
    rng = np.random.default_rng(4)
    for _ in range(200):
        pvalues = (rng.random(rng.integers(1, 30)) ** rng.uniform(1, 8)).tolist()
        adjusted = holm(pvalues)
        assert all(a >= p for a, p in zip(adjusted, pvalues, strict=True))
        assert max(adjusted) <= 1.0
        for alpha in (0.001, 0.01, 0.05):
            assert [a <= alpha for a in adjusted] == _holm_step_down(pvalues, alpha)
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([]) == []


# --- detection with the default rule -------------------------------------------------------------

@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    return reference_profile()


def _flagged(verdicts: list[FeatureVerdict]) -> list[str]:
    return sorted(v.name for v in verdicts if v.flagged)


@pytest.mark.parametrize("rows", [1_000, 100_000, 1_000_000])
def test_the_default_rule_flags_exactly_the_injected_drift(profile: ReferenceProfile,
                                                            rows: int) -> None:
    verdicts = compare(profile, inject(make_table(rows, seed=11), seed=11))
    by_name = {v.name: v for v in verdicts}

    assert [v.name for v in verdicts] == list(profile.features)
    assert _flagged(verdicts) == DRIFTED
    assert sorted(v.name for v in verdicts if v.drifted) == sorted(set(DRIFT) - {"n16_uniform"})
    assert sorted(v.name for v in verdicts if v.quality_failed) == ["c1_cat12", "n16_uniform"]
    assert by_name["n16_uniform"].quality.null_flag
    assert by_name["c1_cat12"].quality.unseen_flag
    assert NEW_CATEGORY in by_name["c1_cat12"].quality.unseen
    for verdict in verdicts:
        assert (verdict.severity >= 1) == verdict.flagged, verdict
        assert bool(verdict.reasons) == verdict.flagged, verdict
    margin = 1.5 if rows > DriftRule().small_window else 1.2
    assert min(by_name[name].severity for name in DRIFTED) >= margin
    assert max(v.severity for v in verdicts if not v.flagged) < 1 / margin


@pytest.mark.parametrize(("rows", "seeds"), [(1_000, range(100, 120)), (100_000, [7]),
                                             (1_000_000, [8])])
def test_nothing_is_flagged_on_a_sample_of_the_same_distribution(
        profile: ReferenceProfile, rows: int, seeds: range | list[int]) -> None:
    for seed in seeds:
        verdicts = compare(profile, make_table(rows, seed))
        assert _flagged(verdicts) == [], (seed, [v.reasons for v in verdicts if v.flagged])
        if rows > DriftRule().small_window:
            assert max(v.severity for v in verdicts) < 0.7


def test_holm_corrects_across_every_test_of_the_call(profile: ReferenceProfile) -> None:
    window = inject(make_table(2_000, seed=3), seed=3)
    verdicts = compare(profile, window)
    raw: list[float] = []
    for verdict in verdicts:
        drift, quality = verdict.drift, verdict.quality
        tests = {"ks": getattr(drift, "ks_pvalue", None),
                 "bins": getattr(drift, "bins_pvalue", None),
                 "chi2": getattr(drift, "chi2_pvalue", None),
                 "shift": getattr(drift, "shift_pvalue", None), "nulls": quality.null_pvalue,
                 "out_of_range": quality.out_of_range_pvalue, "unseen": quality.unseen_pvalue}
        assert set(verdict.pvalues) == {k for k, p in tests.items() if p is not None}
        raw.extend(tests[name] for name in verdict.pvalues)  # type: ignore[misc]
    adjusted = [p for verdict in verdicts for p in verdict.pvalues.values()]
    assert len(raw) == 20 * 4 + 5 * 4
    assert adjusted == pytest.approx(holm(raw), rel=1e-12)


def test_a_difference_significant_alone_is_not_after_correction() -> None:
    grid = stats.norm.ppf((np.arange(100_000) + 0.5) / 100_000)
    columns = {f"x{i:02d}": grid for i in range(25)}
    reference = build_profile(pa.table(columns))
    current = {name: stats.norm.ppf((np.arange(2_000) + 0.5) / 2_000) for name in columns}
    current["x00"] = current["x00"] + 0.12  # bins p ≈ 0.0013: × 4 tests ≤ 0.01 < × 100 tests
    alone = compare_values(reference.features["x00"], current["x00"])
    together = compare(reference, pa.table(current))

    assert alone.drifted
    assert alone.pvalues["bins"] <= 0.01 < together[0].pvalues["bins"]
    assert _flagged(together) == []


def test_missing_columns_and_changed_types_are_quality_failures(
        profile: ReferenceProfile) -> None:
    window = make_table(1_000, seed=5).drop_columns(["n02_normal", "c2_cat4"])
    window = window.set_column(window.schema.get_field_index("n03_normal"), "n03_normal",
                               pa.array(["x"] * 1_000))
    verdicts = {v.name: v for v in compare(profile, window)}

    for name in ("n02_normal", "c2_cat4"):
        verdict = verdicts[name]
        assert verdict.flagged
        assert verdict.quality_failed
        assert not verdict.drifted
        assert verdict.quality.missing_column
        assert verdict.drift is None
        assert verdict.reasons == ("schema: column missing",)
    changed = verdicts["n03_normal"]
    assert changed.quality.type_changed
    assert changed.quality.dtype == "string"
    assert changed.drift is None
    assert "type changed" in changed.reasons[0]
    assert _flagged(list(verdicts.values())) == ["c2_cat4", "n02_normal", "n03_normal"]


def test_integers_logged_as_doubles_are_not_a_type_change() -> None:
    counts = np.random.default_rng(1).poisson(4, 10_000)
    reference = profile_values("n", counts)
    assert reference.dtype == "int64"
    as_doubles = compare_values(reference, counts[:2_000].astype(np.float64))
    assert not as_doubles.flagged
    assert as_doubles.quality.dtype == "double"
    fractional = compare_values(reference, counts[:2_000] + 0.5)
    assert fractional.quality.type_changed
    assert "fractional" in fractional.reasons[0]


def test_per_feature_overrides(profile: ReferenceProfile) -> None:
    window = inject(make_table(100_000, seed=12), seed=12)
    off = {"wasserstein": math.inf, "ks": math.inf, "psi": math.inf}
    rule = DriftRule(overrides={"n00_normal": off,
                                "n02_normal": {"alpha": 1.0, "wasserstein": 0.0},
                                "c0_cat8": {"js": 0.2}})
    flagged = _flagged(compare(profile, window, rule=rule))
    assert flagged == sorted({*DRIFTED, "n02_normal"} - {"n00_normal", "c0_cat8"})
    assert rule.for_feature("c0_cat8") == replace(DriftRule(), js=0.2)
    assert rule.for_feature("n19_uniform") == DriftRule()

    with pytest.raises(MonitoringError, match="unknown field"):
        DriftRule(overrides={"n00_normal": {"wasserstien": 0.2}})
    with pytest.raises(MonitoringError, match="alpha must be in"):
        DriftRule(overrides={"n00_normal": {"alpha": 0}})
    with pytest.raises(MonitoringError, match="does not have"):
        compare(profile, window, rule=DriftRule(overrides={"nope": {"js": 0.1}}))
    with pytest.raises(MonitoringError, match="small_window must be"):
        DriftRule(small_window=-1)
    with pytest.raises(MonitoringError, match="psi must be a number"):
        DriftRule(psi=-0.1)


def test_the_effect_floor_of_small_windows(profile: ReferenceProfile) -> None:
    window = inject(make_table(20_000, seed=2), seed=2)  # c0_cat8: js ≈ 0.09, p ≈ 0

    assert "c0_cat8" not in _flagged(compare(profile, window, rule=DriftRule(js=0.15)))
    relaxed = DriftRule(js=0.15, small_window=20_000, small_window_effect=0.5)
    verdict = {v.name: v for v in compare(profile, window, rule=relaxed)}["c0_cat8"]
    assert verdict.drifted
    assert "js 0.0" in verdict.reasons[0]
    assert "≥ 0.075" in verdict.reasons[0]
    assert "values (small window), p " in verdict.reasons[0]


def test_a_material_difference_must_also_be_significant(profile: ReferenceProfile) -> None:
    window = inject(make_table(20_000, seed=2), seed=2)
    strict = compare(profile, window, rule=DriftRule(alpha=1e-300))
    drifted = [v for v in strict if v.drifted]
    assert drifted  # the p-values of the largest differences underflow to 0
    assert all(min(v.pvalues.values()) == 0.0 for v in drifted)
    assert len(drifted) < len([v for v in compare(profile, window) if v.drifted])


def test_a_parquet_window_is_read_column_by_column(profile: ReferenceProfile,
                                                    tmp_path: Path) -> None:
    window = inject(make_table(5_000, seed=6), seed=6).drop_columns(["n19_uniform"])
    path = tmp_path / "window.parquet"
    pq.write_table(window, path)
    assert compare(profile, path) == compare(profile, window)
    assert compare(profile, str(path), features=["n19_uniform"])[0].quality.missing_column
    with pytest.raises(MonitoringError, match="cannot read the window"):
        compare(profile, tmp_path / "nothing.parquet")
    with pytest.raises(MonitoringError, match=r"must be a pyarrow\.Table or the path"):
        compare(profile, {"n00_normal": [1.0]})  # type: ignore[arg-type]


def test_compare_rejects_features_the_profile_lacks(profile: ReferenceProfile) -> None:
    with pytest.raises(MonitoringError, match="no feature 'nope'"):
        compare(profile, make_table(100, seed=1), features=["n00_normal", "nope"])
    only = compare(profile, make_table(100, seed=1), features=CATEGORICAL[:2])
    assert [v.name for v in only] == CATEGORICAL[:2]


def test_prediction_drift_with_compare_values() -> None:
    rng = np.random.default_rng(9)
    validation = rng.beta(1, 20, 50_000)
    predictions = build_profile(pa.table({"x": rng.normal(size=50_000)}),
                                predictions=validation).predictions
    assert predictions is not None
    same = compare_values(predictions, rng.beta(1, 20, 5_000))
    moved = compare_values(predictions, rng.beta(1.5, 18, 5_000))
    assert not same.flagged
    assert moved.drifted
    assert moved.reasons[0].startswith("drift: ")
    assert compare_values(predictions, None).quality.missing_column
