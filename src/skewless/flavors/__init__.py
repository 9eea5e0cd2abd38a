"""Flavors: how each framework's models are saved to a folder and loaded back, safely.

Formats that cannot run code on load come first — skops for scikit-learn, the native formats of
XGBoost and LightGBM, ONNX — and pickle is used only when asked for by name with
``allow_pickle=True``. Nothing here imports a framework until a model is saved or loaded::

    flavor = get_flavor(name) if name else flavor_for(model)
    spec = flavor.save(model, folder)          # JSON-able; stored by the registry
    model = flavor.load(folder, spec)          # has .predict(X)
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType

from skewless.errors import RegistryError
from skewless.flavors._base import Flavor, qualified_name
from skewless.flavors._lightgbm import LightGBMFlavor
from skewless.flavors._onnx import OnnxFlavor
from skewless.flavors._pickle import PickleFlavor
from skewless.flavors._sklearn import SklearnFlavor
from skewless.flavors._xgboost import XGBoostFlavor

__all__ = ["FLAVORS", "Flavor", "flavor_for", "get_flavor"]

FLAVORS: Mapping[str, Flavor] = MappingProxyType({flavor.name: flavor for flavor in (
    # Inference order matters: XGBoost's and LightGBM's wrappers are sklearn estimators too.
    XGBoostFlavor(), LightGBMFlavor(), OnnxFlavor(), SklearnFlavor(), PickleFlavor(),
)})
"""Every flavor by name, in the order ``flavor_for`` tries them."""


def flavor_for(model: object) -> Flavor:
    """The flavor that saves ``model``, from its type; never pickle, which must be asked for."""
    for flavor in FLAVORS.values():
        if flavor.matches(model):
            return flavor
    accepted = "; ".join(f"{flavor.name!r}: {flavor.accepts}" for flavor in FLAVORS.values())
    raise RegistryError(f"no flavor saves a {qualified_name(model)} by itself (accepted — "
                        f"{accepted}); convert the model to one of those (e.g. to ONNX), or pass "
                        "flavor='pickle', allow_pickle=True if you trust everyone who loads it")


def get_flavor(name: str) -> Flavor:
    """The flavor called ``name``; an unknown name is refused with the closest known ones."""
    try:
        return FLAVORS[name]
    except KeyError:
        close = difflib.get_close_matches(name, FLAVORS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise RegistryError(f"unknown flavor {name!r}; {hint}the flavors are "
                            f"{', '.join(map(repr, FLAVORS))}") from None
