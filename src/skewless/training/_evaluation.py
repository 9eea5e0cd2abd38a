"""Evaluation: the task a label implies, class weights, baselines, metrics and the baseline check.

Every training run evaluates a baseline next to the model on the same split, so a model is never
reported without the number it has to beat::

    task = infer_task(y_train)
    baseline = fit_baseline(task, y_train)
    model_metrics = evaluate(task, y_valid, model.predict_proba(X_valid), classes=model.classes_)
    baseline_metrics = evaluate(task, y_valid, baseline.predict_proba(X_valid),
                                classes=baseline.classes_)
    run.log_metrics(model_metrics.as_dict("valid."))
    comparison = compare_to_baseline(model_metrics, baseline_metrics)

A metric that a split cannot define (AUC on a split holding one class, R² of a constant target)
is ``None`` with the reason in ``notes`` — never NaN, never a made-up 0 or 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn import metrics as skm

from skewless.errors import TrainingError

__all__ = [
    "CalibrationBin",
    "ClassificationMetrics",
    "Comparison",
    "Label",
    "MeanBaseline",
    "PriorBaseline",
    "RegressionMetrics",
    "Task",
    "calibration_table",
    "class_weights",
    "compare_to_baseline",
    "evaluate",
    "fit_baseline",
    "infer_task",
    "sample_weights",
]

Task: TypeAlias = Literal["binary", "multiclass", "regression"]
"""What a label asks for: two classes, more than two, or a number."""

Label: TypeAlias = Any
"""One class label (a str, int, float or bool as it appears in the label column)."""

TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")
SUM_TOLERANCE = 1e-4
"""How far a row of probabilities may stray from summing to 1 (float32 models stray ~1e-7)."""


def infer_task(y: ArrayLike, *, column: str | None = None, max_classes: int = 20) -> Task:
    """The task implied by the label values ``y``, ignoring nulls.

    Booleans, strings and categoricals are classes: two distinct values make ``"binary"``, more
    make ``"multiclass"``. Numbers with a fractional part make ``"regression"``; whole numbers
    (``0/1``, ``1.0/2.0/3.0``) are classes when there are two of them, or at most
    ``max_classes``, and a quantity (``"regression"``) when there are more. ``column`` names the
    label in errors (default: the Series name, else ``"label"``).

    Raises ``TrainingError`` when the label is empty, entirely null or holds one distinct value,
    since no model can be trained or evaluated on it.
    """
    name = _column_name(y, column)
    series = _as_series(y)
    values = series.dropna()
    if values.empty:
        what = "has no rows" if series.empty else f"is null in all {len(series)} rows"
        raise TrainingError(f"label column {name!r} {what}; fill it (e.g. join the outcome "
                            "table on the entity key and event time) before training")
    distinct = values.unique()
    if len(distinct) < 2:
        raise TrainingError(
            f"label column {name!r} holds a single value ({_scalar(distinct[0])!r}) in all "
            f"{len(values)} non-null rows; a model needs two classes or a varying target — "
            "check the label definition and the filter or time range of the training frame")
    if not _is_numeric(values):
        return "binary" if len(distinct) == 2 else "multiclass"
    numbers = values.to_numpy(dtype=float)
    if not np.isfinite(numbers).all():
        raise TrainingError(f"label column {name!r} holds infinite values; drop or cap them "
                            "before training")
    if not np.array_equal(numbers, np.round(numbers)):
        return "regression"
    if len(distinct) == 2:
        return "binary"
    return "multiclass" if len(distinct) <= max_classes else "regression"


def class_weights(y: ArrayLike) -> dict[Label, float]:
    """Per-class weights inversely proportional to class frequency, in sorted label order.

    Normalised like scikit-learn's ``class_weight="balanced"``: ``rows / (classes * count)``,
    so the weighted classes contribute equally and the weights average 1 over the rows. Used
    when class weighting is switched on, to stop a rare class from being ignored by the loss.
    """
    labels = _labels(y, "class weights")
    classes, counts = np.unique(labels, return_counts=True)
    rows = len(labels)
    return {_scalar(label): rows / (len(classes) * int(count))
            for label, count in zip(classes, counts, strict=True)}


def sample_weights(y: ArrayLike, weights: Mapping[Label, float]) -> np.ndarray:
    """One weight per row of ``y``: the weight of its class in ``weights`` (see ``class_weights``).

    For estimators that take ``sample_weight`` in ``fit`` rather than ``class_weight``; a label
    with no weight is refused rather than silently weighted 1.
    """
    labels = _labels(y, "sample weights")
    classes, inverse = np.unique(labels, return_inverse=True)
    missing = [_scalar(label) for label in classes if _scalar(label) not in weights]
    if missing:
        raise TrainingError(f"no class weight for labels {missing!r} (weights are given for "
                            f"{list(weights)!r}); compute the weights on the training labels")
    per_class = np.array([float(weights[_scalar(label)]) for label in classes])
    return per_class[inverse.reshape(-1)]


@dataclass(frozen=True)
class PriorBaseline:
    """The classification baseline: always the majority class, with the training class priors.

    Its AUC is 0.5 by construction; its log loss is the entropy of the training priors, which
    is what a model's probabilities have to improve on. Ties for the majority go to the first
    class in sorted order.
    """

    classes: tuple[Label, ...]
    priors: tuple[float, ...]

    @property
    def classes_(self) -> np.ndarray:
        """The classes in sorted order, the column order of ``predict_proba`` (as scikit-learn)."""
        return np.array(self.classes)

    def predict(self, X: Any) -> np.ndarray:
        """The majority class for every row of ``X``."""
        return np.repeat(self.classes_[int(np.argmax(self.priors))], len(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """The training priors for every row of ``X``: shape ``(len(X), len(classes))``."""
        return np.tile(np.asarray(self.priors, dtype=float), (len(X), 1))


@dataclass(frozen=True)
class MeanBaseline:
    """The regression baseline: always the training mean (its R² on the training set is 0)."""

    mean: float

    def predict(self, X: Any) -> np.ndarray:
        """The training mean for every row of ``X``."""
        return np.full(len(X), self.mean, dtype=float)


def fit_baseline(task: Task, y_train: ArrayLike) -> PriorBaseline | MeanBaseline:
    """The baseline for ``task`` fitted on the training labels (priors, or the mean)."""
    _check_task(task)
    if task == "regression":
        return MeanBaseline(float(np.mean(_targets(y_train, "the baseline"))))
    labels = _labels(y_train, "the baseline")
    classes, counts = np.unique(labels, return_counts=True)
    if task == "binary" and len(classes) != 2:
        raise TrainingError(f"a binary baseline needs 2 classes in the training labels, got "
                            f"{[_scalar(c) for c in classes]!r}; check the label or the task")
    return PriorBaseline(tuple(_scalar(label) for label in classes),
                         tuple(float(count) / len(labels) for count in counts))


@dataclass(frozen=True)
class CalibrationBin:
    """One row of a calibration table: predictions with ``lower <= p < upper`` (the last bin
    includes 1), how many, their mean predicted probability and the observed positive rate.

    For multiclass the probability is the model's confidence (its largest class probability)
    and ``fraction_positive`` is the accuracy of its top class in the bin.
    """

    lower: float
    upper: float
    count: int
    mean_predicted: float
    fraction_positive: float


@dataclass(frozen=True)
class ClassificationMetrics:
    """Classification metrics of one model on one split.

    Binary metrics score the probability of the positive class (``classes[1]``: for
    scikit-learn models the larger label); ``f1`` predicts positive when that probability is
    ``>= threshold``; ``brier`` is the mean squared error of that probability. Multiclass
    metrics are one-vs-rest macro averages (AUC, average precision), macro F1 of the top class
    (``threshold`` is ``None``), and the multi-class Brier score: the mean over rows of the
    squared distance between the one-hot label and the probability row (range 0 to 2).
    ``positive_rate`` is the share of positive rows (``None`` for multiclass). A metric the
    split cannot define is ``None`` and ``notes`` says why.
    """

    task: Task
    auc_roc: float | None
    average_precision: float | None
    f1: float | None
    threshold: float | None
    log_loss: float
    brier: float
    calibration: tuple[CalibrationBin, ...]
    rows: int
    positive_rate: float | None
    notes: tuple[str, ...] = ()

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        """The scalar metrics as ``{prefix + name: value}`` for ``run.log_metrics``; a metric
        that is ``None`` is left out."""
        return _flatten(prefix, auc_roc=self.auc_roc, average_precision=self.average_precision,
                        f1=self.f1, threshold=self.threshold, log_loss=self.log_loss,
                        brier=self.brier, rows=self.rows, positive_rate=self.positive_rate)


@dataclass(frozen=True)
class RegressionMetrics:
    """Regression metrics of one model on one split; ``r2`` is ``None`` (see ``notes``) when the
    split's target is constant, where R² is undefined."""

    rmse: float
    mae: float
    r2: float | None
    rows: int
    notes: tuple[str, ...] = ()

    @property
    def task(self) -> Task:
        """Always ``"regression"`` (``ClassificationMetrics`` has the classification tasks)."""
        return "regression"

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        """The metrics as ``{prefix + name: value}`` for ``run.log_metrics``, leaving out
        ``None``."""
        return _flatten(prefix, rmse=self.rmse, mae=self.mae, r2=self.r2, rows=self.rows)


