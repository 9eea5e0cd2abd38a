"""The ``Flavor`` contract and the small helpers every flavor shares.

A flavor saves a trained model into a folder and loads it back as something that predicts. It
never imports its framework at import time: the registry and the server import this package
whether or not xgboost, lightgbm or onnxruntime are installed, so each flavor detects models by
``type(model).__module__`` and imports its framework inside ``save``/``load`` only.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, TypeVar

from skewless.errors import RegistryError, SkewlessError

__all__ = ["Flavor", "framework", "qualified_name", "spec_value", "top_package", "translate"]

_T = TypeVar("_T")


class Flavor(ABC):
    """Saves one framework's models to a folder and loads them back, without running their code.

    ``save`` returns a small JSON-able ``spec`` (class names, trusted types, class labels...)
    that the registry stores beside the artifact's digest and hands back to ``load``.
    """

    name: ClassVar[str]
    """The flavor's name as stored in the registry: ``"sklearn"``, ``"xgboost"``..."""
    packages: ClassVar[tuple[str, ...]]
    """Distributions whose installed versions the registry records with each model version."""
    accepts: ClassVar[str]
    """What this flavor saves, in words, for error messages."""

    @abstractmethod
    def matches(self, model: object) -> bool:
        """Whether ``flavor_for`` should pick this flavor for ``model`` (never imports)."""

    @abstractmethod
    def save(self, model: Any, folder: Path, *, allow_pickle: bool = False) -> dict[str, Any]:
        """Write ``model`` into ``folder`` (fresh and empty); return the spec ``load`` needs."""

    @abstractmethod
    def load(self, folder: Path, spec: Mapping[str, Any], *, allow_pickle: bool = False) -> Any:
        """Read the model saved in ``folder`` back; the result has ``predict(X)``."""

    def refuse(self, model: object, saves: str) -> RegistryError:
        """The error for a model this flavor does not save (``saves`` lists what it does)."""
        return RegistryError(f"the {self.name!r} flavor saves {saves}, not "
                             f"{qualified_name(model)}; pass one of those, or use "
                             "flavor='pickle', allow_pickle=True for other objects")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def top_package(model: object) -> str:
    """The top-level package that defines ``type(model)`` (``"xgboost"`` for XGBClassifier)."""
    return type(model).__module__.partition(".")[0]


def qualified_name(model: object) -> str:
    """``module.QualName`` of ``type(model)``, as messages and specs name it."""
    kind = type(model)
    return f"{kind.__module__}.{kind.__qualname__}"


def framework(module: str, distribution: str, flavor: str) -> ModuleType:
    """Import a framework lazily; a missing one is a ``RegistryError`` saying what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise RegistryError(f"the {flavor!r} flavor needs {distribution!r}, which cannot be "
                            f"imported ({exc}); install it with `pip install {distribution}`"
                            ) from exc


def spec_value(spec: Mapping[str, Any], key: str, kind: type[_T], flavor: str) -> _T:
    """``spec[key]`` checked to be a ``kind``; a missing or mistyped entry is refused."""
    value = spec.get(key)
    if not isinstance(value, kind):
        raise RegistryError(f"the {flavor!r} model spec has {key}={value!r}, expected a "
                            f"{kind.__name__}; the spec was not written by this flavor — "
                            "register the model again")
    return value


@contextmanager
def translate(action: str, fix: str) -> Iterator[None]:
    """Re-raise a framework's exception as a ``RegistryError`` naming ``action`` and ``fix``.

    Errors skewless raised on purpose pass through unchanged; others are kept as ``__cause__``.
    """
    try:
        yield
    except SkewlessError:
        raise
    except Exception as exc:
        raise RegistryError(f"{action} failed ({type(exc).__name__}: {exc}); {fix}") from exc
