"""MLflow side of the tracking and model-registry benchmark.

Runs inside ``benchmarks/.venv-mlflow`` (created by ``tracking_run.py`` from
``requirements-mlflow.txt``)::

    benchmarks/.venv-mlflow/bin/python benchmarks/mlflow_bench.py --out mlflow.json [--quick]

MLflow is used as documented for a local setup: a SQLite backend store
(``sqlite:///<tmp>/mlflow.db``, also the model registry) and a local artifact
folder, both in a temporary folder. Every child task finds the store in its
environment (``MLFLOW_TRACKING_URI``, which the registry URI defaults to), as
a deployed process would. A setup task creates the database (MLflow runs its
schema migrations then) and the experiments, untimed. Then each workload of
``harness.py`` runs in a fresh child process (see ``run_task``):

1. ``log_runs``: runs of 10 ``mlflow.log_param`` + 10 ``mlflow.log_metric`` calls;
2. ``log_points``: one run, ``mlflow.log_metric("loss", v, step=i)`` per point;
   also with MLflow's opt-in async logging (``log_points_async``; ending
   the run drains the queue). Not workload 1: MLflow's async queue makes every
   run's end wait for its worker (up to 1 s), slower than synchronous logging
   for short runs (1.4 runs/s against 6-9 in a --quick run);
3. ``search``: ``mlflow.search_runs(..., output_format="list")`` with the
   shared filter and order, over the runs of 1;
4. ``register``: one run per version, ``mlflow.sklearn.log_model(model,
   name="model", registered_model_name="bench-model")``; then the alias
   ``production`` is set on the last version (untimed);
5. ``cold_load``: ``import mlflow`` + ``load_model("models:/bench-model@production")``
   + one ``predict``, with the pyfunc and the sklearn flavor, 5 processes each;
   and ``import mlflow`` alone, 5 processes.

Telemetry is switched off (``MLFLOW_DISABLE_TELEMETRY``, ``DO_NOT_TRACK``):
the machine has no route to MLflow's telemetry endpoint, and the benchmark
measures the library, not a network failure.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
    RunLogger,
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
MODEL_URI = f"models:/{MODEL_NAME}@{MODEL_ALIAS}"
LOADERS = ("pyfunc", "sklearn")  # mlflow.<loader>.load_model
# Telemetry off: the machine has no route to MLflow's endpoint, and the library is measured.
CHILD_ENVIRONMENT = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
VERSIONS_OF = ("mlflow", "scikit-learn", "sqlalchemy", "pandas", "numpy")


def task_setup(params: Params) -> Result:
    """Create the database and the experiments, their artifacts in ``<root>/artifacts``."""
    import mlflow

    artifacts = Path(params["root"]) / "artifacts"
    for name in (EXPERIMENT, POINTS_EXPERIMENT, MODELS_EXPERIMENT):
        mlflow.create_experiment(name, artifact_location=(artifacts / name).as_uri())
    return {}


def task_import(params: Params) -> Result:
    """Time ``import mlflow`` in this (fresh) process."""
    start = time.perf_counter()
    import mlflow  # noqa: F401  (the import is what is measured)

    return {"seconds": time.perf_counter() - start}


@contextmanager
def open_run(name: str) -> Iterator[RunLogger]:
    """The block of one run of the current experiment; the fluent ``mlflow`` module logs to it.

    With async logging, ending the run drains MLflow's queue and waits for its
    writes, so the clock stops only when every value is stored.
    """
    import mlflow

    with mlflow.start_run(run_name=name):
        yield mlflow


def task_log_runs(params: Params) -> Result:
    """Workload 1: runs of single ``log_param``/``log_metric`` calls (fluent API)."""
    import mlflow

    mlflow.set_experiment(EXPERIMENT)
    return measure_logged_runs(open_run, params["runs"])


def task_log_points(params: Params) -> Result:
    """Workload 2: one run, one ``log_metric(key, value, step=i)`` call per point.

    With ``async_logging``, MLflow's opt-in async logging is switched on.
    """
    import mlflow

    mlflow.config.enable_async_logging(params["async_logging"])
    mlflow.set_experiment(POINTS_EXPERIMENT)
    return measure_metric_points(open_run, params["points"])


def task_search(params: Params) -> Result:
    """Workload 3: ``search_runs`` with the shared filter and order over the logged runs."""
    import mlflow

    def search() -> list[str]:
        runs = mlflow.search_runs(
            experiment_names=[EXPERIMENT],
            filter_string=SEARCH_FILTER,
            order_by=SEARCH_ORDER_BY,
            max_results=SEARCH_LIMIT,
            output_format="list",
        )
        return [run.info.run_name for run in runs]

    return measure_search(search, params["runs"])


def task_register(params: Params) -> Result:
    """Workload 4: log and register model versions, then alias the last one."""
    import mlflow
    import mlflow.sklearn

    mlflow.set_experiment(MODELS_EXPERIMENT)

    def register(model: Any) -> int:
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(model, name="model", registered_model_name=MODEL_NAME)
        return int(info.registered_model_version)

    result = measure_registrations(register, params["versions"])
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(MODEL_NAME, MODEL_ALIAS, str(result["last_version"]))
    return result


def task_cold_load(params: Params) -> Result:
    """Workload 5: ``import mlflow`` + load ``models:/bench-model@production`` + ``predict``."""
    rows, _ = model_data()
    start = time.perf_counter()
    import mlflow.pyfunc
    import mlflow.sklearn

    imported = time.perf_counter()
    loader = mlflow.pyfunc if params["loader"] == "pyfunc" else mlflow.sklearn
    model = loader.load_model(MODEL_URI)
    loaded = time.perf_counter()
    predictions = model.predict(rows[:10])
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


def run_all(quick: bool) -> Result:
    """Run every MLflow measurement and return the results document."""
    sizes = TRACKING_SIZES["quick" if quick else "full"]
    root = Path(tempfile.mkdtemp(prefix="mlflow-bench-"))
    os.environ.update(CHILD_ENVIRONMENT, MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}")
    try:
        print("mlflow: creating the SQLite store and the experiments", flush=True)
        run_task(SCRIPT, "setup", {"root": str(root)})
        print("mlflow: import", flush=True)
        imported = median_results(SCRIPT, "import", {})
        print(f"mlflow: {sizes['runs']:,} runs of 20 single calls", flush=True)
        log_runs = run_task(SCRIPT, "log_runs", {"runs": sizes["runs"]})
        log_points = {}
        for key, async_logging in (("log_points", False), ("log_points_async", True)):
            label = " (async logging)" if async_logging else ""
            print(f"mlflow: {sizes['points']:,} metric points in one run{label}", flush=True)
            log_points[key] = run_task(
                SCRIPT, "log_points", {"async_logging": async_logging, "points": sizes["points"]}
            )
        print("mlflow: search_runs", flush=True)
        search = run_task(SCRIPT, "search", {"runs": sizes["runs"]})
        print(f"mlflow: registering {sizes['versions']} model versions", flush=True)
        register = run_task(SCRIPT, "register", {"versions": sizes["versions"]})
        cold_load = {}
        for loader in LOADERS:
            print(f"mlflow: cold load by alias, {loader} flavor", flush=True)
            cold_load[loader] = median_results(SCRIPT, "cold_load", {"loader": loader})
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "tool": f"mlflow {version('mlflow')}",
        "versions": {name: version(name) for name in VERSIONS_OF},
        "store": "SQLite backend store (also the registry), local artifact folder",
        "sizes": sizes,
        "import_s": imported["seconds"],
        "log_runs": log_runs,
        **log_points,
        "search": search,
        "register": register,
        "cold_load": cold_load,
    }


def orchestrate(argv: list[str]) -> None:
    """Run all MLflow measurements and write the JSON results file."""
    args = tracking_arguments(argv, "MLflow side of the tracking and model-registry benchmark.")
    args.out.write_text(json.dumps(run_all(args.quick), indent=2))
    print(f"mlflow: results written to {args.out}", flush=True)


if __name__ == "__main__":
    task_main(TASKS, orchestrate)
