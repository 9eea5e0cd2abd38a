"""skewless side of the tracking and model-registry benchmark.

Runs in the project's own environment (with scikit-learn and skops, for the model)::

    .venv/bin/python benchmarks/skewless_tracking_bench.py --out skewless.json [--quick]

It creates a skewless project (``skewless.yaml`` with ``project: bench`` and
the default SQLite metadata database and artifact folder) in a temporary
folder; every child task finds it in its environment (``SKEWLESS_PROJECT``),
as a deployed process would. A setup task creates the metadata database,
untimed; each experiment is created (one row) by its first run. Then each
workload of ``harness.py`` runs in a fresh child process (see ``run_task``),
under the same JSON keys as ``mlflow_bench.py``:

1. ``log_runs``: runs of 10 ``run.log_param`` + 10 ``run.log_metric`` calls;
2. ``log_points``: one run, ``run.log_metric("loss", v, step=i)`` per point;
3. ``search``: ``skewless.search_runs`` with the shared filter and order, over
   the runs of 1;
4. ``register``: one run per version, ``run.log_model(model, "bench-model")``;
   then the alias ``production`` is set on the last version (untimed);
5. ``cold_load``: ``import skewless`` + ``skewless.load_model("bench-model@production")``
   + one ``predict``, 5 processes; and ``import skewless`` alone, 5 processes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

from harness import (
    EXPERIMENT,
    MODEL_ALIAS,
    MODEL_NAME,
    MODELS_EXPERIMENT,
    POINTS_EXPERIMENT,
    SEARCH_FILTER,
    SEARCH_LIMIT,
    SEARCH_ORDER_BY,
    TRACKING_SIZES,
    Params,
    Result,
    bench_model,
    cold_load_result,
    measure_logged_runs,
    measure_metric_points,
    measure_registrations,
    measure_search,
    median_results,
    model_data,
    run_task,
    task_main,
    tracking_arguments,
)

SCRIPT = Path(__file__).resolve()
MODEL_REF = f"{MODEL_NAME}@{MODEL_ALIAS}"
ONNX_MODEL_NAME = f"{MODEL_NAME}-onnx"
ONNX_LOADER = "load_model, same model as ONNX"
"""Not part of the like-for-like comparison: it shows the cost of importing scikit-learn."""
PROJECT_YAML = "project: bench\n"
VERSIONS_OF = ("skewless", "scikit-learn", "sqlalchemy", "pandas", "numpy")


def task_setup(params: Params) -> Result:
    """Create the metadata database (the experiments are created by their first run)."""
    import skewless

    skewless.search_runs(EXPERIMENT, limit=1)
    return {}


def task_import(params: Params) -> Result:
    """Time ``import skewless`` in this (fresh) process."""
    start = time.perf_counter()
    import skewless  # noqa: F401  (the import is what is measured)

    return {"seconds": time.perf_counter() - start}


def task_log_runs(params: Params) -> Result:
    """Workload 1: runs of single ``log_param``/``log_metric`` calls."""
    import skewless

    return measure_logged_runs(partial(skewless.start_run, EXPERIMENT), params["runs"])


def task_log_points(params: Params) -> Result:
    """Workload 2: one run, one ``log_metric(key, value, step=i)`` call per point."""
    import skewless

    return measure_metric_points(partial(skewless.start_run, POINTS_EXPERIMENT), params["points"])


def task_search(params: Params) -> Result:
    """Workload 3: ``search_runs`` with the shared filter and order over the logged runs."""
    import skewless

    def search() -> list[str]:
        runs = skewless.search_runs(
            EXPERIMENT, filter=SEARCH_FILTER, order_by=SEARCH_ORDER_BY, limit=SEARCH_LIMIT
        )
        return [run.name for run in runs]

    return measure_search(search, params["runs"])


def task_register(params: Params) -> Result:
    """Workload 4: log and register model versions, then alias the last one."""
    import skewless

    def register(model: Any) -> int:
        with skewless.start_run(experiment=MODELS_EXPERIMENT) as run:
            model_version = run.log_model(model, MODEL_NAME)
        return int(model_version.version)

    result = measure_registrations(register, params["versions"])
    skewless.set_alias(MODEL_NAME, MODEL_ALIAS, result["last_version"])
    skewless.set_alias(ONNX_MODEL_NAME, MODEL_ALIAS,
                       skewless.register_model(_as_onnx(bench_model()), ONNX_MODEL_NAME).version)
    return result


def _as_onnx(model: Any) -> Any:
    """The same fitted model converted to ONNX (float32 inputs, probabilities as an array)."""
    import numpy as np
    from skl2onnx import to_onnx

    rows, _ = model_data()
    return to_onnx(model, np.asarray(rows[:1], dtype=np.float32), options={"zipmap": False})


def task_cold_load(params: Params) -> Result:
    """Workload 5: ``import skewless`` + ``load_model("bench-model@production")`` + ``predict``."""
    rows, _ = model_data()
    start = time.perf_counter()
    import skewless

    imported = time.perf_counter()
    model = skewless.load_model(params.get("ref", MODEL_REF))
    loaded = time.perf_counter()
    import numpy as np  # after the clock started: loading a model imports it anyway

    predictions = model.predict(np.asarray(rows[:10], dtype=np.float32))
    end = time.perf_counter()
    assert len(predictions) == 10
    return cold_load_result(start, imported, loaded, end)


TASKS = {
    "setup": task_setup,
    "import": task_import,
    "log_runs": task_log_runs,
    "log_points": task_log_points,
    "search": task_search,
    "register": task_register,
    "cold_load": task_cold_load,
}


@contextmanager
def bench_project() -> Iterator[Path]:
    """A temporary skewless project, selected for every child task by ``SKEWLESS_PROJECT``."""
    root = Path(tempfile.mkdtemp(prefix="skewless-tracking-bench-"))
    (root / "skewless.yaml").write_text(PROJECT_YAML)
    previous = os.environ.get("SKEWLESS_PROJECT")
    os.environ["SKEWLESS_PROJECT"] = str(root)
    try:
        yield root
    finally:
        if previous is None:
            del os.environ["SKEWLESS_PROJECT"]
        else:
            os.environ["SKEWLESS_PROJECT"] = previous
        shutil.rmtree(root, ignore_errors=True)


def run_all(quick: bool) -> Result:
    """Run every skewless measurement and return the results document."""
    sizes = TRACKING_SIZES["quick" if quick else "full"]
    with bench_project():
        print("skewless: creating the metadata database and the experiments", flush=True)
        run_task(SCRIPT, "setup", {})
        print("skewless: import", flush=True)
        imported = median_results(SCRIPT, "import", {})
        print(f"skewless: {sizes['runs']:,} runs of 20 single calls", flush=True)
        log_runs = run_task(SCRIPT, "log_runs", {"runs": sizes["runs"]})
        print(f"skewless: {sizes['points']:,} metric points in one run", flush=True)
        log_points = run_task(SCRIPT, "log_points", {"points": sizes["points"]})
        print("skewless: search_runs", flush=True)
        search = run_task(SCRIPT, "search", {"runs": sizes["runs"]})
        print(f"skewless: registering {sizes['versions']} model versions", flush=True)
        register = run_task(SCRIPT, "register", {"versions": sizes["versions"]})
        print("skewless: cold load by alias", flush=True)
        cold_load = {
            "load_model": median_results(SCRIPT, "cold_load", {}),
            ONNX_LOADER: median_results(SCRIPT, "cold_load",
                                        {"ref": f"{ONNX_MODEL_NAME}@{MODEL_ALIAS}"}),
        }
    return {
        "tool": f"skewless {version('skewless')}",
        "versions": {name: version(name) for name in VERSIONS_OF},
        "store": "SQLite metadata database, local artifact folder",
        "sizes": sizes,
        "import_s": imported["seconds"],
        "log_runs": log_runs,
        "log_points": log_points,
        "search": search,
        "register": register,
        "cold_load": cold_load,
    }


def orchestrate(argv: list[str]) -> None:
    """Run all skewless measurements and write the JSON results file."""
    args = tracking_arguments(argv, "skewless side of the tracking and model-registry benchmark.")
    args.out.write_text(json.dumps(run_all(args.quick), indent=2))
    print(f"skewless: results written to {args.out}", flush=True)


if __name__ == "__main__":
    task_main(TASKS, orchestrate)
