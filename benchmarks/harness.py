"""Measurement helpers shared by ``feast_bench.py`` and ``skewless_bench.py``.

Standard library only, because the two bench scripts run in different virtual
environments (Feast needs its own). Every measurement runs in a fresh child
process of the bench script itself (``script --task NAME --params JSON
--result FILE``), so import caches are cold and the child's peak resident set
size, read with ``os.wait4``, belongs to that one measurement alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

Params = dict[str, Any]
Result = dict[str, Any]
Task = Callable[[Params], Result]

FEATURES = [f"f{i}" for i in range(10)]
FEATURE_VIEW = "user_snapshots"
# The only Redis database the benchmark may write to; it is flushed before and after use.
REDIS_URL = "redis://127.0.0.1:6379/14"
REDIS_DB = 14
IMPORT_REPEATS = 5
HISTORICAL_RESULT = "feast_duckdb_historical.parquet"


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


def median_of_runs(script: Path, task: str, params: Params, key: str, runs: int = IMPORT_REPEATS) -> float:
    """Median of ``result[key]`` over ``runs`` fresh-process runs of ``task``."""
    return round(statistics.median(run_task(script, task, params)[key] for _ in range(runs)), 4)


def latency_summary(seconds: list[float]) -> Result:
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
    return json.loads((data_dir / "manifest.json").read_text())
