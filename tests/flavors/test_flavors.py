"""Flavors: each framework's models survive a save/load round trip and predict exactly as before;
unsafe or unknown inputs are refused with errors that name the cause and the fix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import onnx
import pandas as pd
import pytest
import skops.io
import xgboost
from skl2onnx import to_onnx
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skewless.errors import PickleNotAllowedError, RegistryError
from skewless.flavors import FLAVORS, Flavor, flavor_for, get_flavor

ROWS = 200


class Doubler(BaseEstimator, TransformerMixin):
    """A user-defined transformer: a type skops does not trust by default."""

    def fit(self, X: Any, y: Any = None) -> Doubler:
        return self

    def transform(self, X: Any) -> Any:
        return X * 2


class Thing:
    """A plain object no safe flavor can save."""

    def __init__(self, value: int) -> None:
        self.value = value

    def predict(self, X: Any) -> np.ndarray:
        return np.full(len(X), self.value)


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return np.random.default_rng(7).normal(size=(ROWS, 4))


@pytest.fixture(scope="module")
def y_binary(X: np.ndarray) -> np.ndarray:
    return (X[:, 0] + X[:, 1] > 0).astype(int)


@pytest.fixture(scope="module")
def y_numeric(X: np.ndarray) -> np.ndarray:
    return X @ np.array([1.5, -2.0, 0.5, 0.0])


@pytest.fixture(scope="module")
def frame(X: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"a": X[:, 0], "b": X[:, 1],
                         "colour": np.where(X[:, 2] > 0, "red", "blue")})


def round_trip(model: Any, folder: Path, name: str | None = None, **options: Any) -> Any:
    """Save and load through the registry's calling convention, the spec via JSON."""
    flavor = get_flavor(name) if name else flavor_for(model)
    folder.mkdir()
    spec = json.loads(json.dumps(flavor.save(model, folder, **options)))
    return flavor.load(folder, spec, **options)


def assert_same_predictions(original: Any, loaded: Any, X: Any, proba: bool = True) -> None:
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))
    if proba:
        np.testing.assert_array_equal(loaded.predict_proba(X), original.predict_proba(X))


def test_importing_flavors_imports_no_framework() -> None:
    frameworks = ("sklearn", "skops", "xgboost", "lightgbm", "onnx", "onnxruntime")
    code = (f"import sys, skewless.flavors; "
            f"print([m for m in {frameworks!r} if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(("model", "name"), [
    (LogisticRegression(), "sklearn"),
    (Pipeline([("double", Doubler()), ("lr", LogisticRegression())]), "sklearn"),
    (Doubler(), "sklearn"),
    (xgboost.XGBClassifier(), "xgboost"),
    (xgboost.XGBRFRegressor(), "xgboost"),
    (lightgbm.LGBMClassifier(), "lightgbm"),
    (onnx.ModelProto(), "onnx"),
], ids=lambda value: value if isinstance(value, str) else type(value).__name__)
def test_flavor_for_infers_from_the_type(model: Any, name: str) -> None:
    assert flavor_for(model) is FLAVORS[name]


def test_flavors_by_name() -> None:
    assert list(FLAVORS) == ["xgboost", "lightgbm", "onnx", "sklearn", "pickle"]
    for name, flavor in FLAVORS.items():
        assert isinstance(flavor, Flavor)
        assert get_flavor(name).name == name
    assert get_flavor("sklearn").packages == ("scikit-learn", "skops")
    with pytest.raises(RegistryError, match="unknown flavor 'sklern'; did you mean 'sklearn'"):
        get_flavor("sklern")


def test_flavor_for_refuses_an_unknown_type() -> None:
    with pytest.raises(RegistryError, match=r"test_flavors\.Thing.*'sklearn'.*"
                       r"flavor='pickle', allow_pickle=True"):
        flavor_for(Thing(1))


# --- scikit-learn (skops) -------------------------------------------------------------------

def test_sklearn_logistic_regression(tmp_path: Path, X: np.ndarray,
                                     y_binary: np.ndarray) -> None:
    model = LogisticRegression().fit(X, y_binary)
    assert_same_predictions(model, round_trip(model, tmp_path / "m"), X)


