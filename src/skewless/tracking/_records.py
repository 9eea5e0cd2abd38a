"""What tracking stores about a run, as returned by ``get_run`` and ``search_runs``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = ["MetricPoint", "RunRecord", "RunStatus"]

RunStatus = Literal["running", "finished", "failed"]


@dataclass(frozen=True)
class MetricPoint:
    """One logged value of a metric."""

    key: str
    value: float
    step: int
    timestamp: datetime


@dataclass(frozen=True)
class RunRecord:
    """A run as stored: identity, status, code version and everything logged to it.

    ``metrics`` holds the latest value of each metric (the one at the highest step).
    ``artifacts`` maps a logged file's path (relative to the run) to its SHA-256 digest.
    """

    run_id: str
    experiment: str
    name: str
    status: RunStatus
    start_time: datetime
    end_time: datetime | None
    created_by: str
    git_commit: str | None
    git_dirty: bool | None
    error: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
