"""Where code and environment come from: git commit and dirty state, Python and packages."""

from __future__ import annotations

import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from skewless._provenance import code_version, package_versions, python_version

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")


def _git(folder: Path, *arguments: str) -> str:
    return subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.com",
                           *arguments], cwd=folder, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A git work tree with one committed file, ``train.py``."""
    _git(tmp_path, "init", "-q")
    (tmp_path / "train.py").write_text("print('train')\n")
    _git(tmp_path, "add", "train.py")
    _git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


@needs_git
def test_clean_dirty_and_committed_again(repository: Path) -> None:
    head = _git(repository, "rev-parse", "HEAD")
    assert len(head) == 40
    assert code_version(repository, max_age=0) == (head, False)
    (repository / "scratch.txt").write_text("untracked files do not count\n")
    assert code_version(repository, max_age=0) == (head, False)
    (repository / "train.py").write_text("print('edited')\n")
    assert code_version(repository, max_age=0) == (head, True)
    _git(repository, "commit", "-q", "-am", "second")
    assert code_version(repository, max_age=0) == (_git(repository, "rev-parse", "HEAD"), False)


@needs_git
def test_a_subfolder_belongs_to_the_repository(repository: Path) -> None:
    (repository / "src" / "pkg").mkdir(parents=True)
    head = _git(repository, "rev-parse", "HEAD")
    assert code_version(repository / "src" / "pkg", max_age=0) == (head, False)


@needs_git
def test_the_answer_is_reused_for_a_while_unless_asked_fresh(repository: Path) -> None:
    first = code_version(repository, max_age=0)
    (repository / "train.py").write_text("print('edited')\n")
    assert code_version(repository, max_age=3_600) == first  # reused
    assert code_version(repository, max_age=0) == (first[0], True)  # asked again
    assert code_version(repository) == (first[0], True)  # and that answer is reused


@needs_git
def test_the_current_folder_is_the_default(repository: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repository)
    assert code_version(max_age=0) == (_git(repository, "rev-parse", "HEAD"), False)


def test_outside_a_repository(tmp_path: Path) -> None:
    assert code_version(tmp_path, max_age=0) == (None, None)


@needs_git
def test_without_git(repository: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(repository / "no-binaries-here"))
    assert code_version(repository, max_age=0) == (None, None)


def test_python_and_package_versions() -> None:
    assert python_version() == platform.python_version()
    versions = package_versions(("scikit-learn", "skops", "not-a-distribution-xyz"))
    for name in ("skewless", "numpy", "pandas", "pyarrow", "scikit-learn", "skops"):
        assert versions[name] == metadata.version(name)
    assert "not-a-distribution-xyz" not in versions
    assert list(package_versions()) == ["skewless", "numpy", "pandas", "pyarrow"]
