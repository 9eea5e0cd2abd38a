"""FeatureStore: apply (validation against sources, hashes, history) and its error paths."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import skewless as sk
from _data import ALL, PAYMENTS, START, USER, USER_STATS, write_transactions
from skewless.errors import (
    DefinitionError,
    FeatureNotFoundError,
    MetadataUnavailableError,
    OnlineStoreUnavailableError,
    ProjectNotFoundError,
    SourceError,
    SourceSchemaError,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sk.FeatureStore]:
    (tmp_path / "skewless.yaml").write_text("project: store_tests\n")
    write_transactions(tmp_path / "data" / "transactions.parquet")
    with sk.FeatureStore(tmp_path) as store:
        yield store


def test_reapply_is_a_no_op_and_a_change_keeps_history(store: sk.FeatureStore) -> None:
    first = store.apply(ALL)
    assert {c.action for c in first} == {"created"}
    assert {c.action for c in store.apply(ALL)} == {"unchanged"}
    broken = sk.FeatureView("user_stats", [USER], PAYMENTS, fields=[sk.Field("amount", "float64")])
    with pytest.raises(FeatureNotFoundError, match="used by on-demand view 'ratio'"):
        store.apply([broken])  # would break the on-demand view that reads amount_mean_7d
    changed = sk.FeatureView("user_stats", [USER], PAYMENTS, fields=USER_STATS.fields,
                             aggregations=USER_STATS.aggregations, ttl="3d")
    [change] = [c for c in store.apply([changed]) if c.kind == "feature_view"]
    assert (change.action, change.old_hash) == ("changed", USER_STATS.definition_hash)
    history = store.metadata.definition_history("feature_view", "user_stats")
    assert [r.definition_hash for r in history] == [USER_STATS.definition_hash,
                                                    changed.definition_hash]
    assert store.catalogue.views["user_stats"].ttl == timedelta(days=3)
    # definitions not passed stay applied
    assert "merchant_stats" in store.catalogue.views


def test_description_change_is_recorded_without_a_new_hash(store: sk.FeatureStore) -> None:
    store.apply(ALL)
    described = sk.FeatureView(USER_STATS.name, USER_STATS.entities, USER_STATS.source,
                               fields=USER_STATS.fields, aggregations=USER_STATS.aggregations,
                               ttl=USER_STATS.ttl, description="now documented")
    [change] = [c for c in store.apply([described]) if c.kind == "feature_view"]
    assert change.action == "described"
    assert store.catalogue.views["user_stats"].description == "now documented"
    assert len(store.metadata.definition_history("feature_view", "user_stats")) == 1


def _view(**overrides: object) -> sk.FeatureView:
    arguments: dict[str, object] = {"name": "v", "entities": [USER], "source": PAYMENTS,
                                    "fields": [sk.Field("amount", "float64")]}
    arguments.update(overrides)
    return sk.FeatureView(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(("view", "message"), [
    (_view(fields=[sk.Field("amuont", "float64")]), "'amuont' is missing \\(did you mean 'amount'"),
    (_view(fields=[sk.Field("category", "int64")]), "'category' is string, expected int64"),
    (_view(fields=[sk.Field("amount", "int64")]), "'amount' is float64, expected int64"),
    (_view(aggregations=[sk.Aggregation("category", "sum", "1d")]), "numeric column 'category'"),
    (_view(entities=[sk.Entity("card_id")]), "entity int64 column 'card_id' is missing"),
    (_view(entities=[sk.Entity("user_id", dtype="string")]), "'user_id' is int64, expected string"),
    (_view(source=sk.Source("data/transactions.parquet", timestamp="category")),
     "timestamp column 'category' is string"),
])
def test_apply_checks_definitions_against_the_source(store: sk.FeatureStore, view: sk.FeatureView,
                                                      message: str) -> None:
    with pytest.raises(SourceSchemaError, match=message):
        store.apply([view])
    assert store.metadata.current_definitions() == []  # nothing half-applied


def test_apply_reports_every_problem_at_once(store: sk.FeatureStore) -> None:
    view = _view(fields=[sk.Field("nope", "float64"), sk.Field("category", "bool")])
    with pytest.raises(SourceSchemaError) as error:
        store.apply([view])
    assert "'nope' is missing" in str(error.value)
    assert "'category' is string, expected bool" in str(error.value)


def test_missing_and_empty_sources(store: sk.FeatureStore) -> None:
    with pytest.raises(SourceError, match="cannot read the source"):
        store.apply([_view(source=sk.Source("data/absent.parquet", timestamp="event_timestamp"))])
    empty = pq.read_table(store.path / "data" / "transactions.parquet").slice(0, 0)
    pq.write_table(empty, store.path / "data" / "empty.parquet")
    with pytest.raises(SourceError, match="has no rows"):
        store.apply([_view(source=sk.Source("data/empty.parquet", timestamp="event_timestamp"))])


def test_naive_source_times_need_a_declared_zone(store: sk.FeatureStore) -> None:
    table = pq.read_table(store.path / "data" / "transactions.parquet")
    naive = table.set_column(table.schema.get_field_index("event_timestamp"), "event_timestamp",
                             table["event_timestamp"].cast(pa.timestamp("us")))
    pq.write_table(naive, store.path / "data" / "naive.parquet")
    with pytest.raises(SourceSchemaError, match="timezone='UTC'"):
        store.apply([_view(source=sk.Source("data/naive.parquet", timestamp="event_timestamp"))])
    declared = _view(source=sk.Source("data/naive.parquet", timestamp="event_timestamp",
                                      timezone="UTC"))
    store.apply([declared])
    when = START + timedelta(days=5)
    frame = pd.DataFrame({"user_id": [1, 2], "event_timestamp": [pd.Timestamp(when)] * 2})
    naive_result = store.get_historical_features(frame, ["v:amount"]).to_pandas()
    store.apply([_view(name="aware")])
    aware_result = store.get_historical_features(frame, ["aware:amount"]).to_pandas()
    assert naive_result["amount"].tolist() == aware_result["amount"].tolist()


def test_definitions_module_is_applied_and_on_demand_code_is_bound(tmp_path: Path) -> None:
    (tmp_path / "skewless.yaml").write_text("project: module_tests\ndefinitions: defs.py\n")
    write_transactions(tmp_path / "data" / "transactions.parquet")
    (tmp_path / "defs.py").write_text(textwrap.dedent("""
        import skewless as sk
        user = sk.Entity("user_id")
        stats = sk.FeatureView("stats", [user], sk.Source("data/transactions.parquet",
                               timestamp="event_timestamp"),
                               aggregations=[sk.Aggregation("amount", "mean", "7d")])
        double = sk.OnDemandFeatureView("double", ["stats:amount_mean_7d"], [],
                                        lambda c: {"twice": c["amount_mean_7d"] * 2})
    """))
    with sk.FeatureStore(tmp_path) as store:
        assert {c.name for c in store.apply()} == {"user_id", "stats", "double"}
    frame = pd.DataFrame({"user_id": [1], "event_timestamp": [pd.Timestamp(START + timedelta(
        days=8))]})
    with sk.FeatureStore(tmp_path) as fresh:  # a new process-like store binds the function
        result = fresh.get_historical_features(frame, ["stats:amount_mean_7d", "double:twice"])
        row = result.to_pandas().iloc[0]
        assert row["twice"] == pytest.approx(2 * row["amount_mean_7d"])
    (tmp_path / "defs.py").write_text((tmp_path / "defs.py").read_text().replace("* 2", "* 3"))
    with sk.FeatureStore(tmp_path) as edited, pytest.raises(DefinitionError,
                                                            match="skewless apply"):
        edited.get_historical_features(frame, ["double:twice"])


def test_broken_definitions_module_is_reported(tmp_path: Path) -> None:
    (tmp_path / "skewless.yaml").write_text("project: broken\n")
    (tmp_path / "features.py").write_text("import skewless as sk\nx = 1 / 0\n")
    with sk.FeatureStore(tmp_path) as store, pytest.raises(DefinitionError,
                                                           match="ZeroDivisionError"):
        store.apply()
    (tmp_path / "features.py").write_text("VALUE = 1\n")
    with sk.FeatureStore(tmp_path) as store, pytest.raises(DefinitionError,
                                                           match="defines no Entity"):
        store.apply()


def test_unreachable_backends_name_their_url(tmp_path: Path) -> None:
    (tmp_path / "skewless.yaml").write_text(
        "project: down\nonline_store: {type: redis, url: 'redis://127.0.0.1:1/0', "
        "socket_timeout: 0.5}\nmetadata: {url: 'postgresql+psycopg://nobody@127.0.0.1:1/x'}\n")
    with sk.FeatureStore(tmp_path) as store:
        with pytest.raises(OnlineStoreUnavailableError, match=re.escape("redis://127.0.0.1:1/0")):
            store.online.read([("ns", "[1]")])
        with pytest.raises(MetadataUnavailableError, match=re.escape("127.0.0.1:1")):
            store.catalogue  # noqa: B018


def test_project_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKEWLESS_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProjectNotFoundError, match="skewless init"):
        sk.FeatureStore()
