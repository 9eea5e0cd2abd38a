"""What the conformance suites share: running a list of checks, and failing with a clear message.

The checks raise ``AssertionError`` explicitly instead of using ``assert``, so they still check
under ``python -O`` and say what was expected without pytest's assertion rewriting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["expect", "expect_equal", "run_checks"]

F = TypeVar("F")


def expect(condition: bool, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        raise AssertionError(message)


def expect_equal(actual: Any, expected: Any, what: str) -> None:
    """Fail unless ``actual == expected``, naming ``what`` was compared and both values."""
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def run_checks(suite: str, checks: Sequence[Callable[[F], None]], factory: F) -> None:
    """Run every check against ``factory``; one ``AssertionError`` lists each that failed.

    All checks run even after a failure, so one run shows everything a backend gets wrong.
    Any exception counts as a failure of the check that raised it.
    """
    failures = []
    for check in checks:
        try:
            check(factory)
        except Exception as exc:
            failures.append(f"{check.__name__}: {type(exc).__name__}: {exc}")
    if failures:
        raise AssertionError(f"{len(failures)} of {len(checks)} {suite} checks failed:\n  "
                             + "\n  ".join(failures))
