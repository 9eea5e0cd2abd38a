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

Then, skewless only, the same model through the training workflow: a ``train`` task
(untimed, in its own process so that the register task's peak memory stays that of the
registrations) writes the model's data as a small feature project into the bench project
(``data/bench_rows.parquet`` and ``features.py``), applies it, builds the training frame of
the labels, splits it by time, fits the same ``LogisticRegression`` on the training part and
logs it with ``run.log_model(model, "bench-model-onnx", training_frame=split)``, which keeps
a verified ONNX export beside the scikit-learn model; ``production`` is set on that version.
The cold load of ``skewless.load_model("bench-model-onnx@production", flavor="onnx")`` +
``predict`` is then measured the same way (5 processes): it imports onnxruntime, not
scikit-learn.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

from harness import (
    EXPERIMENT,
    MODEL_ALIAS,
    MODEL_FEATURES,
    MODEL_NAME,
    MODEL_ROWS,
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
ONNX_REF = f"{ONNX_MODEL_NAME}@{MODEL_ALIAS}"
ONNX_LOADER = "load_model(flavor='onnx'), export kept by the training workflow"
"""The loader of ``ONNX_MODEL_NAME``: the same kind of model, trained through the feature
store, loaded as the ONNX export its version keeps (no scikit-learn import). The label has no
upper-case "ONNX": ``tracking_run.fastest_cold_load`` leaves loaders so named out of the
headline, and this one is the real serving path, so it counts."""
FEATURE_SERVICE = "bench"
ROWS_SOURCE = "data/bench_rows.parquet"  # in the bench project
ROWS_START = datetime(2024, 1, 1, tzinfo=UTC)  # row i happened at ROWS_START + i minutes
ROW_EVERY = timedelta(minutes=1)
LABEL_DELAY = timedelta(seconds=1)  # each label comes just after its row: it sees its features
VALID = ROW_EVERY * (MODEL_ROWS * 3 // 10)  # validation: the last 30% of the rows
DEFINITIONS = f'''"""The bench model's data as a feature view (by skewless_tracking_bench.py)."""

from skewless import Entity, FeatureService, FeatureView, Field, Source

row = Entity("row_id")
bench_rows = FeatureView(
    "bench_rows",
    entities=[row],
    source=Source("{ROWS_SOURCE}", timestamp="event_timestamp"),
    fields=[Field(f"f{{i}}", "float64") for i in range({MODEL_FEATURES})],
    ttl="1d",
)
bench = FeatureService("{FEATURE_SERVICE}", [bench_rows])
'''
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
    return result


def task_train(params: Params) -> Result:
    """Untimed: the bench model through the training workflow, with its ONNX export kept.

    Writes ``model_data()`` into the bench project as a feature source and definitions
    module, applies them, joins the labels point-in-time, splits by time, fits the bench
    model on the training part and logs it with the split; ``production`` is then set on
    the new version of ``ONNX_MODEL_NAME``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    import skewless

    root = Path(os.environ["SKEWLESS_PROJECT"])
    rows, labels = model_data()
    times = [ROWS_START + i * ROW_EVERY for i in range(len(rows))]
    timestamp = pa.timestamp("us", tz="UTC")
    source = pa.table({
        "row_id": pa.array(range(len(rows)), pa.int64()),
        "event_timestamp": pa.array(times, timestamp),
        **{f"f{j}": pa.array([row[j] for row in rows], pa.float64())
           for j in range(MODEL_FEATURES)},
    })
    (root / ROWS_SOURCE).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(source, root / ROWS_SOURCE)
    (root / "features.py").write_text(DEFINITIONS)
    store = skewless.FeatureStore(root)
    store.apply()
    label_rows = pa.table({
        "row_id": source["row_id"],
        "event_timestamp": pa.array([t + LABEL_DELAY for t in times], timestamp),
        "label": pa.array(labels, pa.int64()),
    })
    frame = store.get_training_frame(label_rows, FEATURE_SERVICE)
    split = skewless.training.time_split(frame, valid=VALID, test=None, gap=None)
    model = bench_model().fit(split.train.X(), split.train.y())  # refit: train part only
    with skewless.start_run(MODELS_EXPERIMENT) as run:
        model_version = run.log_model(model, ONNX_MODEL_NAME, training_frame=split)
    export = model_version.training.onnx if model_version.training else None
    if export is None or not export.kept:
        raise RuntimeError(f"no ONNX export was kept for {model_version.ref}, the ONNX loader "
                           f"has nothing to load: {export.reason if export else 'no export'}")
    skewless.set_alias(ONNX_MODEL_NAME, MODEL_ALIAS, model_version.version)
    return {
        "train_rows": split.train.num_rows,
        "valid_rows": split.valid.num_rows,
        "onnx_input_dtype": export.input_dtype,
        "onnx_max_abs_diff": export.max_abs_diff,
        "onnx_rows_checked": export.rows_checked,
    }


def task_cold_load(params: Params) -> Result:
    """Workload 5: ``import skewless`` + ``load_model("bench-model@production")`` + ``predict``.

    With ``"flavor": "onnx"``: ``load_model("bench-model-onnx@production", flavor="onnx")``,
    fed float64 rows (the export's input is cast to its own dtype by the loaded model).
    """
    rows, _ = model_data()
    flavor = params.get("flavor")
    ref = ONNX_REF if flavor == "onnx" else MODEL_REF
    start = time.perf_counter()
    import skewless

    imported = time.perf_counter()
    model = skewless.load_model(ref, flavor=flavor)
    loaded = time.perf_counter()
    import numpy as np  # after the clock started: loading a model imports it anyway

    dtype = np.float64 if flavor == "onnx" else np.float32
    predictions = model.predict(np.asarray(rows[:10], dtype=dtype))
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
    "train": task_train,
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
        print(f"skewless: training {ONNX_MODEL_NAME} on a feature service (untimed)", flush=True)
        trained = run_task(SCRIPT, "train", {})
        print("skewless: cold load by alias", flush=True)
        cold_load = {
            "load_model": median_results(SCRIPT, "cold_load", {}),
            ONNX_LOADER: median_results(SCRIPT, "cold_load", {"flavor": "onnx"}),
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
        "onnx_training": trained,
        "cold_load": cold_load,
    }


def orchestrate(argv: list[str]) -> None:
    """Run all skewless measurements and write the JSON results file."""
    args = tracking_arguments(argv, "skewless side of the tracking and model-registry benchmark.")
    args.out.write_text(json.dumps(run_all(args.quick), indent=2))
    print(f"skewless: results written to {args.out}", flush=True)


if __name__ == "__main__":
    task_main(TASKS, orchestrate)
