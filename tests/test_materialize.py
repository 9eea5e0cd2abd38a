"""Materialization: idempotence, resumption, conditional writes and per-version marks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import skewless as sk
from _data import ALL, START, USER_STATS, write_transactions
from skewless import _materialize
from skewless._online_features import namespaces
from skewless.errors import DefinitionError, TimestampError

FEATURES = ["user_stats:amount", "user_stats:category", "user_stats:amount_sum_7d"]
USERS = [{"user_id": u} for u in range(40)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sk.FeatureStore]:
    (tmp_path / "skewless.yaml").write_text("project: materialize_tests\n")
    write_transactions(tmp_path / "data" / "transactions.parquet")
    with sk.FeatureStore(tmp_path) as store:
        store.apply(ALL)
        yield store


def _online(store: sk.FeatureStore, when) -> dict[str, list[object]]:
    return store.get_online_features(FEATURES, USERS, now=when).to_dict()


def test_incremental_rerun_is_a_no_op(store: sk.FeatureStore) -> None:
    when = START + timedelta(days=6)
    first = store.materialize_incremental(when, progress=False)
    assert {r.view for r in first} == {"user_stats", "merchant_stats"}
    assert all(r.written > 0 for r in first)
    before = _online(store, when)
    assert store.materialize_incremental(when, progress=False) == []
    assert _online(store, when) == before
    mark = store.metadata.high_water_mark(namespaces(USER_STATS)[0])
    assert mark == when


def test_rerunning_a_materialize_gives_the_same_values(store: sk.FeatureStore) -> None:
    when = START + timedelta(days=6)
    store.materialize(START, when, progress=False)
    before = _online(store, when)
    store.materialize(START, when, progress=False)
    assert _online(store, when) == before


def test_older_interval_never_replaces_newer_values(store: sk.FeatureStore) -> None:
    newer, older = START + timedelta(days=12), START + timedelta(days=4)
    store.materialize(None, newer, progress=False)
    expected = _online(store, newer)
    store.materialize(None, older, progress=False)
    assert _online(store, newer) == expected


def test_interrupted_run_resumes_and_loses_nothing(store: sk.FeatureStore,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    when = START + timedelta(days=9)
    monkeypatch.setattr(_materialize, "WRITE_BATCH", 7)
    calls = 0

    def interrupt(view: str, done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.materialize_incremental(when, progress=interrupt)
    assert store.metadata.high_water_mark(namespaces(USER_STATS)[0]) is None
    partial = store.get_online_features(FEATURES, USERS, now=when).statuses()["amount"]
    assert "missing" in partial  # really interrupted half-way
    reports = store.materialize_incremental(when, progress=False)
    assert {r.view for r in reports} == {"user_stats", "merchant_stats"}
    import pandas as pd

    frame = pd.DataFrame(USERS).assign(event_timestamp=pd.Timestamp(when))
    offline = store.get_historical_features(frame, FEATURES).to_arrow()
    online = _online(store, when)
    for name in ("amount", "category", "amount_sum_7d"):
        assert online[name] == offline[name].to_pylist()


def test_changed_view_starts_an_empty_online_version(store: sk.FeatureStore) -> None:
    when = START + timedelta(days=6)
    store.materialize_incremental(when, progress=False)
    assert "present" in store.get_online_features(FEATURES, USERS, now=when).statuses()["amount"]
    changed = sk.FeatureView(USER_STATS.name, USER_STATS.entities, USER_STATS.source,
                             fields=USER_STATS.fields, aggregations=USER_STATS.aggregations,
                             ttl="2d")
    store.apply([changed])
    statuses = store.get_online_features(FEATURES, USERS, now=when).statuses()
    assert set(statuses["amount"]) == {"missing"}
    reports = store.materialize_incremental(when, progress=False)
    assert [r.view for r in reports] == ["user_stats"]  # only the new version needs it
    assert "present" in store.get_online_features(FEATURES, USERS, now=when).statuses()["amount"]


def test_materialize_arguments_are_checked(store: sk.FeatureStore) -> None:
    with pytest.raises(DefinitionError, match="no feature view named 'nope'"):
        store.materialize(None, START, views=["nope"], progress=False)
    with pytest.raises(DefinitionError, match="is after end"):
        store.materialize(START + timedelta(days=2), START, progress=False)
    with pytest.raises(TimestampError, match="no time zone"):
        store.materialize(None, START.replace(tzinfo=None), progress=False)


def test_only_named_views_are_materialized(store: sk.FeatureStore) -> None:
    reports = store.materialize(None, START + timedelta(days=3), views=["merchant_stats"],
                                progress=False)
    assert [r.view for r in reports] == ["merchant_stats"]
    assert store.metadata.high_water_mark(namespaces(USER_STATS)[0]) is None


def test_materialize_moves_the_mark_only_without_a_gap(store: sk.FeatureStore) -> None:
    mark_name = namespaces(USER_STATS)[0]
    store.materialize(START + timedelta(days=2), START + timedelta(days=4), views=["user_stats"],
                      progress=False)
    assert store.metadata.high_water_mark(mark_name) is None  # history before day 2 not written
    store.materialize(None, START + timedelta(days=3), views=["user_stats"], progress=False)
    assert store.metadata.high_water_mark(mark_name) == START + timedelta(days=3)
    store.materialize(START + timedelta(days=3), START + timedelta(days=5), views=["user_stats"],
                      progress=False)
    assert store.metadata.high_water_mark(mark_name) == START + timedelta(days=5)
