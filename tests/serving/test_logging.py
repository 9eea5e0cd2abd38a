"""The prediction log and feedback through a real server: what is logged, that a graceful
shutdown loses nothing, that drops are counted, and that labels join their predictions."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pytest
from typer.testing import CliRunner

from _projects import forget_project
from _serving import (
    FraudProject,
    build_fraud_project,
    offline_features,
    request_rows,
    running_server,
)
from skewless.cli import app
from skewless.serving._feedback import FeedbackStore, label_coverage
from skewless.serving._prediction_log import read_predictions


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> FraudProject:
    folder = tmp_path_factory.mktemp("logging") / "fraud"
    built = build_fraud_project(folder, "prediction_log: {flush_interval_s: 5}")
    yield built
    forget_project(folder)


def test_every_answer_is_logged_and_a_graceful_shutdown_flushes_it(
        project: FraudProject) -> None:
    rows = request_rows(project.labels, 40)
    with running_server(project.folder, workers=2) as server, server.client() as client:
        singles = [client.post("/v1/models/fraud/predict", json=row).json() for row in rows]
        batch = client.post("/v1/models/fraud/predict", json=rows[:10]).json()["predictions"]
        code = server.stop()  # well before the 5 s flush interval: only shutdown flushes
    assert code == 0, server.log()
    answers = {a["request_id"]: a for a in [*singles, *batch]}
    logged = read_predictions(project.folder / "data" / "predictions", "fraud")
    assert logged.num_rows == len(answers) == 50
    assert set(logged["request_id"].to_pylist()) == set(answers)
    assert set(logged["version"].to_pylist()) == {1}
    assert not any(logged["degraded"].to_pylist())
    by_id = {r["request_id"]: r for r in logged.to_pylist()}
    for request_id, answer in answers.items():
        record = by_id[request_id]
        assert record["prediction"] == answer["prediction"]
        assert record["probability__True"] == pytest.approx(answer["probabilities"]["True"])
        assert 0 < record["latency_ms"] < 5_000
    # the logged feature vectors are the features computed offline at materialization time
    offline = offline_features(project, rows)
    first = {a["request_id"]: i for i, a in enumerate(singles)}
    order = [first[a["request_id"]] for a in singles]
    for name in ("amount_count_7d", "amount_mean_30d", "amount_to_mean_30d", "new_category"):
        served = [by_id[a["request_id"]][f"feature__{name}"] for a in singles]
        expected = [offline[name][i].as_py() for i in order]
        np.testing.assert_allclose(np.array(served, dtype=float),
                                   np.array(expected, dtype=float), rtol=1e-12)
    users = [by_id[a["request_id"]]["entity__user_id"] for a in singles]
    assert users == [r["entities"]["user_id"] for r in rows]
    assert [by_id[a["request_id"]]["request__category"] for a in singles] == \
        [r["request"]["category"] for r in rows]


def test_records_the_log_cannot_take_are_dropped_and_counted(project: FraudProject) -> None:
    rows = request_rows(project.labels, 1) * 300
    small = {"SKEWLESS_PREDICTION_LOG__QUEUE_SIZE": "5"}
    before = read_predictions(project.folder / "data" / "predictions", "fraud").num_rows
    with running_server(project.folder, env=small) as server, server.client() as client:
        answer = client.post("/v1/models/fraud/predict", json=rows)
        assert answer.status_code == 200
        metrics = client.get("/metrics").text
        server.stop()
    dropped = _sample(metrics, "skewless_prediction_log_dropped_total")
    written = read_predictions(project.folder / "data" / "predictions", "fraud").num_rows \
        - before
    assert dropped >= 250  # a 300-row batch through a queue of 5
    assert written + dropped == 300


def _sample(metrics: str, name: str) -> float:
    return next(float(line.split()[-1]) for line in metrics.splitlines()
                if line.startswith(name))


def test_metrics_count_the_records_of_every_worker(project: FraudProject) -> None:
    """A scrape reaches one worker; the written count must include the other's records."""
    rows = request_rows(project.labels, 40)
    fast = {"SKEWLESS_PREDICTION_LOG__FLUSH_INTERVAL_S": "0.2"}
    with running_server(project.folder, workers=2, env=fast) as server:
        for row in rows:  # a connection each, so both workers answer some
            with server.client(headers={"Connection": "close"}) as client:
                assert client.post("/v1/models/fraud/predict", json=row).status_code == 200
        with server.client() as scraper:  # one connection: always the same worker
            deadline = time.monotonic() + 15
            while True:
                metrics = scraper.get("/metrics").text
                written = _sample(metrics, "skewless_prediction_log_written_total")
                if written >= 40 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        server.stop()
    assert written == 40
    assert _sample(metrics, "skewless_prediction_log_dropped_total") == 0
    assert _sample(metrics, 'skewless_requests_total{model="fraud",status="200"') == 40


def test_feedback_is_stored_and_joined_to_its_predictions(project: FraudProject,
                                                          tmp_path: Path) -> None:
    rows = request_rows(project.labels, 6)
    with running_server(project.folder) as server, server.client() as client:
        answers = [client.post("/v1/models/fraud/predict", json=row).json() for row in rows]
        ids = [a["request_id"] for a in answers]
        one = client.post("/v1/feedback", json={"request_id": ids[0], "label": True})
        assert one.json() == {"stored": 1}
        many = client.post("/v1/feedback", json=[{"request_id": ids[1], "label": False},
                                                  {"request_id": ids[2], "label": True}])
        assert many.json() == {"stored": 2}
        for body, field in (({"request_id": ids[3]}, "label"),
                            ({"label": True}, "request_id"),
                            ({"request_id": ids[3], "label": [1]}, "label"),
                            ([{"request_id": ids[3], "label": 1, "extra": 2}], "[0].extra")):
            refused = client.post("/v1/feedback", json=body)
            assert refused.status_code == 422, refused.text
            assert refused.json()["field"] == field
        server.stop()
    labels_file = tmp_path / "labels.csv"
    pcsv.write_csv(pa.table({"request_id": [ids[3], ids[0]], "label": [False, False]}),
                   labels_file)
    result = CliRunner().invoke(app, ["feedback", "load", str(labels_file), "-p",
                                      str(project.folder)])
    assert result.exit_code == 0, result.output
    assert "stored 2 label(s)" in result.output
    from skewless.config import load_config

    store = FeedbackStore.from_config(load_config(project.folder).prediction_log,
                                      project.folder)
    joined = store.labelled_predictions("fraud")
    labels = dict(zip(joined["request_id"].to_pylist(), joined["label"].to_pylist(),
                      strict=True))
    # the file's label for ids[0] came later than the server's: the latest label wins
    assert [labels[i] for i in ids] == [False, False, True, False, None, None]
    mine = joined.filter(pc.is_in(joined["request_id"], pa.array(ids)))
    assert label_coverage(mine) == pytest.approx(4 / 6)
    missing = CliRunner().invoke(app, ["feedback", "load", str(tmp_path / "none.csv"), "-p",
                                       str(project.folder)])
    assert missing.exit_code == 1
    assert "Traceback" not in missing.output
