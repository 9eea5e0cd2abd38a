"""A small fraud project for the training tests: generated card payments, numeric features
(aggregations and an on-demand ratio) and labels taken from the payments themselves."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

import skewless as sk
from skewless._example_data import generate_transactions

USER = sk.Entity("user_id")
PAYMENTS = sk.Source("data/transactions.parquet", timestamp="event_timestamp", created="created")
SPENDING = sk.FeatureView(
    "spending", [USER], PAYMENTS, ttl="30d",
    fields=[sk.Field("amount", "float64")],
    aggregations=[sk.Aggregation("amount", f, w) for f, w in
                  (("count", "1h"), ("sum", "1h"), ("count", "7d"), ("mean", "30d"),
                   ("max", "7d"))],
)


def _ratios(columns):
    return {"amount_to_mean_30d": columns["amount"] / columns["amount_mean_30d"]}


RATIOS = sk.OnDemandFeatureView("ratios", ["spending:amount_mean_30d"],
                                [sk.Field("amount", "float64")], _ratios)
SERVICE = sk.FeatureService("fraud", [
    "spending:amount_count_1h", "spending:amount_sum_1h", "spending:amount_count_7d",
    "spending:amount_mean_30d", RATIOS])
DEFINITIONS = [USER, SPENDING, RATIOS, SERVICE]


def make_fraud_project(folder: Path, metadata_yaml: str = "") -> pa.Table:
    """Write the project's config, definitions module and payments into ``folder``; return the
    label frame
    (``user_id``, ``event_timestamp``, ``amount`` as the request field, ``is_fraud``)."""
    (folder / "skewless.yaml").write_text(f"project: training\n{metadata_yaml}\n")
    # the definitions module of the project (tests/ is on the path of the test process)
    (folder / "features.py").write_text("from _training import RATIOS, SERVICE, SPENDING, USER\n")
    payments = generate_transactions(folder / "data" / "transactions.parquet", users=300,
                                     days=40, seed=3)
    return payments.select(["user_id", "event_timestamp", "amount", "is_fraud"])
