"""Run the whole feature-store benchmark with one command and print the results.

    .venv/bin/python benchmarks/run.py               # full size: 1M x 3M rows, 10M events
    .venv/bin/python benchmarks/run.py --scale 0.01  # quick smoke run

Steps (the first two are skipped when already done):

1. create ``benchmarks/.venv-feast`` from ``requirements-feast.txt`` (Feast
   needs ``pandas<3``, so it gets its own virtual environment);
2. generate the data set with ``data.py`` (``benchmarks/.data`` at full size,
   ``benchmarks/.data/scale-<s>`` otherwise);
3. run ``feast_bench.py`` in the Feast environment and ``skewless_bench.py``
   in this one, each writing a JSON document with the same keys into the data
   folder (``--only SIDE`` runs one side and reuses the other's last results);
4. print the comparison as Markdown tables, and write both JSON documents
   with a description of the machine to
   ``benchmarks/results/feature_store-<date>[-scale<s>].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import venv
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from data import DEFAULT_DATA_DIR, generate, is_generated, row_counts

HERE = Path(__file__).resolve().parent
FEAST_VENV = HERE / ".venv-feast"
FEAST_PYTHON = FEAST_VENV / "bin" / "python"
FEAST_REQUIREMENTS = HERE / "requirements-feast.txt"
FEAST_VERSION = "0.67.0"
RESULTS_DIR = HERE / "results"
SIDES = {  # side -> (bench script, interpreter)
    "feast": (HERE / "feast_bench.py", FEAST_PYTHON),
    "skewless": (HERE / "skewless_bench.py", Path(sys.executable)),
}

Doc = dict[str, Any]


def ensure_feast_venv() -> None:
    """Create the Feast virtual environment unless it already has the pinned Feast."""
    if FEAST_PYTHON.exists():
        probe = [
            str(FEAST_PYTHON),
            "-c",
            "import importlib.metadata as m; print(m.version('feast'))",
        ]
        installed = subprocess.run(
            probe, capture_output=True, text=True, check=False
        ).stdout.strip()
        if installed == FEAST_VERSION:
            return
    print(f"creating {FEAST_VENV} with feast {FEAST_VERSION}", flush=True)
    venv.create(FEAST_VENV, clear=True, with_pip=True)
    install = [str(FEAST_PYTHON), "-m", "pip", "install", "--quiet", "-r", str(FEAST_REQUIREMENTS)]
    subprocess.run(install, check=True)


def data_dir_for(scale: float) -> Path:
    """Default data folder for a scale: ``.data`` at full size, a sub-folder otherwise."""
    return DEFAULT_DATA_DIR if scale == 1 else DEFAULT_DATA_DIR / f"scale-{scale:g}"


def side_results(data_dir: Path, side: str) -> Path:
    """Where a side's last JSON results for this data set are kept."""
    return data_dir / f"results-{side}.json"


def run_side(side: str, data_dir: Path) -> Doc:
    """Run one side's bench script in its interpreter and load its JSON results."""
    script, python = SIDES[side]
    out = side_results(data_dir, side)
    command = [str(python), str(script), "--data", str(data_dir), "--out", str(out)]
    subprocess.run(command, check=True)
    result: Doc = json.loads(out.read_text())
    return result


def collect_sides(names: Iterable[str], chosen: list[str], previous: Callable[[str], Path],
                  run: Callable[[str], Doc]) -> dict[str, Doc]:
    """Run the ``chosen`` sides; reuse the last results of the others where there are some."""
    results = {}
    for side in names:
        earlier = previous(side)
        if side in chosen:
            results[side] = run(side)
        elif earlier.exists():
            print(f"{side}: reusing the results of an earlier run, {earlier}", flush=True)
            results[side] = json.loads(earlier.read_text())
    return results


def collect(sides: list[str], data_dir: Path) -> dict[str, Doc]:
    """Run ``sides``; reuse the last results of the others when the data folder has them."""
    return collect_sides(SIDES, sides, lambda side: side_results(data_dir, side),
                         lambda side: run_side(side, data_dir))


def _fmt(value: Any) -> str:
    """Format a table cell: thousands separators, 2 decimals or 3 significant digits.

    ``-`` stands for a missing value.
    """
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int) or value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value < 1 else f"{value:.2f}"


