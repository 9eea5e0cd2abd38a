"""The monitoring benchmark's workload and measurement helpers, shared by every side.

Standard library only: ``evidently_bench.py`` runs in ``benchmarks/.venv-evidently``,
``skewless_bench.py`` and ``scipy_bench.py`` in the project's ``.venv``, and all of them import
this module from their own folder. ``data.py`` writes the files named here (see its docstring
for the distributions); the side scripts read them.

Every measurement runs in a fresh child process of its side script (``script --task NAME
--params JSON --result FILE``): import caches are cold, and the child's peak resident set size,
read with ``os.wait4``, is that measurement's alone. A child runs in its own process group,
which is killed when the child overruns its time limit or the parent stops.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

Params = dict[str, Any]
Result = dict[str, Any]
Task = Callable[[Params], Result]

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE.parent / ".data" / "monitoring"

SEED = 20261122
ROWS = 1_000_000  # rows of reference.parquet and current.parquet
NUMERIC = [
    "n00_normal", "n01_normal", "n02_normal", "n03_normal", "n04_bimodal", "n05_normal",
    "n06_lognormal", "n07_lognormal", "n08_lognormal", "n09_lognormal", "n10_zero_inflated",
    "n11_count", "n12_count", "n13_count", "n14_count", "n15_count",
    "n16_uniform", "n17_uniform", "n18_uniform", "n19_uniform",
]
CATEGORICAL = ["c0_cat8", "c1_cat12", "c2_cat4", "c3_cat40", "c4_cat3"]
COLUMNS = NUMERIC + CATEGORICAL
DRIFT = {  # column -> what differs in current.parquet; every other column is unchanged
    "n00_normal": "mean shifted by +0.3 sd",
    "n01_normal": "sd x 1.5, mean unchanged",
    "n06_lognormal": "skewed column shifted by +0.3 sd",
    "c0_cat8": "top category's share -10 points, the others scaled up",
    "c1_cat12": "a new category on 5% of the rows",
    "n16_uniform": "null rate 1% -> 20%, values unchanged",
}
DRIFTED = sorted(DRIFT)

SIZES = {"full": [1_000, 100_000, 1_000_000], "quick": [1_000, 100_000]}
TRIALS = {"full": 200, "quick": 20}  # no-drift windows of TRIAL_ROWS rows
TRIAL_ROWS = 1_000
# The reference a window is compared with: all of reference.parquet (what a model's training
# data gives), or its first rows, as many as the window has (both sides the same size).
REFERENCES = ("full", "matched")

TASK_TIMEOUT_S = 3_600  # one child process; then its process group is killed


def size_label(rows: int) -> str:
    """``1k``, ``100k``, ``1M``."""
    if rows >= 1_000_000 and rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows >= 1_000 and rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return str(rows)


def reference_file(data_dir: Path, rows: int | None = None) -> Path:
    """The reference data: all of it (``rows`` None or ``ROWS``), or its first ``rows``."""
    if rows is None or rows == ROWS:
        return data_dir / "reference.parquet"
    return data_dir / f"reference-{size_label(rows)}.parquet"


def current_file(data_dir: Path, rows: int) -> Path:
    """The drifted current window of ``rows`` rows (the first rows of ``current.parquet``)."""
    if rows == ROWS:
        return data_dir / "current.parquet"
    return data_dir / f"current-{size_label(rows)}.parquet"


def trials_file(data_dir: Path, side: str) -> Path:
    """No-drift trials: trial ``t`` is rows ``t*TRIAL_ROWS .. (t+1)*TRIAL_ROWS`` of the file.

    ``side`` is ``current`` (the windows) or ``reference`` (the matched references).
    """
    return data_dir / f"nodrift-{side}-{size_label(TRIAL_ROWS)}.parquet"


def window_reference(data_dir: Path, reference: str, rows: int) -> Path:
    """The reference file a window of ``rows`` rows is compared with."""
    return reference_file(data_dir, None if reference == "full" else rows)


def detection(flagged: Iterable[str]) -> Result:
    """Compare the flagged columns of a drifted window with the injected drift."""
    flagged = sorted(set(flagged))
    return {
        "flagged": flagged,
        "flagged_count": len(flagged),
        "missed": [name for name in DRIFTED if name not in flagged],
        "false_flags": [name for name in flagged if name not in DRIFT],
        "exact": flagged == DRIFTED,
    }


def false_alarms(flagged_per_trial: list[list[str]]) -> Result:
    """Summarise the no-drift trials: every flagged column is a false alarm."""
    trials = len(flagged_per_trial)
    by_column: dict[str, int] = {}
    for flagged in flagged_per_trial:
        for name in flagged:
            by_column[name] = by_column.get(name, 0) + 1
    return {
        "trials": trials,
        "rows": TRIAL_ROWS,
        "trials_with_false_alarm": sum(1 for flagged in flagged_per_trial if flagged),
        "false_alarm_share": round(sum(1 for f in flagged_per_trial if f) / trials, 4)
        if trials else None,
        "false_column_flags": sum(by_column.values()),
        "column_false_alarm_rate": round(sum(by_column.values()) / (trials * len(COLUMNS)), 5)
        if trials else None,
        "by_column": dict(sorted(by_column.items(), key=lambda item: (-item[1], item[0]))),
    }


# --- child processes ---------------------------------------------------------------------------

_CHILDREN: set[int] = set()


def _kill_children() -> None:
    """Kill the process group of every child still running (it has not been waited for)."""
    for pid in list(_CHILDREN):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    _CHILDREN.clear()


atexit.register(_kill_children)


def stop_on_sigterm() -> None:
    """Turn SIGTERM into an exit, so that the children are killed on the way out."""

    def _terminate(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)


def run_task(script: Path, task: str, params: Params, python: str | None = None,
             timeout_s: float = TASK_TIMEOUT_S) -> Result:
    """Run ``task`` of ``script`` in a fresh interpreter and return its result.

    The child writes its result as JSON to a temporary file (libraries may print to stdout);
    ``peak_mb``, its maximum resident set size from ``os.wait4``, is added. The child is
    killed (with its process group) after ``timeout_s`` or when this process exits.
    """
    with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as tmp:
        result_file = Path(tmp) / "result.json"
        command = [python or sys.executable, str(script), "--task", task,
                   "--params", json.dumps(params), "--result", str(result_file)]
        proc = subprocess.Popen(command, start_new_session=True)
        _CHILDREN.add(proc.pid)  # killed with its group if this process stops first
        deadline = time.monotonic() + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                _CHILDREN.discard(proc.pid)
                break
            if time.monotonic() > deadline:
                _kill_children()
                raise RuntimeError(f"task {task!r} {params} ran over {timeout_s:g} s")
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"task {task!r} {params} failed with exit code {proc.returncode}")
        result: Result = json.loads(result_file.read_text())
    result["peak_mb"] = round(usage.ru_maxrss / 1024, 1)  # ru_maxrss is in KiB on Linux
    return result


def task_main(tasks: Mapping[str, Task], orchestrate: Callable[[argparse.Namespace], None],
              description: str) -> None:
    """Entry point of a side script: one child task (``--task``), or the whole side."""
    if "--task" in sys.argv:
        parser = argparse.ArgumentParser()
        parser.add_argument("--task", choices=sorted(tasks), required=True)
        parser.add_argument("--params", type=json.loads, required=True)
        parser.add_argument("--result", type=Path, required=True)
        args = parser.parse_args()
        args.result.write_text(json.dumps(tasks[args.task](args.params)))
        return
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="folder written by data.py")
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the results")
    parser.add_argument("--quick", action="store_true", help="1k and 100k rows, fewer trials")
    args = parser.parse_args()
    args.data = args.data.resolve()
    stop_on_sigterm()
    orchestrate(args)


def log(side: str, message: str) -> None:
    """One progress line on stderr."""
    print(f"[{side}] {message}", file=sys.stderr, flush=True)


def measure_side(side: str, script: Path, args: argparse.Namespace,
                 extra: Callable[[], Result] | None = None,
                 trial_counts: Mapping[str, int] | None = None) -> Result:
    """The measurements every side makes, through its script's ``report`` and ``trials`` tasks.

    ``report``: one drifted window against a reference (params ``data``, ``rows``,
    ``reference``), returning ``seconds`` (reading the inputs + the comparison), ``import_s``,
    ``load_s``, ``compare_s`` and ``flagged``. ``trials``: the no-drift windows (params ``data``,
    ``trials``, ``reference``), returning ``flagged`` per trial and ``seconds_per_trial``.
    ``extra`` adds side-specific results (the skewless profiles) before the reports run;
    ``trial_counts`` (reference -> trials) runs fewer trials than ``TRIALS`` for a reference.
    """
    mode = "quick" if args.quick else "full"
    data = str(args.data)
    result: Result = {"sizes": SIZES[mode], "trials": TRIALS[mode], "drifted": DRIFTED}
    if extra is not None:
        result |= extra()
    reports: dict[str, Result] = {}
    for reference in REFERENCES:
        for rows in SIZES[mode]:
            if reference == "matched" and rows == ROWS:
                continue  # the same as the full reference
            log(side, f"report: {size_label(rows)} rows against the {reference} reference")
            report = run_task(script, "report", {"data": data, "rows": rows,
                                                 "reference": reference})
            report |= detection(report.pop("flagged"))
            reports[f"{reference}-{size_label(rows)}"] = {"rows": rows, "reference": reference,
                                                          **rounded(report)}
    result["reports"] = reports
    trials: dict[str, Result] = {}
    for reference in REFERENCES:
        count = (trial_counts or {}).get(reference, TRIALS[mode])
        log(side, f"no-drift trials: {count} windows of {TRIAL_ROWS:,} rows against the "
                  f"{reference} reference")
        outcome = run_task(script, "trials", {"data": data, "trials": count,
                                              "reference": reference})
        trials[reference] = {**false_alarms(outcome["flagged"]),
                             "seconds_per_trial": round(outcome["seconds_per_trial"], 4),
                             "peak_mb": outcome["peak_mb"]}
    result["false_alarms"] = trials
    return result


def rounded(result: Result) -> Result:
    """``result`` with its floats rounded to 4 decimals, for the report."""
    return {key: round(value, 4) if isinstance(value, float) else value
            for key, value in result.items()}


def write_result(out: Path, result: Result) -> None:
    """Write a side's JSON document."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
