"""Any picklable Python object — only when the caller opts in on both save and load.

Unpickling runs whatever code the file names, so a pickle artifact is as dangerous as a script
from whoever could write it. This flavor is never inferred: it must be asked for by name, with
``allow_pickle=True`` when saving and again when loading.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from skewless.errors import PickleNotAllowedError
from skewless.flavors._base import Flavor, qualified_name, translate

__all__ = ["PickleFlavor"]

_FILE = "model.pkl"
_PROTOCOL = 5
_SAFE = ("prefer a flavor that does not run code on load: 'sklearn' (skops), 'xgboost', "
         "'lightgbm' or 'onnx'")


class PickleFlavor(Flavor):
    """Generic Python objects as ``model.pkl``, behind an explicit ``allow_pickle=True``."""

    name: ClassVar[str] = "pickle"
    packages: ClassVar[tuple[str, ...]] = ()
    accepts: ClassVar[str] = "any picklable object, with flavor='pickle', allow_pickle=True"

    def matches(self, model: object) -> bool:
        """Never: pickle is only used when asked for by name."""
        return False

    def save(self, model: Any, folder: Path, *, allow_pickle: bool = False) -> dict[str, Any]:
        """Pickle ``model`` (protocol 5) if the caller opted in."""
        kind = qualified_name(model)
        if not allow_pickle:
            raise PickleNotAllowedError(f"saving a {kind} with pickle is refused: pickle runs "
                                        "arbitrary code when the model is loaded. Pass "
                                        f"allow_pickle=True to opt in, or {_SAFE}")
        with translate(f"pickling the {kind}",
                       "define its classes and functions at module level (no lambdas, open "
                       "files or connections)"), (folder / _FILE).open("wb") as file:
            pickle.dump(model, file, protocol=_PROTOCOL)
        return {"file": _FILE, "class": kind}

    def load(self, folder: Path, spec: Mapping[str, Any], *, allow_pickle: bool = False) -> Any:
        """Unpickle the model if the caller opted in."""
        path = folder / _FILE
        if not allow_pickle:
            raise PickleNotAllowedError(f"loading {path} is refused: it is a pickle, and "
                                        "unpickling runs arbitrary code. Pass allow_pickle=True "
                                        "only if you trust everyone who could have written it, "
                                        f"or register the model again and {_SAFE}")
        with translate(f"unpickling {path}",
                       "install the packages that define the model's classes, at the versions "
                       "used when it was saved"), path.open("rb") as file:
            return pickle.load(file)
