"""Workload constants and measurement helpers shared by both bench scripts.

Standard library only, because ``feast_bench.py`` and ``skewless_bench.py``
run in different virtual environments (Feast needs its own). Every
measurement runs in a fresh child process of the bench script itself
(``script --task NAME --params JSON --result FILE``), so import caches are
cold and the child's peak resident set size, read with ``os.wait4``, belongs
to that one measurement alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

Params = dict[str, Any]
Result = dict[str, Any]
Task = Callable[[Params], Result]
EntityRows = list[dict[str, int]]

FEATURE_VIEW = "user_snapshots"
FEATURES = [f"f{i}" for i in range(10)]
FEATURE_REFS = [f"{FEATURE_VIEW}:{name}" for name in FEATURES]
TTL_DAYS = 2

# Materialization covers every snapshot (days 0-29 of January 2024); online reads then
# happen "at" the window's end, when every user's last snapshot is still within the ttl.
MATERIALIZE_START = datetime(2024, 1, 1, tzinfo=UTC)
MATERIALIZE_END = datetime(2024, 1, 31, tzinfo=UTC)
ONLINE_NOW = MATERIALIZE_END
ONLINE_CALLS = {1: (200, 2_000), 100: (50, 500)}  # entities per call: (warm-up, timed calls)
ONLINE_SEED = 7

# The only Redis database the benchmark may write to; it is flushed before and after use.
REDIS_URL = "redis://127.0.0.1:6379/14"
REDIS_DB = 14

IMPORT_REPEATS = 5
FEAST_HISTORICAL = "feast_duckdb_historical.parquet"  # in the data folder


def run_task(script: Path, task: str, params: Params) -> Result:
    """Run ``task`` of ``script`` in a fresh interpreter and return its result.

    The child writes its result as JSON to a temporary file (libraries may
    print to stdout). ``peak_mb`` - the child's maximum resident set size,
    from ``os.wait4`` - is added to the result.
    """
    with tempfile.TemporaryDirectory(prefix="bench-task-") as tmp:
        result_file = Path(tmp) / "result.json"
        command = [sys.executable, str(script), "--task", task, "--params", json.dumps(params)]
        proc = subprocess.Popen([*command, "--result", str(result_file)])
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"benchmark task {task!r} failed with exit code {proc.returncode}")
        result: Result = json.loads(result_file.read_text())
    result["peak_mb"] = round(usage.ru_maxrss / 1024, 1)  # ru_maxrss is in KiB on Linux
    return result


def task_main(tasks: Mapping[str, Task], orchestrate: Callable[[list[str]], None]) -> None:
    """Entry point of a bench script: run one child task, or orchestrate them all.

    Called with ``--task``, runs that task and writes its result file;
    otherwise hands the command line to ``orchestrate``.
    """
    if "--task" not in sys.argv:
        orchestrate(sys.argv[1:])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", choices=sorted(tasks), required=True)
    parser.add_argument("--params", type=json.loads, required=True)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args()
    args.result.write_text(json.dumps(tasks[args.task](args.params)))


def orchestrator_arguments(argv: list[str], description: str) -> argparse.Namespace:
    """Parse a bench script's own command line: ``--data DIR --out FILE``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, required=True, help="folder written by data.py")
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the results")
    args = parser.parse_args(argv)
    args.data = args.data.resolve()
    return args


def median_seconds(script: Path, task: str, params: Params, runs: int = IMPORT_REPEATS) -> float:
    """Median of ``result["seconds"]`` over ``runs`` fresh-process runs of ``task``."""
    runs_s = [run_task(script, task, params)["seconds"] for _ in range(runs)]
    return round(statistics.median(runs_s), 4)


def timed_run(script: Path, task: str, params: Params) -> Result:
    """Run one measurement task and round its ``seconds`` for the report."""
    result = run_task(script, task, params)
    result["seconds"] = round(result["seconds"], 3)
    return result


def materialize_and_read(
    script: Path, store: str, params: Params, rows: Result
) -> tuple[Result, Result]:
    """Measure materialization into one online store, then online reads from it.

    Runs the script's ``materialize`` and ``online`` tasks with ``params`` (plus
    ``users``); the Redis store's database is flushed before and after. Returns
    both results; ``rows`` are the manifest's row counts.
    """
    if store == "redis":
        flush_benchmark_redis()
    try:
        materialize = timed_run(script, "materialize", params)
        online = run_task(script, "online", {**params, "users": rows["users"]})
    finally:
        if store == "redis":
            flush_benchmark_redis()
    materialize["rows_per_s"] = round(rows["snapshots"] / materialize["seconds"])
    online.pop("peak_mb")  # the reads' process holds nothing worth reporting
    return materialize, online


