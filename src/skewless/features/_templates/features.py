"""Feature definitions of this project: applied with `skewless apply`.

One definition serves training (point-in-time-correct history), serving (online values) and
monitoring. Change it here, run `skewless apply`, then `skewless materialize-incremental NOW`.
"""

from skewless import (
    Aggregation,
    Entity,
    FeatureService,
    FeatureView,
    Field,
    OnDemandFeatureView,
    Source,
)

user = Entity("user_id", dtype="int64", description="A card holder")

transactions = Source(
    "data/transactions.parquet",
    timestamp="event_timestamp",  # when the payment happened
    created="created",  # when the row landed in the warehouse: invisible before that
)

user_transactions = FeatureView(
    "user_transactions",
    entities=[user],
    source=transactions,
    fields=[Field("amount", "float64"), Field("merchant_category", "string")],
    aggregations=[
        Aggregation("amount", function, window)
        for function in ("count", "sum", "mean", "max")
        for window in ("1h", "7d", "30d")
    ],
    ttl="30d",
    description="The card holder's latest payment and spending over recent windows",
)


def _amount_ratios(columns):
    """How unusual a new payment is against the holder's own history."""
    return {
        "amount_to_mean_30d": columns["amount"] / columns["amount_mean_30d"],
        "amount_to_max_7d": columns["amount"] / columns["amount_max_7d"],
    }


payment_ratios = OnDemandFeatureView(
    "payment_ratios",
    inputs=["user_transactions:amount_mean_30d", "user_transactions:amount_max_7d"],
    request_fields=[Field("amount", "float64")],
    function=_amount_ratios,
)



def _category_change(columns):
    """1.0 when the payment's merchant category differs from the holder's previous one."""
    return {"new_category": (columns["category"] != columns["merchant_category"]).astype(float)}


payment_context = OnDemandFeatureView(
    "payment_context",
    inputs=["user_transactions:merchant_category"],
    request_fields=[Field("category", "string")],
    function=_category_change,
)

# The model's features: numbers only, so it exports to ONNX (categories enter through
# on-demand views such as payment_context).
fraud_features = FeatureService(
    "fraud_features",
    features=[
        "user_transactions:amount_count_1h",
        "user_transactions:amount_sum_1h",
        "user_transactions:amount_count_7d",
        "user_transactions:amount_mean_30d",
        payment_ratios,
        payment_context,
    ],
)
