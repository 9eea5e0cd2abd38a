"""Loading a project's definitions module (``definitions:`` in skewless.yaml)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from skewless.errors import DefinitionError
from skewless.features._definitions import Definition

__all__ = ["load_definitions"]


def load_definitions(path: Path) -> list[Definition]:
    """Import ``path`` and return every definition bound to a module-level name, in order.

    The project folder is put on ``sys.path`` while importing, so the module can import helper
    modules that sit beside it.
    """
    if not path.is_file():
        raise DefinitionError(
            f"definitions module {path} does not exist; create it or point `definitions:` "
            "in skewless.yaml at the file that defines your features"
        )
    module_name = f"_skewless_definitions_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise DefinitionError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise DefinitionError(f"importing the definitions in {path} failed: {exc!r}") from exc
    finally:
        sys.path.remove(str(path.parent))
    found: dict[int, Definition] = {}
    for value in vars(module).values():
        if isinstance(value, Definition):
            found.setdefault(id(value), value)
    if not found:
        raise DefinitionError(f"{path} defines no Entity, FeatureView, OnDemandFeatureView or "
                              "FeatureService at module level")
    return list(found.values())
