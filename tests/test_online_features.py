"""Online reads: statuses, ttl at read time, entity-row errors, and online/offline parity."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import skewless as sk
from _data import ALL, START, write_transactions
from skewless.errors import EntityFrameError


def _project(folder: Path, online: str) -> sk.FeatureStore:
    (folder / "skewless.yaml").write_text(f"project: online_tests\nonline_store: {online}\n")
    write_transactions(folder / "data" / "transactions.parquet")
    store = sk.FeatureStore(folder)
    store.apply(ALL)
    return store


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sk.FeatureStore]:
    """A project with generated payments, on each online store."""
    if request.param == "redis":
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue(
            "redis_key_prefix")
        online = f"{{type: redis, url: '{url}', key_prefix: '{prefix}'}}"
    else:
        online = "{type: sqlite, path: data/online.sqlite}"
    with _project(tmp_path, online) as store:
        yield store


def _offline_at(store: sk.FeatureStore, features: Any, rows: list[dict[str, Any]],
                when: datetime) -> dict[str, list[Any]]:
    frame = pd.DataFrame(rows).assign(event_timestamp=pd.Timestamp(when))
    table = store.get_historical_features(frame, features).to_arrow()
    return {name: table[name].to_pylist() for name in table.column_names}


def _assert_same(online: dict[str, list[Any]], offline: dict[str, list[Any]], when: datetime
                 ) -> None:
    for name, values in online.items():
        assert values == offline[name], f"{name} differs at {when}"


PARITY_TIMES = [START + timedelta(days=d, hours=h) for d, h in
                [(0, 3), (1, 0), (2, 12), (2, 13), (5, 0), (9, 7), (15, 0), (19, 23), (25, 0)]]


def test_online_equals_offline_after_each_incremental_materialization(
        store: sk.FeatureStore) -> None:
    """The parity property: materialize up to T, then online at T == historical at T, for
    fields (with ttl and late-arriving rows), aggregations and on-demand views, over two views
    with different entities."""
    users = [{"user_id": u, "price": 50.0} for u in range(-1, 42)]
    merchants = [{"merchant": f"m{m}"} for m in range(-1, 9)]
    for when in PARITY_TIMES:
        store.materialize_incremental(when, progress=False)
        online = store.get_online_features("everything", users, now=when).to_dict()
        _assert_same(online, _offline_at(store, "everything", users, when), when)
        online = store.get_online_features(["merchant_stats:amount_mean_1d",
                                            "merchant_stats:amount_count_7d",
                                            "merchant_stats:amount"], merchants, now=when)
        _assert_same(online.to_dict(), _offline_at(store, ["merchant_stats:amount_mean_1d",
                                                           "merchant_stats:amount_count_7d",
                                                           "merchant_stats:amount"],
                                                   merchants, when), when)


def test_parity_after_one_materialize_over_an_interval(store: sk.FeatureStore) -> None:
    when = START + timedelta(days=11, hours=5, minutes=17)
    store.materialize(START, when, progress=False)
    users = [{"user_id": u, "price": 10.0} for u in range(40)]
    online = store.get_online_features("everything", users, now=when).to_dict()
    _assert_same(online, _offline_at(store, "everything", users, when), when)


def test_statuses_and_event_times(store: sk.FeatureStore) -> None:
    when = START + timedelta(days=10)
    store.materialize(None, when, progress=False)
    features = ["user_stats:amount", "user_stats:amount_count_7d", "ratio:amount_ratio"]
    rows = [{"user_id": 3, "price": 1.0}, {"user_id": 999, "price": 1.0}]
    fresh = store.get_online_features(features, rows, now=when)
    assert fresh.statuses()["amount"] == ["present", "missing"]
    assert fresh.statuses()["amount_count_7d"] == ["present", "missing"]
    assert fresh.to_dict()["amount_count_7d"][1] == 0  # empty-window value, as offline
    stamp = fresh.event_timestamps()["amount"][0]
    assert stamp is not None
    assert when - timedelta(days=1) <= stamp <= when
    assert fresh.event_timestamps()["amount_count_7d"][0] == when
    assert fresh.event_timestamps()["user_id"] == [None, None]

    later = store.get_online_features(features, rows, now=when + timedelta(days=2))
    assert later.statuses()["amount"][0] == "expired"
    assert later.to_dict()["amount"][0] is None
    assert later.statuses()["amount_count_7d"][0] == "expired"
    assert later.statuses()["amount_ratio"][0] == "expired"


def test_ttl_bound_is_inclusive_online_as_offline(store: sk.FeatureStore) -> None:
    when = START + timedelta(days=10)
    store.materialize(None, when, progress=False)
    stamp = store.get_online_features(["user_stats:amount"], [{"user_id": 3}],
                                      now=when).event_timestamps()["amount"][0]
    assert stamp is not None
    at_bound = store.get_online_features(["user_stats:amount"], [{"user_id": 3}],
                                         now=stamp + timedelta(days=1))
    past_bound = store.get_online_features(["user_stats:amount"], [{"user_id": 3}],
                                           now=stamp + timedelta(days=1, microseconds=1))
    assert at_bound.statuses()["amount"] == ["present"]
    assert past_bound.statuses()["amount"] == ["expired"]


@pytest.mark.parametrize(("rows", "message"), [
    ([{"merchant": "m1"}], "has no 'user_id'"),
    ([{"user_id": "42"}], "'user_id' must be an integer"),
    ([{"user_id": True}], "'user_id' must be an integer"),
    ([42], "not a mapping"),
])
def test_bad_entity_rows_are_named(store: sk.FeatureStore, rows: list[Any], message: str) -> None:
    with pytest.raises(EntityFrameError, match=message):
        store.get_online_features(["user_stats:amount"], rows, now=START)


def test_missing_request_field_is_named(store: sk.FeatureStore) -> None:
    with pytest.raises(EntityFrameError, match="request field 'price'"):
        store.get_online_features(["ratio:amount_ratio"], [{"user_id": 1}], now=START)


def test_redis_reads_every_view_in_one_round_trip(tmp_path: Path, redis_url: str,
                                                  redis_key_prefix: str) -> None:
    """A view's fields and aggregations and an on-demand view for 50 entities: one MGET."""
    import redis

    online = f"{{type: redis, url: '{redis_url}', key_prefix: '{redis_key_prefix}'}}"
    with _project(tmp_path, online) as store:
        when = START + timedelta(days=8)
        store.materialize(None, when, progress=False)
        features = ["user_stats:amount", "user_stats:amount_sum_7d", "ratio:amount_ratio"]
        rows = [{"user_id": u, "price": 2.0} for u in range(50)]
        store.get_online_features(features, rows, now=when)  # warm the plan and connection
        client = redis.Redis.from_url(redis_url)

        def calls() -> dict[str, int]:
            stats = client.info("commandstats")
            return {name: int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))
                    for name in ("mget", "get", "hmget", "exists")}

        before = calls()
        result = store.get_online_features(features, rows, now=when)
        after = calls()
        client.close()
    assert {k: after[k] - before[k] for k in after} == {"mget": 1, "get": 0, "hmget": 0,
                                                        "exists": 0}
    assert "present" in result.statuses()["amount_sum_7d"]
