"""Definitions: validation of each constructor argument, names, specs and content hashes."""

from __future__ import annotations

from datetime import timedelta

import pytest

import skewless as sk
from skewless.errors import DefinitionError
from skewless.features._definitions import FeatureView as FV


def _view(**overrides: object) -> sk.FeatureView:
    arguments: dict[str, object] = {
        "name": "stats",
        "entities": [sk.Entity("user_id")],
        "source": sk.Source("data/tx.parquet", timestamp="ts", created="created"),
        "fields": [sk.Field("amount", "float64")],
        "aggregations": [sk.Aggregation("amount", "sum", "7d")],
        "ttl": "2d",
    }
    arguments.update(overrides)
    return FV(**arguments)  # type: ignore[arg-type]


def test_aggregation_default_name_and_window() -> None:
    aggregation = sk.Aggregation("amount", "mean", "7d")
    assert aggregation.name == "amount_mean_7d"
    assert aggregation.span == timedelta(days=7)
    assert sk.Aggregation("amount", "count", timedelta(hours=36)).name == "amount_count_36h"
    assert sk.Aggregation("amount", "max", "1h", name="biggest").name == "biggest"


def test_aggregation_dtypes() -> None:
    assert sk.Aggregation("x", "count", "1h").dtype == "int64"
    assert {sk.Aggregation("x", f, "1h").dtype for f in ("sum", "mean", "min", "max", "std",
                                                          "last")} == {"float64"}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: sk.Aggregation("amount", "median", "1h"), "count, sum, mean"),
        (lambda: sk.Aggregation("amount", "sum", "7 days"), "whole number and a unit"),
        (lambda: sk.Aggregation("amount", "sum", "0h"), "must be positive"),
        (lambda: sk.Field("amount", "float32"), "accepted dtypes: int64, float64"),
        (lambda: sk.Field("bad name", "float64"), "letters, digits and underscores"),
        (lambda: sk.Field("__hidden", "float64"), "letters, digits and underscores"),
        (lambda: sk.Entity("user_id", dtype="float64"), "accepted dtypes: int64, string"),
        (lambda: sk.Source("data/tx.json", timestamp="ts"), "ending in .parquet or .csv"),
        (lambda: sk.Source("data/tx.parquet", timestamp="ts", created="ts"), "must differ"),
        (lambda: _view(ttl="forever"), "not a duration"),
        (lambda: _view(fields=[], aggregations=[]), "no fields and no aggregations"),
        (lambda: _view(entities=[]), "one or more Entity"),
        (lambda: _view(fields=[sk.Field("amount", "float64"), sk.Field("amount", "int64")]),
         "defines 'amount' more than once"),
        (lambda: _view(fields=[sk.Field("ts", "float64")]), "timestamp column"),
        (lambda: _view(fields=["amount"]), "fields must be skewless.Field"),
        (lambda: sk.FeatureService("svc", ["no_colon"]), "'view:feature'"),
        (lambda: sk.FeatureService("svc", []), "has no features"),
    ],
)
def test_invalid_definitions_are_rejected_with_the_fix(make, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        make()


def test_ttl_accepts_timedelta_and_text() -> None:
    assert _view(ttl="48h").ttl == timedelta(days=2)
    assert _view(ttl=timedelta(hours=12)).ttl == timedelta(hours=12)
    assert _view(ttl=None).ttl is None


def test_features_list_fields_then_aggregations() -> None:
    view = _view()
    assert view.feature_names == ["amount", "amount_sum_7d"]
    assert [(f.name, f.dtype) for f in view.features] == [("amount", "float64"),
                                                         ("amount_sum_7d", "float64")]


def test_hash_ignores_description_tags_and_online_flag() -> None:
    base = _view()
    assert _view(description="new words", tags={"team": "risk"}, online=False).definition_hash \
        == base.definition_hash
    assert _view(ttl="3d").definition_hash != base.definition_hash
    assert _view(source=sk.Source("data/tx.parquet", timestamp="ts")).definition_hash \
        != base.definition_hash


def test_spec_round_trip_keeps_everything() -> None:
    view = _view(description="d", tags={"a": "b"})
    rebuilt = FV.from_spec(view.spec())
    assert rebuilt.spec() == view.spec()
    assert rebuilt.definition_hash == view.definition_hash


def test_on_demand_outputs_are_inferred_and_hash_follows_the_code() -> None:
    def ratio(columns):
        return {"ratio": columns["amount"] / columns["amount_sum_7d"],
                "flag": columns["amount"] > 1}

    view = sk.OnDemandFeatureView("ratios", ["stats:amount_sum_7d"],
                                  [sk.Field("amount", "float64")], ratio)
    assert [(f.name, f.dtype) for f in view.features] == [("ratio", "float64"), ("flag", "bool")]

    def other(columns):
        return {"ratio": columns["amount"] * columns["amount_sum_7d"],
                "flag": columns["amount"] > 1}

    changed = sk.OnDemandFeatureView("ratios", ["stats:amount_sum_7d"],
                                     [sk.Field("amount", "float64")], other)
    assert changed.definition_hash != view.definition_hash
    rebuilt = sk.OnDemandFeatureView.from_spec(view.spec())
    assert rebuilt.function is None
    assert rebuilt.definition_hash == view.definition_hash


def test_on_demand_inference_failure_asks_for_outputs() -> None:
    with pytest.raises(DefinitionError, match="declare them with outputs="):
        sk.OnDemandFeatureView("bad", ["stats:amount"], [], lambda c: c["nope"])


def test_service_expands_views() -> None:
    service = sk.FeatureService("svc", [_view(), "other:x"])
    assert service.features == ("stats:amount", "stats:amount_sum_7d", "other:x")
