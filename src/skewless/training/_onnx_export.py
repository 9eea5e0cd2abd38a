"""ONNX export of a trained model, kept only when it predicts like the model itself.

A logged model gets an ONNX twin when skl2onnx (with onnxmltools' converters for XGBoost and
LightGBM) can convert it, and the twin is kept only if onnxruntime reproduces the native outputs
on the validation set — probabilities for a classifier, predictions for a regressor — within the
tolerance. Otherwise ``reason`` says why and serving uses the native flavor::

    export = export_onnx(model, X_valid, feature_names=names)
    if export.kept:
        get_flavor("onnx").save(export.model, folder)

The graph has one input, ``features`` ([rows, len(feature_names)], in the listed order); a
classifier's outputs are its labels and a plain [rows, classes] ``probabilities`` tensor (no
ZipMap), a regressor's its predictions. Three precisions are tried, the first that matches is
kept: everything in double; double with a cast to float32 before the final estimator (exactly
what scikit-learn trees and XGBoost do natively, so scaled features cannot drift across a split
threshold); everything in float32.
"""

from __future__ import annotations

import copy
import json
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np

from skewless.errors import TrainingError

if TYPE_CHECKING:
    import onnx

__all__ = ["INPUT_NAME", "InputDtype", "OnnxExport", "export_onnx"]

InputDtype: TypeAlias = Literal["float32", "float64"]

INPUT_NAME = "features"
"""The one input of every exported graph."""

_OPSETS = {"": 17, "ai.onnx.ml": 3}  # runnable by every onnxruntime the `onnx` extra allows
_ATTEMPTS: tuple[tuple[InputDtype, bool, str], ...] = (
    ("float64", False, "float64"),
    ("float64", True, "float64 with a float32 final estimator"),
    ("float32", False, "float32"),
)
_INSTALL = "install skewless[onnx]"
_BOOSTERS = {  # framework: ((estimator class, skl2onnx alias, is classifier), ...)
    "xgboost": (("XGBClassifier", "XGBoostXGBClassifier", True),
                ("XGBRegressor", "XGBoostXGBRegressor", False)),
    "lightgbm": (("LGBMClassifier", "LightGbmLGBMClassifier", True),
                 ("LGBMRegressor", "LightGbmLGBMRegressor", False)),
}
_registered: set[str] = set()


@dataclass(frozen=True)
class OnnxExport:
    """An ONNX export and its verification against the native model on the validation set.

    ``model`` is the graph when kept, else ``None`` with ``reason`` saying why (conversion
    failed, or the largest difference and where). ``max_abs_diff`` is the largest absolute
    difference of the compared outputs (the best attempt's when none matched).
    """

    model: onnx.ModelProto | None
    reason: str | None
    max_abs_diff: float | None
    rows_checked: int
    input_dtype: InputDtype
    outputs: list[str]
    label_disagreements: int | None = None
    """Rows whose ONNX label differs from the native ``predict`` (classifiers only)."""

    @property
    def kept(self) -> bool:
        """Whether the export matched and may be served instead of the native model."""
        return self.model is not None


@dataclass(frozen=True)
class _Check:
    max_abs_diff: float
    worst: float
    where: str
    labels: int | None


