"""LightGBM models in LightGBM's own text format, which holds trees and parameters, not code.

The scikit-learn wrappers (``LGBMClassifier``...) are not saved themselves: their booster is,
with the wrapper's class and, for classifiers, its ``classes_`` in the spec. ``load`` returns a
small wrapper over ``lightgbm.Booster`` that predicts exactly as the original wrapper did.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from skewless.errors import RegistryError
from skewless.flavors._base import (
    Flavor,
    framework,
    spec_value,
    top_package,
    translate,
)

__all__ = ["LightGBMClassifier", "LightGBMFlavor", "LightGBMModel"]

_FILE = "model.txt"
_WRAPPERS = ("LGBMClassifier", "LGBMRegressor", "LGBMRanker")
_CLASSES = (*_WRAPPERS, "Booster")
_LABEL_TYPES = (str, int, float, bool)


class LightGBMModel:
    """A loaded ``LGBMRegressor`` or ``LGBMRanker``: ``predict`` runs the saved booster."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def predict(self, X: Any) -> np.ndarray:
        """The booster's prediction (values for a regressor, scores for a ranker)."""
        return self.booster.predict(X)


class LightGBMClassifier(LightGBMModel):
    """A loaded ``LGBMClassifier``: probabilities from the booster, labels from ``classes_``."""

    def __init__(self, booster: Any, classes: list[Any]) -> None:
        super().__init__(booster)
        self.classes_ = np.asarray(classes)

    def predict_proba(self, X: Any) -> np.ndarray:
        """One column per class in ``classes_`` order, as ``LGBMClassifier.predict_proba``."""
        result = self.booster.predict(X)
        if result.ndim == 1:  # binary: the booster gives P(classes_[1]) only
            return np.vstack((1.0 - result, result)).transpose()
        return result

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label, as ``LGBMClassifier.predict``."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class LightGBMFlavor(Flavor):
    """LightGBM's scikit-learn wrappers and ``Booster``, as a ``model.txt`` file."""

    name: ClassVar[str] = "lightgbm"
    packages: ClassVar[tuple[str, ...]] = ("lightgbm",)
    accepts: ClassVar[str] = f"lightgbm {', '.join(_CLASSES)}"

    def matches(self, model: object) -> bool:
        """Exactly the supported LightGBM classes (a subclass's own code would not be saved)."""
        return top_package(model) == "lightgbm" and type(model).__name__ in _CLASSES

    def save(self, model: Any, folder: Path, *, allow_pickle: bool = False) -> dict[str, Any]:
        """Save the booster as text; the spec records the class and a classifier's labels."""
        kind = type(model).__name__
        if not self.matches(model):
            raise self.refuse(model, ", ".join(_CLASSES))
        spec: dict[str, Any] = {"file": _FILE, "class": kind}
        if kind in _WRAPPERS and callable(model.get_params().get("objective")):
            raise RegistryError(f"this {kind} was trained with a custom (Python) objective, so "
                                "its predictions need that code and the text format cannot hold "
                                "it; use a built-in objective, or flavor='pickle', "
                                "allow_pickle=True")
        with translate(f"saving the {kind} as LightGBM text", "fit the model before saving it"):
            booster = model.booster_ if kind in _WRAPPERS else model
            if kind == "LGBMClassifier":
                spec["classes"] = _labels(model.classes_)
            booster.save_model(folder / _FILE)
        return spec

    def load(self, folder: Path, spec: Mapping[str, Any], *, allow_pickle: bool = False) -> Any:
        """The bare ``Booster`` if one was saved, else a wrapper predicting like the original."""
        kind = spec_value(spec, "class", str, self.name)
        if kind not in _CLASSES:
            raise RegistryError(f"the 'lightgbm' model spec names class {kind!r}, which is not "
                                f"one of {', '.join(_CLASSES)}; register the model again")
        classes = spec_value(spec, "classes", list, self.name) if kind == "LGBMClassifier" \
            else None
        lightgbm = framework("lightgbm", "lightgbm", self.name)
        path = folder / _FILE
        with translate(f"loading {path} as a lightgbm.Booster",
                       "check the installed lightgbm can read models of the registered version"):
            booster = lightgbm.Booster(model_file=path)
        if kind == "Booster":
            return booster
        return LightGBMModel(booster) if classes is None else LightGBMClassifier(booster, classes)


def _labels(classes: np.ndarray) -> list[Any]:
    """A classifier's ``classes_`` as JSON values; other label types are refused."""
    labels = np.asarray(classes).tolist()
    odd = [label for label in labels if not isinstance(label, _LABEL_TYPES)]
    if odd:
        raise RegistryError(f"class labels {odd!r} cannot be recorded in the model spec; use "
                            "str, int, float or bool labels")
    return labels
