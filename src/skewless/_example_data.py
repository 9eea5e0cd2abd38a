"""Generated card transactions for the example project and the demo.

Ordinary card holders pay a few times a week at their usual kinds of merchants. Fraud shows up
the way it does in practice: a burst of payments within minutes, at merchant categories the
holder never used, with amounts well above the holder's normal. The generator is seeded, so the
same call gives the same data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["CATEGORIES", "EXAMPLE_START", "generate_transactions"]

CATEGORIES = ("grocery", "fuel", "restaurant", "online", "travel", "electronics", "jewelry",
              "gift_cards")
_RISKY = np.array([5, 6, 7])
EXAMPLE_START = datetime(2024, 1, 1, tzinfo=UTC)
"""The example history starts here (a fixed date, so every run gives the same data)."""


def generate_transactions(path: Path, *, users: int = 500, days: int = 60,
                          start: datetime = EXAMPLE_START, seed: int = 7) -> pa.Table:
    """Write about ``users * days / 2`` transactions to ``path`` (Parquet) and return them.

    Columns: ``user_id``, ``event_timestamp``, ``created`` (0–10 minutes later), ``amount``,
    ``merchant_category``, ``is_fraud``.
    """
    rng = np.random.default_rng(seed)
    span = days * 86_400
    typical = rng.lognormal(3.2, 0.6, users)
    habits = rng.integers(0, 5, (users, 2))
    counts = rng.poisson(days / 2, users)
    user_ids = np.repeat(np.arange(users), counts)
    n = len(user_ids)
    seconds = rng.integers(0, span, n)
    amounts = rng.lognormal(np.log(typical[user_ids]), 0.5)
    categories = habits[user_ids, rng.integers(0, 2, n)]
    fraud = np.zeros(n, dtype=bool)

    victims = rng.choice(users, size=max(1, users // 20), replace=False)
    burst_users, burst_seconds, burst_amounts, burst_categories = [], [], [], []
    for victim in victims:
        begin = rng.integers(span // 3, span - 3_600)
        size = rng.integers(3, 8)
        burst_users.append(np.full(size, victim))
        burst_seconds.append(begin + np.sort(rng.integers(0, 1_800, size)))
        burst_amounts.append(typical[victim] * rng.uniform(3, 10, size))
        burst_categories.append(rng.choice(_RISKY, size))
    user_ids = np.concatenate([user_ids, *burst_users])
    seconds = np.concatenate([seconds, *burst_seconds])
    amounts = np.concatenate([amounts, *burst_amounts])
    categories = np.concatenate([categories, *burst_categories])
    fraud = np.concatenate([fraud, np.ones(len(user_ids) - n, dtype=bool)])

    order = np.argsort(seconds, kind="stable")
    base = np.datetime64(start.replace(tzinfo=None), "us")
    times = base + seconds[order].astype("timedelta64[s]")
    delays = rng.integers(0, 600, len(order)).astype("timedelta64[s]")
    utc = pa.timestamp("us", tz="UTC")
    table = pa.table({
        "user_id": pa.array(user_ids[order], pa.int64()),
        "event_timestamp": pa.array(times, pa.timestamp("us")).cast(utc),
        "created": pa.array(times + delays, pa.timestamp("us")).cast(utc),
        "amount": pa.array(np.round(amounts[order], 2)),
        "merchant_category": pa.array(np.array(CATEGORIES)[categories[order]]),
        "is_fraud": pa.array(fraud[order]),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return table

