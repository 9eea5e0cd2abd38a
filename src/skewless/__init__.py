"""skewless: production ML without training–serving skew.

A feature is defined once, in Python, and that one definition builds point-in-time-correct
training data, serves the latest values online, and describes "normal" for monitoring.
"""

from skewless._api import (
    alias_history,
    delete_alias,
    delete_model_version,
    get_model_version,
    get_run,
    lineage,
    list_models,
    load_model,
    model_versions,
    register_model,
    rollback,
    search_runs,
    set_alias,
    start_run,
)
from skewless._store import FeatureStore
from skewless.errors import SkewlessError
from skewless.features import (
    Aggregation,
    Entity,
    FeatureService,
    FeatureView,
    Field,
    OnDemandFeatureView,
    Source,
)

__version__ = "0.1.0"

__all__ = [
    "Aggregation",
    "Entity",
    "FeatureService",
    "FeatureStore",
    "FeatureView",
    "Field",
    "OnDemandFeatureView",
    "SkewlessError",
    "Source",
    "__version__",
    "alias_history",
    "delete_alias",
    "delete_model_version",
    "get_model_version",
    "get_run",
    "lineage",
    "list_models",
    "load_model",
    "model_versions",
    "register_model",
    "rollback",
    "search_runs",
    "set_alias",
    "start_run",
]

_SUBPACKAGES = ("monitoring", "training")


def __getattr__(name: str) -> object:
    """``skewless.training`` and ``skewless.monitoring`` are imported on first use, so that
    ``import skewless`` stays fast for processes that only serve or track."""
    if name in _SUBPACKAGES:
        import importlib

        return importlib.import_module(f"skewless.{name}")
    raise AttributeError(f"module 'skewless' has no attribute {name!r}")
