"""Monitoring: reference profiles, drift and data quality against them, performance with
delayed labels, training–serving skew, reports and alerts.

::

    report = skewless.monitoring.monitor("fraud@production", "24h")
    report.flagged, report.performance, report.skew
"""

from skewless.monitoring._alerts import Alert, AlertDelivery, deliver_alerts, evaluate_alerts
from skewless.monitoring._profile import (
    FORMAT_VERSION,
    Category,
    FeatureKind,
    FeatureProfile,
    ReferenceProfile,
    build_profile,
    profile_values,
)
from skewless.monitoring._report import (
    MonitorReport,
    Performance,
    SkewFeature,
    SkewReport,
    Window,
    monitor,
    parse_window,
)

__all__ = ["FORMAT_VERSION", "Alert", "AlertDelivery", "Category", "FeatureKind",
           "FeatureProfile", "MonitorReport", "Performance", "ReferenceProfile", "SkewFeature",
           "SkewReport", "Window", "build_profile", "deliver_alerts", "evaluate_alerts",
           "monitor", "parse_window", "profile_values"]
