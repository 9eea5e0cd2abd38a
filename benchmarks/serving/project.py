"""The serving benchmark's skewless projects, model and request bodies.

Everything is made with the ``skewless`` command line, as a user would, in a temporary folder:

1. ``skewless init --no-example-data`` (the example fraud project, feature service
   ``fraud_features``), its generated card transactions written for the 59 days before now
   (so the server, which reads at the current time, finds values inside the features' ttl),
   and ``skewless apply``;
2. labels from the transactions, as ``examples/fraud/run.py`` builds them, and
   ``skewless train train.yaml`` (SimpleImputer + StandardScaler + RandomForestClassifier, 100
   trees, depth 10), then ``skewless models alias set fraud production N``; ``skewless models
   show fraud@production --json`` tells whether the ONNX export was kept;
3. the point-in-time training frame (``skewless historical``), from which the request bodies
   are sampled: the same rows give both services their requests (entity and request fields
   for skewless, the seven feature values for the hand-written service);
4. the fitted pipeline, loaded with ``skewless.load_model`` and written with ``joblib.dump``
   for the hand-written service - both services serve the very same model;
5. one project per online store: the SQLite one is the project above, the Redis one a copy
   whose ``skewless.yaml`` points at ``redis://127.0.0.1:6379/0`` with a key prefix of its
   own (``drop_redis_keys`` deletes exactly those keys); ``skewless materialize-incremental
   NOW`` fills each.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
SKEWLESS = BIN / "skewless"
AS_OF = datetime.now(UTC).replace(microsecond=0)
"""Materialization time; the history ends the day before."""
MODEL = "fraud"
ALIAS = "production"
SERVICE = "fraud_features"
REDIS_URL = "redis://127.0.0.1:6379/0"
BODIES = 500  # request bodies, sampled from the training frame
SEED = 42
# The hand-written service's pydantic fields (handwritten.Transaction), in training order.
FEATURES = (
    "amount_count_1h",
    "amount_sum_1h",
    "amount_count_7d",
    "amount_mean_30d",
    "amount_to_mean_30d",
    "amount_to_max_7d",
    "new_category",
)
TRAIN_CONFIG = f"""\
model: {MODEL}
service: {SERVICE}
labels: {{path: labels.parquet, label: is_fraud}}
preprocessing:
  - class: sklearn.impute.SimpleImputer
    params: {{strategy: median}}
  - class: sklearn.preprocessing.StandardScaler
estimator:
  class: sklearn.ensemble.RandomForestClassifier
  params: {{n_estimators: 100, max_depth: 10, random_state: 0}}
