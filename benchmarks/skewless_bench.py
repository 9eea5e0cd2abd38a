"""skewless side of the feature-store benchmark.

Runs in the project's own environment::

    .venv/bin/python benchmarks/skewless_bench.py --data benchmarks/.data --out skewless.json

It builds skewless projects in a temporary folder over the Parquet files of
``data.py`` and measures, each in a fresh child process (see ``harness.py``),
the same workload as ``feast_bench.py`` and under the same JSON keys:

* ``import skewless``, and ``import skewless`` + ``FeatureStore(project)``
  (``cold_start_s``): wall time, median of 5 processes;
* historical retrieval of every entity row x all snapshot rows, 10 features,
  with ``as_of_created=False`` (Feast's rule for the created column);
* historical aggregations: every entity row x all events, count/sum/mean of
  ``amount`` over 1 h, 7 d and 30 d windows (Feast 0.67's local compute
  engine rejects time-window aggregations);
* materialization of January 2024 into the SQLite and Redis online stores
  (Redis database 14 only, flushed before and after);
* ``get_online_features(...).to_dict()`` latency, 1 and 100 entities, p50/p99.

When the Feast side has left ``feast_duckdb_historical.parquet`` in the data
folder, the snapshot features are compared with it cell by cell
(``cross_check``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from harness import (
    FEAST_HISTORICAL,
    FEATURE_REFS,
    FEATURE_VIEW,
    FEATURES,
    MATERIALIZE_END,
    MATERIALIZE_START,
    ONLINE_NOW,
    REDIS_URL,
    TTL_DAYS,
    EntityRows,
    Params,
    Result,
    materialize_and_read,
    measure_online,
    median_seconds,
    orchestrator_arguments,
    read_manifest,
    run_task,
    task_main,
    timed_run,
)

if TYPE_CHECKING:
    import skewless as sk

SCRIPT = Path(__file__).resolve()
EVENTS_VIEW = "user_events"
AGGREGATIONS = [(fn, window) for fn in ("count", "sum", "mean") for window in ("1h", "7d", "30d")]
FLOAT_TOLERANCE = 1e-9
ONLINE_STORES = {
    "sqlite": "{type: sqlite, path: online.sqlite}",
    "redis": f'{{type: redis, url: "{REDIS_URL}", key_prefix: bench}}',
}
VERSIONS_OF = ("skewless", "duckdb", "pyarrow", "pandas")
LOW_MEMORY = "low-memory"
LOW_MEMORY_LIMIT = "150MB"
"""DuckDB's memory limit for the out-of-core run: well under the size of the snapshots."""


def definitions(data_dir: Path) -> tuple[sk.Entity, sk.FeatureView, sk.FeatureView]:
    """The benchmark's entity and feature views over the generated Parquet files."""
    import skewless as sk

    user = sk.Entity("user_id", dtype="int64")
    snapshots = sk.FeatureView(
        FEATURE_VIEW,
        entities=[user],
        source=sk.Source(
            str(data_dir / "snapshots.parquet"), timestamp="event_timestamp", created="created"
        ),
        fields=[sk.Field(name, "float64") for name in FEATURES],
        ttl=f"{TTL_DAYS}d",
    )
    events = sk.FeatureView(
        EVENTS_VIEW,
        entities=[user],
        source=sk.Source(str(data_dir / "events.parquet"), timestamp="event_timestamp"),
        aggregations=[sk.Aggregation("amount", fn, window) for fn, window in AGGREGATIONS],
    )
    return user, snapshots, events


