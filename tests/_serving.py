"""Helpers for the server tests: a trained fraud project with recent data, and a real
`skewless serve` process on a free port of 127.0.0.1 that is always stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline

import skewless as sk
from skewless._example_data import generate_transactions
from skewless.training import time_split

TESTS = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class FraudProject:
    """A project whose model ``fraud`` (version 1, alias production) was trained on recent
    generated payments; online values were materialized at ``as_of``."""

    folder: Path
    as_of: datetime
    labels: pa.Table
    model: Any


def labels_of(payments: pa.Table) -> pa.Table:
    return payments.select(["user_id", "event_timestamp", "amount", "merchant_category",
                            "is_fraud"]).rename_columns(
        ["user_id", "event_timestamp", "amount", "category", "is_fraud"])


def build_fraud_project(folder: Path, config: str = "", *, seed: int = 7) -> FraudProject:
    """Write, apply, materialize and train the example fraud project in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "skewless.yaml").write_text(f"project: serving\n{config}\n")
    template = resources.files("skewless.features") / "_templates" / "features.py"
    (folder / "features.py").write_text(template.read_text())
    now = datetime.now(UTC).replace(microsecond=0)
    start = (now - timedelta(days=30)).replace(hour=0, minute=0, second=0)
    payments = generate_transactions(folder / "data" / "transactions.parquet", users=200,
                                     days=29, start=start, seed=seed)
    labels = labels_of(payments)
    with sk.FeatureStore(folder) as store:
        store.apply()
        store.materialize(None, now, progress=False)
        frame = store.get_training_frame(labels, "fraud_features")
    split = time_split(frame, valid="6d", test=None, gap="1d")
    model = make_pipeline(SimpleImputer(strategy="median"),
                          RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0))
    model.fit(split.train.X(), split.train.y())
    with sk.start_run("fraud", project=folder) as run:
        version = run.log_model(model, "fraud", training_frame=split)
    assert version.training.onnx.kept, version.training.onnx.reason
    sk.set_alias("fraud", "production", version.version, force=True, project=folder)
    return FraudProject(folder, now, labels, model)


def request_rows(labels: pa.Table, count: int) -> list[dict[str, Any]]:
    """``count`` prediction rows for distinct users, with amounts and categories of theirs."""
    users = pc.unique(labels["user_id"]).to_pylist()[:count]
    first = {u: i for i, u in reversed(list(enumerate(labels["user_id"].to_pylist())))}
    amounts = labels["amount"].to_pylist()
    categories = labels["category"].to_pylist()
    return [{"entities": {"user_id": u}, "request": {"amount": float(amounts[first[u]]),
                                                      "category": categories[first[u]]}}
            for u in users]


@dataclass
class Server:
    """A running `skewless serve`: its base URL, process and output file."""

    url: str
    process: subprocess.Popen[bytes]
    output: Path

    def client(self, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, **options)

    def stop(self, timeout: float = 40) -> int:
        """SIGTERM, as an orchestrator does, and wait for a graceful exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def log(self) -> str:
        return self.output.read_text(errors="replace")


@contextmanager
def running_server(folder: Path, *models: str, workers: int = 1,
                   env: dict[str, str] | None = None) -> Iterator[Server]:
    """`skewless serve` on a free port, ready (models loaded) before the block starts."""
    port = free_port()
    output = folder / f"server-{port}.log"
    command = [sys.executable, "-m", "skewless", "serve", "--project", str(folder),
               "--port", str(port), "--workers", str(workers), "--log-level", "info"]
    for model in models or ("fraud@production",):
        command += ["--model", model]
    environment = {**os.environ, "PYTHONPATH": str(TESTS), **(env or {})}
    with output.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT,
                                   env=environment)
    server = Server(f"http://127.0.0.1:{port}", process, output)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the server exited with {process.returncode}:\n"
                                     f"{server.log()}")
            try:
                if httpx.get(f"{server.url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the server was not ready in 90 s:\n{server.log()}")
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def offline_features(project: FraudProject, rows: list[dict[str, Any]]) -> pa.Table:
    """The service's features of request ``rows`` computed offline at ``as_of``."""
    entity = pa.table({
        "user_id": [r["entities"]["user_id"] for r in rows],
        "event_timestamp": pa.array([project.as_of] * len(rows), pa.timestamp("us", "UTC")),
        "amount": [r["request"]["amount"] for r in rows],
        "category": [r["request"]["category"] for r in rows]})
    with sk.FeatureStore(project.folder) as store:
        return store.get_historical_features(entity, "fraud_features").to_arrow()


def offline_probabilities(project: FraudProject, rows: list[dict[str, Any]]) -> np.ndarray:
    """The trained model's probabilities on the features computed offline at ``as_of``."""
    frame = offline_features(project, rows)
    names = [f.name for f in sk.get_model_version(
        "fraud@production", project=project.folder).training.features]
    X = np.column_stack([frame[n].cast(pa.float64()).to_numpy(zero_copy_only=False)
                         for n in names])
    return project.model.predict_proba(X)


class FlakyClassifier:
    """A fitted classifier that breaks in production but not in training: while
    ``FLAKY_MODEL_FAILS`` is set in the environment, every ``predict_proba`` after the first
    (the server's warm-up at start-up) raises."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.classes_ = model.classes_
        self.calls = 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, calls=0)  # count the calls of the loading process only

    def predict(self, X: Any) -> Any:
        return self.model.predict(X)

    def predict_proba(self, X: Any) -> Any:
        self.calls += 1
        if os.environ.get("FLAKY_MODEL_FAILS") and self.calls > 1:
            raise RuntimeError("the model broke")
        return self.model.predict_proba(X)


@contextmanager
def private_redis(folder: Path) -> Iterator[tuple[int, Any, Any]]:
    """A redis-server of the test's own on a free port, keeping its data in ``folder`` (so a
    restart finds it again); yields (port, stop, start)."""
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(folder), "--dbfilename", "dump.rdb"]
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server did not start on port {port}")

    def stop() -> None:
        """SHUTDOWN SAVE: the data is on disk for the next start."""
        import redis

        redis.Redis(port=port).shutdown(save=True)
        processes[-1].wait(10)

    start()
    try:
        yield port, stop, start
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
