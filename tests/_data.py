"""Generated test data shared by the store tests (deterministic for a given seed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import skewless as sk

START = datetime(2024, 1, 1, tzinfo=UTC)
UTC_US = pa.timestamp("us", tz="UTC")


def write_transactions(path: Path, *, rows: int = 3_000, users: int = 40, days: int = 20,
                       seed: int = 1) -> pa.Table:
    """Payments with late-arriving rows (created up to 3 days after the event) and nulls."""
    rng = np.random.default_rng(seed)
    seconds = rng.integers(0, days * 86_400, rows)
    event = np.datetime64(START.replace(tzinfo=None), "us") + seconds.astype("timedelta64[s]")
    delay = np.where(rng.random(rows) < 0.1, rng.integers(0, 3 * 86_400, rows),
                     rng.integers(0, 600, rows)).astype("timedelta64[s]")
    amount = np.round(rng.lognormal(3, 1, rows), 2)
    table = pa.table({
        "user_id": pa.array(rng.integers(0, users, rows), pa.int64()),
        "merchant": pa.array([f"m{i}" for i in rng.integers(0, 8, rows)]),
        "event_timestamp": pa.array(event, pa.timestamp("us")).cast(UTC_US),
        "created": pa.array(event + delay, pa.timestamp("us")).cast(UTC_US),
        "amount": pa.array(amount, mask=rng.random(rows) < 0.05),
        "category": pa.array(rng.choice(["food", "fuel", "travel"], rows)),
        "approved": pa.array(rng.random(rows) < 0.9),
        "settled_at": pa.array(event + np.timedelta64(1, "D"), pa.timestamp("us")).cast(UTC_US),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return table


USER = sk.Entity("user_id")
MERCHANT = sk.Entity("merchant", dtype="string")
PAYMENTS = sk.Source("data/transactions.parquet", timestamp="event_timestamp", created="created")
USER_STATS = sk.FeatureView(
    "user_stats", [USER], PAYMENTS, ttl="1d",
    fields=[sk.Field("amount", "float64"), sk.Field("category", "string"),
            sk.Field("approved", "bool"), sk.Field("settled_at", "timestamp")],
    aggregations=[sk.Aggregation("amount", f, w) for f in ("count", "sum", "mean", "min", "max",
                                                           "std", "last")
                  for w in ("1h", "1d", "7d")],
)
MERCHANT_STATS = sk.FeatureView(
    "merchant_stats", [MERCHANT], PAYMENTS,
    aggregations=[sk.Aggregation("amount", "mean", "1d"), sk.Aggregation("amount", "count", "7d")],
    fields=[sk.Field("amount", "float64")], ttl=timedelta(hours=6),
)


def _ratio(columns):
    return {"amount_ratio": columns["price"] / columns["amount_mean_7d"]}


RATIO = sk.OnDemandFeatureView("ratio", ["user_stats:amount_mean_7d"],
                               [sk.Field("price", "float64")], _ratio)
ALL = [USER, MERCHANT, USER_STATS, MERCHANT_STATS, RATIO,
       sk.FeatureService("everything", [USER_STATS, RATIO])]