def export_onnx(model: Any, X_valid: np.ndarray, *, feature_names: Sequence[str],
                tolerance: float = 1e-5) -> OnnxExport:
    """Convert ``model`` to ONNX and keep the graph only if it reproduces the native outputs.

    An output matches when ``|onnx - native| <= tolerance * max(1, |native|)`` on every cell —
    absolute for probabilities, relative for regression targets beyond 1 in size, which float32
    (the type of tree ensemble outputs in ONNX) cannot hold to an absolute 1e-5 — and, for a
    classifier, every label agrees. A model or input that cannot be exported is an
    ``OnnxExport`` with a reason, never an exception; a malformed call is a ``TrainingError``.
    """
    X = np.asarray(X_valid)
    if X.ndim != 2 or X.shape[0] == 0:
        raise TrainingError(f"X_valid must be a 2-D array with at least one row, got shape "
                            f"{X.shape}; pass the validation features as rows × columns")
    names = [str(name) for name in feature_names]
    if len(names) != X.shape[1]:
        raise TrainingError(f"{len(names)} feature names for {X.shape[1]} columns of X_valid; "
                            "name every column, in order")
    if not tolerance >= 0:
        raise TrainingError(f"tolerance must be a number >= 0, got {tolerance!r}")
    fitted = getattr(model, "feature_names_in_", None)
    if fitted is not None and list(map(_plain, fitted)) != list(map(_plain, names)):
        raise TrainingError(f"the model was fitted on features {[str(n) for n in fitted]}, not "
                            f"{names}; pass feature_names in the order the model was fitted")
    rows = X.shape[0]

    def refused(reason: str, check: _Check | None = None,
                dtype: InputDtype = "float64") -> OnnxExport:
        return OnnxExport(None, reason, check.max_abs_diff if check else None, rows, dtype, [],
                          check.labels if check else None)

    if X.dtype.kind not in "biuf":
        return refused(f"ONNX export needs numeric features, X_valid has dtype {X.dtype}")
    with _quiet():
        try:
            import onnxruntime
            import skl2onnx  # noqa: F401
            from sklearn.base import is_classifier
        except ImportError as exc:
            return refused(f"{_INSTALL} ({exc})")
        hint = _register_boosters()
        _register_double_imputer()
        try:
            classifier = is_classifier(model)
        except Exception as exc:
            return refused(f"not a scikit-learn estimator ({_message(exc)})")
        try:
            native = _native(model, X, classifier)
        except Exception as exc:
            return refused(f"the native model cannot predict X_valid ({_message(exc)})")
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        failures: dict[str, list[str]] = {}
        best: _Check | None = None
        dtype: InputDtype = "float64"
        for dtype, cast, how in _ATTEMPTS:
            try:
                proto = _convert(model, X.shape[1], dtype, cast, classifier)
                session = onnxruntime.InferenceSession(proto.SerializeToString(), options,
                                                       providers=["CPUExecutionProvider"])
                outputs = [node.name for node in session.get_outputs()]
                got = dict(zip(outputs, session.run(None, {INPUT_NAME: X.astype(dtype)}),
                               strict=True))
                check = _compare(native, got, outputs, classifier)
            except Exception as exc:
                failures.setdefault(f"conversion failed: {_message(exc)}", []).append(how)
                continue
            if check.worst <= tolerance and not check.labels:
                _describe(proto, names)
                return OnnxExport(proto, None, check.max_abs_diff, rows, dtype, outputs,
                                  check.labels)
            failures.setdefault(_mismatch(check, tolerance, rows), []).append(how)
            if best is None or check.worst < best.worst:
                best = check
    reason = "; ".join(f"{', '.join(hows)}: {what}" for what, hows in failures.items())
    if hint and best is None and type(_final(model)).__module__.split(".")[0] in _BOOSTERS:
        reason += f" ({hint})"
    return refused(reason, best, dtype)


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence converters' and estimators' warnings (opset downgrades, feature names...)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _message(exc: BaseException) -> str:
    """An exception's type and first line, short enough for a reason."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text if len(text) <= 240 else text[:237] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _register_boosters() -> str | None:
    """Teach skl2onnx the XGBoost and LightGBM estimators of frameworks already imported.

    A fitted model of either implies its framework is imported, so nothing else is imported.
    Returns what to install when onnxmltools, which holds their converters, is missing.
    """
    wanted = [name for name in _BOOSTERS if name in sys.modules and name not in _registered]
    if not wanted:
        return None
    try:
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
        from skl2onnx import update_registered_converter
        from skl2onnx.common.shape_calculator import (
            calculate_linear_classifier_output_shapes,
            calculate_linear_regressor_output_shapes,
        )
    except ImportError:
        return f"{_INSTALL}: onnxmltools converts XGBoost and LightGBM models"
    converters = {"xgboost": convert_xgboost, "lightgbm": convert_lightgbm}
    for name in wanted:
        module = sys.modules[name]
        for estimator, alias, classifier in _BOOSTERS[name]:
            if classifier:
                update_registered_converter(
                    getattr(module, estimator), alias, calculate_linear_classifier_output_shapes,
                    converters[name], options={"nocl": [True, False],
                                               "zipmap": [True, False, "columns"]})
            else:
                update_registered_converter(getattr(module, estimator), alias,
                                            calculate_linear_regressor_output_shapes,
                                            converters[name])
        _registered.add(name)
    return None


def _register_double_imputer() -> None:
    """Convert ``SimpleImputer`` (of NaN, without indicator) to ``Where(IsNaN(X), fill, X)``.

    skl2onnx's converter emits onnxruntime's ``Imputer``, which exists for float32 only, so a
    pipeline imputer → scaler → trees could only be exported in float32, where the scaled
    values land on the other side of a split now and then (differences of 0.02 seen). These
    two standard operators run in double as well; other imputers keep skl2onnx's converter.
    """
    if "imputer" in _registered:
        return
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import guess_numpy_type, guess_proto_type
    from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer
    from skl2onnx.shape_calculators.imputer import calculate_sklearn_imputer_output_shapes
    from sklearn.impute import SimpleImputer

    def plain(imputer: Any) -> bool:
        statistics = getattr(imputer, "statistics_", None)
        return (isinstance(imputer.missing_values, float) and np.isnan(imputer.missing_values)
                and not imputer.add_indicator and statistics is not None
                and statistics.dtype.kind == "f" and not np.isnan(statistics).any())

    def shapes(operator: Any) -> None:
        if not plain(operator.raw_operator):
            calculate_sklearn_imputer_output_shapes(operator)
            return
        features = operator.inputs[0].type.shape[1]
        operator.outputs[0].type = operator.inputs[0].type.__class__([None, features])

    def convert(scope: Any, operator: Any, container: Any) -> None:
        imputer = operator.raw_operator
        if not plain(imputer):
            convert_sklearn_imputer(scope, operator, container)
            return
        source = operator.inputs[0]
        fill = scope.get_unique_variable_name("skewless_fill")
        statistics = imputer.statistics_.astype(guess_numpy_type(source.type))
        container.add_initializer(fill, guess_proto_type(source.type), [1, len(statistics)],
                                  statistics.tolist())
        missing = scope.get_unique_variable_name("skewless_missing")
        container.add_node("IsNaN", [source.full_name], [missing],
                           name=scope.get_unique_operator_name("IsNaN"))
        container.add_node("Where", [missing, fill, source.full_name],
                           [operator.outputs[0].full_name],
                           name=scope.get_unique_operator_name("Where"))

    update_registered_converter(SimpleImputer, "SklearnImputer", shapes, convert,
                                overwrite=True)
    _registered.add("imputer")


def _plain(name: object) -> str:
    """A feature name as frameworks may rewrite it (LightGBM turns spaces into underscores)."""
    return re.sub(r"[^0-9A-Za-z]", "_", str(name))


def _final(model: Any) -> Any:
    """The last step of a pipeline (the estimator whose converter names the outputs)."""
    steps = getattr(model, "steps", None)
    return steps[-1][1] if isinstance(steps, list) and steps else model


def _native(model: Any, X: np.ndarray, classifier: bool) -> dict[str, np.ndarray]:
    """The native outputs to match: ``values`` (probabilities or predictions) and ``labels``."""
    frame: Any = X
    if hasattr(model, "feature_names_in_"):
        import pandas as pd

        frame = pd.DataFrame(X, columns=[str(name) for name in model.feature_names_in_])
    if not classifier:
        return {"values": np.asarray(model.predict(frame), dtype=np.float64)}
    if not hasattr(model, "predict_proba"):
        raise TypeError("a classifier without predict_proba has no probabilities to serve")
    return {"values": np.asarray(model.predict_proba(frame), dtype=np.float64),
            "labels": np.asarray(model.predict(frame))}


def _convert(model: Any, n_features: int, dtype: InputDtype, cast: bool,
             classifier: bool) -> onnx.ModelProto:
    """skl2onnx's graph for ``model`` on a ``features`` input of ``dtype``; ``cast`` puts a
    float32 cast before the final estimator."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    from sklearn.pipeline import Pipeline

    steps = list(model.steps) if isinstance(model, Pipeline) else [("model", model)]
    final = steps[-1][1]
    if getattr(final, "get_booster", None) and final.get_booster().feature_names:
        final = copy.deepcopy(final)  # onnxmltools reads XGBoost features as f0, f1...
        final.get_booster().feature_names = None
        steps[-1] = (steps[-1][0], final)
        model = Pipeline(steps) if len(steps) > 1 else final
    if cast:
        from skl2onnx.sklapi import CastTransformer

        model = Pipeline([*steps[:-1], ("skewless_float32", CastTransformer(dtype=np.float32)),
                          steps[-1]])
    tensor = DoubleTensorType if dtype == "float64" else FloatTensorType
    return convert_sklearn(model, initial_types=[(INPUT_NAME, tensor([None, n_features]))],
                           options={id(final): {"zipmap": False}} if classifier else None,
                           target_opset=_OPSETS)


