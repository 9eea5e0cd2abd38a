"""Alerts: rules from ``skewless.yaml`` checked on a report, delivered once per quiet period.

A rule that fires is POSTed as JSON to ``monitoring.webhook`` (retried with doubling pauses)
and, when configured, ``monitoring.command`` is started (for example a retraining job), with
the alert in its environment. The time each (model, rule) last fired is kept in
``.skewless/alerts.json`` in the project, so a cron job running every five minutes does not
page anyone every five minutes: a rule fires again only after ``dedupe_s``.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skewless._time import utc_now
from skewless.errors import MonitoringError

if TYPE_CHECKING:
    from skewless.config import AlertRule, MonitoringConfig
    from skewless.monitoring._report import MonitorReport

__all__ = ["Alert", "AlertDelivery", "deliver_alerts", "evaluate_alerts"]


@dataclass(frozen=True)
class Alert:
    """A rule that fired: which, on what value, and a sentence for people."""

    rule: str
    metric: str
    value: float
    threshold: float
    message: str


@dataclass(frozen=True)
class AlertDelivery:
    """What happened to the alerts of one report: sent, held back as repeats, failed."""

    sent: list[str]
    deduplicated: list[str]
    failed: list[str]
    command_pid: int | None


def _describe(rule: AlertRule) -> str:
    if rule.name:
        return rule.name
    bounds = [f"> {rule.above:g}" if rule.above is not None else "",
              f"< {rule.below:g}" if rule.below is not None else ""]
    return f"{rule.metric} {' or '.join(b for b in bounds if b)}"


def evaluate_alerts(report: MonitorReport, rules: list[AlertRule]) -> list[Alert]:
    """The rules whose metric is above ``above`` or below ``below`` in ``report``; a rule on
    a value the report does not have (no labels yet, unknown feature) does not fire."""
    fired = []
    for rule in rules:
        if rule.above is None and rule.below is None:
            raise MonitoringError(f"alert rule on {rule.metric!r} has neither above nor below; "
                                  "give a threshold")
        value = report.metric(rule.metric)
        if value is None:
            continue
        for threshold, crossed, word in ((rule.above, lambda v, t: v > t, "above"),
                                         (rule.below, lambda v, t: v < t, "below")):
            if threshold is not None and crossed(value, threshold):
                fired.append(Alert(_describe(rule), rule.metric, float(value), threshold,
                                   f"{report.model}/{report.version}: {rule.metric} is "
                                   f"{value:.4g}, {word} {threshold:g}"))
    return fired


def _post(url: str, payload: dict[str, Any], retries: int, timeout_s: float) -> str | None:
    """POST ``payload``; ``None`` when delivered, else the last error."""
    body = json.dumps(payload).encode()
    pause = 0.5
    error = "not sent"
    for attempt in range(retries + 1):
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                if 200 <= response.status < 300:
                    return None
                error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code}"
            if 400 <= exc.code < 500 and exc.code != 429:
                return error  # the receiver refuses this alert: retrying cannot help
        except (urllib.error.URLError, OSError) as exc:
            error = str(getattr(exc, "reason", exc))
        if attempt < retries:
            time.sleep(pause)
            pause *= 2
    return error


def deliver_alerts(report: MonitorReport, alerts: list[Alert], config: MonitoringConfig,
                   project_dir: Path, report_path: Path | None = None,
                   now: datetime | None = None) -> AlertDelivery:
    """Send the alerts that did not fire within ``dedupe_s``; start the command once if any
    was sent. The time each was sent is remembered in ``.skewless/alerts.json``."""
    when = now or utc_now()
    state_path = project_dir / ".skewless" / "alerts.json"
    try:
        state: dict[str, str] = json.loads(state_path.read_text()) if state_path.exists() \
            else {}
    except (OSError, ValueError):
        state = {}
    due, repeated = [], []
    for alert in alerts:
        key = f"{report.model}|{alert.rule}"
        last = state.get(key)
        if last and when - datetime.fromisoformat(last) < timedelta(seconds=config.dedupe_s):
            repeated.append(alert.rule)
        else:
            due.append((key, alert))
    sent, failed = [], []
    for key, alert in due:
        error = None
        if config.webhook:
            error = _post(config.webhook, {
                "model": report.model, "version": report.version,
                "window": {"start": report.window.start.isoformat(),
                           "end": report.window.end.isoformat()},
                "report": str(report_path) if report_path else None, **asdict(alert)},
                config.webhook_retries, config.webhook_timeout_s)
        if error is None:
            sent.append(alert.rule)
            state[key] = when.isoformat()
        else:
            failed.append(f"{alert.rule}: {error}")
    pid = None
    if sent and config.command:
        environment = {**os.environ, "SKEWLESS_ALERT_MODEL": report.model,
                       "SKEWLESS_ALERT_VERSION": str(report.version),
                       "SKEWLESS_ALERT_RULES": "; ".join(sent),
                       "SKEWLESS_ALERT_REPORT": str(report_path or "")}
        try:
            pid = subprocess.Popen(shlex.split(config.command), cwd=project_dir,
                                   env=environment, start_new_session=True).pid
        except OSError as exc:
            failed.append(f"command {config.command!r}: {exc}")
    if sent:
        state_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=2))
        os.replace(temporary, state_path)
    return AlertDelivery(sent, repeated, failed, pid)