def evaluate(task: Task, y_true: ArrayLike, scores: ArrayLike, *, threshold: float = 0.5,
             classes: ArrayLike | None = None,
             calibration_bins: int = 10) -> ClassificationMetrics | RegressionMetrics:
    """The metrics of ``scores`` against the labels ``y_true``.

    For classification ``scores`` is ``predict_proba`` output, one column per class in the order
    of ``classes`` (pass ``model.classes_``; without it the classes are the sorted labels of
    ``y_true``, wrong for a split that lacks a class). The binary positive class is
    ``classes[1]``; a binary ``scores`` may also be the 1-D probability of it. Rows of
    probabilities must sum to 1. For regression ``scores`` is the predictions.
    """
    _check_task(task)
    if task == "regression":
        return _regression(_targets(y_true, "evaluation"), _targets(scores, "evaluation",
                                                                    what="predictions"))
    if not 0.0 <= threshold <= 1.0:
        raise TrainingError(f"threshold {threshold!r} is not a probability; pick one in [0, 1]")
    labels = _labels(y_true, "evaluation")
    known = _classes(labels, classes)
    probabilities = _probabilities(scores, len(labels), len(known))
    index = known.get_indexer(labels)
    if (index < 0).any():
        unknown = sorted({_scalar(v) for v in labels[index < 0]}, key=repr)
        raise TrainingError(f"labels {unknown!r} are not among the classes the scores are for "
                            f"({known.tolist()!r}); the model never saw them — train on a frame "
                            "that holds every class, or pass classes=model.classes_")
    if task == "binary":
        if len(known) != 2:
            raise TrainingError(f"binary evaluation needs 2 classes, got {len(known)}; "
                                "use task='multiclass'")
        return _binary(index == 1, probabilities, threshold, calibration_bins)
    return _multiclass(index, probabilities, known, calibration_bins)


