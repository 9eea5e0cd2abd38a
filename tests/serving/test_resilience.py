"""The server keeps answering when parts of the system fail: a model that raises falls back
to the `fallback` version; Redis stopped mid-traffic gives degraded answers from the reference
profile's defaults, and normal answers again once it is back."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

import skewless as sk
from _projects import forget_project
from _serving import (
    FlakyClassifier,
    build_fraud_project,
    private_redis,
    request_rows,
    running_server,
)
from skewless.training import time_split


def test_a_model_that_raises_is_answered_by_the_fallback_version(tmp_path: Path) -> None:
    project = build_fraud_project(tmp_path / "fraud", "serving: {allow_pickle: true}\n"
                                  "prediction_log: {sink: 'off'}")
    try:
        with sk.FeatureStore(project.folder) as store:
            frame = store.get_training_frame(project.labels, "fraud_features")
        split = time_split(frame, valid="6d", test=None, gap="1d")
        flaky = FlakyClassifier(project.model)
        with sk.start_run("fraud", project=project.folder) as run:
            version = run.log_model(flaky, "fraud", training_frame=split, flavor="pickle",
                                    allow_pickle=True)
        assert not version.training.onnx.kept  # not a model skl2onnx knows
        sk.set_alias("fraud", "fallback", 1, project=project.folder)
        sk.set_alias("fraud", "production", version.version, force=True,
                     project=project.folder)
        rows = request_rows(project.labels, 4)
        with running_server(project.folder, env={"FLAKY_MODEL_FAILS": "1"}) as server, \
                server.client() as client:
            answers = [client.post("/v1/models/fraud/predict", json=row).json() for row in rows]
            metrics = client.get("/metrics").text
        for answer in answers:
            assert (answer["version"], answer["degraded"]) == (1, True)
            assert answer["reason"] == "error: RuntimeError: the model broke"
        assert 'skewless_fallbacks_total{model="fraud",reason="error"} 4.0' in metrics
        with running_server(project.folder) as server, server.client() as client:
            healthy = client.post("/v1/models/fraud/predict", json=rows[0]).json()
        assert (healthy["version"], healthy["degraded"]) == (version.version, False)
    finally:
        forget_project(project.folder)


@pytest.mark.skipif(shutil.which("redis-server") is None and not os.environ.get(
    "SKEWLESS_REQUIRE_SERVICES"), reason="redis-server is not installed")
def test_redis_stopped_mid_traffic_gives_degraded_answers_then_recovers(
        tmp_path: Path) -> None:
    with private_redis(tmp_path) as (port, stop_redis, start_redis):
        project = build_fraud_project(
            tmp_path / "fraud",
            f"online_store: {{type: redis, url: 'redis://127.0.0.1:{port}/0', key_prefix: t}}\n"
            "serving: {online_retry_s: 0.5}\nprediction_log: {sink: 'off'}")
        rows = request_rows(project.labels, 10)
        answers: list[tuple[float, int, bool]] = []
        stop = threading.Event()
        try:
            with running_server(project.folder, workers=2) as server:

                def traffic() -> None:
                    with server.client() as client:
                        i = 0
                        while not stop.is_set():
                            response = client.post("/v1/models/fraud/predict",
                                                   json=rows[i % len(rows)])
                            degraded = response.status_code == 200 and response.json()[
                                "degraded"]
                            answers.append((time.monotonic(), response.status_code, degraded))
                            i += 1

                threads = [threading.Thread(target=traffic) for _ in range(3)]
                for thread in threads:
                    thread.start()
                time.sleep(1.0)
                stopped_at = time.monotonic()
                stop_redis()
                time.sleep(2.0)
                restarted_at = time.monotonic()
                start_redis()
                time.sleep(2.5)
                stop.set()
                for thread in threads:
                    thread.join()
                with server.client() as client:
                    metrics = client.get("/metrics").text
                    last = client.post("/v1/models/fraud/predict", json=rows[0]).json()
        finally:
            stop.set()
            forget_project(project.folder)
    statuses = Counter(status for _, status, _ in answers)
    assert set(statuses) == {200}, statuses
    before = [d for t, _, d in answers if t < stopped_at]
    during = [d for t, _, d in answers if stopped_at + 0.5 < t < restarted_at]
    after = [d for t, _, d in answers if t > restarted_at + 1.5]
    assert before
    assert not any(before)
    assert during
    assert all(during)
    assert after
    assert not any(after)
    assert 'skewless_fallbacks_total{model="fraud",reason="online_store_unavailable"}' in metrics
    assert last["degraded"] is False
    assert last["freshness"]["amount_mean_30d"] is not None
