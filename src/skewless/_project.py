"""A project's tracking and registry side: runs, models and artifacts, opened on first use.

``skewless.start_run``, ``skewless.load_model`` and the other module-level functions work on
the current project — ``$SKEWLESS_PROJECT``, else the current folder or its nearest parent with
a ``skewless.yaml`` — or on the one named by their ``project=`` argument.
"""

from __future__ import annotations

import getpass
import os
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from skewless.config import PROJECT_ENV, ProjectConfig, find_project, load_config

if TYPE_CHECKING:
    from skewless.artifacts import ArtifactStore
    from skewless.metadata import Database, SqlMetadataBackend
    from skewless.registry import Registry
    from skewless.tracking import Run, RunStore

__all__ = ["Project", "get_project"]


def current_actor() -> str:
    """Who is acting, for records: ``$SKEWLESS_USER``, else the login name."""
    try:
        return os.environ.get("SKEWLESS_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Project:
    """The metadata database, artifact store, runs and registry of one project folder."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path: Path = find_project(path)
        self.config: ProjectConfig = load_config(self.path)
        self.actor = current_actor()

    @cached_property
    def database(self) -> Database:
        from skewless.metadata import Database

        settings = self.config.metadata
        return Database(settings.url, schema=settings.db_schema, base_dir=self.path)

    @cached_property
    def artifacts(self) -> ArtifactStore:
        from skewless.artifacts import ArtifactStore

        root = self.config.artifacts.root
        if "://" not in root and not Path(root).expanduser().is_absolute():
            root = str(self.path / root)
        return ArtifactStore(str(Path(root).expanduser()) if "://" not in root else root)

    @cached_property
    def runs(self) -> RunStore:
        from skewless.tracking import RunStore

        return RunStore(self.database, self.config.project)

    @cached_property
    def registry(self) -> Registry:
        from skewless.registry import Registry

        return Registry(self)

    @cached_property
    def definitions(self) -> SqlMetadataBackend:
        from skewless.metadata import SqlMetadataBackend

        return SqlMetadataBackend(self.database, self.config.project)

    def start_run(self, experiment: str = "default", name: str | None = None,
                  tags: dict[str, str] | None = None, *, flush_interval: float = 1.0,
                  max_buffer: int = 1_000) -> Run:
        from skewless._provenance import code_version
        from skewless.tracking import Run

        run_id, run_name, started = self.runs.create_run(experiment, name, self.actor,
                                                         code_version())
        run = Run(self, experiment, run_id, run_name, started, flush_interval=flush_interval,
                  max_buffer=max_buffer)
        for key, value in (tags or {}).items():
            run.set_tag(key, value)
        return run

    def close(self) -> None:
        if "database" in self.__dict__:
            self.database.close()


_projects: dict[Path, Project] = {}
_lock = threading.Lock()


_found: dict[tuple[str | None, str | None, str], Path] = {}
"""Project folders already found, by (path given, $SKEWLESS_PROJECT, working folder): calls
such as ``skewless.search_runs()`` in a loop then skip walking the file system."""


def get_project(path: str | os.PathLike[str] | None = None) -> Project:
    """The project at ``path`` (or the current one), opened once per process."""
    key = (None if path is None else os.fspath(path), os.environ.get(PROJECT_ENV), os.getcwd())
    folder = _found.get(key)
    if folder is None:
        folder = _found[key] = find_project(path)
    with _lock:
        if folder not in _projects:
            _projects[folder] = Project(folder)
        return _projects[folder]
