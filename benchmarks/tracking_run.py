"""Run the tracking and model-registry benchmark, skewless vs MLflow, with one command.

    .venv/bin/python benchmarks/tracking_run.py            # full size: 1,000 runs, 50 versions
    .venv/bin/python benchmarks/tracking_run.py --quick    # smoke run: 100 runs, 5 versions
    .venv/bin/python benchmarks/tracking_run.py --only skewless  # reuse MLflow's last results

Steps:

1. create ``benchmarks/.venv-mlflow`` from ``requirements-mlflow.txt`` unless
   it already has the pinned MLflow (MLflow and its dependencies stay out of
   the project's environment);
2. run ``mlflow_bench.py`` in that environment and ``skewless_tracking_bench.py``
   in this one (it needs scikit-learn), each writing a JSON document with the
   same keys into ``benchmarks/.data/tracking/`` (``--only SIDE`` runs one side
   and reuses the other's last results of the same size);
3. print the comparison as Markdown tables and write them, with both JSON
   documents, to ``benchmarks/results/tracking-<date>[-quick].json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import venv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from harness import IMPORT_REPEATS, SEARCH_CALLS, SEARCH_FILTER, SEARCH_ORDER_BY

# The feature-store benchmark's table renderer and machine description, shared as they are.
from run import _table, collect_sides, machine

HERE = Path(__file__).resolve().parent
MLFLOW_VENV = HERE / ".venv-mlflow"
MLFLOW_PYTHON = MLFLOW_VENV / "bin" / "python"
MLFLOW_REQUIREMENTS = HERE / "requirements-mlflow.txt"
MLFLOW_VERSION = "3.17.2"
SIDE_RESULTS_DIR = HERE / ".data" / "tracking"
RESULTS_DIR = HERE / "results"
SIDES = {  # side -> (bench script, interpreter)
    "mlflow": (HERE / "mlflow_bench.py", MLFLOW_PYTHON),
    "skewless": (HERE / "skewless_tracking_bench.py", Path(sys.executable)),
}
TEN = ">= 10x"  # the target for skewless on the workloads it was set for
WRITES = {  # the write workloads' keys in the side documents
    "log_runs": "runs of single calls",
    "log_points": "metric points",
    "log_points_async": "metric points, async logging",
    "register": "model versions",
}

Doc = dict[str, Any]


def ensure_mlflow_venv() -> None:
    """Create the MLflow virtual environment unless it already has the pinned MLflow."""
    if MLFLOW_PYTHON.exists():
        probe = "import importlib.metadata as m; print(m.version('mlflow'))"
        installed = subprocess.run(
            [str(MLFLOW_PYTHON), "-c", probe], capture_output=True, text=True, check=False
        )
        if installed.stdout.strip() == MLFLOW_VERSION:
            return
    print(f"creating {MLFLOW_VENV} with mlflow {MLFLOW_VERSION}", flush=True)
    venv.create(MLFLOW_VENV, clear=True, with_pip=True)
    pip = [str(MLFLOW_PYTHON), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "-r", str(MLFLOW_REQUIREMENTS)], check=True)


def check_skewless_environment() -> None:
    """Stop with a clear message when this environment cannot log a scikit-learn model."""
    missing = [name for name in ("skewless", "sklearn") if importlib.util.find_spec(name) is None]
    if missing:
        sys.exit(
            f"the skewless side needs {', '.join(missing)} in {sys.prefix}: "
            f"{sys.executable} -m pip install scikit-learn (and the project itself, `make`)"
        )


def side_results(side: str, quick: bool) -> Path:
    """Where a side's last JSON results of this size are kept."""
    return SIDE_RESULTS_DIR / f"results-{side}{'-quick' if quick else ''}.json"


def run_side(side: str, quick: bool) -> Doc:
    """Run one side's bench script in its interpreter and load its JSON results."""
    script, python = SIDES[side]
    out = side_results(side, quick)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [str(python), str(script), "--out", str(out), *(["--quick"] if quick else [])]
    subprocess.run(command, check=True)
    result: Doc = json.loads(out.read_text())
    return result


def collect(sides: list[str], quick: bool) -> dict[str, Doc]:
    """Run ``sides``; reuse the last results of the others when there are some."""
    return collect_sides(SIDES, sides, lambda side: side_results(side, quick),
                         lambda side: run_side(side, quick))


class Headline(NamedTuple):
    """One row of the summary table.

    ``mlflow`` and ``skewless`` are paths into the side documents (see
    ``_value``); ``skewless`` defaults to the same path as ``mlflow``. The
    label is formatted with the workload sizes.
    """

    label: str
    mlflow: str
    skewless: str | None = None
    higher_is_better: bool = False
    target: str = "-"


SUMMARY = [
    Headline(
        "runs/s, {runs:,} runs of 20 single calls",
        "log_runs.runs_per_s",
        higher_is_better=True,
        target=TEN,
    ),
    Headline(
        "single log_param/log_metric calls/s in those runs",
        "log_runs.calls_per_s",
        higher_is_better=True,
        target=TEN,
    ),
    Headline(
        "log_metric(step=i) calls/s, {points:,} points in one run",
        "log_points.calls_per_s",
        higher_is_better=True,
        target=TEN,
    ),
    Headline(
        "log_metric(step=i) calls/s, MLflow with async logging",
        "log_points_async.calls_per_s",
        skewless="log_points.calls_per_s",
        higher_is_better=True,
    ),
    Headline("search_runs median ms, {runs:,} runs", "search.median_ms", target=TEN),
    Headline("search_runs first call in a fresh process, ms", "search.first_ms"),
    Headline(
        "s per registered model version, {versions} versions", "register.s_per_version", target=TEN
    ),
    Headline(
        "cold import + alias + load + predict, s (fastest loader)", "cold_load", target="< 1 s"
    ),
    Headline("import s", "import_s"),
]


