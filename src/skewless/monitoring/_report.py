"""A monitoring report: one model version, one window of its prediction log, against its
reference profile.

``monitor("fraud@production", "24h")`` reads the window once, compares every feature and the
model's outputs with the profile (drift and data quality), evaluates the predictions whose
labels have arrived, and recomputes a sample of the logged features offline to measure
training–serving skew. The result is a typed ``MonitorReport``; ``to_json()`` is what
``skewless monitor`` writes and what the HTML report renders.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skewless._time import parse_duration, to_utc, utc_now
from skewless.errors import DefinitionError, MonitoringError

if TYPE_CHECKING:
    from skewless._project import Project
    from skewless.monitoring._drift import DriftRule, FeatureVerdict
    from skewless.monitoring._profile import FeatureProfile, ReferenceProfile
    from skewless.registry import ModelVersion

__all__ = ["MonitorReport", "Performance", "SkewFeature", "SkewReport", "Window", "monitor",
           "parse_window"]

_SKEW_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Window:
    """The half-open time range ``[start, end)`` of logged predictions a report covers."""

    start: datetime
    end: datetime


def parse_window(text: str, now: datetime | None = None) -> Window:
    """``"1h"``, ``"24h"``, ``"7d"`` (the span before ``now``) or ``"START..END"`` (ISO 8601
    times with a zone)."""
    end = now or utc_now()
    if ".." in text:
        first, _, last = text.partition("..")
        try:
            start, stop = (to_utc(datetime.fromisoformat(part.strip()), "window")
                           for part in (first, last))
        except ValueError as exc:
            raise MonitoringError(f"window {text!r}: {exc}; write START..END as ISO 8601 times "
                                  "with a zone, e.g. 2026-11-01T00:00Z..2026-11-02T00:00Z"
                                  ) from None
        except DefinitionError as exc:
            raise MonitoringError(f"window {text!r}: {exc}") from None
        if stop <= start:
            raise MonitoringError(f"window {text!r} ends before it starts")
        return Window(start, stop)
    try:
        span = parse_duration(text, "window")
    except DefinitionError as exc:
        raise MonitoringError(f"{exc}, or START..END") from None
    return Window(end - span, end)


@dataclass(frozen=True)
class Performance:
    """Metrics on the window's labelled predictions next to the validation metrics."""

    labelled_rows: int
    coverage: float
    metrics: dict[str, float]
    validation: dict[str, float]


@dataclass(frozen=True)
class SkewFeature:
    """How often the served value of a feature differed from the offline recomputation."""

    mismatch_rate: float
    mismatches: int
    examples: list[dict[str, Any]]


@dataclass(frozen=True)
class SkewReport:
    """Training–serving skew on ``sampled`` logged predictions."""

    sampled: int
    features: dict[str, SkewFeature]

    @property
    def max_mismatch_rate(self) -> float:
        return max((f.mismatch_rate for f in self.features.values()), default=0.0)


