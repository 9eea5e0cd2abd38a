"""``run.log_model(..., training_frame=...)``: register a model bound to what it was trained on.

Before the version is registered this evaluates the model and its baseline on validation and
test and logs the metrics to the run, profiles the training features and the validation
predictions (the reference monitoring compares serving with), and tries an ONNX export that is
kept only when it reproduces the native model. The version then records the feature service,
the hash of every definition, the feature vector, the training-data fingerprint and the
comparison with the baseline, which ``set_alias("production")`` checks.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from skewless.errors import TrainingError
from skewless.features._definitions import FeatureService
from skewless.registry._records import (
    BaselineComparison,
    ColumnSpec,
    FeatureBinding,
    ModelSignature,
    ModelVersion,
    OnnxExportRecord,
    TrainingBinding,
)
from skewless.training._evaluation import (
    ClassificationMetrics,
    RegressionMetrics,
    Task,
    compare_to_baseline,
    evaluate,
    fit_baseline,
    infer_task,
)
from skewless.training._frame import TrainingFrame
from skewless.training._split import Split

if TYPE_CHECKING:
    from skewless.tracking import Run

__all__ = ["ONNX_FILE", "PROFILE_FILE", "log_trained_model", "model_input", "model_scores"]

PROFILE_FILE = "reference_profile.json"
ONNX_FILE = "model.onnx"
_NUMERIC = {"int32", "int64", "float32", "float64", "bool"}
_SAME_FOR_BASELINE = {"rows", "threshold", "positive_rate"}
"""Metrics of the split rather than the predictor: logged once, for the model."""


def model_input(model: Any, frame: TrainingFrame) -> Any:
    """What the model is fed: the float matrix, or a DataFrame with the same columns when the
    model was fitted on one (it then remembers ``feature_names_in_`` and checks them)."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return frame.X()
    if list(names) != frame.feature_names:
        raise TrainingError(f"the model was fitted on columns {list(names)}, but the "
                            f"training frame's feature vector is {frame.feature_names}; fit it "
                            "on frame.X() or frame.to_pandas()[frame.feature_names]")
    import pandas as pd

    return pd.DataFrame(frame.X(), columns=frame.feature_names)


def model_scores(model: Any, frame: TrainingFrame, task: Task) -> np.ndarray:
    """Probabilities (classification) or predictions (regression) on ``frame``."""
    X = model_input(model, frame)
    if task == "regression":
        return np.asarray(model.predict(X), dtype=np.float64)
    if not hasattr(model, "predict_proba"):
        raise TrainingError(f"{type(model).__name__} has no predict_proba; classification "
                            "metrics (AUC, log loss, calibration) need probabilities")
    return np.asarray(model.predict_proba(X), dtype=np.float64)


def _classes(model: Any, frame: TrainingFrame) -> list[Any] | None:
    classes = getattr(model, "classes_", None)
    if classes is None:
        return sorted(set(frame.y().tolist()))
    return [c.item() if hasattr(c, "item") else c for c in classes]


def _evaluate(run: Run, model: Any, train: TrainingFrame, parts: dict[str, TrainingFrame],
              task: Task, classes: list[Any] | None, threshold: float
              ) -> tuple[BaselineComparison | None, dict[str, Any]]:
    """Metrics of model and baseline on each part, logged to the run; the validation
    comparison; and the full report (with calibration tables) for the run's artifacts."""
    baseline = fit_baseline(task, train.y())
    report: dict[str, Any] = {}
    comparison = None
    for name, part in parts.items():
        options: dict[str, Any] = {} if task == "regression" else {
            "threshold": threshold, "classes": classes}
        scored: dict[str, ClassificationMetrics | RegressionMetrics] = {}
        for who, predictor in (("model", model), ("baseline", baseline)):
            scores = model_scores(predictor, part, task)
            scored[who] = evaluate(task, part.y(), scores, **options)
        run.log_metrics(scored["model"].as_dict(f"{name}."))
        run.log_metrics({key: value for key, value in
                         scored["baseline"].as_dict(f"{name}.baseline.").items()
                         if key.rsplit(".", 1)[1] not in _SAME_FOR_BASELINE})
        report[name] = {who: asdict(metrics) for who, metrics in scored.items()}
        if name == "valid":
            result = compare_to_baseline(scored["model"], scored["baseline"])
            comparison = BaselineComparison(result.primary_metric, result.model,
                                            result.baseline, result.beats_baseline)
    return comparison, report