def calibration_table(y_true: ArrayLike, probability: ArrayLike,
                      bins: int = 10) -> tuple[CalibrationBin, ...]:
    """The calibration table of probabilities against 0/1 outcomes over ``bins`` equal-width
    bins of [0, 1]; empty bins are left out, so the counts sum to the rows."""
    if bins < 1:
        raise TrainingError(f"calibration needs at least 1 bin, got {bins}")
    outcome = np.asarray(y_true, dtype=float).reshape(-1)
    p = np.asarray(probability, dtype=float).reshape(-1)
    edges = np.arange(bins + 1) / bins
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    table = []
    for b in np.unique(which):
        inside = which == b
        table.append(CalibrationBin(float(edges[b]), float(edges[b + 1]), int(inside.sum()),
                                    float(p[inside].mean()), float(outcome[inside].mean())))
    return tuple(table)


@dataclass(frozen=True)
class Comparison:
    """A model against its baseline on one split, by ``primary_metric``; ``beats_baseline`` is
    strictly better (a tie does not beat)."""

    primary_metric: str
    model: float
    baseline: float
    beats_baseline: bool


LOWER_IS_BETTER = {"brier": True, "log_loss": True, "rmse": True, "mae": True,
                   "auc_roc": False, "average_precision": False, "f1": False, "r2": False}
"""Metrics a comparison can use, and which way is better."""


