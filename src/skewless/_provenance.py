"""Where code and environment come from: git revision, Python and package versions."""

from __future__ import annotations

import functools
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path

__all__ = ["code_version", "package_versions", "python_version"]

_ALWAYS = ("skewless", "numpy", "pandas", "pyarrow")


_CACHE_SECONDS = 5.0
_cache: dict[str, tuple[float, tuple[str | None, bool | None]]] = {}


def code_version(folder: Path | None = None, *,
                 max_age: float = _CACHE_SECONDS) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the git work tree holding ``folder`` (default: the current one);
    ``(None, None)`` outside a git repository or without git.

    Asking git costs two processes, so an answer is reused for ``max_age`` seconds (5 by
    default): a loop starting hundreds of runs does not fork git for each. Records that must
    be exact (a registered model version) pass ``max_age=0``: a file edited or a commit made
    a second ago is then seen.
    """
    where = str(folder or Path.cwd())
    cached = _cache.get(where)
    if cached is not None and time.monotonic() - cached[0] < max_age:
        return cached[1]
    _cache[where] = (time.monotonic(), _ask_git(where))
    return _cache[where][1]


def _ask_git(where: str) -> tuple[str | None, bool | None]:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                                text=True, timeout=5)
        if commit.returncode != 0:
            return None, None
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=where, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit.stdout.strip(), bool(status.stdout.strip()) if status.returncode == 0 else None


def python_version() -> str:
    return platform.python_version()


@functools.cache
def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Installed versions of the packages a model depends on (the flavor's and the basics)."""
    names = dict.fromkeys((*_ALWAYS, *extra))
    return {name: version for name in names if (version := _version(name)) is not None}