def task_setup(params: Params) -> Result:
    """Create and ``apply`` one skewless project per online store."""
    import skewless as sk

    objects = definitions(Path(params["data"]))
    projects = {name: ("{type: duckdb}", store) for name, store in ONLINE_STORES.items()}
    projects[LOW_MEMORY] = (f"{{type: duckdb, memory_limit: {LOW_MEMORY_LIMIT}}}",
                            ONLINE_STORES["sqlite"])
    for name, (engine, online_store) in projects.items():
        project = Path(params["root"]) / name
        project.mkdir(parents=True)
        (project / "skewless.yaml").write_text(
            "project: bench\n"
            f"offline_engine: {engine}\n"
            f"online_store: {online_store}\n"
            'metadata: {url: "sqlite:///metadata.sqlite"}\n'
        )
        with sk.FeatureStore(project) as store:
            store.apply(objects)
    return {}


def task_import(params: Params) -> Result:
    """Time ``import skewless`` in this (fresh) process."""
    start = time.perf_counter()
    import skewless  # noqa: F401  (the import is what is measured)

    return {"seconds": time.perf_counter() - start}


def task_cold_start(params: Params) -> Result:
    """Time ``import skewless`` plus opening a ``FeatureStore`` in this (fresh) process."""
    start = time.perf_counter()
    import skewless as sk

    sk.FeatureStore(params["project"])
    return {"seconds": time.perf_counter() - start}


def task_historical(params: Params) -> Result:
    """Point-in-time retrieval of every entity row; optionally save the result.

    ``params["view"]`` picks the snapshot fields or the event aggregations.
    """
    import pyarrow.parquet as pq

    import skewless as sk

    if params["view"] == FEATURE_VIEW:
        features = FEATURE_REFS
    else:
        _, _, events = definitions(Path(params["data"]))
        features = [f"{EVENTS_VIEW}:{name}" for name in events.feature_names]
    store = sk.FeatureStore(params["project"])
    entities = pq.read_table(params["entities"])

    start = time.perf_counter()
    result = store.get_historical_features(entities, features,
                                           as_of_created=params.get("as_of_created", False))
    table = result.to_arrow()
    seconds = time.perf_counter() - start

    if params.get("save_to"):
        pq.write_table(table.select(["user_id", "event_timestamp", *FEATURES]), params["save_to"])
    first = features[0].split(":")[1]
    return {
        "seconds": seconds,
        "rows": table.num_rows,
        "rows_with_values": table.num_rows - table[first].null_count,
    }


def task_materialize(params: Params) -> Result:
    """Materialize the snapshot view over the window into the project's online store."""
    import skewless as sk

    store = sk.FeatureStore(params["project"])
    start = time.perf_counter()
    store.materialize(MATERIALIZE_START, MATERIALIZE_END, views=[FEATURE_VIEW], progress=False)
    return {"seconds": time.perf_counter() - start}


def task_online(params: Params) -> Result:
    """Time ``get_online_features(...).to_dict()`` over the shared online workload."""
    import skewless as sk

    store = sk.FeatureStore(params["project"])

    def read(rows: EntityRows) -> dict[str, list[object]]:
        return store.get_online_features(FEATURE_REFS, entity_rows=rows, now=ONLINE_NOW).to_dict()

    return measure_online(read, params["users"])