def compare_to_baseline(model_metrics: ClassificationMetrics | RegressionMetrics,
                        baseline_metrics: ClassificationMetrics | RegressionMetrics,
                        metric: str | None = None) -> Comparison:
    """Whether the model strictly beats the baseline evaluated on the same split.

    By default classification compares the Brier score (lower is better): a proper scoring
    rule, so it rewards probabilities that improve on the class priors, and it is bounded, so
    one confident miss (a tree ensemble's probability of exactly 0 for a rare positive) cannot
    make a model that ranks well look worse than the priors, as log loss does. The prior
    baseline's AUC is 0.5 by construction, so AUC would only test "better than chance".
    Regression compares RMSE. ``metric`` picks another one of ``LOWER_IS_BETTER``.
    """
    if model_metrics.task != baseline_metrics.task:
        raise TrainingError(f"cannot compare {model_metrics.task} metrics with "
                            f"{baseline_metrics.task} baseline metrics; evaluate both as one task")
    if model_metrics.rows != baseline_metrics.rows:
        raise TrainingError(f"model metrics cover {model_metrics.rows} rows and baseline "
                            f"metrics {baseline_metrics.rows}; evaluate both on the same split")
    regression = isinstance(model_metrics, RegressionMetrics)
    name = metric or ("rmse" if regression else "brier")
    model = getattr(model_metrics, name, None) if name in LOWER_IS_BETTER else None
    baseline = getattr(baseline_metrics, name, None) if name in LOWER_IS_BETTER else None
    if model is None or baseline is None:
        usable = [m for m in LOWER_IS_BETTER if getattr(model_metrics, m, None) is not None
                  and getattr(baseline_metrics, m, None) is not None]
        raise TrainingError(f"cannot compare by {name!r} on this split; usable metrics: "
                            f"{', '.join(usable)}")
    beats = model < baseline if LOWER_IS_BETTER[name] else model > baseline
    return Comparison(name, float(model), float(baseline), bool(beats))


def _binary(positive: np.ndarray, probabilities: np.ndarray, threshold: float,
            bins: int) -> ClassificationMetrics:
    p = probabilities[:, 1]
    notes = []
    auc = ap = None
    if positive.all() or not positive.any():
        reason = f"the split holds one class only ({'positive' if positive.any() else 'negative'})"
        notes += [f"auc_roc: undefined, {reason}", f"average_precision: undefined, {reason}"]
    else:
        auc = float(skm.roc_auc_score(positive, p))
        ap = float(skm.average_precision_score(positive, p))
    predicted = p >= threshold
    f1 = None
    if positive.any() or predicted.any():
        f1 = float(skm.f1_score(positive, predicted))
    else:
        notes.append("f1: undefined, no positive rows and no positive predictions")
    return ClassificationMetrics(
        task="binary", auc_roc=auc, average_precision=ap, f1=f1, threshold=float(threshold),
        log_loss=float(skm.log_loss(positive, probabilities, labels=[False, True])),
        brier=float(np.mean((p - positive) ** 2)), calibration=calibration_table(positive, p, bins),
        rows=len(p), positive_rate=float(positive.mean()), notes=tuple(notes))


def _multiclass(index: np.ndarray, probabilities: np.ndarray, known: pd.Index,
                bins: int) -> ClassificationMetrics:
    one_hot = np.eye(len(known))[index]
    present = np.unique(index)
    notes = []
    auc = ap = None
    if len(present) >= 2:
        auc = float(np.mean([skm.roc_auc_score(one_hot[:, k], probabilities[:, k])
                             for k in present]))
        ap = float(np.mean([skm.average_precision_score(one_hot[:, k], probabilities[:, k])
                            for k in present]))
        if len(present) < len(known):
            absent = [_scalar(c) for k, c in enumerate(known) if k not in present]
            notes += [f"{name}: macro over the classes in the split; absent: {absent!r}"
                      for name in ("auc_roc", "average_precision")]
    else:
        notes += [f"{name}: undefined, the split holds one class only"
                  for name in ("auc_roc", "average_precision")]
    top = probabilities.argmax(axis=1)
    return ClassificationMetrics(
        task="multiclass", auc_roc=auc, average_precision=ap,
        f1=float(skm.f1_score(index, top, average="macro")), threshold=None,
        log_loss=float(skm.log_loss(index, probabilities, labels=range(len(known)))),
        brier=float(np.mean(np.sum((one_hot - probabilities) ** 2, axis=1))),
        calibration=calibration_table(top == index, probabilities.max(axis=1), bins),
        rows=len(index), positive_rate=None, notes=tuple(notes))


