"""scikit-learn models stored with skops, whose loader rebuilds objects without running code.

skops only instantiates types it is told to trust. At save time the file's "untrusted" types
(those outside skops's built-in allowlist, e.g. ``sklearn.tree._tree.Tree`` or a user's own
transformer) are recorded in the spec; at load time they are computed again from the file and
anything not recorded is refused, so a swapped file cannot smuggle in a new type. The registry
verifies the file's SHA-256 digest before ``load``, so the recorded list itself is trustworthy.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from skewless.errors import RegistryError
from skewless.flavors._base import Flavor, framework, qualified_name, spec_value, translate

__all__ = ["SklearnFlavor"]

_FILE = "model.skops"


class SklearnFlavor(Flavor):
    """scikit-learn estimators, Pipelines and ColumnTransformers, as a ``model.skops`` file."""

    name: ClassVar[str] = "sklearn"
    packages: ClassVar[tuple[str, ...]] = ("scikit-learn", "skops")
    accepts: ClassVar[str] = "scikit-learn estimators, Pipelines and ColumnTransformers"

    def matches(self, model: object) -> bool:
        """Types from ``sklearn.*``, or ``BaseEstimator`` subclasses once sklearn is imported."""
        if type(model).__module__.startswith("sklearn."):
            return True
        base = sys.modules.get("sklearn.base")
        return base is not None and isinstance(model, base.BaseEstimator)

    def save(self, model: Any, folder: Path, *, allow_pickle: bool = False) -> dict[str, Any]:
        """Dump with skops and record the file's untrusted types, which ``load`` will trust."""
        sio = framework("skops.io", "skops", self.name)
        path = folder / _FILE
        with translate(f"saving {qualified_name(model)} with skops",
                       "use module-level functions and classes in the model, or save it with "
                       "flavor='pickle', allow_pickle=True if you trust everyone who loads it"):
            sio.dump(model, path)
            untrusted = sorted(sio.get_untrusted_types(file=path))
        return {"file": _FILE, "class": qualified_name(model), "untrusted_types": untrusted}

    def load(self, folder: Path, spec: Mapping[str, Any], *, allow_pickle: bool = False) -> Any:
        """Load with exactly the recorded trusted types; refuse a file that needs any other."""
        sio = framework("skops.io", "skops", self.name)
        recorded = spec_value(spec, "untrusted_types", list, self.name)
        if not all(isinstance(item, str) for item in recorded):
            raise RegistryError(f"the 'sklearn' model spec's untrusted_types {recorded!r} must "
                                "be type names; register the model again")
        path = folder / _FILE
        fix = f"check that {path} is the file that was registered, and register it again"
        with translate(f"reading the types in {path}", fix):
            found = sio.get_untrusted_types(file=path)
        unexpected = sorted(set(found) - set(recorded))
        if unexpected:
            raise RegistryError(f"{path} needs types that were not recorded when the model was "
                                f"registered: {', '.join(unexpected)}; the file was replaced "
                                "after registration — refusing to load it; register the model "
                                "again from a trusted copy")
        with translate(f"loading {path} with skops",
                       "install the packages that define the model's classes (same versions as "
                       "at registration), or register the model again"):
            return sio.load(path, trusted=recorded)
