"""A model version ready to serve: its runner, its inputs and its feature resolver.

Everything that can be done once per version is done when it loads — the ONNX session, the
feature read plan, the order and types of the inputs, the defaults — so a request only checks
its input, reads features and runs the model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from skewless.errors import RegistryError
from skewless.registry import ColumnSpec, ModelVersion
from skewless.serving._features import FeatureResolver

if TYPE_CHECKING:
    from skewless._project import Project
    from skewless._store import FeatureStore

__all__ = ["Outputs", "Runner", "ServedModel", "load_served_model"]


@dataclass(frozen=True, slots=True)
class Outputs:
    """One prediction per row, and the class probabilities when the model is a classifier."""

    predictions: list[Any]
    probabilities: np.ndarray | None


class Runner(Protocol):
    """Runs a model on a float64 feature matrix.

    An ``inline`` runner is run on the event loop's thread and stops by itself at
    ``deadline`` (a ``time.monotonic()`` value), raising ``TimeoutError``; other runners are
    run in a worker thread, which the caller stops waiting for at the deadline.
    """

    flavor: str
    inline: bool

    def __call__(self, X: np.ndarray, deadline: float | None = None) -> Outputs: ...


class _Watchdog:
    """One thread per process that ends ONNX runs past their deadline.

    onnxruntime stops a ``session.run`` whose ``RunOptions.terminate`` is set from another
    thread. Inline runs happen one at a time on the event loop's thread, so one slot is
    enough. The thread sleeps until the deadline of the run in the slot and ends it if it is
    still the one running; it never wakes between deadlines, because every wake-up costs the
    event loop a GIL hand-over. With runs coming continuously it wakes once per timeout
    (20 times a second for the default 50 ms); with none it waits until the next is armed.
    """

    def __init__(self) -> None:
        self._slot: tuple[Any, float] | None = None
        self._armed = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def arm(self, options: Any, deadline: float) -> None:
        self._slot = (options, deadline)
        if not self._armed.is_set():
            self._armed.set()
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name="skewless-onnx-watchdog")
                    self._thread.start()

    def disarm(self) -> None:
        self._slot = None

    def _run(self) -> None:
        ended = None
        while True:
            self._armed.wait()
            slot = self._slot
            if slot is ended:  # told to stop, and stopping
                time.sleep(0.001)
                continue
            if slot is None:
                self._armed.clear()
                if self._slot is None:  # not armed while clearing: sleep until the next run
                    continue
                self._armed.set()
                continue
            delay = slot[1] - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if self._slot is slot:  # the same run, still in progress past its deadline
                slot[0].terminate = True
                ended = slot


_WATCHDOG = _Watchdog()


class OnnxRunner:
    """An ONNX export: one ``session.run`` gives labels and probabilities together.

    The session runs each request on the calling thread (one intra-op thread, no spinning):
    for a few rows, handing work to onnxruntime's thread pool costs more than it saves, and
    its spinning threads would take CPU from the other workers.
    """

    flavor = "onnx"
    inline = True

    def __init__(self, data: bytes, classes: list[Any] | None, threshold: float | None) -> None:
        import onnxruntime as ort

        self._run_options = ort.RunOptions
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        node = session.get_inputs()[0]
        self._session = session
        self._input = node.name
        self._dtype = np.float64 if node.type == "tensor(double)" else np.float32
        self._classes = classes
        self._threshold = threshold

    def __call__(self, X: np.ndarray, deadline: float | None = None) -> Outputs:
        feed = {self._input: X.astype(self._dtype, copy=False)}
        if deadline is None:
            outputs = self._session.run(None, feed)
        else:
            options = self._run_options()
            _WATCHDOG.arm(options, deadline)
            try:
                outputs = self._session.run(None, feed, options)
            except Exception:
                if options.terminate:
                    raise TimeoutError("the ONNX model ran past its deadline") from None
                raise
            finally:
                _WATCHDOG.disarm()
        if self._classes is None:
            return Outputs(np.asarray(outputs[0], dtype=float).ravel().tolist(), None)
        probabilities = np.asarray(outputs[1], dtype=np.float64)
        return Outputs(_labels(probabilities, self._classes, self._threshold), probabilities)


class NativeRunner:
    """The native model (scikit-learn, XGBoost, LightGBM), for versions without an export."""

    flavor = "native"
    inline = False

    def __init__(self, model: Any, classes: list[Any] | None, threshold: float | None,
                 feature_names: Sequence[str]) -> None:
        self._model = model
        self._classes = classes
        self._threshold = threshold
        self._frame_columns = list(feature_names) \
            if getattr(model, "feature_names_in_", None) is not None else None

    def _input(self, X: np.ndarray) -> Any:
        if self._frame_columns is None:
            return X
        import pandas as pd  # only for models fitted on a DataFrame, which check the names

        return pd.DataFrame(X, columns=self._frame_columns)

    def __call__(self, X: np.ndarray, deadline: float | None = None) -> Outputs:
        data = self._input(X)
        if self._classes is None or not hasattr(self._model, "predict_proba"):
            return Outputs(np.asarray(self._model.predict(data)).ravel().tolist(), None)
        probabilities = np.asarray(self._model.predict_proba(data), dtype=np.float64)
        return Outputs(_labels(probabilities, self._classes, self._threshold), probabilities)


def _labels(probabilities: np.ndarray, classes: list[Any], threshold: float | None) -> list[Any]:
    """The predicted class: the positive class at or above ``threshold`` for binary models (as
    in training's evaluation), else the most probable class."""
    if len(classes) == 2 and threshold is not None:
        positive = probabilities[:, 1] >= threshold
        return [classes[1] if p else classes[0] for p in positive.tolist()]
    return [classes[i] for i in probabilities.argmax(axis=1).tolist()]


@dataclass(frozen=True)
class ServedModel:
    """One loaded version: how to call it, what a request must carry, how features are read.

    ``inputs`` are what a caller sends: entity keys and request fields for a model bound to a
    feature service (``resolver`` set), else the model's feature columns themselves.
    """

    record: ModelVersion
    runner: Runner
    inputs: list[ColumnSpec]
    feature_names: tuple[str, ...]
    entity_keys: tuple[str, ...]
    request_fields: tuple[str, ...]
    classes: list[Any] | None
    resolver: FeatureResolver | None

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def version(self) -> int:
        return self.record.version


def load_served_model(project: Project, store: FeatureStore | None, name: str, version: int,
                      *, retry_s: float, allow_pickle: bool = False) -> ServedModel:
    """Load a version for serving: its ONNX export when the training workflow kept one, else
    the native model; refused when its feature definitions are no longer the applied ones."""
    registry = project.registry
    record = registry.get_model_version(f"{name}/{version}")
    binding = record.training
    export = binding.onnx if binding else None
    classes = binding.classes if binding else None
    threshold = binding.threshold if binding else None
    if export is not None and export.kept:
        registry.check_features(record)
        runner: Runner = OnnxRunner(registry.onnx_export(record), classes, threshold)
    else:
        model = registry.load_model(record.ref, allow_pickle=allow_pickle)
        if classes is None and hasattr(model, "classes_") and hasattr(model, "predict_proba"):
            classes = [c.item() if hasattr(c, "item") else c for c in model.classes_]
        names = [f.name for f in binding.features] if binding else \
            [c.name for c in record.signature.inputs] if record.signature else []
        runner = NativeRunner(model, classes, threshold, names)
    if binding is None:
        if record.signature is None or not record.signature.inputs:
            raise RegistryError(f"{record.ref} has no signature, so requests cannot be checked "
                                "or turned into a feature vector; register it with "
                                "input_example= or signature=, or log it with training_frame=")
        inputs = list(record.signature.inputs)
        names = tuple(c.name for c in inputs)
        return ServedModel(record, runner, inputs, names, (), (), classes, None)
    if store is None:
        raise RegistryError(f"{record.ref} reads features from the online store, but none is "
                            "configured for this server")
    resolver = FeatureResolver(store, [f.ref for f in binding.features],
                               [f.default for f in binding.features], retry_s=retry_s)
    served = ServedModel(
        record=record, runner=runner, inputs=[*binding.entity_keys, *binding.request_fields],
        feature_names=tuple(f.name for f in binding.features),
        entity_keys=tuple(c.name for c in binding.entity_keys),
        request_fields=tuple(c.name for c in binding.request_fields),
        classes=classes, resolver=resolver)
    _warm_up(served)
    return served


_EXAMPLES = {"int64": 0, "int32": 0, "float64": 0.0, "float32": 0.0, "bool": False}


def _warm_up(model: ServedModel) -> None:
    """One read and one prediction before the first request: the first call of an on-demand
    function, an ONNX session or a store connection is much slower than the rest, and would
    otherwise count against the first requests' timeout."""
    from skewless._time import utc_now

    row = {spec.name: _EXAMPLES.get(spec.dtype, "") for spec in model.inputs}
    assert model.resolver is not None
    resolved = model.resolver.resolve([row], utc_now())
    model.runner(resolved.X)