def measure_online(read: Callable[[EntityRows], Mapping[str, list[Any]]], users: int) -> Result:
    """Time ``read`` (an online lookup returning feature columns) over the shared workload.

    For each batch size of ``ONLINE_CALLS``: warm-up calls, then timed calls,
    each for ``batch`` random known users (the same sequence on both sides).
    ``hit_rate`` is the share of requested users that came back with ``f0``.
    """
    rng = random.Random(ONLINE_SEED)
    result: Result = {}
    for batch, (warmup, calls) in ONLINE_CALLS.items():
        latencies, found = [], 0
        for call in range(warmup + calls):
            rows = [{"user_id": rng.randrange(users)} for _ in range(batch)]
            start = time.perf_counter()
            values = read(rows)
            elapsed = time.perf_counter() - start
            if call >= warmup:
                latencies.append(elapsed)
                found += sum(value is not None for value in values["f0"])
        result[str(batch)] = {**_latency_summary(latencies), "hit_rate": found / (calls * batch)}
    return result


def _latency_summary(seconds: list[float]) -> Result:
    """Summarise per-call latencies (in seconds) as p50/p99 milliseconds."""
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {
        "p50_ms": round(statistics.median(seconds) * 1000, 3),
        "p99_ms": round(cuts[98] * 1000, 3),
        "calls": len(seconds),
    }


def flush_benchmark_redis(url: str = REDIS_URL) -> None:
    """FLUSHDB the benchmark's Redis database - and refuse any other database."""
    import redis  # imported here: only the tasks that use Redis need the client

    if urlparse(url).path.strip("/") != str(REDIS_DB):
        raise ValueError(f"refusing to flush {url}: the benchmark only owns database {REDIS_DB}")
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def read_manifest(data_dir: Path) -> Result:
    """Load ``manifest.json`` written by ``data.py`` (row counts and scale)."""
    manifest: Result = json.loads((data_dir / "manifest.json").read_text())
    return manifest


# --- Tracking and model-registry benchmark (tracking_run.py) ---------------------------------
# Shared by mlflow_bench.py (in .venv-mlflow) and skewless_tracking_bench.py: the workload is
# generated here, from a seed, so that both tools log, search and load exactly the same things.

EXPERIMENT = "bench"  # the runs of workload 1, searched by workload 3 - and nothing else
POINTS_EXPERIMENT = "bench-points"  # the one run of workload 2
MODELS_EXPERIMENT = "bench-models"  # the runs that log the model versions of workload 4
MODEL_NAME = "bench-model"
MODEL_ALIAS = "production"
PARAMS_PER_RUN = 10  # p0..p9, integers 0..9
METRICS_PER_RUN = 10  # m0..m9, floats in [0, 1)
POINTS_METRIC = "loss"
SEARCH_FILTER = "metrics.m0 > 0.5 and params.p0 = '3'"
SEARCH_ORDER_BY = ["metrics.m0 DESC"]
SEARCH_LIMIT = 10_000
SEARCH_CALLS = 20
TRACKING_SEED = 11
MODEL_ROWS, MODEL_FEATURES = 200, 5
TRACKING_SIZES = {  # --quick shrinks the workload for a smoke run
    "full": {"runs": 1_000, "points": 10_000, "versions": 50},
    "quick": {"runs": 100, "points": 1_000, "versions": 5},
}

RunParams = dict[str, int]
RunMetrics = dict[str, float]
Matrix = list[list[float]]


class RunLogger(Protocol):
    """What workloads 1 and 2 call: a skewless run, or the ``mlflow`` module (fluent API)."""

    def log_param(self, key: str, value: Any) -> Any:
        """Log one parameter of the active run."""

    def log_metric(self, key: str, value: float, step: int | None = None) -> Any:
        """Log one metric value of the active run."""


OpenRun = Callable[[str], AbstractContextManager[RunLogger]]  # run name -> the run's block


