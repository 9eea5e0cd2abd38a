"""ONNX export: real conversions of scikit-learn, XGBoost and LightGBM models, kept only when
onnxruntime reproduces the native outputs on the validation rows; anything else says why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from skewless.errors import TrainingError
from skewless.flavors import get_flavor
from skewless.flavors._onnx import OnnxClassifier
from skewless.training._onnx_export import INPUT_NAME, OnnxExport, export_onnx

TOLERANCE = 1e-5
N_FEATURES = 10
NAMES = [f"f{i}" for i in range(N_FEATURES)]


class Cutoff(ClassifierMixin, BaseEstimator):
    """A user-defined classifier: no ONNX converter knows it."""

    def fit(self, X: Any, y: Any) -> Cutoff:
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        positive = (np.asarray(X)[:, 0] > 0).astype(float)
        return np.column_stack([1 - positive, positive])

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


@pytest.fixture(scope="module")
def classification() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, y = make_classification(2000, N_FEATURES, n_informative=6, random_state=0)
    return X[:1000], y[:1000], X[1000:]


@pytest.fixture(scope="module")
def regression() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, y = make_regression(2000, N_FEATURES, noise=1.0, random_state=0)
    return X[:1000], y[:1000], X[1000:]


@pytest.fixture(scope="module")
def forest(classification: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Pipeline:
    """The serving benchmark's model: StandardScaler + RandomForest(100 trees, depth 10)."""
    X, y, _ = classification
    return make_pipeline(StandardScaler(),
                         RandomForestClassifier(100, max_depth=10, random_state=0)).fit(X, y)


def assert_kept(export: OnnxExport, rows: int, outputs: list[str]) -> None:
    assert export.kept, export.reason
    assert export.reason is None
    assert export.max_abs_diff is not None
    assert export.rows_checked == rows
    assert export.outputs == outputs
    graph = export.model.graph
    assert [node.name for node in graph.input] == [INPUT_NAME]
    dims = graph.input[0].type.tensor_type.shape.dim
    assert len(dims) == 2
    assert not dims[0].HasField("dim_value")
    assert dims[1].dim_value == N_FEATURES
    props = {entry.key: entry.value for entry in export.model.metadata_props}
    assert json.loads(props["skewless.feature_names"]) == NAMES


def test_logistic_regression_pipeline_is_kept_in_double(classification: Any) -> None:
    X, y, X_valid = classification
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    export = export_onnx(model, X_valid, feature_names=NAMES)
    assert_kept(export, len(X_valid), ["label", "probabilities"])
    assert export.input_dtype == "float64"
    assert export.max_abs_diff < 1e-12  # double all the way: equal but for rounding
    assert export.label_disagreements == 0


def test_random_forest_pipeline_is_kept(forest: Pipeline, classification: Any) -> None:
    X_valid = classification[2]
    export = export_onnx(forest, X_valid, feature_names=NAMES)
    assert_kept(export, len(X_valid), ["label", "probabilities"])
    assert export.input_dtype == "float64"
    assert export.max_abs_diff <= TOLERANCE
    assert export.label_disagreements == 0


def test_export_round_trips_through_the_onnx_flavor(forest: Pipeline, classification: Any,
                                                    tmp_path: Path) -> None:
    X_valid = classification[2]
    export = export_onnx(forest, X_valid, feature_names=NAMES)
    flavor = get_flavor("onnx")
    spec = flavor.save(export.model, tmp_path)
    assert spec["inputs"] == [INPUT_NAME]
    loaded = flavor.load(tmp_path, spec)
    assert isinstance(loaded, OnnxClassifier)
    assert loaded.session.get_inputs()[0].type == "tensor(double)"
    native = forest.predict_proba(X_valid)
    assert np.abs(loaded.predict_proba(X_valid) - native).max() <= TOLERANCE
    # serving sends plain rows; they are fed as float64, not rounded through float32
    assert np.abs(loaded.predict_proba(X_valid[:50].tolist()) - native[:50]).max() <= TOLERANCE
    assert (loaded.predict(X_valid) == forest.predict(X_valid)).all()


@pytest.mark.parametrize("make", [
    lambda: GradientBoostingRegressor(n_estimators=50, max_depth=3, random_state=0),
    lambda: xgboost.XGBRegressor(n_estimators=50, max_depth=4),
    lambda: lightgbm.LGBMRegressor(n_estimators=50, verbose=-1),
], ids=["sklearn-gbr", "xgboost", "lightgbm"])
def test_regressors_are_kept_within_their_float32_precision(make: Any, regression: Any) -> None:
    X, y, X_valid = regression
    model = make().fit(X, y)
    export = export_onnx(model, X_valid, feature_names=NAMES)
    assert_kept(export, len(X_valid), ["variable"])
    assert export.label_disagreements is None
    # ONNX tree ensembles output float32: exact to 1e-5 relative on targets in the hundreds
    scale = np.abs(model.predict(X_valid)).max()
    assert scale > 100
    assert export.max_abs_diff <= TOLERANCE * scale


