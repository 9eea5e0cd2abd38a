"""The skewless quickstart behind `make demo`: card fraud from raw payments to a live server.

generated card transactions (bursts of spending at unusual merchants) → feature definitions
(fields, 1h/7d/30d aggregations, on-demand ratios) → apply → materialize → train with a time
split and a baseline → register, promote to `production` → start `skewless serve` → a few
hundred requests → sample predictions, latency percentiles and the server's metrics → labels
posted as feedback → stop → `skewless monitor`: drift, data quality, performance on the labelled
predictions and training–serving skew of what was served.

Everything runs on the embedded defaults (DuckDB, SQLite, a local folder) in ./fraud-demo.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

import skewless as sk
from skewless._example_data import CATEGORIES, generate_transactions

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "fraud-demo"
REQUESTS = 400
console = Console()

TRAIN_CONFIG = """\
model: fraud
service: fraud_features
labels: {path: labels.parquet, label: is_fraud}
preprocessing:
  - class: sklearn.impute.SimpleImputer
    params: {strategy: median}
estimator:
  class: sklearn.ensemble.RandomForestClassifier
  params: {n_estimators: 100, max_depth: 10, random_state: 0}
split: {valid: 10d, test: 10d, gap: 1d}
class_weights: true
"""


def step(title: str) -> None:
    console.rule(f"[bold cyan]{title}")


def cli(*args: str) -> None:
    """Run the skewless command line in the project, as a user would."""
    console.print(f"[dim]$ skewless {' '.join(args)}[/]")
    subprocess.run([sys.executable, "-m", "skewless", *args], check=True, cwd=PROJECT)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_project(now: datetime) -> pa.Table:
    """`skewless init`, with 60 days of payments ending now so the server reads fresh values."""
    shutil.rmtree(PROJECT, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "skewless", "init", str(PROJECT), "--no-example-data"],
                   check=True, stdout=subprocess.DEVNULL)
    start = (now - timedelta(days=60)).replace(hour=0, minute=0, second=0, microsecond=0)
    payments = generate_transactions(PROJECT / "data" / "transactions.parquet", users=1_000,
                                     days=59, start=start)
    frauds = pc.sum(payments["is_fraud"]).as_py()
    console.print(f"{payments.num_rows:,} payments of 1,000 card holders over 59 days, "
                  f"{frauds} of them fraudulent (bursts at unusual merchants)")
    labels = payments.select(["user_id", "event_timestamp", "amount", "merchant_category",
                              "is_fraud"]).rename_columns(
        ["user_id", "event_timestamp", "amount", "category", "is_fraud"])
    pq.write_table(labels, PROJECT / "labels.parquet")
    return payments


def requests_for(payments: pa.Table, count: int, seed: int = 1
                 ) -> tuple[list[dict[str, object]], list[bool]]:
    """Payment requests, mostly ordinary ones and some shaped like the fraud bursts (far
    more of them than in the training data, which monitoring should notice), and whether
    each is one of those (the label that arrives later)."""
    rng = np.random.default_rng(seed)
    users = payments["user_id"].to_numpy()
    amounts = payments["amount"].to_numpy()
    rows, truth = [], []
    for _ in range(count):
        user = int(rng.choice(users))
        typical = float(np.median(amounts[users == user]))
        risky = rng.random() < 0.15
        amount = typical * (rng.uniform(4, 9) if risky else rng.uniform(0.5, 1.5))
        category = str(rng.choice(CATEGORIES[5:] if risky else CATEGORIES[:5]))
        rows.append({"entities": {"user_id": user},
                     "request": {"amount": round(amount, 2), "category": category}})
        truth.append(bool(risky))
    return rows, truth


def start_server(port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "skewless", "serve", "--model", "fraud@production",
               "--port", str(port), "--workers", "2"]
    console.print(f"[dim]$ skewless {' '.join(command[3:])}[/]")
    server = subprocess.Popen(command, cwd=PROJECT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1)
            if ready.status_code == 200:
                console.print(f"ready: {ready.json()['models']}")
                return server
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode}")
        time.sleep(0.2)
    server.kill()
    sys.exit("the server was not ready within 60 s")


def send(port: int, rows: list[dict[str, object]]) -> tuple[list[dict[str, object]],
                                                            list[float]]:
    """POST each row from 4 client threads; answers and client-side latencies (ms)."""
    url = f"http://127.0.0.1:{port}/v1/models/fraud/predict"

    def one(client: httpx.Client, row: dict[str, object]) -> tuple[dict[str, object], float]:
        begin = time.perf_counter()
        response = client.post(url, json=row)
        response.raise_for_status()
        return response.json(), (time.perf_counter() - begin) * 1000

    with httpx.Client(timeout=5) as client, ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda row: one(client, row), rows))
    return [r[0] for r in results], [r[1] for r in results]


def report(rows: list[dict[str, object]], answers: list[dict[str, object]],
           latencies: list[float], port: int) -> None:
    table = Table("user", "amount", "category", "P(fraud)", "flagged", "version",
                  title="Sample predictions (the server read each holder's features online)")
    order = np.argsort([-a["probabilities"]["True"] for a in answers])  # type: ignore[index]
    for i in [*order[:5], *order[-3:]]:
        row, answer = rows[i], answers[i]
        table.add_row(str(row["entities"]["user_id"]), f"{row['request']['amount']:.2f}",
                      row["request"]["category"],
                      f"{answer['probabilities']['True']:.3f}", str(answer["prediction"]),
                      str(answer["version"]))
    console.print(table)
    p50, p90, p99 = np.percentile(latencies, [50, 90, 99])
    flagged = sum(bool(a["prediction"]) for a in answers)
    degraded = sum(bool(a["degraded"]) for a in answers)
    console.print(f"{len(answers)} requests from 4 client threads: p50 {p50:.2f} ms, "
                  f"p90 {p90:.2f} ms, p99 {p99:.2f} ms (client side); {flagged} flagged, "
                  f"{degraded} degraded")
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    shown = [line for line in metrics.splitlines() if line.startswith((
        "skewless_requests_total", "skewless_request_latency_seconds_count",
        "skewless_prediction_log_written_total", "skewless_prediction_log_dropped_total",
        "skewless_served_version"))]
    console.print("[bold]/metrics[/] (excerpt):\n" + "\n".join(shown))


def main() -> None:
    started = time.perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)

    step("1. A project with generated card transactions")
    payments = make_project(now)

    step("2. Feature definitions: fields, 1h/7d/30d aggregations, on-demand ratios")
    cli("apply")
    cli("features", "list")

    step("3. Materialize the latest values into the online store (SQLite)")
    cli("materialize-incremental", now.isoformat())

    step("4. Train with a time split, compare with the baseline, register")
    (PROJECT / "train.yaml").write_text(TRAIN_CONFIG)
    cli("train", "train.yaml")

    step("5. Promote to production")
    version = sk.get_model_version("fraud@latest", project=PROJECT)
    cli("models", "alias", "set", "fraud", "production", str(version.version))

    step("6. Serve it and send requests")
    port = free_port()
    server = start_server(port)
    try:
        rows, truth = requests_for(payments, REQUESTS)
        answers, latencies = send(port, rows)
        report(rows, answers, latencies, port)
        feedback = [{"request_id": a["request_id"], "label": label}
                    for a, label in zip(answers, truth, strict=True)][:300]
        stored = httpx.post(f"http://127.0.0.1:{port}/v1/feedback", json=feedback).json()
        console.print(f"posted {stored['stored']} ground-truth labels to /v1/feedback")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    logged = sorted((PROJECT / "data" / "predictions").rglob("*.parquet"))
    count = sum(pq.read_metadata(path).num_rows for path in logged)
    console.print(f"server stopped; the prediction log holds {count} predictions in "
                  f"{len(logged)} Parquet segment(s) under data/predictions/")

    step("7. Monitor what was served: drift, quality, performance, skew")
    cli("monitor", "--model", "fraud@production", "--window", "1h", "--output", "report")
    console.rule(f"[bold green]done in {time.perf_counter() - started:.1f} s")
    if count != len(answers):
        sys.exit(f"expected {len(answers)} logged predictions, found {count}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
