"""Run the monitoring (data drift) benchmark - skewless, Evidently, a numpy/scipy script - with
one command and print the results.

    .venv/bin/python benchmarks/monitoring_run.py                  # 1k, 100k and 1M rows
    .venv/bin/python benchmarks/monitoring_run.py --quick          # 1k and 100k rows, 20 trials
    .venv/bin/python benchmarks/monitoring_run.py --only evidently # reuse the others' last results

Steps:

1. create ``benchmarks/.venv-evidently`` from ``requirements-evidently.txt`` unless it already
   has the pinned Evidently (Evidently and its dependencies stay out of the project's
   environment);
2. generate the data once with ``monitoring/data.py`` into ``benchmarks/.data/monitoring``
   (1M reference and 1M current rows, 20 numeric and 5 categorical columns, drift in 6; the
   1k and 100k windows; the no-drift trial windows); later runs reuse it;
3. run ``monitoring/evidently_bench.py`` in that environment and ``monitoring/skewless_bench.py``
   and ``monitoring/scipy_bench.py`` in this one, each writing a JSON document with the same
   keys into ``benchmarks/.data/monitoring/`` (``--only SIDE`` runs one side and reuses the
   others' last results of the same size);
4. print the comparison and the targets as Markdown tables and write them, with every side's
   document and a description of the machine, to
   ``benchmarks/results/monitoring-<date>[-quick].json``.

Every side and every measurement runs in a child process that is stopped when this command
stops (SIGTERM, then SIGKILL to its process group); nothing reaches the network except pip,
installing the pinned Evidently into its environment.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import venv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitoring.workload import (
    DATA_DIR,
    DRIFT,
    REFERENCES,
    ROWS,
    SIZES,
    TRIAL_ROWS,
    TRIALS,
    size_label,
    stop_on_sigterm,
)

# The feature-store benchmark's table renderer and machine description, shared as they are.
from run import _table, collect_sides, machine
from serving_run import cpu_model

HERE = Path(__file__).resolve().parent
MONITORING = HERE / "monitoring"
EVIDENTLY_VENV = HERE / ".venv-evidently"
EVIDENTLY_PYTHON = EVIDENTLY_VENV / "bin" / "python"
EVIDENTLY_REQUIREMENTS = HERE / "requirements-evidently.txt"
EVIDENTLY_VERSION = "0.7.23"
RESULTS_DIR = HERE / "results"
SIDES = {  # side -> (bench script, interpreter), in table order
    "skewless": (MONITORING / "skewless_bench.py", Path(sys.executable)),
    "evidently": (MONITORING / "evidently_bench.py", EVIDENTLY_PYTHON),
    "scipy": (MONITORING / "scipy_bench.py", Path(sys.executable)),
}
DRIFT_MODULE = "skewless.monitoring._drift"
TARGET_SECONDS = 3.0
TARGET_PEAK_MB = 500.0
ISSUE_FIGURES = "Evidently 0.7 about 106 s and 1.9 GB, a numpy/scipy script about 6 s"

Doc = dict[str, Any]


def ensure_evidently_venv() -> None:
    """Create the Evidently virtual environment unless it already has the pinned Evidently."""
    if EVIDENTLY_PYTHON.exists():
        probe = "import importlib.metadata as m; print(m.version('evidently'))"
        installed = subprocess.run([str(EVIDENTLY_PYTHON), "-c", probe], capture_output=True,
                                   text=True, check=False)
        if installed.stdout.strip() == EVIDENTLY_VERSION:
            return
    print(f"creating {EVIDENTLY_VENV} with evidently {EVIDENTLY_VERSION}", flush=True)
    venv.create(EVIDENTLY_VENV, clear=True, with_pip=True)
    pip = [str(EVIDENTLY_PYTHON), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "-r", str(EVIDENTLY_REQUIREMENTS)], check=True)


def check_skewless_environment() -> None:
    """Stop with a clear message when this checkout has no drift comparison yet."""
    if importlib.util.find_spec("skewless") is None:
        sys.exit(f"the skewless side needs the project installed in {sys.prefix} (`make`)")
    if importlib.util.find_spec(DRIFT_MODULE) is None:
        sys.exit(f"the skewless side needs {DRIFT_MODULE} (compare), which this checkout does "
                 "not have yet; measure the others with --only evidently and --only scipy")


def ensure_data(data_dir: Path) -> None:
    """Generate the data set unless ``data_dir`` holds it (with enough no-drift trials)."""
    command = [sys.executable, str(MONITORING / "data.py"), "--data", str(data_dir),
               "--trials", str(TRIALS["full"])]
    _run_child(command)


def side_results(data_dir: Path, side: str, quick: bool) -> Path:
    """Where a side's last JSON results of this size are kept."""
    return data_dir / f"results-{side}{'-quick' if quick else ''}.json"