@pytest.mark.parametrize("make", [
    lambda: xgboost.XGBClassifier(n_estimators=50, max_depth=4),
    lambda: lightgbm.LGBMClassifier(n_estimators=50, verbose=-1),
    lambda: make_pipeline(StandardScaler(), xgboost.XGBClassifier(n_estimators=50, max_depth=4)),
    lambda: make_pipeline(StandardScaler(), lightgbm.LGBMClassifier(n_estimators=50, verbose=-1)),
], ids=["xgboost", "lightgbm", "xgboost-pipeline", "lightgbm-pipeline"])
def test_boosters_alone_and_in_pipelines_are_kept(make: Any, classification: Any) -> None:
    X, y, X_valid = classification
    export = export_onnx(make().fit(X, y), X_valid, feature_names=NAMES)
    assert_kept(export, len(X_valid), ["label", "probabilities"])
    assert export.input_dtype == "float64"
    assert export.max_abs_diff <= TOLERANCE
    assert export.label_disagreements == 0


@pytest.mark.parametrize("make", [
    lambda: xgboost.XGBClassifier(n_estimators=20, max_depth=3),
    lambda: lightgbm.LGBMClassifier(n_estimators=20, verbose=-1),
], ids=["xgboost", "lightgbm"])
def test_models_fitted_on_named_columns_are_kept(make: Any, classification: Any) -> None:
    X, y, X_valid = classification
    names = ["age in years", *NAMES[1:]]  # LightGBM stores it as age_in_years
    model = make().fit(pd.DataFrame(X, columns=names), y)
    export = export_onnx(model, X_valid, feature_names=names)
    assert export.kept, export.reason
    assert export.max_abs_diff <= TOLERANCE
    if isinstance(model, xgboost.XGBClassifier):
        assert model.get_booster().feature_names == names  # converted a copy


class Halver:
    """Not even a scikit-learn estimator: something with a ``predict``."""

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(X)[:, 0] / 2


def test_unsupported_model_records_the_reason(classification: Any) -> None:
    X, y, X_valid = classification
    export = export_onnx(Cutoff().fit(X, y), X_valid, feature_names=NAMES)
    assert not export.kept
    assert export.model is None
    assert export.max_abs_diff is None
    assert export.outputs == []
    assert "conversion failed" in export.reason
    assert "Cutoff" in export.reason
    export = export_onnx(Halver(), X_valid, feature_names=NAMES)
    assert not export.kept
    assert "not a scikit-learn estimator" in export.reason


def test_non_numeric_features_record_the_reason(forest: Pipeline,
                                                classification: Any) -> None:
    export = export_onnx(forest, classification[2].astype(str), feature_names=NAMES)
    assert not export.kept
    assert "numeric" in export.reason


def test_mismatch_is_not_kept_and_names_the_difference(forest: Pipeline,
                                                       classification: Any) -> None:
    # float32 probabilities cannot match float64 ones to 1e-12
    export = export_onnx(forest, classification[2], feature_names=NAMES, tolerance=1e-12)
    assert not export.kept
    assert export.max_abs_diff is not None
    assert 0 < export.max_abs_diff <= TOLERANCE
    assert f"by up to {export.max_abs_diff:.3g}" in export.reason
    assert "row " in export.reason
    assert "column " in export.reason
    assert "tolerance 1e-12" in export.reason


def test_malformed_calls_raise_training_error(forest: Pipeline, classification: Any) -> None:
    X_valid = classification[2]
    with pytest.raises(TrainingError, match="2-D"):
        export_onnx(forest, X_valid[0], feature_names=NAMES)
    with pytest.raises(TrainingError, match="at least one row"):
        export_onnx(forest, X_valid[:0], feature_names=NAMES)
    with pytest.raises(TrainingError, match="feature names"):
        export_onnx(forest, X_valid, feature_names=NAMES[:-1])
    with pytest.raises(TrainingError, match="tolerance"):
        export_onnx(forest, X_valid, feature_names=NAMES, tolerance=-1.0)
    X, y, _ = classification
    named = LogisticRegression().fit(pd.DataFrame(X, columns=NAMES), y)
    with pytest.raises(TrainingError, match="order the model was fitted"):
        export_onnx(named, X_valid, feature_names=NAMES[::-1])


def test_imputer_scaler_forest_with_missing_values_is_kept_in_double(
        classification: Any) -> None:
    from sklearn.impute import SimpleImputer

    X_train, y_train, X_valid = (part.copy() for part in classification)
    holes = np.random.default_rng(0)
    for X in (X_train, X_valid):
        X *= 50
        X += 100
        X[holes.random(X.shape) < 0.1] = np.nan
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                          RandomForestClassifier(n_estimators=30, max_depth=8, random_state=0))
    model.fit(X_train, y_train)
    export = export_onnx(model, X_valid, feature_names=[f"f{i}" for i in range(N_FEATURES)])
    assert export.kept, export.reason
    assert export.input_dtype == "float64"  # onnxruntime's own Imputer has no double kernel
    assert export.max_abs_diff <= 1e-5
    assert export.label_disagreements == 0
    node_types = {node.op_type for node in export.model.graph.node}
    assert {"IsNaN", "Where"} <= node_types
    assert "Imputer" not in node_types
