"""Progress reporting for long work: a Rich bar, a caller's callback, or nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["progress_reporter"]


@contextmanager
def progress_reporter(
    progress: Callable[[str, int, int], None] | bool,
    describe: Callable[[str], str] = str,
) -> Iterator[Callable[[str, int, int], None]]:
    """Yield a ``(task, done, total)`` callback: Rich bars on stderr for ``True``, each
    labelled ``describe(task)``."""
    if callable(progress):
        yield progress
        return
    if not progress:
        yield lambda task, done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    tasks: dict[str, object] = {}
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True)) as bar:

        def report(task: str, done: int, total: int) -> None:
            if task not in tasks:
                tasks[task] = bar.add_task(describe(task), total=total or 1)
            bar.update(tasks[task], completed=done if total else 1)  # type: ignore[arg-type]

        yield report