@dataclass(frozen=True)
class MonitorReport:
    """Drift, quality, performance and skew of one model version over one window."""

    model: str
    version: int
    window: Window
    rows: int
    generated_at: datetime
    features: list[FeatureVerdict]
    prediction: FeatureVerdict | None
    performance: Performance | None
    performance_reason: str | None
    skew: SkewReport | None
    skew_reason: str | None
    profile: ReferenceProfile
    rule: DriftRule
    alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def drifted(self) -> list[str]:
        return [v.name for v in self.features if v.drifted]

    @property
    def flagged(self) -> list[str]:
        return [v.name for v in self.features if v.flagged]

    def metric(self, name: str) -> float | None:
        """The value alert rules read (see ``skewless.config.AlertRule``); ``None`` when the
        report has no such value (e.g. no labels yet)."""
        simple = {
            "drifted_features": float(len(self.drifted)),
            "flagged_features": float(len(self.flagged)),
            "prediction_drift": float(bool(self.prediction and self.prediction.drifted)),
            "max_severity": max((v.severity for v in self.features), default=0.0),
            "label_coverage": self.performance.coverage if self.performance else None,
            "skew_mismatch_rate": self.skew.max_mismatch_rate if self.skew else None,
        }
        if name in simple:
            return simple[name]
        kind, _, target = name.partition(".")
        if kind == "performance":
            return self.performance.metrics.get(target) if self.performance else None
        verdict = next((v for v in self.features if v.name == target), None)
        if verdict is None:
            return None
        if kind == "null_rate":
            return verdict.quality.null_rate
        return _statistics(verdict).get(kind)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-able data (the layout ``render_html`` takes)."""
        profile = self.profile
        return {
            "model": self.model, "version": self.version,
            "window": {"start": self.window.start.isoformat(),
                       "end": self.window.end.isoformat()},
            "rows": self.rows, "generated_at": self.generated_at.isoformat(),
            "status": "alert" if self.alerts else "ok",
            "rule": _jsonable(self.rule),
            "features": [_verdict_json(v, profile.features.get(v.name)) for v in
                         sorted(self.features, key=lambda v: -v.severity)],
            "prediction": None if self.prediction is None else
            _verdict_json(self.prediction, profile.predictions),
            "performance": None if self.performance is None else asdict(self.performance),
            "performance_reason": self.performance_reason,
            "skew": None if self.skew is None else {
                "sampled": self.skew.sampled,
                "features": {name: asdict(f) for name, f in self.skew.features.items()}},
            "skew_reason": self.skew_reason,
            "alerts": list(self.alerts),
        }


def _jsonable(value: Any) -> Any:
    """Dataclasses, pydantic models, numpy scalars and non-finite floats as JSON values."""
    if hasattr(value, "model_dump"):
        return _jsonable(value.model_dump())
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _statistics(verdict: FeatureVerdict) -> dict[str, float]:
    drift = verdict.drift
    names = ("psi", "ks", "ks_pvalue", "wasserstein") if verdict.kind == "numeric" \
        else ("chi2", "chi2_pvalue", "js_distance")
    return {name: getattr(drift, name) for name in names if getattr(drift, name, None) is not None}


def _verdict_json(verdict: FeatureVerdict, reference: FeatureProfile | None) -> dict[str, Any]:
    drift = verdict.drift
    item: dict[str, Any] = {
        "name": verdict.name, "kind": verdict.kind, "flagged": verdict.flagged,
        "drifted": verdict.drifted, "severity": verdict.severity,
        "reasons": list(verdict.reasons), "statistics": _jsonable(_statistics(verdict)),
        "quality": _jsonable(verdict.quality),
    }
    if reference is not None and drift is not None:
        if verdict.kind == "numeric":
            item["reference"] = {"edges": list(reference.edges),
                                 "proportions": list(reference.bin_proportions)}
            item["current"] = {"proportions": _jsonable(list(
                getattr(drift, "current_proportions", ())))}
        else:
            shares = dict(reference.category_shares)
            if reference.other_count:
                shares["(other)"] = reference.other_share
            item["reference"] = {"shares": _jsonable(shares)}
            item["current"] = {"shares": _jsonable(dict(getattr(drift, "current_shares", {})))}
    return _jsonable(item)


def _window_features(log: pa.Table, names: list[str]) -> pa.Table:
    """The logged feature columns, named as in the profile (absent ones left out: the
    comparison reports them as missing)."""
    columns = {name: log[f"feature__{name}"] for name in names
               if f"feature__{name}" in log.column_names}
    return pa.table(columns) if columns else pa.table({})


def _prediction_values(log: pa.Table, record: ModelVersion) -> np.ndarray | None:
    """The served outputs comparable with the profile's validation predictions."""
    training = record.training
    if training is None:
        return None
    if training.task == "binary" and training.classes:
        column = f"probability__{training.classes[1]}"
        return log[column].to_numpy(zero_copy_only=False) if column in log.column_names \
            else None
    if "prediction" not in log.column_names:
        return None
    values = log["prediction"]
    if training.task == "regression":
        return values.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(values.cast(pa.string()).to_pylist(), dtype=object)


def _performance(project: Project, record: ModelVersion, window: Window, rows: int
                 ) -> tuple[Performance | None, str | None]:
    from skewless.serving._feedback import FeedbackStore
    from skewless.training._evaluation import evaluate

    training = record.training
    if training is None:
        return None, "the version was not logged with a training frame (no task or classes)"
    store = FeedbackStore.from_config(project.config.prediction_log, project.path)
    if store is None:
        return None, "prediction_log.sink is 'off': no labels are stored"
    try:
        joined = store.labelled_predictions(record.name, record.version, window.start,
                                            window.end)
    finally:
        store.close()
    labelled = joined.filter(pc.invert(pc.is_null(joined["label"]))) \
        if "label" in joined.column_names else joined.slice(0, 0)
    if labelled.num_rows == 0:
        return None, "no labels have arrived for this window"
    coverage = labelled.num_rows / rows if rows else 0.0
    y = np.asarray(labelled["label"].to_pylist(), dtype=object)
    if training.task == "regression":
        scores = labelled["prediction"].cast(pa.float64()).to_numpy(zero_copy_only=False)
        y = y.astype(float)
        metrics = evaluate("regression", y, scores)
    else:
        classes = list(training.classes or [])
        columns = [f"probability__{c}" for c in classes]
        if any(c not in labelled.column_names for c in columns):
            return None, "the logged predictions have no probabilities"
        scores = np.column_stack([labelled[c].to_numpy(zero_copy_only=False) for c in columns])
        kind = type(classes[0]) if classes else str
        y = np.asarray([kind(v) if not isinstance(v, kind) else v for v in y], dtype=object)
        metrics = evaluate(training.task, y, scores, threshold=training.threshold or 0.5,
                           classes=classes)
    observed = {k: v for k, v in metrics.as_dict().items() if k not in ("rows", "threshold")}
    validation = {k.removeprefix("valid."): v for k, v in record.metrics.items()
                  if k.startswith("valid.") and not k.startswith("valid.baseline.")}
    return Performance(labelled.num_rows, coverage, observed, validation), None