def test_sklearn_pipeline_with_column_transformer(tmp_path: Path, frame: pd.DataFrame,
                                                  y_binary: np.ndarray) -> None:
    columns = ColumnTransformer([("num", StandardScaler(), ["a", "b"]),
                                 ("cat", OneHotEncoder(handle_unknown="ignore"), ["colour"])])
    model = Pipeline([("columns", columns),
                      ("forest", RandomForestClassifier(n_estimators=5, random_state=0))])
    model.fit(frame, y_binary)
    assert_same_predictions(model, round_trip(model, tmp_path / "m"), frame)


def test_sklearn_regressor(tmp_path: Path, X: np.ndarray, y_numeric: np.ndarray) -> None:
    model = GradientBoostingRegressor(n_estimators=5, random_state=0).fit(X, y_numeric)
    assert_same_predictions(model, round_trip(model, tmp_path / "m"), X, proba=False)


def test_sklearn_loads_a_recorded_custom_type(tmp_path: Path, X: np.ndarray,
                                              y_binary: np.ndarray) -> None:
    model = Pipeline([("double", Doubler()), ("lr", LogisticRegression())]).fit(X, y_binary)
    folder = tmp_path / "m"
    folder.mkdir()
    spec = FLAVORS["sklearn"].save(model, folder)
    assert spec["untrusted_types"] == [f"{Doubler.__module__}.Doubler"]
    assert_same_predictions(model, FLAVORS["sklearn"].load(folder, spec), X)


def test_sklearn_refuses_a_file_whose_untrusted_types_grew(tmp_path: Path, X: np.ndarray,
                                                           y_binary: np.ndarray) -> None:
    flavor = FLAVORS["sklearn"]
    spec = flavor.save(LogisticRegression().fit(X, y_binary), tmp_path)
    assert spec["untrusted_types"] == []
    swapped = Pipeline([("double", Doubler()), ("lr", LogisticRegression())]).fit(X, y_binary)
    skops.io.dump(swapped, tmp_path / spec["file"])
    with pytest.raises(RegistryError, match=r"not recorded.*test_flavors\.Doubler.*refusing"):
        flavor.load(tmp_path, spec)


# --- XGBoost --------------------------------------------------------------------------------

def test_xgboost_classifier(tmp_path: Path, X: np.ndarray, y_binary: np.ndarray) -> None:
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=3).fit(X, y_binary)
    loaded = round_trip(model, tmp_path / "m")
    assert type(loaded) is xgboost.XGBClassifier
    assert_same_predictions(model, loaded, X)


def test_xgboost_regressor_and_booster(tmp_path: Path, X: np.ndarray,
                                       y_numeric: np.ndarray) -> None:
    model = xgboost.XGBRegressor(n_estimators=5, max_depth=3).fit(X, y_numeric)
    assert_same_predictions(model, round_trip(model, tmp_path / "regressor"), X, proba=False)
    booster = round_trip(model.get_booster(), tmp_path / "booster")
    assert type(booster) is xgboost.Booster
    matrix = xgboost.DMatrix(X)
    np.testing.assert_array_equal(booster.predict(matrix), model.get_booster().predict(matrix))


@pytest.mark.parametrize("kind", ["XGBModel", "os.system", "DMatrix"])
def test_xgboost_refuses_a_class_outside_the_allowlist(tmp_path: Path, kind: str) -> None:
    with pytest.raises(RegistryError, match=f"class '{kind}', which is not one of"):
        FLAVORS["xgboost"].load(tmp_path, {"file": "model.ubj", "class": kind})


def test_xgboost_unfitted_model_keeps_the_cause(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="fit the model") as caught:
        FLAVORS["xgboost"].save(xgboost.XGBClassifier(), tmp_path)
    assert caught.value.__cause__ is not None


# --- LightGBM -------------------------------------------------------------------------------

def lgbm(kind: type, X: Any, y: Any) -> Any:
    return kind(n_estimators=5, num_leaves=7, min_child_samples=5, verbose=-1).fit(X, y)


