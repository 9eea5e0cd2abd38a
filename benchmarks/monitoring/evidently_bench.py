"""Evidently side of the monitoring benchmark; runs in ``benchmarks/.venv-evidently``.

    benchmarks/.venv-evidently/bin/python benchmarks/monitoring/evidently_bench.py \\
        --out evidently.json [--data DIR] [--quick]

Evidently 0.7's API with its default settings: both frames read with ``pandas.read_parquet``,
wrapped in ``Dataset.from_pandas(frame, data_definition=DataDefinition(numerical_columns=...,
categorical_columns=...))`` (the column kinds given, not inferred), and
``Report([DataDriftPreset()], include_tests=True).run(current_data=..., reference_data=...)``.
``include_tests=True`` only adds the preset's per-column drift tests to the snapshot, which is
where Evidently says which columns drifted (a ``ValueDrift`` test whose status is ``FAIL``);
the preset, its tests and thresholds are Evidently's defaults, which pick the test by the
*reference* size: up to 1,000 rows, K-S (numeric) and chi-square (categorical, and numeric
with at most 5 values); above, the normed Wasserstein distance (numeric) and the
Jensen-Shannon distance (categorical, and numeric with at most 5 values), threshold 0.1.

Tasks (each in a fresh process, see ``workload.run_task``):

* ``report``: one drifted window against the full or the matched reference. ``seconds`` is
  reading both Parquet files plus building the datasets and running the report;
  ``import_s`` (``import evidently`` and pandas) is apart.
* ``trials``: the no-drift windows, one report each, all in one process. Against the full
  reference a report takes about half a minute whatever the window, so that mode runs
  ``FULL_REFERENCE_TRIALS`` windows, not all of them.
"""

from __future__ import annotations

import os
import time
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

from workload import (
    CATEGORICAL,
    NUMERIC,
    TRIAL_ROWS,
    TRIALS,
    Params,
    Result,
    current_file,
    log,
    measure_side,
    task_main,
    trials_file,
    window_reference,
    write_result,
)

SCRIPT = Path(__file__).resolve()
FULL_REFERENCE_TRIALS = {"full": 20, "quick": 3}


def _report(reference: Any, current: Any) -> tuple[list[str], dict[str, str]]:
    """Run the default data-drift report; the drifted columns and each column's method."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    flagged, methods = [], {}
    for test in snapshot.dict()["tests"]:
        params = test["metric_config"]["params"]
        if params["type"].endswith(":ValueDrift"):
            methods[params["column"]] = f"{params['method']} ({params['threshold']:g})"
            if test["status"] == "FAIL":
                flagged.append(params["column"])
    return flagged, methods


def report_task(params: Params) -> Result:
    """One drifted window against a reference: load both frames, run the report."""
    warnings.simplefilter("ignore")  # scipy's divide-by-zero on a category new in the window
    data, rows = Path(params["data"]), params["rows"]
    start = time.perf_counter()
    import evidently  # noqa: F401  (the import is timed apart from the report)
    import pandas as pd

    imported = time.perf_counter()
    reference = pd.read_parquet(window_reference(data, params["reference"], rows))
    current = pd.read_parquet(current_file(data, rows))
    loaded = time.perf_counter()
    flagged, methods = _report(reference, current)
    end = time.perf_counter()
    return {"seconds": end - imported, "import_s": imported - start, "load_s": loaded - imported,
            "compare_s": end - loaded, "flagged": flagged, "methods": methods}


def trials_task(params: Params) -> Result:
    """The no-drift windows, one report each; the reference is read once."""
    warnings.simplefilter("ignore")
    import pandas as pd

    data, count = Path(params["data"]), params["trials"]
    windows = pd.read_parquet(trials_file(data, "current"))
    matched = params["reference"] == "matched"
    references = pd.read_parquet(trials_file(data, "reference") if matched
                                 else window_reference(data, "full", TRIAL_ROWS))
    flagged, elapsed = [], 0.0
    for trial in range(count):
        rows = slice(trial * TRIAL_ROWS, (trial + 1) * TRIAL_ROWS)
        reference = references.iloc[rows].reset_index(drop=True) if matched else references
        window = windows.iloc[rows].reset_index(drop=True)
        start = time.perf_counter()
        flagged.append(_report(reference, window)[0])
        elapsed += time.perf_counter() - start
    return {"flagged": flagged, "seconds_per_trial": elapsed / count}


def orchestrate(args: Any) -> None:
    """Measure the whole Evidently side and write its JSON document."""
    os.environ["DO_NOT_TRACK"] = "1"  # Evidently's usage telemetry (its UI's), off
    mode = "quick" if args.quick else "full"
    result = {"tool": f"Evidently {version('evidently')}",
              "packages": {name: version(name)
                           for name in ("evidently", "pandas", "numpy", "scipy", "pyarrow")}}
    result |= measure_side("evidently", SCRIPT, args,
                           trial_counts={"full": min(FULL_REFERENCE_TRIALS[mode], TRIALS[mode])})
    write_result(args.out, result)
    log("evidently", f"results written to {args.out}")


if __name__ == "__main__":
    task_main({"report": report_task, "trials": trials_task}, orchestrate,
              "Evidently side of the monitoring benchmark")
