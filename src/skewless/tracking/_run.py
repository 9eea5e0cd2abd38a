"""A run: the context manager users log params, metrics, tags, artifacts and models to.

Everything logged is buffered in memory and written in one transaction per batch: when the
buffer holds ``max_buffer`` items, every ``flush_interval`` seconds (from a background thread),
and when the run ends — also when the ``with`` block raises, so nothing logged is lost.
"""

from __future__ import annotations

import math
import threading
import traceback
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from skewless._time import utc_now
from skewless.errors import ArtifactError, TrackingError, TrainingError
from skewless.tracking._records import MetricPoint, RunRecord, RunStatus

if TYPE_CHECKING:
    from skewless._project import Project
    from skewless.features import FeatureService
    from skewless.registry import ModelVersion
    from skewless.training import Split, TrainingFrame

__all__ = ["Run"]


_MAX_KEY = 250  # the key columns of the run tables


def _key(key: object, what: str) -> str:
    """A param, metric or tag name, checked when logged: a bad one must not fail a batch."""
    if not isinstance(key, str) or not key or len(key) > _MAX_KEY:
        raise TrackingError(f"{what} name {key!r} is not valid: use a non-empty string of at "
                            f"most {_MAX_KEY} characters")
    return key


def _number(key: str, value: object) -> float:
    """A metric value as a finite float, checked when logged (not when the batch is written:
    one bad value would otherwise fail its whole batch)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TrackingError(f"metric {key!r} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise TrackingError(f"metric {key!r} is {number}: metrics must be finite numbers; "
                            "skip the point, or record the event with set_tag")
    return number


class Run:
    """An experiment run. Use ``skewless.start_run(...)`` rather than creating one directly."""

    def __init__(self, project: Project, experiment: str, run_id: str, name: str,
                 started: datetime, *, flush_interval: float = 1.0,
                 max_buffer: int = 1_000) -> None:
        self.project = project
        self.experiment = experiment
        self.run_id = run_id
        self.name = name
        self.start_time = started
        self.status: RunStatus = "running"
        self.max_buffer = max_buffer
        self._params: dict[str, str] = {}
        self._pending_params: dict[str, str] = {}
        self._pending_tags: dict[str, str] = {}
        self._pending_metrics: list[MetricPoint] = []
        self._steps: dict[str, int] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_periodically, args=(flush_interval,),
                                         name=f"skewless-run-{run_id[:8]}", daemon=True)
        self._flusher.start()

    def __repr__(self) -> str:
        return f"Run({self.run_id!r}, experiment={self.experiment!r}, status={self.status!r})"

    # -- logging ------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.status != "running":
            raise TrackingError(f"run {self.run_id} has ended ({self.status}); start a new run")

    def log_param(self, key: str, value: Any) -> None:
        """Record a parameter (stored as text). Logging it again with another value fails."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record several parameters; if any conflicts with a logged value, none is recorded."""
        with self._lock:
            self._check_open()
            texts = {_key(key, "param"): str(value) for key, value in params.items()}
            for key, text in texts.items():
                if self._params.get(key, text) != text:
                    raise TrackingError(
                        f"param {key!r} is already {self._params[key]!r} in run {self.run_id}; "
                        f"params never change — log {text!r} under another name or in a new run")
            for key, text in texts.items():
                if key not in self._params:
                    self._params[key] = self._pending_params[key] = text
            self._flush_if_full()

    def set_tag(self, key: str, value: Any) -> None:
        """Set a tag; setting it again replaces the value."""
        with self._lock:
            self._check_open()
            self._pending_tags[_key(key, "tag")] = str(value)
            self._flush_if_full()

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Record one value of a metric. Without ``step``, steps count 0, 1, 2... per metric."""
        self.log_metrics({key: value}, step)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        now = utc_now()
        with self._lock:
            self._check_open()
            points = {_key(key, "metric"): _number(key, value) for key, value in metrics.items()}
            for key, number in points.items():
                point_step = self._steps.get(key, 0) if step is None else int(step)
                self._steps[key] = max(self._steps.get(key, 0), point_step + 1)
                self._pending_metrics.append(MetricPoint(key, number, point_step, now))
            self._flush_if_full()

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> list[str]:
        """Store a file or a folder (recursively) with the run; returns the stored paths.

        Stored under ``runs/<run id>/<artifact_path or the file's name>``, atomically and with
        a SHA-256 digest, recorded with the run at once.
        """
        self._check_open()
        source = Path(path)
        if not source.exists():
            raise ArtifactError(f"cannot log {source}: no such file or folder")
        relative = artifact_path or source.name
        prefix = f"runs/{self.run_id}"
        store = self.project.artifacts
        stored = (store.put_directory(source, f"{prefix}/{relative}") if source.is_dir()
                  else [store.put_file(source, f"{prefix}/{relative}")])
        self.project.runs.write(self.run_id, artifacts=[
            (a.path.removeprefix(prefix + "/"), a.sha256, a.size) for a in stored])
        return [a.path.removeprefix(prefix + "/") for a in stored]

    def log_model(self, model: Any, name: str, *,
                  training_frame: TrainingFrame | Split | None = None,
                  service: str | FeatureService | None = None,
                  validation: TrainingFrame | None = None, threshold: float = 0.5,
                  **options: Any) -> ModelVersion:
        """Register ``model`` as a new version of ``name``, with this run's params and metrics.

        Takes the options of ``skewless.register_model`` (flavor, input_example, allow_pickle,
        description, tags...). With ``training_frame`` (a ``TrainingFrame``, or the ``Split``
        of one) the model is first evaluated next to its baseline on validation and test (the
        metrics are logged to this run, ``threshold`` is the classification cut-off), its
        features and validation predictions are profiled, an ONNX export is kept when it
        reproduces the model, and the version is bound to the frame's feature service and
        definition hashes. ``validation`` is the validation frame when ``training_frame`` is
        not a ``Split``; ``service``, when given, must be the frame's service.
        """
        self._check_open()
        if training_frame is not None:
            from skewless.training._bind import log_trained_model

            return log_trained_model(self, model, name, training_frame=training_frame,
                                     service=service, validation=validation,
                                     threshold=threshold, **options)
        if service is not None or validation is not None:
            raise TrainingError("service= and validation= bind a model to its training data; "
                                "pass training_frame= as well")
        return self.register(model, name, **options)

    def register(self, model: Any, name: str, **options: Any) -> ModelVersion:
        """Flush, then register ``model`` with this run's id (what ``log_model`` ends with)."""
        self.flush()
        return self.project.registry.register_model(model, name, run_id=self.run_id, **options)

    # -- buffering ----------------------------------------------------------------------------

    def _pending(self) -> int:
        return len(self._pending_params) + len(self._pending_tags) + len(self._pending_metrics)

    def _flush_if_full(self) -> None:
        if self._pending() >= self.max_buffer:
            self.flush()

    def flush(self, finish: tuple[RunStatus, str | None] | None = None) -> None:
        """Write everything buffered (and, at the end, the final status) in one transaction."""
        with self._lock:
            if not self._pending() and finish is None:
                return
            params, tags, metrics = (self._pending_params, self._pending_tags,
                                     self._pending_metrics)
            self.project.runs.write(self.run_id, params=params, tags=tags, metrics=metrics,
                                    finish=finish)
            self._pending_params, self._pending_tags, self._pending_metrics = {}, {}, []

    def _flush_periodically(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.flush()
            except Exception:  # retried at the next tick, and raised when the run ends
                continue

    # -- lifecycle ----------------------------------------------------------------------------

    def end(self, status: RunStatus = "finished", error: str | None = None) -> None:
        """Flush and record the final status. Ending twice is a no-op."""
        with self._lock:
            if self.status != "running":
                return
            self._stop.set()
            self.flush(finish=(status, error))
            self.status = status

    def __enter__(self) -> Run:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        self._flusher.join(timeout=5)
        if error is None:
            self.end("finished")
        else:
            details = "".join(traceback.format_exception(kind, error, trace))
            self.end("failed", details)

    def record(self) -> RunRecord:
        """The run as stored now (flushes first)."""
        self.flush()
        return self.project.runs.get(self.run_id)