def test_lightgbm_binary_classifier(tmp_path: Path, X: np.ndarray, y_binary: np.ndarray) -> None:
    model = lgbm(lightgbm.LGBMClassifier, X, np.where(y_binary == 1, "yes", "no"))
    loaded = round_trip(model, tmp_path / "m")
    assert_same_predictions(model, loaded, X)
    assert set(loaded.predict(X)) == {"yes", "no"}


def test_lightgbm_multiclass_with_string_labels(tmp_path: Path, frame: pd.DataFrame,
                                                X: np.ndarray) -> None:
    labels = np.array(["low", "mid", "high"])[np.digitize(X[:, 0], [-0.5, 0.5])]
    model = lgbm(lightgbm.LGBMClassifier, frame[["a", "b"]], labels)
    loaded = round_trip(model, tmp_path / "m")
    assert_same_predictions(model, loaded, frame[["a", "b"]])
    assert set(loaded.predict(frame[["a", "b"]])) == {"low", "mid", "high"}
    np.testing.assert_array_equal(loaded.classes_, model.classes_)


def test_lightgbm_regressor_and_booster(tmp_path: Path, X: np.ndarray,
                                        y_numeric: np.ndarray) -> None:
    model = lgbm(lightgbm.LGBMRegressor, X, y_numeric)
    loaded = round_trip(model, tmp_path / "regressor")
    assert not hasattr(loaded, "predict_proba")
    assert_same_predictions(model, loaded, X, proba=False)
    booster = round_trip(model.booster_, tmp_path / "booster")
    assert isinstance(booster, lightgbm.Booster)
    assert_same_predictions(model.booster_, booster, X, proba=False)


# --- ONNX -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def onnx_classifier(X: np.ndarray, y_binary: np.ndarray) -> tuple[Any, onnx.ModelProto]:
    model = LogisticRegression().fit(X, y_binary)
    return model, to_onnx(model, X[:1].astype(np.float32), options={"zipmap": False})


def test_onnx_from_skl2onnx(tmp_path: Path, X: np.ndarray,
                            onnx_classifier: tuple[Any, onnx.ModelProto]) -> None:
    model, proto = onnx_classifier
    loaded = round_trip(proto, tmp_path / "m")
    assert loaded.session.get_inputs()[0].type == "tensor(float)"
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), atol=1e-6)
    name = loaded.session.get_inputs()[0].name
    np.testing.assert_array_equal(loaded.predict({name: X}), model.predict(X))


def test_onnx_bytes_when_named(tmp_path: Path, X: np.ndarray,
                               onnx_classifier: tuple[Any, onnx.ModelProto]) -> None:
    model, proto = onnx_classifier
    loaded = round_trip(proto.SerializeToString(), tmp_path / "m", name="onnx")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    with pytest.raises(RegistryError, match="no graph inputs"):
        FLAVORS["onnx"].save(b"", tmp_path)
    with pytest.raises(RegistryError, match=r"inputs \['X'\], got \['x'\]"):
        loaded.predict({"x": X})


# --- pickle ---------------------------------------------------------------------------------

def test_pickle_round_trip_with_opt_in(tmp_path: Path, X: np.ndarray) -> None:
    model = Thing(3)
    loaded = round_trip(model, tmp_path / "m", name="pickle", allow_pickle=True)
    assert isinstance(loaded, Thing)
    assert_same_predictions(model, loaded, X, proba=False)


def test_pickle_save_refused_without_opt_in(tmp_path: Path) -> None:
    with pytest.raises(PickleNotAllowedError,
                       match=r"runs arbitrary code.*allow_pickle=True.*'onnx'"):
        get_flavor("pickle").save(Thing(1), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_pickle_load_refused_without_opt_in(tmp_path: Path) -> None:
    flavor = get_flavor("pickle")
    spec = flavor.save(Thing(1), tmp_path, allow_pickle=True)
    with pytest.raises(PickleNotAllowedError, match=r"unpickling runs arbitrary code.*"
                       r"allow_pickle=True"):
        flavor.load(tmp_path, spec)


def test_pickle_failure_keeps_the_cause(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no lambdas") as caught:
        get_flavor("pickle").save(lambda: 1, tmp_path, allow_pickle=True)
    assert caught.value.__cause__ is not None
