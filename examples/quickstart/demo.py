"""The feature-store walk-through behind `make demo`, on the embedded defaults.

init → apply → point-in-time training frame → materialize → online reads, checking on the way
that the online values equal the offline ones at the same time; then `skewless train` (time
split, baseline, metrics, ONNX export), the version aliased `production` and loaded back by
alias. Everything runs
locally: DuckDB for history, SQLite for online values and metadata. The project is created in
./demo-project.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

import skewless as sk

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "demo-project"
AS_OF = datetime(2024, 3, 1, tzinfo=UTC)
console = Console()


def step(title: str) -> None:
    console.rule(f"[bold cyan]{title}")


def cli(*args: str) -> None:
    """Run the skewless command line, as a user would."""
    command = [sys.executable, "-m", "skewless", *args]
    console.print(f"[dim]$ skewless {' '.join(args)}[/]")
    subprocess.run(command, check=True, cwd=PROJECT if PROJECT.exists() else ROOT)


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


def train_and_promote(frame: pd.DataFrame) -> None:
    """Train with `skewless train`, promote the version, load it back by alias (native and
    ONNX) and check both predict what the frame says."""
    (PROJECT / "train.yaml").write_text(TRAIN_CONFIG)
    cli("train", "train.yaml")
    version = sk.get_model_version("fraud@latest", project=PROJECT)
    cli("models", "alias", "set", "fraud", "production", str(version.version))
    features = frame[[f.name for f in version.training.features]].to_numpy(dtype=float)
    native = sk.load_model("fraud@production", project=PROJECT)  # digests verified on load
    onnx = sk.load_model("fraud@production", flavor="onnx", project=PROJECT)
    difference = np.abs(native.predict_proba(features) - onnx.predict_proba(features)).max()
    console.print(f"fraud@production loaded back natively and as ONNX: largest probability "
                  f"difference over {len(features):,} rows {difference:.1e}")


def main() -> None:
    started = time.perf_counter()
    shutil.rmtree(PROJECT, ignore_errors=True)

    step("1. Create a project with generated card transactions")
    cli("init", str(PROJECT))

    step("2. Apply the feature definitions (validated against the data)")
    cli("apply")

    step("3. Point-in-time-correct training data")
    transactions = pq.read_table(PROJECT / "data" / "transactions.parquet")
    labels = transactions.select(["user_id", "event_timestamp", "amount", "merchant_category",
                                  "is_fraud"]).rename_columns(
        ["user_id", "event_timestamp", "amount", "category", "is_fraud"])
    labels = labels.filter(pc.greater(labels["event_timestamp"], pc.min(labels["event_timestamp"])))
    pq.write_table(labels, PROJECT / "labels.parquet")
    cli("historical", "labels.parquet", "--service", "fraud_features", "--output",
        "training.parquet")
    frame = pq.read_table(PROJECT / "training.parquet").to_pandas()
    summary = frame.groupby("is_fraud")[["amount_count_1h", "amount_to_mean_30d",
                                         "amount_to_max_7d"]].mean()
    table = Table("is_fraud", "payments in last hour", "amount / 30-day mean",
                  "amount / 7-day max", title="Feature means by label (the signal is there)")
    for label, row in summary.iterrows():
        table.add_row(str(label), *(f"{v:.2f}" for v in row))
    console.print(table)
    console.print(f"{len(frame):,} training rows, one per label row, in label order.")

    step("4. Materialize the latest values into the online store")
    cli("materialize-incremental", AS_OF.isoformat())
    cli("materialize-incremental", AS_OF.isoformat())  # a no-op: already up to date

    step("5. Read online, as a prediction server would")
    cli("online", "--service", "fraud_features", "--entity",
        "user_id=7,amount=250.0,category=jewelry",
        "--now", AS_OF.isoformat())

    step("6. Online equals offline at the same time")
    store = sk.FeatureStore(PROJECT)
    users = list(range(0, 500, 5))
    rows = [{"user_id": user, "amount": 100.0, "category": "travel"} for user in users]
    online = store.get_online_features("fraud_features", rows, now=AS_OF).to_dict()
    entity_frame = {"user_id": users, "event_timestamp": [AS_OF] * len(users),
                    "amount": [100.0] * len(users), "category": ["travel"] * len(users)}
    offline = store.get_historical_features(pd.DataFrame(entity_frame),
                                            "fraud_features").to_pandas()
    mismatches = 0
    for column in offline.columns.drop(["user_id", "event_timestamp", "amount", "category"]):
        for a, b in zip(offline[column].tolist(), online[column], strict=True):
            same = (pd.isna(a) and b is None) or a == b or (
                isinstance(a, float) and b is not None and abs(a - b) <= 1e-9 * max(1, abs(a)))
            mismatches += not same
    console.print(f"compared {len(users)} users × {len(offline.columns) - 4} features: "
                  f"[bold]{mismatches} mismatches[/]")

    latencies = []
    for i in range(2_000):
        begin = time.perf_counter()
        store.get_online_features("fraud_features", [rows[i % len(rows)]], now=AS_OF)
        latencies.append(time.perf_counter() - begin)
    p50, p99 = np.percentile(latencies, [50, 99]) * 1_000
    console.print(f"online read of one entity (SQLite): p50 {p50:.3f} ms, p99 {p99:.3f} ms "
                  "over 2,000 reads")
    store.close()

    step("7. Train on the point-in-time frame, register, promote, load back")
    train_and_promote(frame)
    cli("runs", "list", "--limit", "3")
    cli("models", "versions", "fraud")
    cli("models", "lineage", "fraud@production")
    console.rule(f"[bold green]done in {time.perf_counter() - started:.1f} s")
    if mismatches:
        sys.exit("online and offline disagree")


if __name__ == "__main__":
    main()