def fastest_cold_load(side: Doc) -> tuple[str, Doc]:
    """The loader with the shortest median cold load of a side, and its timings: for
    skewless the ONNX export its training workflow keeps, for MLflow its fastest flavor."""
    name, timings = min(side["cold_load"].items(), key=lambda item: item[1]["seconds"])
    return name, timings


def _value(side: Doc, path: str) -> float | None:
    """A side's value at a dotted ``path``, ``None`` when it has none.

    ``cold_load`` stands for the fastest loader's median seconds.
    """
    if not side:
        return None
    if path == "cold_load":
        return float(fastest_cold_load(side)[1]["seconds"])
    value: Any = side
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _advantage(mlflow: float | None, skewless: float | None, higher_is_better: bool) -> str:
    """How many times better skewless is than MLflow on one measurement (``-`` if unknown)."""
    if not mlflow or not skewless:
        return "-"
    return f"{(skewless / mlflow if higher_is_better else mlflow / skewless):.1f}x"


def summary_rows(mlflow: Doc, skewless: Doc) -> list[list[Any]]:
    """One row per headline measurement: label, MLflow, skewless, advantage, target."""
    sizes = (mlflow or skewless)["sizes"]
    rows = []
    for row in SUMMARY:
        theirs = _value(mlflow, row.mlflow)
        ours = _value(skewless, row.skewless or row.mlflow)
        advantage = _advantage(theirs, ours, row.higher_is_better)
        rows.append([row.label.format(**sizes), theirs, ours, advantage, row.target])
    return rows


def render(doc: Doc) -> str:
    """Render the comparison tables (Markdown) of a results document."""
    sides = doc["results"]
    tables = [
        _table(
            "Tracking and registry: skewless vs MLflow",
            ["measurement", "MLflow", "skewless", "skewless advantage", "target"],
            summary_rows(sides.get("mlflow", {}), sides.get("skewless", {})),
        ),
        _table(
            f"search_runs `{SEARCH_FILTER}` by `{', '.join(SEARCH_ORDER_BY)}`, "
            f"{SEARCH_CALLS} calls in one process",
            [
                "tool",
                "runs searched",
                "returned",
                "expected",
                "expected order",
                "first call ms",
                "median ms",
                "peak MB",
            ],
            [
                [
                    s["tool"],
                    r["runs_searched"],
                    r["runs_returned"],
                    r["runs_expected"],
                    "yes" if r["as_expected"] else "NO",
                    r["first_ms"],
                    r["median_ms"],
                    r["peak_mb"],
                ]
                for s in sides.values()
                for r in [s["search"]]
            ],
        ),
        _table(
            f"Cold load by alias, fresh process (median of {IMPORT_REPEATS})",
            ["tool", "loader", "total s", "import s", "resolve + load s", "predict s", "peak MB"],
            [
                [
                    s["tool"],
                    loader,
                    r["seconds"],
                    r["import_s"],
                    r["load_s"],
                    r["predict_s"],
                    r["peak_mb"],
                ]
                for s in sides.values()
                for loader, r in s["cold_load"].items()
            ],
        ),
        _table(
            "Writes: wall time and peak memory of each workload's process",
            ["tool", "workload", "seconds", "peak MB"],
            [
                [s["tool"], workload, s[key]["seconds"], s[key]["peak_mb"]]
                for s in sides.values()
                for key, workload in WRITES.items()
                if key in s
            ],
        ),
    ]
    return "\n\n".join(tables)


def search_problems(results: dict[str, Doc]) -> list[str]:
    """What is wrong with the search results: a side off the expected runs, or the sides apart."""
    problems = [
        f"{side}: search_runs returned {s['search']['runs_returned']} runs, expected "
        f"{s['search']['runs_expected']} in a known order"
        for side, s in results.items()
        if not s["search"]["as_expected"]
    ]
    digests = {s["search"]["names_digest"] for s in results.values()}
    if len(digests) > 1:
        problems.append("the two tools' search_runs returned different runs")
    return problems


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description="Tracking and model-registry benchmark: skewless vs MLflow."
    )
    parser.add_argument("--quick", action="store_true", help="small smoke-run workload")
    parser.add_argument(
        "--only", choices=sorted(SIDES), help="run one side, reuse the other's last results"
    )
    args = parser.parse_args()

    sides = [args.only] if args.only else list(SIDES)
    if "mlflow" in sides:
        ensure_mlflow_venv()
    if "skewless" in sides:
        check_skewless_environment()
    started = datetime.now(UTC)
    results = collect(sides, args.quick)
    doc = {
        "benchmark": "tracking",
        "date": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": machine(),
        "results": results,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"tracking-{started:%Y-%m-%d}{'-quick' if args.quick else ''}.json"
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print("\n" + render(doc) + f"\n\nresults written to {out.relative_to(HERE.parent)}")
    for problem in search_problems(results):
        print(f"WARNING: {problem}", file=sys.stderr)


if __name__ == "__main__":
    main()
