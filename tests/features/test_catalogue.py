"""The catalogue: cross-definition consistency and resolution of feature references."""

from __future__ import annotations

import pytest

import skewless as sk
from skewless.errors import DefinitionError, FeatureNotFoundError
from skewless.features._catalogue import Catalogue
from skewless.features._references import FeatureRef

USER = sk.Entity("user_id")
MERCHANT = sk.Entity("merchant_id", dtype="string")
SOURCE = sk.Source("tx.parquet", timestamp="ts")
USERS = sk.FeatureView("users", [USER], SOURCE, fields=[sk.Field("amount", "float64"),
                                                          sk.Field("country", "string")])
MERCHANTS = sk.FeatureView("merchants", [MERCHANT], SOURCE,
                           fields=[sk.Field("amount", "float64")])
RATIO = sk.OnDemandFeatureView("ratio", ["users:amount"], [sk.Field("price", "float64")],
                               lambda c: {"price_ratio": c["price"] / c["amount"]})


def test_resolve_collects_views_on_demand_inputs_and_request_fields() -> None:
    catalogue = Catalogue.build([USERS, MERCHANTS, RATIO])
    resolved = catalogue.resolve(["ratio:price_ratio", "merchants:amount"])
    assert [(view.name, features) for view, features in resolved.views] == [
        ("users", ["amount"]), ("merchants", ["amount"])]
    assert [f.name for f in resolved.request_fields] == ["price"]
    assert resolved.join_keys == ["user_id", "merchant_id"]
    assert resolved.entity_dtypes == {"user_id": "int64", "merchant_id": "string"}
    assert resolved.dtypes[FeatureRef("ratio", "price_ratio")] == "float64"


def test_short_names_must_not_collide() -> None:
    resolved = Catalogue.build([USERS, MERCHANTS]).resolve(["users:amount", "merchants:amount"])
    with pytest.raises(DefinitionError, match="full_names=True"):
        resolved.output_names(full_names=False)
    assert resolved.output_names(full_names=True) == ["users__amount", "merchants__amount"]


def test_unknown_feature_suggests_close_names() -> None:
    catalogue = Catalogue.build([USERS])
    with pytest.raises(FeatureNotFoundError, match="did you mean 'users:amount'"):
        catalogue.resolve(["users:amuont"])
    with pytest.raises(FeatureNotFoundError, match="no view named 'nothing'"):
        catalogue.resolve(["nothing:zzz"])


def test_service_by_name_resolves() -> None:
    catalogue = Catalogue.build([USERS, sk.FeatureService("svc", ["users:country"])])
    assert [str(r) for r in catalogue.resolve("svc").requested] == ["users:country"]


@pytest.mark.parametrize(
    ("definitions", "message"),
    [
        ([USERS, USERS], "view names must be unique"),
        ([USERS, sk.FeatureView("x", [sk.Entity("user_id", dtype="string")], SOURCE,
                                fields=[sk.Field("a", "int64")])], "both as int64 and as string"),
        ([USERS, sk.FeatureService("svc", ["users:nope"])], "unknown feature 'users:nope'"),
        ([RATIO], "unknown feature 'users:amount'"),
        ([USERS, sk.OnDemandFeatureView("r", ["users:amount"], [sk.Field("amount", "float64")],
                                        lambda c: {"x": c["amount"]})], "request field 'amount'"),
        ([USERS, "not a definition"], "is not a skewless definition"),
    ],
)
def test_inconsistent_definitions_are_rejected(definitions: list[object], message: str) -> None:
    with pytest.raises((DefinitionError, FeatureNotFoundError), match=message):
        Catalogue.build(definitions)
