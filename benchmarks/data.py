"""Generate the feature-store benchmark data set (deterministic, seed 42).

Writes three Parquet files into a data folder (default ``benchmarks/.data``):

* ``snapshots.parquet`` - one row per user and day: 100,000 users x 30 daily
  snapshots, ``event_timestamp`` = 2024-01-01T00:00Z + d days + 0-3600 s,
  ``created`` = ``event_timestamp`` + 0-7200 s, float64 features ``f0``..``f9``.
* ``entities.parquet`` - 1,000,000 entity rows: ``user_id`` uniform in
  0..109,999 (about 9% of them have no feature rows at all) and
  ``event_timestamp`` uniform over 2024-01-01 .. 2024-02-01.
* ``events.parquet`` - 10,000,000 events: ``user_id`` uniform in 0..99,999,
  ``event_timestamp`` uniform over the same 31 days, ``amount`` lognormal.

All timestamps are tz-aware UTC with microsecond precision. ``--scale``
shrinks every row count proportionally (the 30 snapshot days stay), so
``--scale 0.01`` gives a quick smoke-test data set. The files are written in
chunks with a ``pyarrow.parquet.ParquetWriter`` so memory stays small.

Usage::

    python benchmarks/data.py [DATA_DIR] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SEED = 42
USERS = 100_000
SNAPSHOT_DAYS = 30
ENTITY_ROWS = 1_000_000
EVENT_ROWS = 10_000_000
UNKNOWN_USER_FRACTION = 0.1  # entity user ids go up to USERS * 1.1
FEATURES = [f"f{i}" for i in range(10)]
CHUNK_ROWS = 1_000_000

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND
START_US = int(np.datetime64("2024-01-01T00:00:00", "us").astype(np.int64))
SPAN_US = 31 * US_PER_DAY  # 2024-01-01 .. 2024-02-01
TIMESTAMP = pa.timestamp("us", tz="UTC")

DEFAULT_DATA_DIR = Path(__file__).resolve().parent / ".data"
MANIFEST = "manifest.json"

SNAPSHOT_SCHEMA = pa.schema(
    [("user_id", pa.int64()), ("event_timestamp", TIMESTAMP), ("created", TIMESTAMP)]
    + [(name, pa.float64()) for name in FEATURES]
)
ENTITY_SCHEMA = pa.schema([("user_id", pa.int64()), ("event_timestamp", TIMESTAMP)])
EVENT_SCHEMA = pa.schema(
    [("user_id", pa.int64()), ("event_timestamp", TIMESTAMP), ("amount", pa.float64())]
)


def row_counts(scale: float) -> dict[str, int]:
    """Return the row counts (users, entity rows, events...) for a scale factor."""
    users = max(1, round(USERS * scale))
    return {
        "users": users,
        "snapshot_days": SNAPSHOT_DAYS,
        "snapshots": users * SNAPSHOT_DAYS,
        "entities": max(1, round(ENTITY_ROWS * scale)),
        "entity_user_ids": round(users * (1 + UNKNOWN_USER_FRACTION)),
        "events": max(1, round(EVENT_ROWS * scale)),
    }


def _timestamps(micros: np.ndarray) -> pa.Array:
    """Turn int64 microseconds since the epoch into a UTC timestamp array."""
    return pa.array(micros, type=pa.int64()).cast(TIMESTAMP)


def _chunks(total: int) -> Iterator[int]:
    """Yield chunk sizes of at most ``CHUNK_ROWS`` that add up to ``total``."""
    for start in range(0, total, CHUNK_ROWS):
        yield min(CHUNK_ROWS, total - start)


def _snapshot_batches(rng: np.random.Generator, users: int) -> Iterator[pa.RecordBatch]:
    """Yield one record batch per snapshot day, every user once per day."""
    user_ids = np.arange(users, dtype=np.int64)
    for day in range(SNAPSHOT_DAYS):
        event_us = (
            START_US
            + day * US_PER_DAY
            + rng.integers(0, 3600 * US_PER_SECOND, users, endpoint=True)
        )
        created_us = event_us + rng.integers(0, 7200 * US_PER_SECOND, users, endpoint=True)
        columns = [pa.array(user_ids), _timestamps(event_us), _timestamps(created_us)]
        columns += [pa.array(rng.standard_normal(users)) for _ in FEATURES]
        yield pa.RecordBatch.from_arrays(columns, schema=SNAPSHOT_SCHEMA)


def _entity_batches(rng: np.random.Generator, rows: int, user_ids: int) -> Iterator[pa.RecordBatch]:
    """Yield entity-row batches: random users (some unknown) at random times."""
    for size in _chunks(rows):
        columns = [
            pa.array(rng.integers(0, user_ids, size, dtype=np.int64)),
            _timestamps(START_US + rng.integers(0, SPAN_US, size)),
        ]
        yield pa.RecordBatch.from_arrays(columns, schema=ENTITY_SCHEMA)


def _event_batches(rng: np.random.Generator, rows: int, users: int) -> Iterator[pa.RecordBatch]:
    """Yield raw-event batches: random users, random times, lognormal amounts."""
    for size in _chunks(rows):
        columns = [
            pa.array(rng.integers(0, users, size, dtype=np.int64)),
            _timestamps(START_US + rng.integers(0, SPAN_US, size)),
            pa.array(rng.lognormal(mean=3.0, sigma=1.0, size=size)),
        ]
        yield pa.RecordBatch.from_arrays(columns, schema=EVENT_SCHEMA)


def _write(path: Path, schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> None:
    """Stream ``batches`` into a Parquet file, one row group per batch."""
    tmp = path.with_suffix(".parquet.tmp")
    with pq.ParquetWriter(tmp, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    tmp.replace(path)


def is_generated(data_dir: Path, scale: float) -> bool:
    """Tell whether ``data_dir`` already holds a complete data set for ``scale``."""
    manifest = data_dir / MANIFEST
    if not manifest.exists():
        return False
    return json.loads(manifest.read_text()) == {
        "seed": SEED,
        "scale": scale,
        "rows": row_counts(scale),
    }


def generate(data_dir: Path, scale: float = 1.0) -> dict[str, int]:
    """Write the three Parquet files into ``data_dir`` and return the row counts.

    A ``manifest.json`` written last records the seed and scale, so a
    half-written folder is never mistaken for a complete one.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MANIFEST).unlink(missing_ok=True)
    counts = row_counts(scale)
    rng = np.random.default_rng(SEED)
    _write(data_dir / "snapshots.parquet", SNAPSHOT_SCHEMA, _snapshot_batches(rng, counts["users"]))
    _write(
        data_dir / "entities.parquet",
        ENTITY_SCHEMA,
        _entity_batches(rng, counts["entities"], counts["entity_user_ids"]),
    )
    _write(
        data_dir / "events.parquet",
        EVENT_SCHEMA,
        _event_batches(rng, counts["events"], counts["users"]),
    )
    (data_dir / MANIFEST).write_text(
        json.dumps({"seed": SEED, "scale": scale, "rows": counts}, indent=2)
    )
    return counts


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="shrink every row count (default 1.0)"
    )
    args = parser.parse_args()
    counts = generate(args.data_dir, args.scale)
    print(f"wrote {args.data_dir}: " + ", ".join(f"{k}={v:,}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
