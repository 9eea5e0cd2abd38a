"""skewless side of the monitoring benchmark; runs in the project's ``.venv``.

    .venv/bin/python benchmarks/monitoring/skewless_bench.py --out skewless.json [--quick]

As in production, the reference profile is built once, when the model is trained, and every
report then reads the stored profile and the window:

* ``profile`` (once per reference: the full 1M rows, and the first 1k and 100k rows for the
  matched comparisons): ``pyarrow.parquet.read_table`` of the reference and
  ``skewless.monitoring.build_profile(table)`` with its defaults, written with
  ``profile.to_json()`` to ``.data/monitoring/profile-<rows>.json``; timed on its own.
* ``report``: ``ReferenceProfile.from_json`` of that file, ``pyarrow.parquet.read_table`` of
  the window and ``compare(profile, window)`` with the default rule; the flagged columns are
  the verdicts whose ``flagged`` is true (drift or data quality). ``seconds`` is loading the
  profile, reading the window and comparing; ``import_s`` (``import skewless.monitoring``,
  pyarrow) is apart.
* ``trials``: the no-drift windows against the full profile, or against a profile built (and
  passed through JSON) from each trial's own 1,000 reference rows.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from workload import (
    ROWS,
    SIZES,
    TRIAL_ROWS,
    Params,
    Result,
    current_file,
    log,
    measure_side,
    reference_file,
    rounded,
    run_task,
    size_label,
    task_main,
    trials_file,
    write_result,
)

SCRIPT = Path(__file__).resolve()
DRIFT_MODULE = "skewless.monitoring._drift"


def profile_file(data: Path, rows: int) -> Path:
    """Where the profile of the first ``rows`` reference rows is stored."""
    return data / f"profile-{size_label(rows)}.json"


def _compare() -> Any:
    """The comparison function: ``compare(profile, window, *, rule=None, features=None)``."""
    from skewless.monitoring._drift import compare

    return compare


def _flagged(verdicts: Any) -> tuple[list[str], dict[str, list[str]]]:
    flagged = [verdict.name for verdict in verdicts if verdict.flagged]
    reasons = {verdict.name: [str(reason) for reason in getattr(verdict, "reasons", ())]
               for verdict in verdicts if verdict.flagged}
    return flagged, reasons


def profile_task(params: Params) -> Result:
    """Build the profile of the first ``rows`` reference rows and store it as JSON."""
    data, rows = Path(params["data"]), params["rows"]
    start = time.perf_counter()
    import pyarrow.parquet as pq

    from skewless.monitoring import build_profile

    imported = time.perf_counter()
    table = pq.read_table(reference_file(data, rows))
    loaded = time.perf_counter()
    profile = build_profile(table)
    built = time.perf_counter()
    text = json.dumps(profile.to_json(), allow_nan=False)
    profile_file(data, rows).write_text(text)
    end = time.perf_counter()
    return {"rows": rows, "seconds": end - imported, "import_s": imported - start,
            "read_s": loaded - imported, "build_s": built - loaded, "write_s": end - built,
            "json_kb": round(len(text) / 1024, 1)}


def report_task(params: Params) -> Result:
    """One drifted window against a stored profile: load it, read the window, compare."""
    data, rows = Path(params["data"]), params["rows"]
    start = time.perf_counter()
    from skewless.monitoring import ReferenceProfile

    compare = _compare()
    imported = time.perf_counter()
    reference_rows = ROWS if params["reference"] == "full" else rows
    profile = ReferenceProfile.from_json(json.loads(profile_file(data, reference_rows).read_text()))
    window = current_file(data, rows)  # read one column at a time by compare: one pass
    loaded = time.perf_counter()
    verdicts = compare(profile, window)
    end = time.perf_counter()
    flagged, reasons = _flagged(verdicts)
    return {"seconds": end - imported, "import_s": imported - start, "load_s": loaded - imported,
            "compare_s": end - loaded, "flagged": flagged, "reasons": reasons}


def trials_task(params: Params) -> Result:
    """The no-drift windows, all in one process."""
    import pyarrow.parquet as pq

    from skewless.monitoring import ReferenceProfile, build_profile

    compare = _compare()
    data, count = Path(params["data"]), params["trials"]
    windows = pq.read_table(trials_file(data, "current"))
    matched = params["reference"] == "matched"
    if matched:
        references = pq.read_table(trials_file(data, "reference"))
    else:
        full = ReferenceProfile.from_json(json.loads(profile_file(data, ROWS).read_text()))
    flagged, elapsed = [], 0.0
    for trial in range(count):
        if matched:
            built = build_profile(references.slice(trial * TRIAL_ROWS, TRIAL_ROWS))
            profile = ReferenceProfile.from_json(json.loads(json.dumps(built.to_json())))
        else:
            profile = full
        window = windows.slice(trial * TRIAL_ROWS, TRIAL_ROWS)
        start = time.perf_counter()
        flagged.append(_flagged(compare(profile, window))[0])
        elapsed += time.perf_counter() - start
    return {"flagged": flagged, "seconds_per_trial": elapsed / count}


def _profiles(args: Any) -> Result:
    """Build and store the reference profiles the reports load (full, then matched sizes)."""
    profiles = {}
    for rows in [ROWS, *(r for r in SIZES["quick" if args.quick else "full"] if r != ROWS)]:
        log("skewless", f"profile of {size_label(rows)} reference rows")
        profile = run_task(SCRIPT, "profile", {"data": str(args.data), "rows": rows})
        profiles[size_label(rows)] = rounded(profile)
    return {"profiles": profiles}


def orchestrate(args: Any) -> None:
    """Measure the whole skewless side and write its JSON document."""
    if importlib.util.find_spec(DRIFT_MODULE) is None:
        sys.exit(f"the skewless side needs {DRIFT_MODULE} (compare), which this checkout does "
                 "not have yet; run the other sides with --only evidently / --only scipy")
    result: Result = {"tool": f"skewless {version('skewless')}",
                      "packages": {name: version(name)
                                   for name in ("skewless", "numpy", "pyarrow")}}
    result |= measure_side("skewless", SCRIPT, args, extra=lambda: _profiles(args))
    write_result(args.out, result)
    log("skewless", f"results written to {args.out}")


if __name__ == "__main__":
    task_main({"profile": profile_task, "report": report_task, "trials": trials_task},
              orchestrate, "skewless side of the monitoring benchmark")
