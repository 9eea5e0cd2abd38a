"""Drift and data-quality gauges of a running server, computed off the request path.

Each worker keeps the feature vectors of its last ``gauge_window`` undegraded answers per
model in a ring buffer (an append on the request path) and, every ``gauge_interval_s``, a
thread compares them with the serving version's reference profile, the same comparison
``skewless monitor`` makes, and sets Prometheus gauges per feature.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from skewless.errors import SkewlessError

if TYPE_CHECKING:
    from skewless._project import Project
    from skewless.serving._deployment import Deployment
    from skewless.serving._metrics import ServerMetrics

__all__ = ["DriftGauges"]

log = logging.getLogger("skewless.serving")


@dataclass
class _Window:
    version: int
    names: tuple[str, ...]
    rows: deque[list[Any]] = field(default_factory=deque)


class DriftGauges:
    """Sliding windows of served feature vectors and the thread that turns them into gauges."""

    def __init__(self, project: Project, deployments: dict[str, Deployment],
                 metrics: ServerMetrics, *, window: int, interval_s: float) -> None:
        self.project = project
        self.deployments = deployments
        self.metrics = metrics
        self.size = window
        self.interval_s = interval_s
        self._windows: dict[str, _Window] = {}
        self._profiles: dict[tuple[str, int], Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="skewless-drift-gauges",
                                        daemon=True)

    def observe(self, model: str, version: int, names: tuple[str, ...],
                rows: list[list[Any]]) -> None:
        """Remember served feature vectors (called on the request path: appends only)."""
        current = self._windows.get(model)
        if current is None or current.version != version:
            current = self._windows[model] = _Window(version, names, deque(maxlen=self.size))
        current.rows.extend(rows)

    def start(self) -> None:
        """Start the thread, after importing the comparison code here: importing SciPy later,
        in the thread, would hold the GIL for a second while requests wait."""
        import skewless.monitoring._drift  # noqa: F401

        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            for model in list(self._windows):
                try:
                    self.update(model)
                except (SkewlessError, pa.ArrowException, ValueError) as exc:
                    # e.g. a version registered without a profile: the gauges go stale, the
                    # server goes on
                    log.warning("drift gauges of %s not updated: %s", model, exc)

    def update(self, model: str) -> None:
        """Compare the model's window with its reference profile and set the gauges."""
        from skewless.monitoring._drift import compare

        current = self._windows.get(model)
        if current is None or not current.rows:
            return
        rows = list(current.rows)
        key = (model, current.version)
        if key not in self._profiles:
            self._profiles[key] = self.project.registry.reference_profile(
                f"{model}/{current.version}")
        profile = self._profiles[key]
        names = [n for n in current.names if n in profile.features]
        columns = list(zip(*rows, strict=True))
        table = pa.table({name: pa.array(columns[current.names.index(name)])
                          for name in names})
        verdicts = compare(profile, table, features=names)
        m = self.metrics
        for verdict in verdicts:
            m.feature_drift_severity.labels(model, verdict.name).set(verdict.severity)
            m.feature_drifted.labels(model, verdict.name).set(float(verdict.flagged))
            m.feature_null_rate.labels(model, verdict.name).set(verdict.quality.null_rate)
        m.drifted_features.labels(model).set(sum(v.flagged for v in verdicts))
        m.drift_window_rows.labels(model).set(len(rows))