def _compare(native: dict[str, np.ndarray], got: dict[str, Any], outputs: list[str],
             classifier: bool) -> _Check:
    """How far the ONNX outputs are from the native ones, and where they are farthest."""
    expected = native["values"]
    if classifier:
        name = next((name for name in outputs[1:] if "prob" in name.lower()), None)
        if name is None:
            raise ValueError(f"the graph has no probabilities output among {outputs}")
        actual = np.asarray(got[name], dtype=np.float64)
    else:
        actual = np.asarray(got[outputs[0]], dtype=np.float64)
    if actual.size != expected.size:
        raise ValueError(f"the graph outputs shape {actual.shape}, the model {expected.shape}")
    actual = actual.reshape(expected.shape)
    same_nan = np.isnan(actual) & np.isnan(expected)
    diff = np.where(same_nan, 0.0, np.abs(actual - expected))
    diff = np.where(np.isnan(diff), np.inf, diff)
    scaled = diff / np.maximum(1.0, np.nan_to_num(np.abs(expected), nan=1.0))
    at = np.unravel_index(int(np.argmax(scaled)), scaled.shape)
    where = f"row {at[0]}" + (f", column {at[1]}" if len(at) > 1 else "")
    where += f": onnx {actual[at]:.9g} vs native {expected[at]:.9g}"
    labels = None
    if classifier:
        onnx_labels = np.asarray(got[outputs[0]]).ravel()
        labels = int(np.count_nonzero(onnx_labels != native["labels"].ravel()))
    return _Check(float(diff.max()), float(scaled.max()), where, labels)


def _mismatch(check: _Check, tolerance: float, rows: int) -> str:
    """The reason an attempt was not kept: its largest difference, where, and labels."""
    text = (f"outputs differ from the native model by up to {check.max_abs_diff:.3g} "
            f"({check.where}), over the tolerance {tolerance:g}")
    if check.labels:
        text += f"; {check.labels} of {rows} labels differ"
    return text


def _describe(proto: onnx.ModelProto, names: list[str]) -> None:
    """Record the feature order in the graph's metadata, for whoever serves it."""
    entry = proto.metadata_props.add()
    entry.key, entry.value = "skewless.feature_names", json.dumps(names)