def _onnx(model: Any, frame: TrainingFrame, check: TrainingFrame
          ) -> tuple[OnnxExportRecord, bytes | None]:
    from skewless.training._onnx_export import export_onnx

    non_numeric = [f.name for f in frame.features if f.dtype not in _NUMERIC]
    if non_numeric:
        return OnnxExportRecord(False, f"non-numeric features {', '.join(non_numeric)} — the "
                                "export takes one numeric vector", None, 0, None, None), None
    export = export_onnx(model, check.X(), feature_names=frame.feature_names)
    record = OnnxExportRecord(export.kept, export.reason, export.max_abs_diff,
                              export.rows_checked, export.input_dtype,
                              ONNX_FILE if export.kept else None)
    data = export.model.SerializeToString() if export.kept and export.model else None
    return record, data


def _prediction_values(scores: np.ndarray, task: Task, classes: list[Any] | None) -> np.ndarray:
    """One number per row to profile: the positive-class probability (binary), the predicted
    class (multiclass) or the prediction (regression)."""
    if task == "regression":
        return scores
    if task == "binary":
        return scores[:, 1]
    return np.asarray(classes, dtype=object)[scores.argmax(axis=1)].astype(str)


def _signature(frame: TrainingFrame, task: Task, classes: list[Any] | None) -> ModelSignature:
    inputs = [ColumnSpec(key, frame.entity_dtypes[key]) for key in frame.entity_keys]
    inputs += [ColumnSpec(r.name, r.dtype) for r in frame.request_fields]
    label_type = frame.table.schema.field(frame.label).type
    outputs = [ColumnSpec("prediction", str(label_type))]
    if task != "regression":
        outputs += [ColumnSpec(f"probability[{c}]", "float64") for c in classes or []]
    return ModelSignature(inputs, outputs, [ColumnSpec(f.name, f.dtype) for f in frame.features])


def log_trained_model(run: Run, model: Any, name: str, *, training_frame: TrainingFrame | Split,
                      service: str | FeatureService | None = None,
                      validation: TrainingFrame | None = None, threshold: float = 0.5,
                      **options: Any) -> ModelVersion:
    """Evaluate, profile, export and register ``model``; see ``Run.log_model``."""
    from skewless.monitoring import build_profile, profile_values

    if isinstance(training_frame, Split):
        if validation is not None:
            raise TrainingError("pass either a Split or a frame with validation=, not both")
        frame, train = training_frame.frame, training_frame.train
        parts = {name: part for name, part in training_frame.parts().items() if name != "train"}
    elif isinstance(training_frame, TrainingFrame):
        frame = train = training_frame
        parts = {"valid": validation} if validation is not None else {}
    else:
        raise TrainingError("training_frame must be what store.get_training_frame or "
                            f"time_split returned, not {type(training_frame).__name__}")
    wanted = service.name if isinstance(service, FeatureService) else service
    if wanted is not None and wanted != frame.service:
        raise TrainingError(f"service={wanted!r}, but the training frame was built from "
                            f"{frame.service!r}; pass the service the frame came from")
    for signature_option in ("signature", "feature_service", "feature_hashes"):
        if signature_option in options:
            raise TrainingError(f"{signature_option}= is derived from the training frame; "
                                "leave it out")
    task = infer_task(train.y(), column=frame.label)
    classes = None if task == "regression" else _classes(model, train)
    comparison, report = _evaluate(run, model, train, parts, task, classes, threshold)
    check = parts.get("valid", train)
    profile = build_profile(train.table, frame.feature_names)
    predictions = profile_values("prediction", _prediction_values(
        model_scores(model, check, task), task, classes))
    profile = replace(profile, predictions=predictions)
    onnx_record, onnx_bytes = _onnx(model, frame, check)
    start, end = train.time_range
    binding = TrainingBinding(
        service=frame.service,
        entity_keys=[ColumnSpec(k, frame.entity_dtypes[k]) for k in frame.entity_keys],
        request_fields=[ColumnSpec(r.name, r.dtype) for r in frame.request_fields],
        features=[FeatureBinding(f.name, f.ref, f.dtype, profile.features[f.name].default
                                 if f.name in profile.features else None)
                  for f in frame.features],
        label=frame.label, task=task, classes=classes,
        threshold=None if task == "regression" else threshold,
        rows=train.num_rows, time_start=start, time_end=end,
        baseline=comparison, onnx=onnx_record)
    attachments = {PROFILE_FILE: json.dumps(profile.to_json(), allow_nan=False).encode()}
    if onnx_bytes is not None:
        attachments[ONNX_FILE] = onnx_bytes
    with tempfile.TemporaryDirectory(prefix="skewless-eval-") as scratch:
        path = Path(scratch) / "evaluation.json"
        path.write_text(json.dumps(report, indent=2, default=str))
        run.log_artifact(path)
    return run.register(
        model, name, signature=_signature(frame, task, classes), feature_service=frame.service,
        feature_hashes=frame.definition_hashes, training_fingerprint=frame.fingerprint,
        reference_profile={"file": PROFILE_FILE, "rows": train.num_rows,
                           "features": frame.feature_names},
        training=binding, attachments=attachments, **options)
