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
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
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
