"""Data quality of a window of logged values against a feature's reference profile.

Four checks, each against what the profile recorded at training time: the null rate, the type
(schema), the share of numeric values outside the training range, and the share of categorical
values the training data never had. Like drift, every check is *size-aware*: a difference is
flagged only when it is both significant (an exact test that treats the reference as the finite
sample it is, Holm-corrected by :func:`skewless.monitoring._drift.compare` across every test of
one report) and material (its size reaches the rule's threshold), so a null spike in 1,000 rows
is flagged while the ~1e-6 of values a same-distribution window puts past the training extremes
never are.

:func:`prepare_column` reads a column once — the sorted finite values of a numeric column, the
per-category counts of a categorical one — and both these checks and the drift statistics work
from that, which keeps a report to one pass over each column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats

from skewless.errors import TrainingError
from skewless.monitoring._profile import (
    Category,
    FeatureProfile,
    _as_chunked,
    _finite_floats,
    _is_categorical,
    _is_numeric,
    _logical_type,
)

if TYPE_CHECKING:
    from skewless.monitoring._drift import DriftRule

__all__ = ["MAX_SEVERITY", "MAX_UNSEEN_LISTED", "QualityCheck", "check_quality"]

MAX_SEVERITY = 1000.0
"""The cap on a severity, and the severity of a missing column or a changed type."""

MAX_UNSEEN_LISTED = 20
"""Unseen categories listed by name (the most frequent first); the rest only count."""


@dataclass(frozen=True)
class QualityCheck:
    """The data-quality facts of one column of a window, each next to the reference's.

    - ``null_rate``: nulls and NaN over ``rows`` (NaN is missing, as in the profile);
      ``null_flag`` when it differs from ``reference_null_rate`` (either way: nulls that
      vanish usually mean a pipeline now fills a default);
    - ``dtype``: the column's type as the profile writes types; ``type_changed`` when the values
      can no longer be what the model was trained on: the other kind (text where numbers were
      expected), or fractions in an integer feature. Integers arriving as ``double`` — how
      logs often store them — are not a change;
    - ``out_of_range`` (numeric): the share of the non-null values below the reference
      ``min`` or above its ``max``; ±inf count as out of range unless the reference had some;
    - ``unseen`` (categorical): value → share of the non-null values, for values the
      reference never had, most frequent first (at most :data:`MAX_UNSEEN_LISTED`), and
      ``unseen_share`` their total. This is only known when the reference listed *every*
      category (``unseen_known``: ``other_count == 0``); otherwise a value outside the top
      list may merely be rare, ``unseen`` stays empty and ``reasons`` says so;
    - ``missing_column``: the window has no such column (every other fact is then empty).

    ``*_pvalue`` are the raw p-values of the tests behind the flags (``None`` when not run);
    ``reasons`` explains every raised flag (and a check that could not be made).
    """

    name: str
    rows: int
    null_rate: float
    reference_null_rate: float
    null_flag: bool
    dtype: str | None
    reference_dtype: str
    type_changed: bool
    out_of_range: float | None = None
    out_of_range_flag: bool = False
    unseen: dict[Category, float] = field(default_factory=dict)
    unseen_share: float | None = None
    unseen_known: bool = False
    unseen_flag: bool = False
    missing_column: bool = False
    null_pvalue: float | None = None
    out_of_range_pvalue: float | None = None
    unseen_pvalue: float | None = None
    reasons: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        """Whether any quality flag is raised."""
        return (self.null_flag or self.type_changed or self.out_of_range_flag
                or self.unseen_flag or self.missing_column)


@dataclass(frozen=True)
class PreparedColumn:
    """One column of a window read once for a reference profile (internal).

    ``finite`` holds the sorted finite values of a numeric column; ``category_counts`` the
    current count of each reference category (in the profile's order) and ``rest`` the count
    of the other non-null values, ``unseen`` the most frequent of those by value. ``usable``
    is false when the column is missing or has a type the reference cannot be compared with.
    """

    name: str
    rows: int
    nulls: int
    infinite: int = 0
    dtype: str | None = None
    missing: bool = False
    type_reason: str | None = None
    finite: np.ndarray | None = None
    category_counts: np.ndarray | None = None
    rest: int = 0
    unseen: dict[Category, int] = field(default_factory=dict)
    unseen_distinct: int = 0
    outside: int = 0
    counted: int = 0

    @property
    def usable(self) -> bool:
        return not self.missing and self.type_reason is None

    @property
    def values(self) -> int:
        """Non-null values: finite plus ±inf (numeric) or categorised (categorical)."""
        return self.rows - self.nulls


def missing_column(reference: FeatureProfile) -> PreparedColumn:
    """The stand-in for a column the window does not have."""
    return PreparedColumn(reference.name, rows=0, nulls=0, missing=True)


def prepare_column(reference: FeatureProfile, values: Any,
                   dtype: str | None = None) -> PreparedColumn:
    """Read ``values`` (a ``pyarrow`` array, ``numpy`` array, ``pandas.Series`` or list) once
    for comparison with ``reference``; ``dtype`` overrides the type read from the values (e.g.
    the type a log schema declares)."""
    name = reference.name
    try:
        chunked = _as_chunked(name, values)
    except TrainingError as error:
        rows = len(values) if hasattr(values, "__len__") else 0
        return PreparedColumn(name, rows=rows, nulls=0, dtype=dtype,
                              type_reason=f"values are not one typed column ({error})")
    arrow_type = chunked.type
    declared: pa.DataType | None = None
    if dtype is None:
        dtype = str(_logical_type(arrow_type))
    else:
        try:
            declared = pa.type_for_alias(dtype)
        except ValueError:
            if dtype != reference.dtype:
                return PreparedColumn(name, rows=len(chunked), nulls=chunked.null_count,
                                      dtype=dtype, type_reason=f"declared type {dtype!r}, the "
                                      f"reference is {reference.dtype}")
    rows, nulls = len(chunked), chunked.null_count
    if pa.types.is_null(arrow_type) or nulls == rows:
        return PreparedColumn(name, rows=rows, nulls=rows, dtype=dtype,
                              finite=np.empty(0) if reference.kind == "numeric" else None,
                              category_counts=None if reference.kind == "numeric"
                              else np.zeros(len(reference.categories), dtype=np.int64))
    value_type = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    reason = _type_reason(reference, dtype, value_type)
    if reason is None and declared is not None:
        reason = _type_reason(reference, dtype, declared)
    if reason is not None:
        return PreparedColumn(name, rows=rows, nulls=nulls, dtype=dtype, type_reason=reason)
    if reference.kind == "numeric":
        if pa.types.is_dictionary(arrow_type):
            chunked = chunked.cast(value_type)
        finite, missing, infinite = _finite_floats(name, chunked)
        if reference.dtype.startswith(("int", "uint")) and pa.types.is_floating(value_type) \
                and len(finite) and bool(np.any(finite != np.rint(finite))):
            return PreparedColumn(name, rows=rows, nulls=missing, infinite=infinite,
                                  dtype=dtype, type_reason=f"the {reference.dtype} feature now "
                                  f"has fractional values ({dtype})")
        finite = np.sort(finite)
        outside, counted = _outside(reference, finite, infinite)
        return PreparedColumn(name, rows=rows, nulls=missing, infinite=infinite, dtype=dtype,
                              finite=finite, outside=outside, counted=counted)
    return _categories(reference, chunked, value_type, rows, nulls, dtype)


def _type_reason(reference: FeatureProfile, dtype: str, value_type: pa.DataType) -> str | None:
    """Why values of ``value_type`` cannot be compared with ``reference``, or ``None``."""
    expected = reference.dtype
    if reference.kind == "numeric":
        if _is_numeric(value_type):
            return None
        return f"{dtype} values where the reference is numeric ({expected})"
    if expected == "bool":
        fits = pa.types.is_boolean(value_type)
    elif expected.startswith(("int", "uint")):
        fits = pa.types.is_integer(value_type)
    else:
        fits = _is_categorical(value_type) and not pa.types.is_boolean(value_type)
    return None if fits else f"{dtype} values where the reference is categorical ({expected})"


def _categories(reference: FeatureProfile, chunked: pa.ChunkedArray, value_type: pa.DataType,
                rows: int, nulls: int, dtype: str) -> PreparedColumn:
    counted = pc.value_counts(chunked)
    values, counts = counted.field("values"), counted.field("counts")
    if pa.types.is_dictionary(values.type):
        values = values.cast(value_type)
    present = pc.is_valid(values)
    values, counts = values.filter(present), counts.filter(present)
    if reference.categories:
        reference_type = pa.type_for_alias(reference.dtype)
        values = values.cast(reference_type)
        known = pa.array([value for value, _ in reference.categories], type=reference_type)
        index = pc.index_in(values, value_set=known).fill_null(-1).to_numpy()
    else:
        known, index = pa.array([]), np.full(len(values), -1)
    tally = counts.to_numpy()
    listed = index >= 0
    category_counts = np.bincount(index[listed], weights=tally[listed],
                                  minlength=len(known)).astype(np.int64)
    rest_counts = tally[~listed]
    rest_values = values.filter(pa.array(~listed))
    top = np.argsort(-rest_counts, kind="stable")[:MAX_UNSEEN_LISTED]
    unseen = dict(zip(rest_values.take(pa.array(top, type=pa.int64())).to_pylist(),
                      rest_counts[top].tolist(), strict=True))
    return PreparedColumn(reference.name, rows=rows, nulls=nulls, dtype=dtype,
                          category_counts=category_counts, rest=int(rest_counts.sum()),
                          unseen=unseen, unseen_distinct=len(rest_counts))


def _outside(reference: FeatureProfile, finite: np.ndarray, infinite: int) -> tuple[int, int]:
    """Sorted finite values outside ``[reference.min, reference.max]`` plus the ±inf ones when
    the reference had none, and the values counted."""
    if reference.min is None or reference.max is None:
        return 0, 0
    below = int(np.searchsorted(finite, reference.min, side="left"))
    above = len(finite) - int(np.searchsorted(finite, reference.max, side="right"))
    counted_inf = infinite if reference.infinite_count == 0 else 0
    return below + above + counted_inf, len(finite) + counted_inf


def _all_in_current(k: int, n: int, reference: int) -> float:
    """Probability that ``k`` given values of the pooled sample are all among the ``n``
    current ones, when ``n`` of the ``n + reference`` pooled values are current at random."""
    if k > n:
        return 0.0
    if k == 0:
        return 1.0
    total = n + reference
    return math.exp(math.lgamma(n + 1) - math.lgamma(n - k + 1)
                    - math.lgamma(total + 1) + math.lgamma(total - k + 1))


def extremes_pvalue(k: int, n: int, reference: int) -> float:
    """P(at least ``k`` of ``n`` current values fall outside the range of ``reference``
    reference values) when both samples come from one continuous distribution.

    Exact under exchangeability: "``a`` current values below the reference minimum and ``b``
    above its maximum" is "the ``a`` smallest and ``b`` largest pooled values are all
    current", of probability ``f(a + b)`` (:func:`_all_in_current`); the union over
    ``a + b = k`` of these staircase events has probability ``(k + 1) f(k) - k f(k + 1)``.
    Ties (discrete data) only make values beyond the extremes rarer, so the test is then
    conservative. It accounts for the reference's size: with 1,000 reference rows a window of
    1,000 expects two values outside the range, with 1,000,000 almost none.
    """
    if k <= 0:
        return 1.0
    value = (k + 1) * _all_in_current(k, n, reference) - k * _all_in_current(k + 1, n, reference)
    return min(1.0, max(0.0, value))


def unseen_pvalue(k: int, n: int, reference: int, categories: int) -> float:
    """P(``k`` or more of ``n`` current values have values absent from ``reference`` values)
    under one distribution: the probability that ``k`` given pooled values all fell in the
    current sample (one-sided Fisher with a reference count of 0), times the number of
    categories that could have been the absent ones (Bonferroni)."""
    if k <= 0:
        return 1.0
    return min(1.0, max(1, categories) * _all_in_current(k, n, reference))


def null_pvalue(reference: FeatureProfile, column: PreparedColumn) -> float:
    """Two-sided Fisher exact test of the current null count against the reference's.

    Exact, and it treats both null rates as estimates: with no null in a million reference
    rows, one null in a thousand is unremarkable (p ≈ 0.001) where a z-test says p ≈ 0.
    """
    if not column.rows or not reference.rows:
        return 1.0
    table = [[column.nulls, column.rows - column.nulls],
             [reference.null_count, reference.rows - reference.null_count]]
    return float(stats.fisher_exact(table).pvalue)


def quality_pvalues(reference: FeatureProfile, column: PreparedColumn) -> dict[str, float]:
    """The raw p-values of the quality tests that apply to ``column``: ``nulls`` always,
    ``out_of_range`` for numeric columns, ``unseen`` for categorical ones whose reference
    lists every category."""
    if not column.usable:
        return {}
    pvalues = {"nulls": null_pvalue(reference, column)}
    if reference.kind == "numeric":
        if reference.count:
            pvalues["out_of_range"] = extremes_pvalue(column.outside, column.counted,
                                                      reference.count)
    elif reference.count and reference.other_count == 0:
        pvalues["unseen"] = unseen_pvalue(column.rest, column.values, reference.count,
                                          len(reference.categories) + column.unseen_distinct)
    return pvalues


def decide(effect: float, threshold: float, pvalue: float, rows: int,
           rule: DriftRule) -> tuple[bool, float]:
    """``(flagged, severity)`` of one size-aware check.

    Flagged when the difference is significant (``pvalue``, already corrected, at most
    ``rule.alpha``) *and* material: ``effect / threshold`` reaches the fraction in force —
    ``rule.small_window_effect`` when the statistic came from at most ``rule.small_window``
    current values, 1 otherwise. ``severity`` is ``effect / threshold`` divided by that
    fraction, so it reaches 1 exactly when the check is flagged; it is 0 when the difference
    is not significant (noise is never ranked) and at most :data:`MAX_SEVERITY`.
    """
    required = rule.small_window_effect if rows <= rule.small_window else 1.0
    if pvalue > rule.alpha or not effect > 0:
        return False, 0.0
    ratio = effect / threshold if threshold > 0 else math.inf
    severity = ratio / required if required > 0 else math.inf
    return severity >= 1.0, min(severity, MAX_SEVERITY)


def threshold_in_force(threshold: float, rows: int, rule: DriftRule) -> float:
    """The effect a check needs at this size: ``threshold``, scaled by
    ``rule.small_window_effect`` on small windows."""
    return threshold * (rule.small_window_effect if rows <= rule.small_window else 1.0)


def judge_quality(reference: FeatureProfile, column: PreparedColumn, rule: DriftRule,
                  adjusted: dict[str, float]) -> tuple[QualityCheck, float]:
    """The :class:`QualityCheck` of ``column`` given the (corrected) p-values of its tests,
    and its severity: the largest of its checks' (see :func:`decide`); a missing column or a
    changed type has :data:`MAX_SEVERITY`."""
    base = {"name": reference.name, "reference_null_rate": reference.null_rate,
            "reference_dtype": reference.dtype}
    if column.missing:
        return QualityCheck(**base, rows=0, null_rate=math.nan, null_flag=False, dtype=None,
                            type_changed=False, missing_column=True,
                            reasons=("schema: column missing",)), MAX_SEVERITY
    null_rate = column.nulls / column.rows if column.rows else 0.0
    if column.type_reason is not None:
        return QualityCheck(**base, rows=column.rows, null_rate=null_rate, null_flag=False,
                            dtype=column.dtype, type_changed=True,
                            reasons=(f"schema: type changed: {column.type_reason}",)
                            ), MAX_SEVERITY
    raw = quality_pvalues(reference, column)
    reasons: list[str] = []
    change = abs(null_rate - reference.null_rate)
    null_flag, severity = decide(change, rule.null_rate, adjusted["nulls"], column.rows, rule)
    if null_flag:
        reasons.append(f"nulls: {null_rate:.1%} of rows vs {reference.null_rate:.1%} in the "
                       f"reference (change {change:.3g} ≥ "
                       f"{threshold_in_force(rule.null_rate, column.rows, rule):.3g})")
    fields: dict[str, Any] = {"null_pvalue": raw["nulls"]}
    if "out_of_range" in raw:
        k, n = column.outside, column.counted
        share = k / n if n else 0.0
        flag, level = decide(share, rule.out_of_range, adjusted["out_of_range"], n, rule)
        severity = max(severity, level)
        if flag:
            reasons.append(f"out of range: {share:.2%} of values outside the training range "
                           f"[{reference.min:.6g}, {reference.max:.6g}] "
                           f"(≥ {threshold_in_force(rule.out_of_range, n, rule):.3g})")
        fields.update(out_of_range=share, out_of_range_flag=flag,
                      out_of_range_pvalue=raw["out_of_range"])
    elif reference.kind == "numeric":
        fields.update(out_of_range=0.0)
    if reference.kind == "categorical":
        n = column.values
        known = reference.other_count == 0 and reference.count > 0
        fields.update(unseen_known=known)
        if not known:
            if column.rest:
                reasons.append(f"unseen categories unknown: the reference lists its "
                               f"{len(reference.categories)} most frequent of "
                               f"{reference.distinct_count} values, so the "
                               f"{column.rest / n:.1%} outside them may be rare, not new")
        elif "unseen" in raw:
            share = column.rest / n if n else 0.0
            flag, level = decide(share, rule.unseen, adjusted["unseen"], n, rule)
            severity = max(severity, level)
            if flag:
                named = ", ".join(repr(v) for v in list(column.unseen)[:5])
                more = f" and {column.unseen_distinct - 5} more" \
                    if column.unseen_distinct > 5 else ""
                reasons.append(f"unseen categories: {share:.1%} of values ({named}{more}) "
                               f"≥ {threshold_in_force(rule.unseen, n, rule):.3g}")
            fields.update(unseen={v: c / n for v, c in column.unseen.items()},
                          unseen_share=share, unseen_flag=flag, unseen_pvalue=raw["unseen"])
    check = QualityCheck(**base, rows=column.rows, null_rate=null_rate, null_flag=null_flag,
                         dtype=column.dtype, type_changed=False, reasons=tuple(reasons),
                         **fields)
    return check, severity


def check_quality(reference: FeatureProfile, values: Any, dtype: str | None = None, *,
                  rule: DriftRule | None = None) -> QualityCheck:
    """The data quality of one column against its reference profile, on its own.

    ``values`` is a ``pyarrow`` array, ``numpy`` array, ``pandas.Series`` or list (``None``
    means the column is missing); ``dtype`` overrides the type read from them. The tests are
    not corrected for multiplicity here — :func:`skewless.monitoring._drift.compare` corrects
    them across every feature of a report.
    """
    from skewless.monitoring._drift import DriftRule

    rule = (rule or DriftRule()).for_feature(reference.name)
    column = missing_column(reference) if values is None \
        else prepare_column(reference, values, dtype)
    check, _ = judge_quality(reference, column, rule, quality_pvalues(reference, column))
    return check
