"""The module-level tracking and registry functions of ``skewless``.

Each works on the current project (``$SKEWLESS_PROJECT``, else the nearest ``skewless.yaml``)
unless ``project=`` names another folder.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from skewless._project import get_project

if TYPE_CHECKING:
    from skewless.registry import AliasMove, Lineage, ModelVersion
    from skewless.tracking import Run, RunRecord

__all__ = [
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

PathLike = str | os.PathLike[str] | None


def start_run(experiment: str = "default", name: str | None = None,
              tags: dict[str, str] | None = None, *, flush_interval: float = 1.0,
              max_buffer: int = 1_000, project: PathLike = None) -> Run:
    """Start a run; use it as ``with skewless.start_run("fraud") as run: ...``.

    The run is ``running`` until the block ends, then ``finished`` — or ``failed`` with the
    exception recorded when the block raises. Logged values are buffered and written every
    ``flush_interval`` seconds, whenever ``max_buffer`` are pending, and at the end.
    """
    return get_project(project).start_run(experiment, name, tags, flush_interval=flush_interval,
                                          max_buffer=max_buffer)


def search_runs(experiment: str | None = None, filter: str | None = None,
                order_by: list[str] | None = None, limit: int = 1_000, *,
                project: PathLike = None) -> list[RunRecord]:
    """Runs matching ``filter`` (e.g. ``"metrics.auc > 0.8 and params.max_depth = '6'"``),
    ordered by ``order_by`` (e.g. ``["metrics.auc DESC"]``; newest first by default)."""
    return get_project(project).runs.search(experiment, filter, order_by, limit)


def get_run(run_id: str, *, project: PathLike = None) -> RunRecord:
    return get_project(project).runs.get(run_id)


def register_model(model: Any, name: str, *, project: PathLike = None,
                   **options: Any) -> ModelVersion:
    """Register ``model`` as the next version of ``name`` (see ``Registry.register_model``)."""
    return get_project(project).registry.register_model(model, name, **options)


def load_model(ref: str, *, allow_pickle: bool = False, flavor: str | None = None,
               check_features: bool = True, project: PathLike = None) -> Any:
    """Load ``"fraud@production"``, ``"fraud/3"`` or ``"fraud@latest"`` after verifying its
    digests; pickled models need ``allow_pickle=True``. ``flavor="onnx"`` loads the ONNX export
    kept by the training workflow. A model trained on features loads only while its feature
    definitions are still the applied ones (``check_features=False`` skips that check)."""
    return get_project(project).registry.load_model(
        ref, allow_pickle=allow_pickle, flavor=flavor, check_features=check_features)


def get_model_version(ref: str, *, project: PathLike = None) -> ModelVersion:
    return get_project(project).registry.get_model_version(ref)


def list_models(*, project: PathLike = None) -> list[tuple[str, int]]:
    """``(name, latest version number)`` of every registered model."""
    return [(name, latest) for name, latest, _ in get_project(project).registry.store.models()]


def model_versions(name: str, *, project: PathLike = None) -> list[ModelVersion]:
    return get_project(project).registry.store.versions(name)


def set_alias(name: str, alias: str, version: int, *, force: bool = False,
              project: PathLike = None) -> int | None:
    """Point ``name@alias`` at ``version``; returns the version it pointed at before.
    ``production`` on a version that lost to its baseline needs ``force=True``."""
    return get_project(project).registry.set_alias(name, alias, version, force=force)


def delete_alias(name: str, alias: str, *, project: PathLike = None) -> int:
    return get_project(project).registry.delete_alias(name, alias)


def alias_history(name: str, alias: str, *, project: PathLike = None) -> list[AliasMove]:
    """Every move of ``name@alias``, oldest first: which version it was on any date."""
    return get_project(project).registry.alias_history(name, alias)


def rollback(name: str, alias: str = "production", *, project: PathLike = None
             ) -> tuple[int, int]:
    """Move ``alias`` back to the version it pointed at before; returns ``(from, to)``."""
    return get_project(project).registry.rollback(name, alias)


def delete_model_version(name: str, version: int, *, project: PathLike = None) -> None:
    get_project(project).registry.delete_model_version(name, version)


def lineage(ref: str, *, project: PathLike = None) -> Lineage:
    return get_project(project).registry.lineage(ref)
