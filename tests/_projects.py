"""Helpers for tests that open projects through the process-wide cache of ``get_project``."""

from __future__ import annotations

from pathlib import Path

from skewless import _project


def forget_project(folder: Path) -> None:
    """Close and drop the cached project of ``folder`` (if it was opened): its connections go
    before the test's database schema is dropped, and no later test sees it."""
    with _project._lock:
        project = _project._projects.pop(folder.resolve(), None)
    if project is not None:
        project.close()
