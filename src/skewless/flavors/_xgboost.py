"""XGBoost models in XGBoost's own UBJSON format, which holds trees and parameters, not code.

The spec names the saved class; ``load`` instantiates it only if it is on a fixed allowlist, so
a spec cannot make the loader build an arbitrary object.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from skewless.errors import RegistryError
from skewless.flavors._base import (
    Flavor,
    framework,
    spec_value,
    top_package,
    translate,
)

__all__ = ["XGBoostFlavor"]

_FILE = "model.ubj"
_CLASSES = ("XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor",
            "Booster")


class XGBoostFlavor(Flavor):
    """XGBoost's scikit-learn wrappers and ``Booster``, as a ``model.ubj`` file."""

    name: ClassVar[str] = "xgboost"
    packages: ClassVar[tuple[str, ...]] = ("xgboost", "xgboost-cpu")
    accepts: ClassVar[str] = f"xgboost {', '.join(_CLASSES)}"

    def matches(self, model: object) -> bool:
        """Exactly the allowlisted XGBoost classes (a subclass's own code would not be saved)."""
        return top_package(model) == "xgboost" and type(model).__name__ in _CLASSES

    def save(self, model: Any, folder: Path, *, allow_pickle: bool = False) -> dict[str, Any]:
        """``save_model`` to ``model.ubj``; the spec records which allowlisted class it was."""
        kind = type(model).__name__
        if not self.matches(model):
            raise self.refuse(model, ", ".join(_CLASSES))
        with translate(f"saving the {kind} with save_model", "fit the model before saving it"):
            model.save_model(folder / _FILE)
        return {"file": _FILE, "class": kind}

    def load(self, folder: Path, spec: Mapping[str, Any], *, allow_pickle: bool = False) -> Any:
        """Instantiate the recorded class (allowlist only) and ``load_model`` into it."""
        kind = spec_value(spec, "class", str, self.name)
        if kind not in _CLASSES:
            raise RegistryError(f"the 'xgboost' model spec names class {kind!r}, which is not "
                                f"one of {', '.join(_CLASSES)}; refusing to instantiate it — "
                                "register the model again")
        xgboost = framework("xgboost", "xgboost", self.name)
        path = folder / _FILE
        with translate(f"loading {path} into xgboost.{kind}",
                       "check the installed xgboost can read models of the registered version"):
            model = getattr(xgboost, kind)()
            model.load_model(path)
        return model
