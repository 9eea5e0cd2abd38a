"""The plain numpy/scipy baseline of the monitoring benchmark; runs in the project's ``.venv``.

    .venv/bin/python benchmarks/monitoring/scipy_bench.py --out scipy.json [--data DIR] [--quick]

What a user might write without a monitoring library: read both frames with pandas, and for
every column compare the full reference with the window, nulls dropped:

* numeric: ``scipy.stats.ks_2samp`` on the values, and the PSI over 10 bins at the
  reference's deciles (shares clipped at 1e-4);
* categorical: ``scipy.stats.chi2_contingency`` on the 2 x k table of counts (reference and
  window) over the categories either has, and the PSI over those categories.

A column is flagged when its test's p-value is below 0.05 or its PSI is above 0.2 (the usual
"significant shift" rule of thumb). Null rates are not compared. Tasks and timings as for the
other sides (``workload.measure_side``): ``seconds`` is reading both files plus the tests.
"""

from __future__ import annotations

import time
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

from workload import (
    CATEGORICAL,
    NUMERIC,
    TRIAL_ROWS,
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
P_VALUE = 0.05
PSI_LIMIT = 0.2
BINS = 10
EPS = 1e-4


def psi(expected: Any, actual: Any) -> float:
    """Population stability index of two vectors of shares."""
    import numpy as np

    expected, actual = np.clip(expected, EPS, None), np.clip(actual, EPS, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def drifted_columns(reference: Any, current: Any) -> tuple[list[str], dict[str, dict[str, float]]]:
    """The flagged columns and every column's statistics."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    flagged, statistics = [], {}
    for name in NUMERIC:
        ref = reference[name].dropna().to_numpy(dtype=float)
        cur = current[name].dropna().to_numpy(dtype=float)
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, BINS + 1)[1:-1]))
        ref_bins = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1)
        cur_bins = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1)
        index = psi(ref_bins / len(ref), cur_bins / len(cur))
        p_value = float(stats.ks_2samp(ref, cur).pvalue)
        statistics[name] = {"ks_pvalue": p_value, "psi": index}
        if p_value < P_VALUE or index > PSI_LIMIT:
            flagged.append(name)
    for name in CATEGORICAL:
        counts = pd.concat([reference[name].value_counts(), current[name].value_counts()],
                           axis=1).fillna(0).to_numpy().T
        p_value = float(stats.chi2_contingency(counts).pvalue)
        index = psi(counts[0] / counts[0].sum(), counts[1] / counts[1].sum())
        statistics[name] = {"chi2_pvalue": p_value, "psi": index}
        if p_value < P_VALUE or index > PSI_LIMIT:
            flagged.append(name)
    return flagged, statistics


def report_task(params: Params) -> Result:
    """One drifted window against a reference: read both frames, test every column."""
    warnings.simplefilter("ignore")
    data, rows = Path(params["data"]), params["rows"]
    start = time.perf_counter()
    import pandas as pd
    import scipy.stats  # noqa: F401  (the import is timed apart from the report)

    imported = time.perf_counter()
    reference = pd.read_parquet(window_reference(data, params["reference"], rows))
    current = pd.read_parquet(current_file(data, rows))
    loaded = time.perf_counter()
    flagged, _ = drifted_columns(reference, current)
    end = time.perf_counter()
    return {"seconds": end - imported, "import_s": imported - start, "load_s": loaded - imported,
            "compare_s": end - loaded, "flagged": flagged}


def trials_task(params: Params) -> Result:
    """The no-drift windows, all in one process; the reference is read once."""
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
        reference = references.iloc[rows] if matched else references
        start = time.perf_counter()
        flagged.append(drifted_columns(reference, windows.iloc[rows])[0])
        elapsed += time.perf_counter() - start
    return {"flagged": flagged, "seconds_per_trial": elapsed / count}


def orchestrate(args: Any) -> None:
    """Measure the whole baseline side and write its JSON document."""
    result: Result = {"tool": "numpy/scipy script",
                      "packages": {name: version(name)
                                   for name in ("numpy", "scipy", "pandas", "pyarrow")}}
    result |= measure_side("scipy", SCRIPT, args)
    write_result(args.out, result)
    log("scipy", f"results written to {args.out}")


if __name__ == "__main__":
    task_main({"report": report_task, "trials": trials_task}, orchestrate,
              "numpy/scipy baseline of the monitoring benchmark")
