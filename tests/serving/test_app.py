"""``create_app`` for users who bring their own ASGI server: the app answers in-process
through its lifespan, with the same answers as the ``skewless serve`` processes, and
middleware a user adds sees prediction requests too (they then bypass the fast path)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi import Request, Response
from fastapi.testclient import TestClient

from _projects import forget_project
from _serving import FraudProject, build_fraud_project, offline_probabilities, request_rows
from skewless.errors import SkewlessError
from skewless.serving import create_app


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FraudProject]:
    folder = tmp_path_factory.mktemp("app") / "fraud"
    yield build_fraud_project(folder, "prediction_log: {sink: 'off'}")
    forget_project(folder)


def _probabilities(client: TestClient, rows: list[dict]) -> np.ndarray:
    answers = client.post("/v1/models/fraud/predict", json=rows)
    assert answers.status_code == 200, answers.text
    return np.array([a["probabilities"]["True"] for a in answers.json()["predictions"]])


@pytest.mark.parametrize("with_middleware", [False, True])
def test_create_app_answers_in_process(project: FraudProject, with_middleware: bool) -> None:
    rows = request_rows(project.labels, 12)
    app = create_app(project.folder, ["fraud@production"])
    seen: list[str] = []
    if with_middleware:
        @app.middleware("http")
        async def record(request: Request,
                         call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            seen.append(request.url.path)
            response = await call_next(request)
            response.headers["x-seen-by"] = "user middleware"
            return response

    with TestClient(app) as client:
        assert client.get("/ready").json()["ready"] is True
        probabilities = _probabilities(client, rows)
        one = client.post("/v1/models/fraud/predict", json=rows[0])
        bad = client.post("/v1/models/fraud/predict", json={"entities": {}})
    assert probabilities == pytest.approx(offline_probabilities(project, rows)[:, 1], abs=1e-6)
    assert one.json()["model"] == "fraud"
    assert one.json()["version"] == 1
    assert bad.status_code == 422
    assert "user_id" in bad.text
    if with_middleware:
        assert one.headers["x-seen-by"] == "user middleware"
        assert seen.count("/v1/models/fraud/predict") == 3
    else:
        assert "x-seen-by" not in one.headers


def test_what_create_app_refuses(project: FraudProject, tmp_path: Path) -> None:
    with pytest.raises(SkewlessError, match="serve at least one model"):
        create_app(project.folder, [])
    with pytest.raises(SkewlessError, match="each model can be served once"):
        create_app(project.folder, ["fraud@production", "fraud@staging"])
    with pytest.raises(SkewlessError, match="skewless init"):
        create_app(tmp_path, ["fraud@production"])