def _table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    """Render one Markdown table with a ``###`` title; nothing when there are no rows."""
    if not rows:
        return ""
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _per_store(sides: dict[str, Doc], key: str, columns: list[str]) -> list[list[Any]]:
    """One table row per tool and store in ``side[key]``, with that result's ``columns``."""
    return [
        [side["tool"], store, *(result.get(column) for column in columns)]
        for side in sides.values()
        for store, result in (side.get(key) or {}).items()
    ]


def render(doc: Doc) -> str:
    """Render the comparison tables (Markdown) of a results document."""
    rows, sides = doc["rows"], doc["results"]
    joined = f"{rows['entities']:,} entity rows x"
    historical_header = [
        "tool",
        "offline store",
        "seconds",
        "peak MB",
        "rows returned",
        "rows with values",
    ]
    historical_columns = ["seconds", "peak_mb", "rows", "rows_with_values"]
    online = [
        [side["tool"], store, batch, *(r.get(c) for c in ("p50_ms", "p99_ms", "calls", "hit_rate"))]
        for side in sides.values()
        for store, batches in (side.get("online") or {}).items()
        for batch, r in batches.items()
    ]
    tables = [
        _table(
            "Startup (median of 5 fresh processes)",
            ["tool", "import s", "import + open store s"],
            [
                [side["tool"], side.get("import_s"), side.get("cold_start_s")]
                for side in sides.values()
            ],
        ),
        _table(
            f"Historical retrieval: {joined} {rows['snapshots']:,} snapshot rows, 10 features",
            historical_header,
            _per_store(sides, "historical_fields", historical_columns),
        ),
        _table(
            f"Historical aggregations: {joined} {rows['events']:,} events, 9 window aggregations",
            historical_header,
            _per_store(sides, "historical_aggregations", historical_columns),
        ),
        _table(
            f"Materialization: {rows['snapshots']:,} snapshot rows into the online store",
            ["tool", "online store", "seconds", "source rows/s", "peak MB"],
            _per_store(sides, "materialize", ["seconds", "rows_per_s", "peak_mb"]),
        ),
        _table(
            "Online reads: get_online_features, 10 features, one process",
            ["tool", "online store", "entities per call", "p50 ms", "p99 ms", "calls", "hit rate"],
            online,
        ),
    ]
    check = sides.get("skewless", {}).get("cross_check")
    if check:
        columns = ["rows_compared", "cells_compared", "mismatching_cells", "rows_missing"]
        tables.append(
            _table(
                f"Cross-check: skewless vs {check['reference']} (floats equal to 1e-9)",
                [column.replace("_", " ") for column in columns],
                [[check[column] for column in columns]],
            )
        )
    return "\n\n".join(table for table in tables if table)


def machine() -> Doc:
    """Describe the machine the benchmark ran on."""
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(memory_gib, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg()[0],  # other work on the machine skews timings
    }


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Feature-store benchmark: skewless vs Feast.")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="shrink every row count (default 1.0)"
    )
    parser.add_argument(
        "--data", type=Path, help="data folder (default: benchmarks/.data[/scale-<s>])"
    )
    parser.add_argument(
        "--only",
        choices=sorted(SIDES),
        help="run one side only and reuse the other side's last results on the same data",
    )
    args = parser.parse_args()
    data_dir = (args.data or data_dir_for(args.scale)).resolve()

    if args.only != "skewless":
        ensure_feast_venv()
    if not is_generated(data_dir, args.scale):
        print(f"generating data (scale {args.scale:g}) into {data_dir}", flush=True)
        generate(data_dir, args.scale)
        for side in SIDES:  # measured on an older data set
            side_results(data_dir, side).unlink(missing_ok=True)

    started, host = datetime.now(UTC), machine()
    results = collect([args.only] if args.only else list(SIDES), data_dir)
    doc = {
        "benchmark": "feature_store",
        "date": started.isoformat(timespec="seconds"),
        "scale": args.scale,
        "rows": row_counts(args.scale),
        "machine": host,
        "results": results,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    suffix = "" if args.scale == 1 else f"-scale{args.scale:g}"
    out = RESULTS_DIR / f"feature_store-{started:%Y-%m-%d}{suffix}.json"
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print("\n" + render(doc) + f"\n\nresults written to {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
