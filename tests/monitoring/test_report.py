"""`skewless monitor` on a real served model: the report's sections, the skew check (zero on
a correct online store, mismatches on a stale one), alerts delivered to a webhook once per
quiet period with a command started, and the drift gauges of the running server."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from _projects import forget_project
from _serving import FraudProject, build_fraud_project, free_port, request_rows, running_server
from skewless.cli import app
from skewless.errors import MonitoringError
from skewless.monitoring._report import monitor, parse_window

runner = CliRunner()
_ALL_ROWS = 'skewless_drift_window_rows{model="fraud"} 60.0'


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []
    failures_left = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if _Hook.failures_left > 0:
            _Hook.failures_left -= 1
            self.send_response(503)
        else:
            _Hook.received.append(body)
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    _Hook.received = []
    _Hook.failures_left = 1  # the first POST fails: delivery must retry
    port = free_port()
    server = HTTPServer(("127.0.0.1", port), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/alerts"
    server.shutdown()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FraudProject, list]]:
    """A served project with 60 logged predictions, 40 of them labelled."""
    folder = tmp_path_factory.mktemp("monitor") / "fraud"
    project = build_fraud_project(folder, "monitoring: {gauge_interval_s: 0.3}")
    rows = request_rows(project.labels, 60)
    with running_server(folder) as server, server.client() as client:
        answers = [client.post("/v1/models/fraud/predict", json=row).json() for row in rows]
        labels = [{"request_id": a["request_id"], "label": bool(a["prediction"])}
                  for a in answers[:40]]
        assert client.post("/v1/feedback", json=labels).status_code == 200
        deadline = time.monotonic() + 10
        while True:  # the gauges are recomputed every 0.3 s, off the request path, so an
            # early update may have counted only the first answers
            metrics = client.get("/metrics").text
            if _ALL_ROWS in metrics or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        server.stop()
    yield project, answers, metrics
    forget_project(folder)


def test_a_report_covers_drift_quality_performance_and_skew(served: tuple) -> None:
    project, _answers, _ = served
    report = monitor("fraud@production", "1h", project=project.folder)
    assert (report.model, report.version, report.rows) == ("fraud", 1, 60)
    names = {v.name for v in report.features}
    assert names == {"amount_count_1h", "amount_sum_1h", "amount_count_7d", "amount_mean_30d",
                     "amount_to_mean_30d", "amount_to_max_7d", "new_category"}
    assert report.prediction is not None
    assert report.performance is not None
    assert report.performance.labelled_rows == 40
    assert report.performance.coverage == pytest.approx(40 / 60)
    assert "auc_roc" in report.performance.validation
    assert report.skew is not None
    assert report.skew.sampled == 60
    assert report.skew.max_mismatch_rate == 0.0  # a correct store: served == offline
    document = report.to_json()
    json.dumps(document, allow_nan=False)
    assert [f["severity"] for f in document["features"]] == sorted(
        (f["severity"] for f in document["features"]), reverse=True)
    assert document["status"] == "ok"
    assert report.metric("label_coverage") == pytest.approx(40 / 60)
    assert report.metric("skew_mismatch_rate") == 0.0
    assert report.metric("null_rate.amount_mean_30d") is not None
    assert report.metric("performance.nothing") is None


def test_windows_and_empty_windows_are_explained(served: tuple) -> None:
    project, _, _ = served
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    assert parse_window("24h", now).start == now - timedelta(hours=24)
    window = parse_window("2026-11-01T00:00Z..2026-11-02T00:00Z")
    assert (window.end - window.start) == timedelta(days=1)
    for bad, message in (("soon", "not a duration"), ("2026-11-02T00:00Z..2026-11-01T00:00Z",
                                                       "ends before it starts"),
                         ("yesterday..today", "ISO 8601")):
        with pytest.raises(MonitoringError, match=message):
            parse_window(bad)
    with pytest.raises(MonitoringError, match="no predictions of fraud/1 were logged"):
        monitor("fraud@production", "2020-01-01T00:00Z..2020-01-02T00:00Z",
                project=project.folder)


def test_the_cli_writes_json_and_html_and_sends_alerts_once(served: tuple, webhook: str,
                                                             tmp_path: Path) -> None:
    project, _, _ = served
    marker = tmp_path / "retrained"
    command = f"{sys.executable} -c \"import pathlib, os; pathlib.Path({str(marker)!r})" \
              ".write_text(os.environ['SKEWLESS_ALERT_RULES'])\""
    config = (project.folder / "skewless.yaml").read_text()
    alerting = json.dumps({
        "alerts": [{"metric": "label_coverage", "below": 0.9, "name": "few labels"},
                   {"metric": "skew_mismatch_rate", "above": 0.5}],
        "webhook": webhook, "command": command, "gauge_interval_s": 0.3})
    (project.folder / "skewless.yaml").write_text(
        config.replace("monitoring: {gauge_interval_s: 0.3}", f"monitoring: {alerting}"))
    forget_project(project.folder)  # reopen with the new configuration
    try:
        out = tmp_path / "report"
        result = runner.invoke(app, ["monitor", "--model", "fraud@production", "--window", "1h",
                                     "--output", str(out), "--fail-on", "alert", "-p",
                                     str(project.folder)])
        assert result.exit_code == 2, result.output
        assert "alert fraud/1: label_coverage is 0.6667, below 0.9" in result.output
        document = json.loads((out / "report.json").read_text())
        assert document["status"] == "alert"
        assert [a["rule"] for a in document["alerts"]] == ["few labels"]
        html = (out / "report.html").read_text()
        assert html.startswith("<!DOCTYPE html>") or html.lower().startswith("<!doctype html>")
        assert "<svg" in html
        assert "<script src" not in html  # self-contained
        assert len(_Hook.received) == 1  # delivered on the second attempt
        assert _Hook.received[0]["rule"] == "few labels"
        assert _Hook.received[0]["model"] == "fraud"
        deadline = time.monotonic() + 20
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.read_text() == "few labels"
        again = runner.invoke(app, ["monitor", "--model", "fraud@production", "--window", "1h",
                                    "--output", str(out), "-p", str(project.folder)])
        assert again.exit_code == 0, again.output  # --fail-on never
        assert "not re-sent" in again.output
        assert len(_Hook.received) == 1
        drift = runner.invoke(app, ["monitor", "--model", "fraud@production", "--window", "1h",
                                    "--output", str(out), "--fail-on", "sometimes", "-p",
                                    str(project.folder)])
        assert drift.exit_code == 1
        assert "use alert, drift or never" in drift.output
    finally:
        (project.folder / "skewless.yaml").write_text(config)
        forget_project(project.folder)


def test_the_running_server_exports_drift_gauges(served: tuple) -> None:
    _, _, metrics = served
    assert _ALL_ROWS in metrics
    assert 'skewless_feature_null_rate{feature="amount_mean_30d",model="fraud"}' in metrics
    assert 'skewless_drifted_features{model="fraud"}' in metrics


def test_the_skew_check_finds_a_stale_online_store(tmp_path: Path) -> None:
    project = build_fraud_project(tmp_path / "fraud")
    try:
        rows = request_rows(project.labels, 30)
        users = [r["entities"]["user_id"] for r in rows]
        # new payments land after materialization: the online store does not have them
        source = project.folder / "data" / "transactions.parquet"
        payments = pq.read_table(source)
        now = datetime.now(UTC)
        extra = pa.table({
            "user_id": pa.array(users, pa.int64()),
            "event_timestamp": pa.array([now - timedelta(minutes=5)] * len(users),
                                        payments.schema.field("event_timestamp").type),
            "created": pa.array([now - timedelta(minutes=4)] * len(users),
                                payments.schema.field("created").type),
            "amount": pa.array([999.0] * len(users)),
            "merchant_category": pa.array(["jewelry"] * len(users)),
            "is_fraud": pa.array([True] * len(users)),
        }).cast(payments.schema)
        pq.write_table(pa.concat_tables([payments, extra]), source)
        with running_server(project.folder) as server, server.client() as client:
            for row in rows:
                assert client.post("/v1/models/fraud/predict", json=row).status_code == 200
            server.stop()
        report = monitor("fraud@production", "1h", project=project.folder)
        assert report.skew is not None
        stale = report.skew.features["amount_count_7d"]
        assert stale.mismatch_rate == 1.0
        example = stale.examples[0]
        assert example["offline"] == example["served"] + 1  # the payment it did not see
        assert report.metric("skew_mismatch_rate") == 1.0
    finally:
        forget_project(project.folder)


def test_the_drift_rule_comes_from_the_project_configuration(served: tuple) -> None:
    from skewless.monitoring._report import drift_rule

    rule = drift_rule({"alpha": 0.05, "overrides": {"amount_mean_30d": {"wasserstein": 0.5}}})
    assert rule.alpha == 0.05
    assert rule.for_feature("amount_mean_30d").wasserstein == 0.5
    with pytest.raises(MonitoringError, match=r"monitoring.rule: .*alhpa"):
        drift_rule({"alhpa": 0.05})
    project, _, _ = served
    report = monitor("fraud@production", "1h", project=project.folder, rule=rule,
                     skew_sample=0)
    assert report.rule.alpha == 0.05
    assert report.skew is None
    assert report.skew_reason == "monitoring.skew_sample is 0"
