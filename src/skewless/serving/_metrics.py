"""Prometheus metrics of the prediction server.

With several worker processes each worker writes its samples to files in
``$PROMETHEUS_MULTIPROC_DIR`` (set by ``skewless serve`` before the workers start) and
``/metrics`` adds them up, so any worker answers for the whole server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["CONTENT_TYPE_LATEST", "ServerMetrics"]

_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass
class ServerMetrics:
    """The server's metrics, registered in their own registry (one per app)."""

    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    in_flight: Gauge
    batch_requests: Histogram
    fallbacks: Counter
    cache_hits: Counter
    cache_misses: Counter
    log_queue_depth: Gauge
    log_dropped: Counter
    log_written: Counter
    served_version: Gauge
    feature_drift_severity: Gauge
    feature_drifted: Gauge
    feature_null_rate: Gauge
    drifted_features: Gauge
    drift_window_rows: Gauge

    @classmethod
    def create(cls) -> ServerMetrics:
        registry = CollectorRegistry(auto_describe=True)
        return cls(
            registry=registry,
            requests=Counter("skewless_requests", "Prediction requests by model, version and "
                             "HTTP status", ["model", "version", "status"], registry=registry),
            latency=Histogram("skewless_request_latency_seconds", "Prediction request latency "
                              "in the server", ["model"], buckets=_LATENCY_BUCKETS,
                              registry=registry),
            in_flight=Gauge("skewless_in_flight_requests", "Prediction requests being answered",
                            registry=registry, multiprocess_mode="livesum"),
            batch_requests=Histogram("skewless_batch_requests", "Prediction requests answered "
                                     "by each call of a model (requests that arrive together "
                                     "are batched)", ["model"], buckets=_BATCH_BUCKETS,
                                     registry=registry),
            fallbacks=Counter("skewless_fallbacks", "Degraded answers by model and reason "
                              "(timeout, error, online_store_unavailable, default)",
                              ["model", "reason"], registry=registry),
            cache_hits=Counter("skewless_cache_hits", "Rows answered from the prediction cache",
                               ["model"], registry=registry),
            cache_misses=Counter("skewless_cache_misses", "Rows not found in the prediction "
                                 "cache", ["model"], registry=registry),
            log_queue_depth=Gauge("skewless_prediction_log_queue_depth", "Prediction records "
                                  "waiting to be written", registry=registry,
                                  multiprocess_mode="livesum"),
            log_dropped=Counter("skewless_prediction_log_dropped", "Prediction records dropped "
                                "because the log's queue was full or its sink failed",
                                registry=registry),
            log_written=Counter("skewless_prediction_log_written", "Prediction records written",
                                registry=registry),
            served_version=Gauge("skewless_served_version", "The version each deployment's "
                                 "role (primary, fallback) serves", ["model", "role"],
                                 registry=registry, multiprocess_mode="max"),
            feature_drift_severity=Gauge(
                "skewless_feature_drift_severity", "Drift severity of each feature over the "
                "recent predictions (1 = at the flagging threshold)", ["model", "feature"],
                registry=registry, multiprocess_mode="livemax"),
            feature_drifted=Gauge(
                "skewless_feature_drifted", "1 when the feature is flagged (drift or quality) "
                "over the recent predictions", ["model", "feature"], registry=registry,
                multiprocess_mode="livemax"),
            feature_null_rate=Gauge(
                "skewless_feature_null_rate", "Share of missing values of the feature over the "
                "recent predictions", ["model", "feature"], registry=registry,
                multiprocess_mode="livemax"),
            drifted_features=Gauge(
                "skewless_drifted_features", "Features flagged over the recent predictions",
                ["model"], registry=registry, multiprocess_mode="livemax"),
            drift_window_rows=Gauge(
                "skewless_drift_window_rows", "Predictions in the window the drift gauges "
                "cover (per worker)", ["model"], registry=registry,
                multiprocess_mode="livesum"),
        )

    def render(self) -> bytes:
        """The text exposition of every worker's samples (or this process's alone)."""
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not directory:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined, path=directory)
        return generate_latest(combined)
