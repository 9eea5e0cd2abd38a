"""Data drift: a window of logged values against a model version's reference profile.

Every statistic is computed from the stored :class:`FeatureProfile` — never from the training
data — in one pass over each column of the window: a numeric column is read and sorted once,
and its bins, KS statistic, Wasserstein distance, moments and range all come from that sorted
copy; a categorical column is counted once. Cost is linear in rows and columns.

All statistics are reported; :class:`DriftRule` decides which differences are *drift*. P-values
alone flag everything on large windows, and fixed effect-size cut-offs (PSI's customary
0.1/0.2) either miss real shifts or flag noise on small ones, so the default rule is
size-aware: a feature drifts when a test says the difference is real, Holm-corrected across
every test of the report, *and* an effect size says it is large enough to matter. On small
windows the tests are the binding constraint; on large ones the effect sizes are.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy import stats

from skewless.errors import MonitoringError
from skewless.monitoring._profile import Category, FeatureKind, FeatureProfile, ReferenceProfile
from skewless.monitoring._quality import (
    MAX_SEVERITY,
    PreparedColumn,
    QualityCheck,
    decide,
    judge_quality,
    missing_column,
    prepare_column,
    quality_pvalues,
    threshold_in_force,
)

__all__ = [
    "OTHER",
    "PSI_EPSILON",
    "CategoricalDrift",
    "DriftRule",
    "FeatureVerdict",
    "NumericDrift",
    "categorical_drift",
    "compare",
    "compare_values",
    "holm",
    "numeric_drift",
]

PSI_EPSILON = 1e-4
"""The share an empty bin counts as in PSI, on either side. Without it a bin that empties or
appears makes PSI infinite; with it such a bin adds ``(q - p) ln(q / p)`` with the empty
side at 1e-4 — large, but finite and comparable."""

OTHER = "(other)"
"""The key of :attr:`CategoricalDrift.current_shares` for values outside the reference list
(when that list is incomplete) and for unseen values beyond the ones listed by name."""

# KS p-values are exact (scipy's ks_2samp) only while the exact computation is cheap: it costs
# about m * n (0.2 s at 5,000 x 10,000, one C call holding the GIL, which stalled the server's
# requests while its drift gauges ran); beyond, the asymptotic formula, as method="asymp".
_EXACT_KS_MAX = 10_000  # scipy's own limit on either side for the exact method
_EXACT_KS_WORK = 10_000_000  # and on m * n


@dataclass(frozen=True)
class NumericDrift:
    """Drift statistics of a numeric feature.

    - ``rows``: the current values compared (non-null, finite);
    - ``psi``: population stability index over the reference's quantile bins,
      ``sum((q - p) * ln(q / p))`` with reference shares ``p``, current shares ``q`` and empty
      bins at :data:`PSI_EPSILON`;
    - ``bins_chi2``, ``bins_pvalue``: Pearson's two-sample chi-square test on the same bin
      counts (reference counts against current counts, a 2×k contingency table), which is
      far more sensitive than KS to a change of spread;
    - ``ks``, ``ks_pvalue``: two-sample Kolmogorov–Smirnov between the reference's stored
      sample (up to 5,000 values) and the current values; equal to
      ``scipy.stats.ks_2samp(reference.sample, current)``, with ``method="asymp"`` once
      ``m * n`` passes 10^7 (the exact p-value costs 0.2 s per feature at 5,000 × 10,000;
      the asymptotic one differs from it by 0.1–1.5% relative at these sizes);
    - ``wasserstein``: the 1-Wasserstein (earth mover's) distance between the reference
      sample and the current values divided by the reference standard deviation — how far,
      in reference standard deviations, the values moved on average. A shift of the mean by
      ``d`` sd gives ``d``; a spread ×1.5 of a normal gives 0.40. (``inf`` when the reference
      was constant and the window is not.)
    - ``current_proportions``: the current share of each reference bin;
      ``current_mean``/``current_std`` (population) of the values compared.
    """

    name: str
    rows: int
    psi: float
    bins_chi2: float
    bins_pvalue: float
    ks: float
    ks_pvalue: float
    wasserstein: float
    current_proportions: tuple[float, ...]
    current_mean: float
    current_std: float


@dataclass(frozen=True)
class CategoricalDrift:
    """Drift statistics of a categorical feature.

    The buckets are the reference's listed categories plus one for everything else (its
    ``other_count`` against the current values outside the list, new ones included).

    - ``rows``: the current non-null values compared;
    - ``chi2``, ``chi2_pvalue``, ``dof``: Pearson's chi-square test of homogeneity on the
      2×k table of reference and current counts (``scipy.stats.chi2_contingency`` without
      Yates' correction). It treats the reference as the finite sample it is: taking the
      reference shares as exact expected frequencies raises false alarms on small windows;
    - ``shift_category``, ``shift``, ``shift_pvalue``: the bucket whose share changed most
      significantly, the change of its share (current − reference) and a test of it: for
      each bucket a two-sided Fisher exact test of its count against all others (reference
      against current), Bonferroni-corrected over the buckets. It complements the omnibus
      chi-square, whose power spreads over all its degrees of freedom, when one category
      moves: a 10-point drop of a 37% category in 1,000 rows is p ≈ 1e-10 here, p ≈ 1e-6 there;
    - ``js_distance``: Jensen–Shannon distance (base 2, in [0, 1]) between the bucket shares;
    - ``current_shares``: current share of each reference category, of each new category
      (when the reference list is complete; the most frequent 20 by name) and :data:`OTHER`.
    """

    name: str
    rows: int
    chi2: float
    chi2_pvalue: float
    dof: int
    shift_category: Category
    shift: float
    shift_pvalue: float
    js_distance: float
    current_shares: dict[Category, float]


_THRESHOLDS = ("wasserstein", "ks", "psi", "js", "null_rate", "out_of_range", "unseen")


@dataclass(frozen=True)
class DriftRule:
    """When a difference from the reference is flagged: when it is significant *and* material.

    Significant: the check's test, Holm–Bonferroni-corrected across every test of one
    :func:`compare` call (the drift and quality tests of all its features form one family),
    has a corrected p-value of at most ``alpha``. A report on a window that did not change
    then raises any flag at all with probability at most ``alpha``, however many features it
    has.

    Material: the check's effect size reaches its threshold. P-values alone flag everything on
    large windows; effect sizes alone flag noise on small ones (and on any window when the
    reference itself is small). Requiring both makes the rule size-aware by itself: on small
    windows the corrected test is what decides, on large ones every real difference is
    significant and the effect size decides. ``small_window`` and ``small_window_effect`` can
    relax the effect requirement where the test decides anyway: on windows of at most
    ``small_window`` current values an effect needs only ``small_window_effect`` times its
    threshold. The default, 1.0, does not relax it: with 0.5, a simulation of 600
    same-distribution windows of 1,000 rows raised 6 false alarms instead of 0, and caught
    no additional drift.

    Numeric features (tests: KS and the chi-square on PSI's bins):

    - ``wasserstein``: W1 distance in reference standard deviations — 0.1: a tenth of an sd
      moved on average (a 0.3-sd mean shift gives 0.3, a spread ×1.5 gives 0.4; a 5,000-value
      reference sample alone is up to ~0.045 off);
    - ``ks``: the largest gap between the CDFs (0.1: a tenth of the values crossed a point);
    - ``psi``: the population stability index over the reference's decile bins, at its
      customary 0.1 — it catches changes of shape; shifts it misses (0.3 sd gives ~0.085) the
      Wasserstein distance catches.

    Categorical features (tests: the chi-square and the largest share shift): ``js``, the
    Jensen–Shannon distance (0.05: about a 5-point move of a 35% category; a 10-point move
    gives 0.09, a new category on 5% of the rows 0.16).

    Quality, for every feature: ``null_rate``, the absolute change of the null rate (Fisher's
    exact test); ``out_of_range``, the share of values outside the training range (an exact
    test of extremes); ``unseen``, the share of never-seen categories (an exact test). A
    missing column or a changed type is always flagged.

    ``overrides`` maps a feature name (or ``"prediction"``) to the fields to change for it,
    e.g. ``{"amount": {"wasserstein": 0.2}, "country": {"js": 0.1, "alpha": 0.05}}``; an
    overridden ``alpha`` is compared with the same Holm-corrected p-values. A threshold of
    ``math.inf`` turns its check off.
    """

    small_window: int = 10_000
    alpha: float = 0.01
    small_window_effect: float = 1.0
    wasserstein: float = 0.1
    ks: float = 0.1
    psi: float = 0.1
    js: float = 0.05
    null_rate: float = 0.02
    out_of_range: float = 0.01
    unseen: float = 0.01
    overrides: dict[str, dict[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_settings(self, "")
        names = {f.name for f in fields(self)} - {"overrides"}
        for feature, changes in self.overrides.items():
            if not isinstance(changes, Mapping):
                raise MonitoringError(f"overrides[{feature!r}] must map rule fields to values, "
                                      f"got {changes!r}")
            unknown = sorted(set(changes) - names)
            if unknown:
                raise MonitoringError(f"overrides[{feature!r}] has unknown field(s) "
                                      f"{', '.join(map(repr, unknown))}; the fields are "
                                      f"{', '.join(sorted(names))}")
            _check_settings(replace(self, **changes, overrides={}), f"overrides[{feature!r}]: ")

    def for_feature(self, name: str) -> DriftRule:
        """This rule with the overrides of feature ``name`` applied (and no overrides)."""
        return replace(self, **self.overrides.get(name, {}), overrides={})


def _check_settings(rule: DriftRule, where: str) -> None:
    if isinstance(rule.small_window, bool) or not isinstance(rule.small_window, int) \
            or rule.small_window < 0:
        raise MonitoringError(f"{where}small_window must be an integer >= 0 (rows), "
                              f"got {rule.small_window!r}")
    if not 0 < rule.alpha <= 1:
        raise MonitoringError(f"{where}alpha must be in (0, 1], got {rule.alpha!r}")
    for name in ("small_window_effect", *_THRESHOLDS):
        value = getattr(rule, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise MonitoringError(f"{where}{name} must be a number >= 0 (inf turns the check "
                                  f"off), got {value!r}")


@dataclass(frozen=True)
class FeatureVerdict:
    """What one feature of a window did against its reference.

    ``drift`` holds the statistics (``None`` when there was nothing to compare: a missing
    column, a changed type, no values); ``quality`` the data-quality check. ``drifted`` and
    ``quality_failed`` are the two decisions of the rule; ``flagged`` is either. ``severity``
    ranks features: for each check, its effect over the threshold in force, 0 when the
    difference is not significant; the largest of these, capped at
    :data:`~skewless.monitoring._quality.MAX_SEVERITY` (a missing column or a changed type
    has the cap). It is at least 1 exactly when the feature is flagged. ``pvalues`` are the
    Holm-corrected p-values of the feature's tests (``ks``, ``bins``, ``chi2``, ``shift``,
    ``nulls``, ``out_of_range``, ``unseen``); ``reasons`` says in words why the feature is flagged.
    """

    name: str
    kind: FeatureKind
    drift: NumericDrift | CategoricalDrift | None
    quality: QualityCheck
    drifted: bool
    quality_failed: bool
    severity: float
    reasons: tuple[str, ...]
    pvalues: dict[str, float] = field(default_factory=dict)

    @property
    def flagged(self) -> bool:
        """Drifted or failed a quality check."""
        return self.drifted or self.quality_failed


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the given order.

    The ``i``-th smallest p-value of ``m`` is multiplied by ``m - i + 1``, made non-decreasing
    and capped at 1; rejecting every hypothesis whose adjusted p-value is at most ``alpha``
    keeps the chance of any false rejection at most ``alpha``, whatever the dependence
    between the tests, and rejects at least what Bonferroni rejects.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    m = len(p)
    if not m:
        return []
    order = np.argsort(p, kind="stable")
    scaled = np.maximum.accumulate(p[order] * np.arange(m, 0, -1))
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(scaled, 1.0)
    return adjusted.tolist()


# --- statistics ---------------------------------------------------------------------------------

def _psi(reference: np.ndarray, current: np.ndarray) -> float:
    p = np.maximum(reference, PSI_EPSILON)
    q = np.maximum(current, PSI_EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def _chi2(reference: np.ndarray, current: np.ndarray) -> tuple[float, int, float]:
    """Pearson's chi-square of the 2×k table ``[reference, current]``, empty columns left out."""
    table = np.vstack([reference, current]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1)
    if table.shape[1] < 2 or not rows.all():
        return 0.0, 0, 1.0
    expected = np.outer(rows, table.sum(axis=0)) / rows.sum()
    chi2 = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    return chi2, dof, float(stats.chi2.sf(chi2, dof))


def _ks(sample: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """``scipy.stats.ks_2samp(sample, current)`` (statistic, p-value) for sorted inputs.

    Up to 10,000 values on each side and 10^7 for ``m * n``, scipy is called (its exact
    p-value). Beyond, the statistic comes from the CDFs at the sample's distinct values and
    just below them (``F_ref`` only changes there, ``F_cur`` is monotone between them, so the
    largest gap is one of those) with ``searchsorted`` in the sorted current values, and the
    p-value from scipy's asymptotic formula (``kstwo.sf(d, round(m n / (m + n)))``), as
    ``ks_2samp`` does.
    """
    m, n = len(sample), len(current)
    if max(m, n) <= _EXACT_KS_MAX and m * n <= _EXACT_KS_WORK:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = stats.ks_2samp(sample, current)
        return float(result.statistic), float(result.pvalue)
    values = np.unique(sample)
    at = np.searchsorted(sample, values, side="right") / m
    below = np.searchsorted(sample, values, side="left") / m
    gaps = np.concatenate([at - np.searchsorted(current, values, side="right") / n,
                           below - np.searchsorted(current, values, side="left") / n])
    d = float(max(gaps.max(), -gaps.min(), 0.0))
    big, small = sorted([float(m), float(n)], reverse=True)
    pvalue = float(np.clip(stats.kstwo.sf(d, np.round(big * small / (big + small))), 0, 1))
    return d, pvalue


def _wasserstein(sample: np.ndarray, current: np.ndarray) -> float:
    """``scipy.stats.wasserstein_distance(sample, current)`` for sorted inputs, in O(n).

    W1 is the integral of ``|F_ref - F_cur|``. Between consecutive distinct sample values
    ``F_ref`` is a constant ``a`` and ``F_cur`` is non-decreasing, so ``F_cur <= a`` before one
    crossing point (the ``floor(a n)``-th current value) and above it after; each piece
    integrates exactly with ``G(x) = ∫ F_cur``, which prefix sums of the sorted current values
    give at any ``x``. Values are centred on the sample median first to keep the prefix sums
    small.
    """
    m, n = len(sample), len(current)
    centre = sample[m // 2]
    s, c = sample - centre, current - centre
    prefix = np.concatenate(([0.0], np.cumsum(c)))

    def integral(x: np.ndarray) -> np.ndarray:
        k = np.searchsorted(c, x, side="right")
        return (k * x - prefix[k]) / n

    values, counts = np.unique(s, return_counts=True)
    bounds = np.concatenate(([min(c[0], values[0])], values, [max(c[-1], values[-1])]))
    level = np.concatenate(([0], np.cumsum(counts)))
    left, right = bounds[:-1], bounds[1:]
    share = level / m
    crossing = (level * n) // m
    cross = np.where(crossing < n, c[np.minimum(crossing, n - 1)], np.inf)
    cross = np.clip(cross, left, right)
    g_left, g_right, g_cross = integral(left), integral(right), integral(cross)
    pieces = (share * (cross - left) - (g_cross - g_left)
              + (g_right - g_cross) - share * (right - cross))
    return float(np.sum(pieces))


def _bucket_shift(reference: np.ndarray, current: np.ndarray) -> tuple[int, float]:
    """The bucket with the smallest two-sided Fisher exact p-value of its count against the
    rest (doubled smaller tail of the hypergeometric), and that p-value times the number of
    non-empty buckets."""
    total = reference + current
    used = np.flatnonzero(total > 0)
    pooled, draws = int(total.sum()), int(current.sum())
    counts, sizes = current[used], total[used]
    lower = stats.hypergeom.cdf(counts, pooled, sizes, draws)
    upper = stats.hypergeom.sf(counts - 1, pooled, sizes, draws)
    tails = np.minimum(1.0, 2 * np.minimum(lower, upper))
    best = int(np.argmin(tails))
    return int(used[best]), float(min(1.0, tails[best] * len(used)))


def _jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon distance, base 2 (``scipy.spatial.distance.jensenshannon``)."""
    p, q = p / p.sum(), q / q.sum()
    mid = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(p > 0, p * np.log(p / mid), 0.0)
        right = np.where(q > 0, q * np.log(q / mid), 0.0)
    divergence = (left.sum() + right.sum()) / 2 / math.log(2)
    return math.sqrt(min(1.0, max(0.0, float(divergence))))


def _numeric_drift(reference: FeatureProfile, current: np.ndarray) -> NumericDrift | None:
    n = len(current)
    if not n or not reference.count:
        return None
    reference_counts = np.asarray(reference.bin_counts, dtype=np.int64)
    counts = reference.count_bins(current)
    shares = counts / n
    psi = _psi(reference_counts / reference.count, shares)
    bins_chi2, _, bins_pvalue = _chi2(reference_counts, counts)
    sample = np.asarray(reference.sample, dtype=np.float64)
    ks, ks_pvalue = _ks(sample, current)
    distance = _wasserstein(sample, current)
    std = reference.std or 0.0
    wasserstein = distance / std if std > 0 else (0.0 if distance == 0 else math.inf)
    return NumericDrift(name=reference.name, rows=n, psi=psi, bins_chi2=bins_chi2,
                        bins_pvalue=bins_pvalue, ks=ks, ks_pvalue=ks_pvalue,
                        wasserstein=wasserstein, current_proportions=tuple(shares.tolist()),
                        current_mean=float(np.mean(current)), current_std=float(np.std(current)))


def _categorical_drift(reference: FeatureProfile,
                       column: PreparedColumn) -> CategoricalDrift | None:
    n = column.values
    if not n or not reference.count or column.category_counts is None:
        return None
    reference_counts = np.array([*(count for _, count in reference.categories),
                                 reference.other_count], dtype=np.int64)
    counts = np.append(column.category_counts, column.rest)
    chi2, dof, pvalue = _chi2(reference_counts, counts)
    bucket, shift_pvalue = _bucket_shift(reference_counts, counts)
    js = _jensen_shannon(reference_counts.astype(np.float64), counts.astype(np.float64))
    shares: dict[Category, float] = {
        value: int(count) / n
        for (value, _), count in zip(reference.categories, column.category_counts, strict=True)}
    other = column.rest
    if reference.other_count == 0:
        shares.update({value: count / n for value, count in column.unseen.items()})
        other -= sum(column.unseen.values())
    if other:
        shares[OTHER] = other / n
    listed = len(reference.categories)
    if bucket < listed:
        category: Category = reference.categories[bucket][0]
    elif reference.other_count == 0 and len(column.unseen) == 1:
        category = next(iter(column.unseen))
    else:
        category = OTHER
    shift = counts[bucket] / n - reference_counts[bucket] / reference.count
    return CategoricalDrift(name=reference.name, rows=n, chi2=chi2, chi2_pvalue=pvalue, dof=dof,
                            shift_category=category, shift=float(shift),
                            shift_pvalue=shift_pvalue, js_distance=js, current_shares=shares)


def _usable(reference: FeatureProfile, values: Any, kind: FeatureKind) -> PreparedColumn:
    if reference.kind != kind:
        raise ValueError(f"{reference.name!r} is {reference.kind}, not {kind}")
    column = prepare_column(reference, values)
    if column.type_reason is not None:
        raise MonitoringError(f"cannot compare {reference.name!r} with its reference: "
                              f"{column.type_reason}")
    return column


def numeric_drift(reference: FeatureProfile, values: Any) -> NumericDrift | None:
    """Drift statistics of ``values`` (any 1-D array) against a numeric reference profile;
    ``None`` when either side has no finite value. Raises :class:`MonitoringError` when the
    values are not numeric."""
    column = _usable(reference, values, "numeric")
    assert column.finite is not None
    return _numeric_drift(reference, column.finite)


def categorical_drift(reference: FeatureProfile, values: Any) -> CategoricalDrift | None:
    """Drift statistics of ``values`` (any 1-D array) against a categorical reference profile;
    ``None`` when either side has no value. Raises :class:`MonitoringError` when the values
    have another type (text against boolean categories, say)."""
    return _categorical_drift(reference, _usable(reference, values, "categorical"))


# --- decisions ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Measured:
    """One feature's statistics and raw p-values, its column's arrays already released."""

    reference: FeatureProfile
    column: PreparedColumn
    drift: NumericDrift | CategoricalDrift | None
    pvalues: dict[str, float]


def _measure(reference: FeatureProfile, column: PreparedColumn) -> _Measured:
    drift: NumericDrift | CategoricalDrift | None = None
    pvalues: dict[str, float] = {}
    if column.usable:
        if reference.kind == "numeric":
            assert column.finite is not None
            drift = _numeric_drift(reference, column.finite)
            if isinstance(drift, NumericDrift):
                pvalues.update(ks=drift.ks_pvalue, bins=drift.bins_pvalue)
        else:
            drift = _categorical_drift(reference, column)
            if isinstance(drift, CategoricalDrift):
                pvalues.update(chi2=drift.chi2_pvalue, shift=drift.shift_pvalue)
        column = replace(column, finite=None)
        pvalues.update(quality_pvalues(reference, column))
    return _Measured(reference, column, drift, pvalues)


def _numeric_reason(reference: FeatureProfile, drift: NumericDrift) -> str:
    std = reference.std or 0.0
    mean = reference.mean or 0.0
    if std > 0:
        return (f"mean {(drift.current_mean - mean) / std:+.2f} sd, "
                f"sd ×{drift.current_std / std:.2f}")
    return f"mean {drift.current_mean:.6g} vs {mean:.6g}"


def _judge(measured: _Measured, rule: DriftRule, adjusted: dict[str, float]) -> FeatureVerdict:
    reference, drift = measured.reference, measured.drift
    quality, severity = judge_quality(reference, measured.column, rule, adjusted)
    reasons: list[str] = []
    passed: list[str] = []
    drifted = False
    if drift is not None:
        if isinstance(drift, NumericDrift):
            either = min(adjusted["ks"], adjusted["bins"])
            checks = [("wasserstein", drift.wasserstein, rule.wasserstein, either),
                      ("ks", drift.ks, rule.ks, adjusted["ks"]),
                      ("psi", drift.psi, rule.psi, adjusted["bins"])]
        else:
            checks = [("js", drift.js_distance, rule.js, min(adjusted["chi2"], adjusted["shift"]))]
        for label, effect, threshold, pvalue in checks:
            flag, level = decide(effect, threshold, pvalue, drift.rows, rule)
            severity = max(severity, level)
            if flag:
                drifted = True
                limit = threshold_in_force(threshold, drift.rows, rule)
                passed.append(f"{label} {effect:.3g} ≥ {limit:.3g}")
        if drifted:
            small = drift.rows <= rule.small_window
            if isinstance(drift, NumericDrift):
                test = f"p {min(adjusted['ks'], adjusted['bins']):.1e}"
                what = _numeric_reason(reference, drift)
            else:
                test = f"p {min(adjusted['chi2'], adjusted['shift']):.1e}"
                what = (f"{drift.shift_category!r} share {drift.shift:+.1%} "
                        f"({drift.current_shares.get(drift.shift_category, 0.0):.1%} now)")
            where = f"{drift.rows:,} values{' (small window)' if small else ''}, {test}"
            reasons.append(f"drift: {', '.join(passed)} — {what} [{where}]")
    reasons.extend(quality.reasons)
    return FeatureVerdict(name=reference.name, kind=reference.kind, drift=drift,
                          quality=quality, drifted=drifted, quality_failed=quality.failed,
                          severity=min(severity, MAX_SEVERITY), reasons=tuple(reasons),
                          pvalues=adjusted)


def _decide_all(measured: list[_Measured], rule: DriftRule) -> list[FeatureVerdict]:
    keys = [(index, name) for index, item in enumerate(measured) for name in item.pvalues]
    flat = holm([measured[index].pvalues[name] for index, name in keys])
    adjusted: list[dict[str, float]] = [{} for _ in measured]
    for (index, name), value in zip(keys, flat, strict=True):
        adjusted[index][name] = value
    return [_judge(item, rule.for_feature(item.reference.name), adjusted[index])
            for index, item in enumerate(measured)]


def compare(reference: ReferenceProfile, window: pa.Table | str | os.PathLike[str], *,
            rule: DriftRule | None = None,
            features: Sequence[str] | None = None) -> list[FeatureVerdict]:
    """Compare each feature of ``window`` with ``reference``: drift and data quality.

    ``window`` is a ``pyarrow.Table`` or the path of a Parquet file with one column per
    feature, named as in the profile (the caller renames logged columns). A file is read one
    column at a time, and each column's arrays are released once its statistics are
    computed, so memory stays near one column's size however wide the window is.
    ``features`` defaults to every profiled feature, in profile order, and the verdicts come
    in that order. A feature without a column is a quality failure ("schema: column
    missing"), not an error. Each column is read once; the Holm correction runs over every
    test of every feature of this call.
    """
    rule = rule or DriftRule()
    names = list(reference.features) if features is None else list(features)
    unknown = [name for name in names if name not in reference.features]
    if unknown:
        raise MonitoringError(f"no feature {', '.join(map(repr, unknown))} in the reference "
                              f"profile; its features are "
                              f"{', '.join(map(repr, reference.features))}")
    stray = sorted(set(rule.overrides) - set(reference.features) - {"prediction"})
    if stray:
        raise MonitoringError(f"the rule overrides {', '.join(map(repr, stray))}, which the "
                              f"reference profile does not have; its features are "
                              f"{', '.join(map(repr, reference.features))}")
    read = _column_reader(window)
    measured = []
    for name in names:
        profile = reference.features[name]
        values = read(name)
        column = missing_column(profile) if values is None else prepare_column(profile, values)
        del values
        measured.append(_measure(profile, column))
    return _decide_all(measured, rule)


def _column_reader(window: pa.Table | str | os.PathLike[str]
                   ) -> Callable[[str], pa.ChunkedArray | None]:
    """A function returning a window's column by name (``None`` when it has none)."""
    if isinstance(window, pa.Table):
        def from_table(name: str) -> pa.ChunkedArray | None:
            found = window.schema.get_all_field_indices(name)
            return window.column(found[0]) if found else None
        return from_table
    if not isinstance(window, str | os.PathLike):
        raise MonitoringError(f"the window must be a pyarrow.Table or the path of a Parquet "
                              f"file, got {type(window).__name__}")
    try:
        file = pq.ParquetFile(window)
    except (OSError, pa.ArrowException) as error:
        raise MonitoringError(f"cannot read the window {os.fspath(window)!r} as Parquet "
                              f"({error}); write it with pyarrow.parquet.write_table") from error
    present = set(file.schema_arrow.names)

    def from_file(name: str) -> pa.ChunkedArray | None:
        return file.read(columns=[name]).column(0) if name in present else None
    return from_file


def compare_values(profile: FeatureProfile, values: Any, rule: DriftRule | None = None, *,
                   dtype: str | None = None) -> FeatureVerdict:
    """Compare one column with its profile — e.g. a model's outputs with
    :attr:`ReferenceProfile.predictions`. The Holm correction runs over this column's tests;
    ``values=None`` is a missing column, ``dtype`` overrides the type read from the values."""
    column = missing_column(profile) if values is None \
        else prepare_column(profile, values, dtype)
    return _decide_all([_measure(profile, column)], rule or DriftRule())[0]