def _skew(project: Project, record: ModelVersion, log: pa.Table, sample: int, seed: int = 0
          ) -> tuple[SkewReport | None, str | None]:
    """Recompute ``sample`` logged rows' features offline at their logged time and keys."""
    from skewless._store import FeatureStore

    training = record.training
    if training is None:
        return None, "the version has no feature service binding"
    if sample == 0:
        return None, "monitoring.skew_sample is 0"
    usable = log.filter(pc.invert(log["degraded"])) if "degraded" in log.column_names else log
    if usable.num_rows == 0:
        return None, "no undegraded predictions in the window"
    picks = np.sort(np.random.default_rng(seed).choice(
        usable.num_rows, size=min(sample, usable.num_rows), replace=False))
    rows = usable.take(pa.array(picks))
    frame = {key.name: rows[f"entity__{key.name}"] for key in training.entity_keys}
    frame["event_timestamp"] = rows["timestamp"]
    for request in training.request_fields:
        frame[request.name] = rows[f"request__{request.name}"]
    with FeatureStore(project.path) as store:
        offline = store.get_historical_features(
            pa.table(frame), [f.ref for f in training.features]).to_arrow()
    features = {}
    for feature in training.features:
        served = rows[f"feature__{feature.name}"].to_pylist() \
            if f"feature__{feature.name}" in rows.column_names else [None] * rows.num_rows
        expected = offline[feature.name].to_pylist()
        mismatched = [i for i, (a, b) in enumerate(zip(served, expected, strict=True))
                      if not _same(a, b)]
        examples = [{"request_id": rows["request_id"][i].as_py(), "served": served[i],
                     "offline": expected[i]} for i in mismatched[:3]]
        features[feature.name] = SkewFeature(len(mismatched) / rows.num_rows, len(mismatched),
                                             _jsonable(examples))
    return SkewReport(rows.num_rows, features), None


def _same(served: Any, offline: Any) -> bool:
    if served is None or offline is None:
        return served is None and offline is None
    if isinstance(served, bool) or isinstance(offline, bool):
        return bool(served) == bool(offline)
    if isinstance(served, int | float) and isinstance(offline, int | float):
        if math.isnan(served) or math.isnan(offline):
            return math.isnan(served) and math.isnan(offline)
        return abs(served - offline) <= _SKEW_TOLERANCE * max(1.0, abs(offline))
    return served == offline


def drift_rule(settings: dict[str, Any]) -> DriftRule:
    """The rule of ``monitoring.rule`` in skewless.yaml; unknown settings are named."""
    from skewless.monitoring._drift import DriftRule

    try:
        return DriftRule(**settings)
    except TypeError as exc:
        raise MonitoringError(f"monitoring.rule: {exc}; see skewless.monitoring.DriftRule for "
                              "the settings") from None


def monitor(ref: str, window: str | Window, *, project: Any = None,
            rule: DriftRule | None = None, skew_sample: int | None = None,
            now: datetime | None = None) -> MonitorReport:
    """The monitoring report of model ``ref`` (``fraud@production``, ``fraud/3``) over
    ``window`` (``"24h"``, ``"START..END"`` or a ``Window``)."""
    from skewless._project import get_project
    from skewless.monitoring._drift import compare, compare_values
    from skewless.serving._prediction_log import PredictionSink

    context = get_project(project)
    span = window if isinstance(window, Window) else parse_window(window, now)
    record = context.registry.get_model_version(ref)
    profile = context.registry.reference_profile(record.ref)
    sink = PredictionSink.from_config(context.config.prediction_log, context.path)
    if sink is None:
        raise MonitoringError("prediction_log.sink is 'off': there is no prediction log to "
                              "monitor; set it to parquet or postgresql and serve the model")
    try:
        log = sink.read(record.name, record.version, span.start, span.end)
    finally:
        sink.close()
    if log.num_rows == 0:
        raise MonitoringError(f"no predictions of {record.ref} were logged between "
                              f"{span.start.isoformat()} and {span.end.isoformat()}; widen "
                              "--window or check the server's prediction_log settings")
    if rule is None:
        rule = drift_rule(context.config.monitoring.rule)
    names = list(profile.features)
    verdicts = compare(profile, _window_features(log, names), rule=rule, features=names)
    outputs = _prediction_values(log, record)
    prediction = None if outputs is None or profile.predictions is None else \
        compare_values(profile.predictions, outputs, rule)
    performance, performance_reason = _performance(context, record, span, log.num_rows)
    sample = context.config.monitoring.skew_sample if skew_sample is None else skew_sample
    skew, skew_reason = _skew(context, record, log, sample)
    return MonitorReport(
        model=record.name, version=record.version, window=span, rows=log.num_rows,
        generated_at=utc_now(), features=verdicts, prediction=prediction,
        performance=performance, performance_reason=performance_reason, skew=skew,
        skew_reason=skew_reason, profile=profile, rule=rule)