def _regression(y: np.ndarray, predicted: np.ndarray) -> RegressionMetrics:
    if len(y) != len(predicted):
        raise TrainingError(f"{len(predicted)} predictions for {len(y)} labels; predict every "
                            "row of the split")
    error = predicted - y
    r2, notes = None, ()
    if np.ptp(y) > 0:
        r2 = float(skm.r2_score(y, predicted))
    else:
        notes = ("r2: undefined, the split's target is constant",)
    return RegressionMetrics(rmse=float(np.sqrt(np.mean(error**2))),
                             mae=float(np.mean(np.abs(error))), r2=r2, rows=len(y), notes=notes)


def _classes(labels: np.ndarray, classes: ArrayLike | None) -> pd.Index:
    known = pd.Index(np.unique(labels) if classes is None else np.asarray(classes))
    if known.nlevels != 1 or not known.is_unique:
        raise TrainingError(f"classes must be distinct labels in one list, got {known.tolist()!r}")
    return known


def _probabilities(scores: ArrayLike, rows: int, n_classes: int) -> np.ndarray:
    p = np.asarray(scores, dtype=float)
    if p.ndim == 1 and n_classes == 2:
        p = np.column_stack([1.0 - p, p])
    if p.ndim != 2 or p.shape[0] != rows or p.shape[1] != n_classes:
        raise TrainingError(
            f"scores of shape {p.shape} do not match {rows} labels and {n_classes} classes; "
            "pass model.predict_proba(X) and classes=model.classes_ (a split missing a class "
            "needs classes= to say which columns are which)")
    if not np.isfinite(p).all() or p.min() < 0.0 or p.max() > 1.0:
        raise TrainingError("scores hold values outside [0, 1] or NaN; pass probabilities "
                            "(predict_proba), not raw margins or decision_function output")
    sums = p.sum(axis=1)
    if np.abs(sums - 1.0).max(initial=0.0) > SUM_TOLERANCE:
        raise TrainingError(f"rows of scores sum to between {sums.min():.6g} and "
                            f"{sums.max():.6g}, not 1; pass predict_proba output with every class")
    return p / sums[:, None]


def _labels(y: ArrayLike, purpose: str) -> np.ndarray:
    series = _as_series(y)
    if series.empty:
        raise TrainingError(f"no labels for {purpose}; the split is empty")
    nulls = int(series.isna().sum())
    if nulls:
        raise TrainingError(f"{nulls} of {len(series)} labels are null ({purpose}); drop the "
                            "rows without a label before training")
    values = series.to_numpy()
    if values.dtype == object:
        try:
            np.unique(values)
        except TypeError:
            raise TrainingError(f"labels mix types ({sorted({type(v).__name__ for v in values})})"
                                f" ({purpose}); cast the label column to one type") from None
    return values


def _targets(y: ArrayLike, purpose: str, what: str = "targets") -> np.ndarray:
    try:
        values = np.asarray(y, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise TrainingError(f"{what} for {purpose} are not numbers; regression needs a "
                            "numeric target") from None
    if values.size == 0:
        raise TrainingError(f"no {what} for {purpose}; the split is empty")
    if not np.isfinite(values).all():
        raise TrainingError(f"{what} for {purpose} hold null, NaN or infinite values; drop "
                            "those rows before training")
    return values


def _as_series(y: ArrayLike) -> pd.Series:
    if isinstance(y, pd.Series):
        return y.reset_index(drop=True)
    if np.ndim(y) != 1:
        raise TrainingError(f"labels must be one column, got shape {np.shape(y)}")
    return pd.Series(list(y) if isinstance(y, tuple) else y)


def _is_numeric(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values) or isinstance(values.dtype, pd.CategoricalDtype):
        return False
    if pd.api.types.is_numeric_dtype(values):
        return True
    return pd.api.types.infer_dtype(values, skipna=True) in ("integer", "floating",
                                                             "mixed-integer-float", "decimal")


def _column_name(y: ArrayLike, column: str | None) -> str:
    if column:
        return column
    name = getattr(y, "name", None)
    return str(name) if name is not None else "label"


def _scalar(value: Any) -> Label:
    return value.item() if isinstance(value, np.generic) else value


def _flatten(prefix: str, **values: float | int | None) -> dict[str, float]:
    return {prefix + name: float(value) for name, value in values.items()
            if value is not None and math.isfinite(value)}


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise TrainingError(f"unknown task {task!r}; the tasks are {', '.join(map(repr, TASKS))}")
