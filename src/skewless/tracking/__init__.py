"""Experiment tracking: runs with params, metrics (buffered), tags and artifacts."""

from skewless.tracking._records import MetricPoint, RunRecord
from skewless.tracking._run import Run
from skewless.tracking._store import RunStore

__all__ = ["MetricPoint", "Run", "RunRecord", "RunStore"]