split: {{valid: 10d, test: 10d, gap: 1d}}
class_weights: true
"""

Log = Callable[[str], None]


@dataclass
class Setup:
    """What the servers and the load need, all under ``root``."""

    root: Path
    projects: dict[str, Path] = field(default_factory=dict)  # online store -> project folder
    version: int = 0
    onnx: dict[str, Any] = field(default_factory=dict)  # the version's ONNX export record
    model_joblib: Path | None = None
    bodies: dict[str, Path] = field(default_factory=dict)  # "skewless"/"handwritten" -> file
    redis_prefix: str | None = None

    def describe(self) -> dict[str, Any]:
        """The facts the results document records about the model and the workload."""
        return {
            "model": f"{MODEL}/{self.version} ({MODEL}@{ALIAS})",
            "train_config": TRAIN_CONFIG,
            "onnx_export": self.onnx,
            "bodies": BODIES,
            "features": list(FEATURES),
            "materialized_as_of": AS_OF.isoformat(),
            "online_stores": sorted(self.projects),
        }


def skewless_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run the ``skewless`` command line; its stdout, or an error with its output."""
    done = subprocess.run([str(SKEWLESS), *args], cwd=cwd, env=env or clean_env(),
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`skewless {' '.join(args)}` failed with exit code "
                           f"{done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


def clean_env() -> dict[str, str]:
    """This environment without ``SKEWLESS_*`` variables: only the project files configure the
    benchmark's projects."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SKEWLESS_")}


def build(setup: Setup, stores: list[str], log: Log) -> None:
    """Create the projects for ``stores``, the model, its joblib copy and the bodies, under
    ``setup.root``; ``setup`` records them as they are made (the Redis key prefix before any
    key is written, so that a failure half-way still cleans up)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    root = setup.root
    base = root / "project-sqlite"
    log(f"creating the example project in {base}")
    skewless_cli("init", str(base), "--no-example-data", cwd=root)
    from skewless._example_data import generate_transactions

    start = (AS_OF - timedelta(days=60)).replace(hour=0, minute=0, second=0)
    generate_transactions(base / "data" / "transactions.parquet", days=59, start=start)
    skewless_cli("apply", "--project", str(base), cwd=base)

    transactions = pq.read_table(base / "data" / "transactions.parquet")
    labels = transactions.select(
        ["user_id", "event_timestamp", "amount", "merchant_category", "is_fraud"]
    ).rename_columns(["user_id", "event_timestamp", "amount", "category", "is_fraud"])
    labels = labels.filter(pc.greater(labels["event_timestamp"], pc.min(labels["event_timestamp"])))
    pq.write_table(labels, base / "labels.parquet")
    (base / "train.yaml").write_text(TRAIN_CONFIG)
    log("training fraud (skewless train train.yaml)")
    trained = json.loads(skewless_cli("train", "train.yaml", "--json", "--project", str(base),
                                      cwd=base))
    setup.version = int(trained["version"])
    skewless_cli("models", "alias", "set", MODEL, ALIAS, str(setup.version), "--project",
                 str(base), cwd=base)
    shown = json.loads(skewless_cli("models", "show", f"{MODEL}@{ALIAS}", "--json",
                                    "--project", str(base), cwd=base))
    setup.onnx = shown["training"]["onnx"] or {"kept": False, "reason": "no ONNX record"}
    names = tuple(feature["name"] for feature in shown["training"]["features"])
    if names != FEATURES:
        raise RuntimeError(f"the model's features {names} are not the hand-written service's "
                           f"{FEATURES}; update FEATURES here and handwritten.Transaction")

    skewless_cli("historical", "labels.parquet", "--service", SERVICE, "--output",
                 "training.parquet", "--project", str(base), cwd=base)
    setup.bodies = write_bodies(base / "training.parquet", root)
    setup.model_joblib = export_joblib(base, root / "model.joblib")

    # Every project is made before any is materialized: a copy of a materialized project
    # would find nothing left to materialize.
    for store in stores:
        project = base
        if store == "redis":
            project = root / "project-redis"
            setup.redis_prefix = f"skewless-bench-serving-{secrets.token_hex(6)}"
            shutil.copytree(base, project)
            use_redis(project, setup.redis_prefix)
        setup.projects[store] = project
    for store, project in setup.projects.items():
        log(f"materializing into the {store} online store (as of {AS_OF})")
        said = skewless_cli("materialize-incremental", AS_OF.isoformat(), "--project",
                            str(project),
                            cwd=project)
        keys = sum(int(n) for n in re.findall(r"(\d+)\s+keys", said))
        if not keys:
            raise RuntimeError(f"materializing the {store} project wrote no keys:\n{said}")


def write_bodies(training_frame: Path, folder: Path) -> dict[str, Path]:
    """Sample ``BODIES`` training rows and write each service's JSON bodies, one per line.

    Line i of both files describes the same payment: the entity and request fields for
    skewless, and the seven feature values the training frame holds for it (``null`` where
    the history has none, as in training) for the hand-written service.
    """
    import pyarrow.parquet as pq

    frame = pq.read_table(training_frame).to_pandas()
    rows = frame.sample(n=min(BODIES, len(frame)), random_state=SEED)
    ours, theirs = [], []
    for row in rows.itertuples(index=False):
        ours.append({"entities": {"user_id": int(row.user_id)},
                     "request": {"amount": float(row.amount), "category": str(row.category)}})
        values = {name: float(getattr(row, name)) for name in FEATURES}
        theirs.append({name: None if math.isnan(v) else v for name, v in values.items()})
    files = {"skewless": folder / "bodies-skewless.jsonl",
             "handwritten": folder / "bodies-handwritten.jsonl"}
    for side, bodies in (("skewless", ours), ("handwritten", theirs)):
        files[side].write_text("".join(json.dumps(body) + "\n" for body in bodies))
    return files


def export_joblib(project: Path, out: Path) -> Path:
    """Load ``fraud@production`` with ``skewless.load_model`` and ``joblib.dump`` it."""
    script = ("import sys, joblib, skewless; "
              f"model = skewless.load_model('{MODEL}@{ALIAS}', project=sys.argv[1]); "
              "joblib.dump(model, sys.argv[2]); print(model)")
    done = subprocess.run([sys.executable, "-c", script, str(project), str(out)],
                          env=clean_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"exporting {MODEL}@{ALIAS} with joblib failed:\n{done.stderr[-2000:]}")
    return out


def use_redis(project: Path, prefix: str) -> None:
    """Point a project's online store at the benchmark's Redis keys."""
    import yaml

    config_file = project / "skewless.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["online_store"] = {"type": "redis", "url": REDIS_URL, "key_prefix": prefix}
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))


def check_redis() -> str | None:
    """Why Redis at 127.0.0.1:6379 cannot be used, or ``None`` when it answers."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"Redis at {REDIS_URL} does not answer: {exc}"
    finally:
        client.close()
    return None


def drop_redis_keys(prefix: str) -> int:
    """Delete the keys under the benchmark's own ``prefix`` (nothing else); how many."""
    import redis

    if not prefix.startswith("skewless-bench-serving-"):
        raise ValueError(f"refusing to delete keys under {prefix!r}")
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    deleted = 0
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}*", count=1_000):
            batch.append(key)
            if len(batch) == 500:
                deleted += client.delete(*batch)
                batch = []
        if batch:
            deleted += client.delete(*batch)
    finally:
        client.close()
    return deleted