def tracking_arguments(argv: list[str], description: str) -> argparse.Namespace:
    """Parse a tracking bench script's command line: ``--out FILE [--quick]``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the results")
    parser.add_argument("--quick", action="store_true", help="the small smoke-run workload")
    return parser.parse_args(argv)


def run_values(runs: int) -> list[tuple[RunParams, RunMetrics]]:
    """The parameters and metrics of every run of workload 1 (deterministic)."""
    rng = random.Random(TRACKING_SEED)
    return [
        (
            {f"p{j}": rng.randrange(10) for j in range(PARAMS_PER_RUN)},
            {f"m{j}": rng.random() for j in range(METRICS_PER_RUN)},
        )
        for _ in range(runs)
    ]


def run_name(index: int) -> str:
    """The name of run ``index`` of workload 1."""
    return f"run-{index:05d}"


def expected_search(runs: int) -> list[str]:
    """The run names ``SEARCH_FILTER`` ordered by ``SEARCH_ORDER_BY`` must return."""
    hits = [
        (metrics["m0"], run_name(index))
        for index, (params, metrics) in enumerate(run_values(runs))
        if metrics["m0"] > 0.5 and params["p0"] == 3
    ]
    return [name for _, name in sorted(hits, reverse=True)]


def names_digest(names: list[str]) -> str:
    """A short digest of an ordered list of run names, to compare search results."""
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


def measure_logged_runs(open_run: OpenRun, runs: int) -> Result:
    """Workload 1: ``runs`` runs, each logging its params and metrics one call at a time.

    The clock includes opening and closing every run: a tool may buffer the
    calls, and only what is stored when the run's block has exited counts.
    """
    start = time.perf_counter()
    for index, (params, metrics) in enumerate(run_values(runs)):
        with open_run(run_name(index)) as run:
            for key, value in params.items():
                run.log_param(key, value)
            for key, metric in metrics.items():
                run.log_metric(key, metric)
    seconds = time.perf_counter() - start
    calls = runs * (PARAMS_PER_RUN + METRICS_PER_RUN)
    return {
        "runs": runs,
        "calls": calls,
        "seconds": round(seconds, 3),
        "runs_per_s": round(runs / seconds, 2),
        "calls_per_s": round(calls / seconds, 1),
    }


def measure_metric_points(open_run: OpenRun, points: int) -> Result:
    """Workload 2: one run, ``points`` values of one metric, one ``log_metric`` call each.

    As in ``measure_logged_runs``, the clock includes opening and closing the run.
    """
    start = time.perf_counter()
    with open_run("points") as run:
        for step in range(points):
            run.log_metric(POINTS_METRIC, 1.0 / (step + 1), step=step)
    seconds = time.perf_counter() - start
    return {
        "calls": points,
        "seconds": round(seconds, 3),
        "calls_per_s": round(points / seconds, 1),
    }


def measure_search(search: Callable[[], list[str]], runs: int) -> Result:
    """Workload 3: ``SEARCH_CALLS`` calls of ``search`` (returning run names, in order).

    Reports the median and the first call's latency, how many runs came back
    and whether they are, in order, the ones ``expected_search`` computes.
    """
    latencies, names = [], []
    for _ in range(SEARCH_CALLS):
        start = time.perf_counter()
        names = search()
        latencies.append(time.perf_counter() - start)
    expected = expected_search(runs)
    return {
        "runs_searched": runs,
        "calls": SEARCH_CALLS,
        "median_ms": round(statistics.median(latencies) * 1000, 2),
        "first_ms": round(latencies[0] * 1000, 2),
        "runs_returned": len(names),
        "runs_expected": len(expected),
        "as_expected": names == expected,
        "names_digest": names_digest(names),
    }


def measure_registrations(register: Callable[[Any], int], versions: int) -> Result:
    """Workload 4: ``register(model)`` - log and register one version - ``versions`` times.

    ``register`` returns the new version number; the last one is reported.
    """
    model = bench_model()
    last_version, start = 0, time.perf_counter()
    for _ in range(versions):
        last_version = register(model)
    seconds = time.perf_counter() - start
    return {
        "versions": versions,
        "seconds": round(seconds, 3),
        "s_per_version": round(seconds / versions, 4),
        "last_version": last_version,
    }


def model_data() -> tuple[Matrix, list[int]]:
    """The model's training data: ``MODEL_ROWS`` x ``MODEL_FEATURES`` floats and 0/1 labels.

    Plain lists (standard library only), so that the cold-load tasks can
    build their ``predict`` input without importing numpy before the clock.
    """
    rng = random.Random(TRACKING_SEED)
    rows = [[rng.gauss(0, 1) for _ in range(MODEL_FEATURES)] for _ in range(MODEL_ROWS)]
    labels = [int(row[0] + 0.5 * row[1] > 0) for row in rows]
    return rows, labels


def bench_model() -> Any:
    """A scikit-learn ``LogisticRegression`` fitted on ``model_data()``."""
    from sklearn.linear_model import LogisticRegression  # only the tasks that log a model

    rows, labels = model_data()
    return LogisticRegression().fit(rows, labels)


def median_results(script: Path, task: str, params: Params, runs: int = IMPORT_REPEATS) -> Result:
    """Per-key median of the numeric results of ``runs`` fresh-process runs of ``task``."""
    results = [run_task(script, task, params) for _ in range(runs)]
    return {
        key: round(statistics.median(result[key] for result in results), 4)
        for key, value in results[0].items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    } | {"processes": runs}


def cold_load_result(start: float, imported: float, loaded: float, end: float) -> Result:
    """Workload 5's timings from four ``perf_counter`` readings: start, after the import,
    after resolving and loading the model, after predicting."""
    return {
        "seconds": end - start,
        "import_s": imported - start,
        "load_s": loaded - imported,
        "predict_s": end - loaded,
    }