def task_cross_check(params: Params) -> Result:
    """Compare skewless's snapshot features with Feast's DuckDB-store result, cell by cell.

    Rows are matched by entity-row position. Key cells must be equal; feature
    cells match when both are null or both differ by at most ``FLOAT_TOLERANCE``.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    ours = pq.read_table(params["result"])
    reference = pq.read_table(params["reference"])
    reference_rows = reference.num_rows
    positions = reference["entity_row"].to_numpy()
    matched = np.unique(positions[(positions >= 0) & (positions < ours.num_rows)])
    reference = reference.filter(pc.is_in(reference["entity_row"], pa.array(matched)))
    reference = reference.sort_by("entity_row")
    aligned = ours.take(pa.array(matched))

    mismatches = 0
    for name in ("user_id", "event_timestamp"):
        left, right = aligned[name], reference[name].cast(aligned[name].type)
        mismatches += pc.sum(pc.invert(pc.equal(left, right))).as_py() or 0
    for name in FEATURES:
        left = aligned[name].to_numpy(zero_copy_only=False)
        right = reference[name].to_numpy(zero_copy_only=False)
        both_null = np.isnan(left) & np.isnan(right)
        close = np.abs(left - right) <= FLOAT_TOLERANCE
        mismatches += int(np.count_nonzero(~(both_null | close)))
    return {
        "reference": "feast duckdb store",
        "rows_compared": len(matched),
        "cells_compared": len(matched) * (2 + len(FEATURES)),
        "mismatching_cells": mismatches,
        "rows_missing": ours.num_rows - len(matched) + reference_rows - len(matched),
    }


TASKS = {
    "setup": task_setup,
    "import": task_import,
    "cold_start": task_cold_start,
    "historical": task_historical,
    "materialize": task_materialize,
    "online": task_online,
    "cross_check": task_cross_check,
}


def run_all(data_dir: Path) -> Result:
    """Run every skewless measurement and return the results document."""
    rows = read_manifest(data_dir)["rows"]
    root = Path(tempfile.mkdtemp(prefix="skewless-bench-"))
    project = str(root / "sqlite")
    entities = str(data_dir / "entities.parquet")
    try:
        print("skewless: building projects", flush=True)
        run_task(SCRIPT, "setup", {"root": str(root), "data": str(data_dir)})
        print("skewless: import and cold start", flush=True)
        import_s = median_seconds(SCRIPT, "import", {})
        cold_start_s = median_seconds(SCRIPT, "cold_start", {"project": project})

        print("skewless: historical retrieval, 10 snapshot fields", flush=True)
        saved = root / "historical.parquet"
        params = {"project": project, "entities": entities, "data": str(data_dir)}
        fields = timed_run(
            SCRIPT, "historical", {**params, "view": FEATURE_VIEW, "save_to": str(saved)}
        )
        print("skewless: historical retrieval, skewless's default created-time rule", flush=True)
        as_of_created = timed_run(SCRIPT, "historical", {**params, "view": FEATURE_VIEW,
                                                         "as_of_created": True})
        print(f"skewless: historical retrieval, DuckDB limited to {LOW_MEMORY_LIMIT}", flush=True)
        low_memory = timed_run(SCRIPT, "historical", {
            **params, "view": FEATURE_VIEW, "project": str(root / LOW_MEMORY)})
        print("skewless: historical retrieval, 9 event aggregations", flush=True)
        aggregations = timed_run(SCRIPT, "historical", {**params, "view": EVENTS_VIEW})
        reference = data_dir / FEAST_HISTORICAL
        cross_check = None
        if reference.exists():
            print("skewless: cross-check against Feast's DuckDB-store result", flush=True)
            cross_check = run_task(
                SCRIPT, "cross_check", {"result": str(saved), "reference": str(reference)}
            )
            cross_check.pop("peak_mb")

        materialize, online = {}, {}
        for store in ONLINE_STORES:
            print(f"skewless: materialization and online reads, {store} online store", flush=True)
            params = {"project": str(root / store)}
            materialize[store], online[store] = materialize_and_read(SCRIPT, store, params, rows)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "tool": f"skewless {version('skewless')}",
        "versions": {name: version(name) for name in VERSIONS_OF},
        "import_s": import_s,
        "cold_start_s": cold_start_s,
        "historical_fields": {
            "duckdb": fields,
            "duckdb, as_of_created=True": as_of_created,
            f"duckdb, memory_limit {LOW_MEMORY_LIMIT}": low_memory,
        },
        "historical_aggregations": {"duckdb": aggregations},
        "materialize": materialize,
        "online": online,
        "cross_check": cross_check,
    }


def orchestrate(argv: list[str]) -> None:
    """Run all skewless measurements and write the JSON results file."""
    args = orchestrator_arguments(argv, "skewless side of the feature-store benchmark.")
    args.out.write_text(json.dumps(run_all(args.data), indent=2))
    print(f"skewless: results written to {args.out}", flush=True)


if __name__ == "__main__":
    task_main(TASKS, orchestrate)