def _run_child(command: list[str]) -> None:
    """Run a child in its own process group; stop it (and its tasks) if this process stops."""
    proc = subprocess.Popen(command, start_new_session=True)
    try:
        code = proc.wait()
    except BaseException:
        _stop(proc)
        raise
    if code != 0:
        raise SystemExit(f"{Path(command[1]).name} failed with exit code {code}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a side script then kills its own measurement processes), then SIGKILL."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    if proc.poll() is None:  # still running: not yet waited for, so its group is still its own
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_side(side: str, data_dir: Path, quick: bool) -> Doc:
    """Run one side's bench script in its interpreter and load its JSON results."""
    script, python = SIDES[side]
    out = side_results(data_dir, side, quick)
    _run_child([str(python), str(script), "--data", str(data_dir), "--out", str(out),
                *(["--quick"] if quick else [])])
    result: Doc = json.loads(out.read_text())
    return result


# --- the tables ---------------------------------------------------------------------------------


def _names(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names) if names else "-"


def _false_alarm_cell(side: Doc, reference: str) -> str:
    trials = side.get("false_alarms", {}).get(reference)
    if not trials:
        return "-"
    return f"{trials['trials_with_false_alarm']}/{trials['trials']}"


def report_rows(sides: dict[str, Doc], reference: str) -> list[list[Any]]:
    """One row per tool and window size compared with ``reference``."""
    rows = []
    for side in sides.values():
        for report in sorted(_reports(side, reference), key=lambda r: r["rows"]):
            rows.append([
                side["tool"], size_label(report["rows"]), report["seconds"], report["peak_mb"],
                report["flagged_count"], "yes" if report["exact"] else "no",
                _names(report["missed"]), _names(report["false_flags"]),
                _false_alarm_cell(side, reference) if report["rows"] == TRIAL_ROWS else "",
            ])
    return rows


def _report(side: Doc | None, reference: str, rows: int) -> Doc | None:
    if not side:
        return None
    found: Doc | None = side.get("reports", {}).get(f"{reference}-{size_label(rows)}")
    return found


def _reports(side: Doc | None, reference: str) -> list[Doc]:
    """A side's reports against ``reference`` (the matched reference of 1M rows is the full one)."""
    return [r for r in (side or {}).get("reports", {}).values()
            if r["reference"] == reference or (reference == "matched" and r["rows"] == ROWS)]


def target_rows(sides: dict[str, Doc], quick: bool) -> list[list[Any]]:
    """The issue's targets for skewless, measured."""
    ours = sides.get("skewless")
    rows: list[list[Any]] = []
    largest = max(SIZES["quick" if quick else "full"])
    report = _report(ours, "full", largest)
    label = f"{size_label(largest)}-row report"
    if largest != ROWS:
        label += f" (a quick run: the target is for {size_label(ROWS)} rows)"
    others = "; ".join(
        f"{sides[name]['tool']}: {r['seconds']:.1f} s, {r['peak_mb']:,.0f} MB"
        for name in ("evidently", "scipy") if (r := _report(sides.get(name), "full", largest)))
    if report:
        rows.append([f"{label}, s", f"< {TARGET_SECONDS:g}", report["seconds"],
                     _met(report["seconds"] < TARGET_SECONDS), others or "-"])
        rows.append([f"{label}, peak MB", f"< {TARGET_PEAK_MB:g}", report["peak_mb"],
                     _met(report["peak_mb"] < TARGET_PEAK_MB), ""])
    else:
        rows.append([label, f"< {TARGET_SECONDS:g} s, < {TARGET_PEAK_MB:g} MB",
                     None, "not measured", others or "-"])
    for reference in REFERENCES:
        reports = _reports(ours, reference)
        exact = sum(r["exact"] for r in reports)
        rows.append([f"exact detection, every size, {reference} reference", "all exact",
                     f"{exact}/{len(reports)}" if reports else None,
                     _met(bool(reports) and exact == len(reports)) if reports else "not measured",
                     "; ".join(f"{s['tool']}: {sum(r['exact'] for r in rs)}/{len(rs)}"
                               for name, s in sides.items() if name != "skewless"
                               for rs in [_reports(s, reference)] if rs)])
        trials = (ours or {}).get("false_alarms", {}).get(reference)
        rows.append([f"no-drift {size_label(TRIAL_ROWS)} windows with a false alarm, "
                     f"{reference} reference", "as few as possible (no number in the issue)",
                     f"{trials['trials_with_false_alarm']}/{trials['trials']}" if trials else None,
                     "-" if trials else "not measured",
                     "; ".join(f"{s['tool']}: {_false_alarm_cell(s, reference)}"
                               for name, s in sides.items() if name != "skewless")])
    return rows


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def render(doc: Doc) -> str:
    """Render the comparison tables (Markdown) of a results document."""
    sides = doc["results"]
    drift = ", ".join(f"`{name}` ({what})" for name, what in DRIFT.items())
    header = ["tool", "rows", "seconds", "peak MB", "flagged", "exact", "missed", "false flags",
              f"no-drift {size_label(TRIAL_ROWS)}: trials with a false alarm"]
    tables = [
        _table(f"Data drift report: window of N rows against the {size_label(ROWS)}-row "
               "reference (20 numeric + 5 categorical columns, drift in 6)",
               header, report_rows(sides, "full")),
        _table("Data drift report: N reference rows against N window rows", header,
               report_rows(sides, "matched")),
        _table(f"No-drift windows of {TRIAL_ROWS:,} rows: every flag is a false alarm",
               ["tool", "reference", "trials", "trials with a false alarm", "share",
                "column flags (of trials x 25)", "most flagged", "s per report"],
               [[s["tool"], reference, t["trials"], t["trials_with_false_alarm"],
                 t["false_alarm_share"], t["false_column_flags"],
                 ", ".join(f"{name} {count}" for name, count in list(t["by_column"].items())[:3])
                 or "-", t["seconds_per_trial"]]
                for s in sides.values()
                for reference, t in s.get("false_alarms", {}).items()]),
        _table("Report time split (fresh process each): import, reading the inputs, comparing",
               ["tool", "reference", "rows", "import s", "read s", "compare s", "report s"],
               [[s["tool"], r["reference"], size_label(r["rows"]), r["import_s"], r["load_s"],
                 r["compare_s"], r["seconds"]]
                for s in sides.values() for r in s.get("reports", {}).values()]),
        _table("skewless reference profiles (built once, at training time; not in the report time)",
               ["reference rows", "read s", "build_profile s", "write JSON s", "JSON KB",
                "peak MB"],
               [[size_label(p["rows"]), p["read_s"], p["build_s"], p["write_s"], p["json_kb"],
                 p["peak_mb"]]
                for p in sides.get("skewless", {}).get("profiles", {}).values()]),
        _table("Targets (skewless; the issue measured " + ISSUE_FIGURES + ")",
               ["target", "wanted", "measured", "met", "others"],
               target_rows(sides, doc["quick"])),
    ]
    methods = sides.get("evidently", {}).get("reports", {})
    notes = [f"drift injected: {drift}; the other 19 columns are unchanged."]
    for key in ("matched-1k", "full-1k"):
        if key in methods:
            chosen = sorted(set(methods[key].get("methods", {}).values()))
            notes.append(f"Evidently's default tests, {key.replace('-', ' reference, ')} "
                         f"rows: {', '.join(chosen)}.")
    host = doc["machine"]
    notes.append(f"machine: {host['cpus']} CPUs ({host.get('cpu_model')}), "
                 f"{host['memory_gib']} GiB; load average {host['load_average_at_start']:.2f} "
                 f"at the start, {host.get('load_average_at_end', 0):.2f} at the end.")
    text = "\n\n".join(table for table in tables if table)
    return text + "\n\n" + "\n".join(f"- {note}" for note in notes)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description="Monitoring (data drift) benchmark: skewless vs Evidently vs numpy/scipy.")
    parser.add_argument("--quick", action="store_true",
                        help=f"windows of {', '.join(map(size_label, SIZES['quick']))} rows, "
                        f"{TRIALS['quick']} no-drift trials")
    parser.add_argument("--only", choices=sorted(SIDES),
                        help="run one side, reuse the others' last results")
    parser.add_argument("--data", type=Path, default=DATA_DIR,
                        help=f"data folder (default {DATA_DIR.relative_to(HERE.parent)})")
    args = parser.parse_args()
    data_dir = args.data.resolve()
    sides = [args.only] if args.only else list(SIDES)

    stop_on_sigterm()
    if "skewless" in sides:
        check_skewless_environment()
    if "evidently" in sides:
        ensure_evidently_venv()
    ensure_data(data_dir)

    started, host = datetime.now(UTC), machine()
    host["cpu_model"] = cpu_model()
    results = collect_sides(SIDES, sides, lambda side: side_results(data_dir, side, args.quick),
                            lambda side: run_side(side, data_dir, args.quick))
    host["load_average_at_end"] = os.getloadavg()[0]
    doc = {
        "benchmark": "monitoring",
        "date": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "rows": {"reference": ROWS, "current": ROWS, "windows": SIZES["quick" if args.quick
                                                                        else "full"]},
        "drift": DRIFT,
        "machine": host,
        "results": results,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"monitoring-{started:%Y-%m-%d}{'-quick' if args.quick else ''}.json"
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print("\n" + render(doc) + f"\n\nresults written to {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
