"""Feast side of the feature-store benchmark.

Runs inside ``benchmarks/.venv-feast`` (Feast pins ``pandas<3``, so it cannot
share the project's environment)::

    benchmarks/.venv-feast/bin/python benchmarks/feast_bench.py \\
        --data benchmarks/.data --out feast.json

It builds Feast repositories in a temporary folder over the Parquet files of
``data.py`` - entity ``user_id``, feature view ``user_snapshots`` (``f0``..``f9``,
ttl 2 days, ``created`` as the created-timestamp column) - and measures, each
in a fresh child process (see ``harness.py``):

* ``import feast``, and ``import feast`` + ``FeatureStore(repo)``: wall time,
  median of 5 processes;
* historical retrieval of every entity row x all snapshot rows, 10 features,
  with the file (Dask) and the DuckDB (ibis) offline stores: wall time, peak
  RSS, rows returned and rows that got feature values;
* materialization of January 2024 into the SQLite and the Redis online stores
  (Redis database 14 only, flushed before and after);
* ``get_online_features(...).to_dict()`` latency, 1 and 100 entities, p50/p99.

The DuckDB-store historical result is saved, in entity-row order, as
``feast_duckdb_historical.parquet`` in the data folder for the skewless side's
value cross-check.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path

from harness import (
    FEAST_HISTORICAL,
    FEATURE_REFS,
    FEATURE_VIEW,
    FEATURES,
    MATERIALIZE_END,
    MATERIALIZE_START,
    REDIS_DB,
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

SCRIPT = Path(__file__).resolve()
# One Feast repository per configuration, named after what it measures: (offline, online store).
# Materialization reads through Feast's default offline store, the file (Dask) one.
REPOS = {
    "file": ("file", "sqlite"),
    "duckdb": ("duckdb", "sqlite"),
    "sqlite": ("file", "sqlite"),
    "redis": ("file", "redis"),
}
VERSIONS_OF = ("feast", "duckdb", "ibis-framework", "dask", "pandas", "pyarrow")


def _feature_store_yaml(repo: Path, offline: str, online: str) -> str:
    """Return the ``feature_store.yaml`` text of one benchmark repository."""
    if online == "redis":
        online_store = f"  type: redis\n  connection_string: 127.0.0.1:6379,db={REDIS_DB}\n"
    else:
        online_store = f"  type: sqlite\n  path: {repo / 'online.db'}\n"
    return (
        "project: bench\n"
        "provider: local\n"
        f"registry: {repo / 'registry.db'}\n"
        f"offline_store:\n  type: {offline}\n"
        f"online_store:\n{online_store}"
        "entity_key_serialization_version: 3\n"
    )


def task_setup(params: Params) -> Result:
    """Create and ``apply`` one Feast repository per entry of ``REPOS``."""
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64

    user = Entity(name="user_id", join_keys=["user_id"], value_type=ValueType.INT64)
    snapshots = FeatureView(
        name=FEATURE_VIEW,
        entities=[user],
        ttl=timedelta(days=TTL_DAYS),
        schema=[Field(name=name, dtype=Float64) for name in FEATURES],
        source=FileSource(
            name="snapshots",
            path=params["snapshots"],
            timestamp_field="event_timestamp",
            created_timestamp_column="created",
        ),
        online=True,
    )
    for name, (offline, online) in REPOS.items():
        repo = Path(params["root"]) / name
        repo.mkdir(parents=True)
        (repo / "feature_store.yaml").write_text(_feature_store_yaml(repo, offline, online))
        FeatureStore(repo_path=str(repo)).apply([user, snapshots])
    return {}


def task_import(params: Params) -> Result:
    """Time ``import feast`` in this (fresh) process."""
    start = time.perf_counter()
    import feast  # noqa: F401  (the import is what is measured)

    return {"seconds": time.perf_counter() - start}


def task_cold_start(params: Params) -> Result:
    """Time ``import feast`` plus opening a ``FeatureStore`` in this (fresh) process."""
    start = time.perf_counter()
    from feast import FeatureStore

    FeatureStore(repo_path=params["repo"])
    return {"seconds": time.perf_counter() - start}


def task_historical(params: Params) -> Result:
    """Point-in-time join of every entity row; optionally save the result.

    An ``entity_row`` column (the row's position in ``entities.parquet``) is
    passed through Feast, whose DuckDB store does not keep the entity rows'
    order, so that the saved result can be put back in entity-row order.
    """
    import numpy as np
    import pandas as pd
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from feast import FeatureStore

    store = FeatureStore(repo_path=params["repo"])
    entity_df = pd.read_parquet(params["entities"])
    entity_df["entity_row"] = np.arange(len(entity_df), dtype=np.int64)

    start = time.perf_counter()
    table = store.get_historical_features(entity_df=entity_df, features=FEATURE_REFS).to_arrow()
    seconds = time.perf_counter() - start

    if params.get("save_to"):
        ordered = table.take(pc.sort_indices(table, [("entity_row", "ascending")]))
        columns = ["entity_row", "user_id", "event_timestamp", *FEATURES]
        pq.write_table(ordered.select(columns), params["save_to"])
    return {
        "seconds": seconds,
        "rows": table.num_rows,
        "rows_with_values": table.num_rows - table["f0"].null_count,
    }


def task_materialize(params: Params) -> Result:
    """Materialize the snapshot window into the repository's online store."""
    from feast import FeatureStore

    store = FeatureStore(repo_path=params["repo"])
    start = time.perf_counter()
    store.materialize(MATERIALIZE_START, MATERIALIZE_END)
    return {"seconds": time.perf_counter() - start}


def task_online(params: Params) -> Result:
    """Time ``get_online_features(...).to_dict()`` over the shared online workload."""
    from feast import FeatureStore

    store = FeatureStore(repo_path=params["repo"])

    def read(rows: EntityRows) -> dict[str, list[object]]:
        return store.get_online_features(features=FEATURE_REFS, entity_rows=rows).to_dict()

    return measure_online(read, params["users"])


TASKS = {
    "setup": task_setup,
    "import": task_import,
    "cold_start": task_cold_start,
    "historical": task_historical,
    "materialize": task_materialize,
    "online": task_online,
}


def run_all(data_dir: Path) -> Result:
    """Run every Feast measurement and return the results document."""
    rows = read_manifest(data_dir)["rows"]
    root = Path(tempfile.mkdtemp(prefix="feast-bench-"))
    snapshots = str(data_dir / "snapshots.parquet")
    try:
        print("feast: building repositories", flush=True)
        run_task(SCRIPT, "setup", {"root": str(root), "snapshots": snapshots})
        print("feast: import and cold start", flush=True)
        import_s = median_seconds(SCRIPT, "import", {})
        cold_start_s = median_seconds(SCRIPT, "cold_start", {"repo": str(root / "duckdb")})
        historical = {}
        for store in ("file", "duckdb"):
            print(f"feast: historical retrieval, {store} offline store", flush=True)
            params = {"repo": str(root / store), "entities": str(data_dir / "entities.parquet")}
            if store == "duckdb":
                params["save_to"] = str(data_dir / FEAST_HISTORICAL)
            historical[store] = timed_run(SCRIPT, "historical", params)
        materialize, online = {}, {}
        for store in ("sqlite", "redis"):
            print(f"feast: materialization and online reads, {store} online store", flush=True)
            params = {"repo": str(root / store)}
            materialize[store], online[store] = materialize_and_read(SCRIPT, store, params, rows)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "tool": f"feast {version('feast')}",
        "versions": {name: version(name) for name in VERSIONS_OF},
        "notes": {"materialize_offline_store": REPOS["sqlite"][0]},
        "import_s": import_s,
        "cold_start_s": cold_start_s,
        "historical_fields": historical,
        "materialize": materialize,
        "online": online,
    }


def orchestrate(argv: list[str]) -> None:
    """Run all Feast measurements and write the JSON results file."""
    args = orchestrator_arguments(argv, "Feast side of the feature-store benchmark.")
    args.out.write_text(json.dumps(run_all(args.data), indent=2))
    print(f"feast: results written to {args.out}", flush=True)


if __name__ == "__main__":
    task_main(TASKS, orchestrate)
