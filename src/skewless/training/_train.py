"""``skewless train CONFIG.yaml``: labels → training frame → time split → fit → log_model.

The configuration names everything a training job needs, so that the same file retrains the
model on fresh labels (by cron, or from a monitoring alert)::

    model: fraud                      # registered model name
    experiment: fraud                 # run experiment (default: the model name)
    service: fraud_features           # feature service
    labels:
      path: data/labels.parquet       # Parquet or CSV, relative to the project
      label: is_fraud                 # optional when it is the only extra column
      timestamp: event_timestamp
    estimator:
      class: sklearn.ensemble.RandomForestClassifier
      params: {n_estimators: 100, max_depth: 10}
    preprocessing:                    # optional steps before the estimator (a Pipeline)
      - class: sklearn.preprocessing.StandardScaler
    split: {valid: 7d, test: 7d, gap: 1d}
    class_weights: true               # weights inversely proportional to class frequency
    threshold: 0.5
    alias: staging                    # optional alias to set on the new version
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic import Field as PydanticField

from skewless.errors import TrainingError

if TYPE_CHECKING:
    from skewless._store import FeatureStore
    from skewless.registry import ModelVersion

__all__ = ["TrainConfig", "TrainResult", "build_estimator", "load_train_config", "train"]

ESTIMATOR_PACKAGES = ("sklearn", "xgboost", "lightgbm")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class LabelsConfig(_Strict):
    path: str
    label: str | None = None
    timestamp: str = "event_timestamp"


class StepConfig(_Strict):
    class_path: str = PydanticField(alias="class")
    params: dict[str, Any] = PydanticField(default_factory=dict)


class SplitConfig(_Strict):
    valid: str = "7d"
    test: str | None = "7d"
    gap: str | None = "1d"


class TrainConfig(_Strict):
    """A training job, as read from its YAML file (see the module docstring)."""

    model: str
    service: str
    labels: LabelsConfig
    estimator: StepConfig
    experiment: str | None = None
    preprocessing: list[StepConfig] = PydanticField(default_factory=list)
    split: SplitConfig = SplitConfig()
    class_weights: bool = False
    threshold: float = PydanticField(default=0.5, ge=0.0, le=1.0)
    alias: str | None = None


@dataclass(frozen=True)
class TrainResult:
    """The registered version, and the metrics of model and baseline by split."""

    version: ModelVersion
    seconds: float


def load_train_config(path: Path) -> TrainConfig:
    """Read and check a training configuration; every problem is named with its field."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise TrainingError(f"cannot read training config {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise TrainingError(f"training config {path} is not valid YAML: {exc}") from exc
    try:
        return TrainConfig.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}"
                             for e in exc.errors())
        raise TrainingError(f"training config {path}: {problems}") from exc


def _import_class(path: str) -> type:
    module, _, name = path.rpartition(".")
    if module.partition(".")[0] not in ESTIMATOR_PACKAGES:
        raise TrainingError(f"estimator class {path!r}: classes come from "
                            f"{', '.join(ESTIMATOR_PACKAGES)} (e.g. "
                            "sklearn.ensemble.RandomForestClassifier)")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise TrainingError(f"cannot import estimator class {path!r}: {exc}; check the name, "
                            "and install its package (e.g. `pip install skewless[xgboost]`)"
                            ) from exc
    if not isinstance(found, type):
        raise TrainingError(f"{path!r} is not a class")
    return found


def build_estimator(config: TrainConfig) -> Any:
    """The configured estimator, inside a Pipeline when there are preprocessing steps."""
    steps = []
    for step in [*config.preprocessing, config.estimator]:
        kind = _import_class(step.class_path)
        try:
            steps.append(kind(**step.params))
        except TypeError as exc:
            raise TrainingError(f"{step.class_path}: {exc}; check its params") from exc
    if len(steps) == 1:
        return steps[0]
    from sklearn.pipeline import make_pipeline

    return make_pipeline(*steps)


def _fit(estimator: Any, X: Any, y: Any, weights: Any) -> None:
    if weights is None:
        estimator.fit(X, y)
        return
    from sklearn.pipeline import Pipeline

    key = f"{estimator.steps[-1][0]}__sample_weight" if isinstance(estimator, Pipeline) \
        else "sample_weight"
    try:
        estimator.fit(X, y, **{key: weights})
    except TypeError as exc:
        raise TrainingError(f"{type(estimator).__name__} does not take sample weights ({exc}); "
                            "set class_weights: false") from exc


def train(store: FeatureStore, config: TrainConfig,
          progress: Callable[[str, int, int], None] | bool = True) -> TrainResult:
    """Run a training job: build the frame, split by time, fit, evaluate next to the baseline
    and register the model bound to its features; set ``config.alias`` when given."""
    import skewless
    from skewless._historical import read_frame
    from skewless._progress import progress_reporter
    from skewless.training._evaluation import class_weights, infer_task, sample_weights
    from skewless.training._split import time_split

    started = time.perf_counter()
    labels_path = Path(config.labels.path)
    if not labels_path.is_absolute():
        labels_path = store.path / labels_path
    with progress_reporter(progress) as report:
        report("build training frame", 0, 1)
        frame = store.get_training_frame(read_frame(labels_path, "labels"), config.service,
                                         label=config.labels.label,
                                         timestamp_column=config.labels.timestamp)
        split = time_split(frame, valid=config.split.valid, test=config.split.test,
                           gap=config.split.gap)
        report("build training frame", 1, 1)
        estimator = build_estimator(config)
        y = split.train.y()
        weights = None
        if config.class_weights:
            if infer_task(y, column=frame.label) == "regression":
                raise TrainingError("class_weights is for classification; this label is a "
                                    "regression target — set class_weights: false")
            weights = sample_weights(y, class_weights(y))
        steps = [type(step).__name__ for _, step in getattr(estimator, "steps", [])]
        fit_task = (f"fit {' → '.join(steps) or type(estimator).__name__} on "
                    f"{split.train.num_rows:,} rows")
        report(fit_task, 0, 1)
        _fit(estimator, split.train.X(), y, weights)
        report(fit_task, 1, 1)
        report("evaluate and register", 0, 1)
        project = skewless._project.get_project(store.path)
        with project.start_run(config.experiment or config.model) as run:
            run.log_params({"estimator": config.estimator.class_path,
                            **{f"estimator.{k}": v for k, v in config.estimator.params.items()},
                            "service": config.service, "class_weights": config.class_weights,
                            "split": config.split.model_dump_json()})
            version = run.log_model(estimator, config.model, training_frame=split,
                                    threshold=config.threshold)
        if config.alias:
            project.registry.set_alias(config.model, config.alias, version.version)
            version = project.registry.get_model_version(version.ref)
        report("evaluate and register", 1, 1)
    return TrainResult(version, time.perf_counter() - started)
