"""The prediction server through a real `skewless serve` process on 127.0.0.1: parity with the
offline model, bad input, auth, metrics, live version swaps and fallbacks."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline

import skewless as sk
from _projects import forget_project
from _serving import (
    FraudProject,
    build_fraud_project,
    offline_probabilities,
    request_rows,
    running_server,
)
from skewless.training import time_split


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> FraudProject:
    folder = tmp_path_factory.mktemp("serving") / "fraud"
    built = build_fraud_project(folder, "serving: {api_key: admin-secret, cache_size: 0}\n"
                                "prediction_log: {sink: 'off'}")
    yield built
    forget_project(folder)


def test_predictions_equal_the_offline_model_on_the_same_features(project: FraudProject) -> None:
    rows = request_rows(project.labels, 60)
    expected = offline_probabilities(project, rows)
    with running_server(project.folder, workers=2) as server, server.client() as client:
        single = client.post("/v1/models/fraud/predict", json=rows[0]).json()
        batch = client.post("/v1/models/fraud/predict", json=rows).json()
        ready = client.get("/ready").json()
    assert ready["models"]["fraud"] == {"version": 1, "fallback": None, "flavor": "onnx",
                                        "error": None}
    assert (single["model"], single["version"], single["degraded"]) == ("fraud", 1, False)
    assert len(single["request_id"]) == 32
    assert set(single["freshness"]) == {"amount_count_1h", "amount_sum_1h", "amount_count_7d",
                                        "amount_mean_30d", "amount_to_mean_30d",
                                        "amount_to_max_7d", "new_category"}
    served = np.array([[p["probabilities"]["False"], p["probabilities"]["True"]]
                       for p in batch["predictions"]])
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-5)
    assert [p["prediction"] for p in batch["predictions"]] == (expected[:, 1] >= 0.5).tolist()
    assert len({p["request_id"] for p in batch["predictions"]}) == len(rows)
    assert single["probabilities"]["True"] == pytest.approx(expected[0, 1], abs=1e-5)


def test_concurrent_requests_are_batched_and_each_answered_as_alone(
        project: FraudProject) -> None:
    rows = request_rows(project.labels, 48)
    expected = offline_probabilities(project, rows)
    answers: dict[int, list[dict]] = {i: [] for i in range(len(rows))}

    def send(indexes: range) -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for _ in range(4):
                for i in indexes:
                    answers[i].append(client.post("/v1/models/fraud/predict",
                                                  json=rows[i]).json())

    with running_server(project.folder) as server, server.client() as client:
        threads = [threading.Thread(target=send, args=(range(k, len(rows), 16),))
                   for k in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        metrics = client.get("/metrics").text
    for i, given in answers.items():
        assert len(given) == 4
        for answer in given:
            assert (answer["version"], answer["degraded"]) == (1, False)
            assert answer["probabilities"]["True"] == pytest.approx(expected[i, 1], abs=1e-5)
    assert len({a["request_id"] for given in answers.values() for a in given}) == 4 * len(rows)
    calls = float(_sample(metrics, 'skewless_batch_requests_count{model="fraud"}'))
    answered = float(_sample(metrics, 'skewless_batch_requests_sum{model="fraud"}'))
    assert answered == 4 * len(rows)
    assert calls < answered  # some calls answered several requests at once


def _sample(metrics: str, name: str) -> str:
    return next(line.split()[-1] for line in metrics.splitlines() if line.startswith(name))


BAD_REQUESTS = [
    ({"entities": {}, "request": {"amount": 1.0, "category": "x"}}, 422,
     "entities.user_id is missing", "entities.user_id"),
    ({"entities": {"user_id": "seven"}, "request": {"amount": 1.0, "category": "x"}}, 422,
     "entities.user_id must be an integer", "entities.user_id"),
    ({"entities": {"user_id": 7}, "request": {"amount": "1", "category": "x"}}, 422,
     "request.amount must be a number", "request.amount"),
    ({"entities": {"user_id": 7}, "request": {"amount": 1.0, "category": "x", "tip": 2}}, 422,
     "unknown field request.tip", "request.tip"),
    ({"entities": {"user_id": 7}}, 422, "request.amount is missing", "request.amount"),
    ({"entity": {"user_id": 7}}, 422, "unknown field entity", "entity"),
    ([{"entities": {"user_id": 7}, "request": {"amount": 1.0, "category": "x"}}, 3], 422,
     "row [1]. must be an object", "[1]."),
    ([], 422, "the list of rows is empty", "body"),
    ("just text", 422, "a row object or a list of rows", "body"),
]


def test_bad_input_is_answered_with_a_named_field_never_500(project: FraudProject) -> None:
    with running_server(project.folder) as server, server.client() as client:
        for body, status, message, field in BAD_REQUESTS:
            response = client.post("/v1/models/fraud/predict", json=body)
            assert response.status_code == status, (body, response.text)
            assert message in response.json()["error"], response.text
            assert response.json()["field"] == field
        broken = client.post("/v1/models/fraud/predict", content=b"{not json",
                             headers={"content-type": "application/json"})
        assert broken.status_code == 422
        assert "not valid JSON" in broken.json()["error"]
        huge = client.post("/v1/models/fraud/predict", content=b"[" + b" " * 1_100_000 + b"]")
        assert huge.status_code == 413
        assert "at most 1048576" in huge.json()["error"]
        many = client.post("/v1/models/fraud/predict", json=request_rows(project.labels, 1)
                           * 1_001)
        assert many.status_code == 413
        assert "at most 1000" in many.json()["error"]
        unknown = client.post("/v1/models/fruad/predict", json=BAD_REQUESTS[0][0])
        assert unknown.status_code == 404
        assert "it serves fraud" in unknown.json()["error"]
        metrics = client.get("/metrics").text
    assert 'skewless_requests_total{model="fraud",status="422",version="1"} 10.0' in metrics
    assert 'skewless_requests_total{model="fraud",status="413",version="1"} 2.0' in metrics
    assert 'status="500"' not in metrics
    assert "Traceback" not in server.log()


def test_admin_endpoints_need_the_api_key_and_metrics_are_exported(
        project: FraudProject) -> None:
    rows = request_rows(project.labels, 5)
    with running_server(project.folder) as server, server.client() as client:
        for row in rows:
            assert client.post("/v1/models/fraud/predict", json=row).status_code == 200
        assert client.post("/v1/admin/reload").status_code == 401
        wrong = client.post("/v1/admin/reload", headers={"x-api-key": "guess"})
        assert wrong.status_code == 401
        right = client.post("/v1/admin/reload", headers={"x-api-key": "admin-secret"})
        assert right.json() == {"swapped": {"fraud": False}, "versions": {"fraud": 1}}
        bearer = client.post("/v1/admin/reload",
                             headers={"authorization": "Bearer admin-secret"})
        assert bearer.status_code == 200
        refused = client.put("/v1/admin/models/fraud/aliases/staging", json={"version": 1})
        assert refused.status_code == 401
        moved = client.put("/v1/admin/models/fraud/aliases/staging", json={"version": 1},
                           headers={"x-api-key": "admin-secret"})
        assert moved.json() == {"model": "fraud", "alias": "staging", "from": None, "to": 1}
        missing = client.put("/v1/admin/models/fraud/aliases/staging", json={"version": 9},
                             headers={"x-api-key": "admin-secret"})
        assert missing.status_code == 409
        assert "no version 9" in missing.json()["error"] or "9" in missing.json()["error"]
        metrics = client.get("/metrics").text
        docs = client.get("/openapi.json").json()
        health = client.get("/health").json()
    assert health == {"status": "ok"}
    assert "/v1/models/{name}/predict" in docs["paths"]
    assert 'skewless_requests_total{model="fraud",status="200",version="1"} 5.0' in metrics
    assert 'skewless_request_latency_seconds_count{model="fraud"} 5.0' in metrics
    assert 'skewless_served_version{model="fraud",role="primary"} 1.0' in metrics
    for name in ("skewless_in_flight_requests", "skewless_prediction_log_queue_depth",
                 "skewless_prediction_log_dropped_total"):
        assert name in metrics, name
    assert sk.get_model_version("fraud@staging", project=project.folder).version == 1


def _second_version(project: FraudProject, seed: int) -> int:
    with sk.FeatureStore(project.folder) as store:
        frame = store.get_training_frame(project.labels, "fraud_features")
    split = time_split(frame, valid="6d", test=None, gap="1d")
    model = make_pipeline(SimpleImputer(strategy="median"),
                          RandomForestClassifier(n_estimators=10, max_depth=4,
                                                 random_state=seed))
    model.fit(split.train.X(), split.train.y())
    with sk.start_run("fraud", project=project.folder) as run:
        return run.log_model(model, "fraud", training_frame=split).version


def test_an_alias_move_is_served_within_2_s_without_failing_a_request(
        project: FraudProject) -> None:
    rows = request_rows(project.labels, 20)
    new = _second_version(project, seed=1)
    statuses: Counter[int] = Counter()
    versions: list[tuple[float, int]] = []
    stop = threading.Event()
    try:
        # a generous model timeout: this test is about the swap, not about a loaded machine
        with running_server(project.folder, workers=2,
                            env={"SKEWLESS_SERVING__TIMEOUT_MS": "5000"}) as server:

            def traffic() -> None:
                with server.client() as client:
                    i = 0
                    while not stop.is_set():
                        response = client.post("/v1/models/fraud/predict", json=rows[i % 20])
                        statuses[response.status_code] += 1
                        if response.status_code == 200:
                            versions.append((time.monotonic(), response.json()["version"]))
                        i += 1

            threads = [threading.Thread(target=traffic) for _ in range(4)]
            for thread in threads:
                thread.start()
            time.sleep(1.0)
            moved_at = time.monotonic()
            sk.set_alias("fraud", "production", new, force=True, project=project.folder)
            time.sleep(3.0)
            rolled_at = time.monotonic()
            sk.rollback("fraud", "production", project=project.folder)
            time.sleep(3.0)
            stop.set()
            for thread in threads:
                thread.join()
    finally:
        stop.set()
        sk.set_alias("fraud", "production", 1, force=True, project=project.folder)
    assert set(statuses) == {200}, statuses
    assert statuses[200] > 200
    after_move = [v for t, v in versions if moved_at + 2.0 < t < rolled_at]
    after_rollback = [v for t, v in versions if t > rolled_at + 2.0]
    assert after_move
    assert set(after_move) == {new}
    assert after_rollback
    assert set(after_rollback) == {1}
    assert any(v == 1 for t, v in versions if t < moved_at)


def test_fallbacks_answer_degraded_when_the_primary_times_out(
        project: FraudProject, tmp_path: Path) -> None:
    rows = request_rows(project.labels, 3)
    impossible = {"SKEWLESS_SERVING__TIMEOUT_MS": "0.000001"}
    # no fallback version and no default: 503 with the reason
    with running_server(project.folder, env=impossible) as server, server.client() as client:
        response = client.post("/v1/models/fraud/predict", json=rows[0])
        assert response.status_code == 503
        assert "(timeout)" in response.json()["error"]
    # a default rule answers
    with running_server(project.folder, env={**impossible, "SKEWLESS_SERVING__DEFAULTS":
                                             '{"fraud": false}'}) as server, \
            server.client() as client:
        answer = client.post("/v1/models/fraud/predict", json=rows[0]).json()
        assert (answer["prediction"], answer["degraded"], answer["reason"]) == \
            (False, True, "timeout; default")
        assert "probabilities" not in answer
        metrics = client.get("/metrics").text
    assert 'skewless_fallbacks_total{model="fraud",reason="timeout"} 1.0' in metrics
    # the version at alias `fallback` answers (it has no timeout of its own)
    spare = _second_version(project, seed=2)
    sk.set_alias("fraud", "fallback", spare, project=project.folder)
    try:
        with running_server(project.folder, env=impossible) as server, \
                server.client() as client:
            answer = client.post("/v1/models/fraud/predict", json=rows[1]).json()
            ready = client.get("/ready").json()
    finally:
        sk.delete_alias("fraud", "fallback", project=project.folder)
    assert ready["models"]["fraud"]["fallback"] == spare
    assert (answer["version"], answer["degraded"], answer["reason"]) == (spare, True, "timeout")
    assert set(answer["probabilities"]) == {"False", "True"}


def test_cache_protected_predictions_and_a_model_without_feature_service(
        project: FraudProject) -> None:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rows = request_rows(project.labels, 3)
    columns = ["a", "b"]
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(200, 2)), columns=columns)
    plain = LogisticRegression().fit(X, (X["a"] > 0).to_numpy())
    version = sk.register_model(plain, "plain", input_example=X.head(), project=project.folder)
    env = {"SKEWLESS_SERVING__CACHE_SIZE": "100", "SKEWLESS_SERVING__PROTECT_PREDICTIONS": "true"}
    with running_server(project.folder, "fraud@production", f"plain/{version.version}",
                        env=env) as server, server.client() as client:
        refused = client.post("/v1/models/fraud/predict", json=rows[0])
        assert refused.status_code == 401
        key = {"x-api-key": "admin-secret"}
        first = client.post("/v1/models/fraud/predict", json=rows[0], headers=key).json()
        second = client.post("/v1/models/fraud/predict", json=rows[0], headers=key).json()
        assert second["probabilities"] == first["probabilities"]
        assert second["request_id"] != first["request_id"]
        direct = client.post("/v1/models/plain/predict", json={"features": {"a": 2.0, "b": 0.1}},
                             headers=key).json()
        wrong = client.post("/v1/models/plain/predict", json={"entities": {"user_id": 1}},
                            headers=key)
        missing = client.post("/v1/models/plain/predict", json={"features": {"a": 1.0}},
                              headers=key)
        metrics = client.get("/metrics").text
    assert direct["prediction"] is True
    assert direct["probabilities"]["True"] == pytest.approx(
        plain.predict_proba(pd.DataFrame([[2.0, 0.1]], columns=columns))[0, 1], abs=1e-9)
    assert wrong.status_code == 422
    assert "unknown field entities" in wrong.json()["error"]
    assert missing.json()["field"] == "features.b"
    assert 'skewless_cache_hits_total{model="fraud"} 1.0' in metrics
    assert 'skewless_cache_misses_total{model="fraud"} 1.0' in metrics
