"""The Redis online store: the conformance checks, key prefixes, and its failure modes."""

from __future__ import annotations

import itertools
import re
import socket
from collections.abc import Callable

import pytest
import redis

from skewless.errors import OnlineStoreError, OnlineStoreUnavailableError
from skewless.online import OnlineStore, RedisOnlineStore
from skewless.testing import ONLINE_STORE_CHECKS
from skewless.testing._online import OnlineStoreFactory

UNREACHABLE = "redis://127.0.0.1:1/0"


@pytest.fixture
def factory(redis_url: str, redis_key_prefix: str) -> OnlineStoreFactory:
    """Each call opens a store under a new key prefix (an empty store, as far as it can tell)."""
    counter = itertools.count()
    return lambda: RedisOnlineStore(redis_url, f"{redis_key_prefix}-{next(counter)}")


@pytest.mark.redis
@pytest.mark.parametrize("check", ONLINE_STORE_CHECKS,
                         ids=lambda check: check.__name__.removeprefix("check_"))
def test_conformance(check: Callable[[OnlineStoreFactory], None],
                     factory: OnlineStoreFactory) -> None:
    check(factory)


@pytest.mark.redis
def test_key_prefixes_separate_projects(redis_url: str, redis_key_prefix: str) -> None:
    one = RedisOnlineStore(redis_url, f"{redis_key_prefix}-one")
    two = RedisOnlineStore(redis_url, f"{redis_key_prefix}-two")
    one.write("v@1", [("[1]", 5, b"one")])
    assert two.write("v@1", [("[1]", 1, b"two")]) == 1
    two.drop_namespace("v@1")
    assert one.read([("v@1", "[1]")]) == [b"one"]
    assert two.read([("v@1", "[1]")]) == [None]
    one.close()
    two.close()


@pytest.mark.redis
def test_values_survive_reopening(redis_url: str, redis_key_prefix: str) -> None:
    first = RedisOnlineStore(redis_url, redis_key_prefix)
    first.write("v@1", [("[1]", 3, b"kept")])
    first.close()
    second = RedisOnlineStore(redis_url, redis_key_prefix)
    assert second.read([("v@1", "[1]")]) == [b"kept"]
    assert second.write("v@1", [("[1]", 2, b"older")]) == 0
    second.close()


@pytest.mark.redis
def test_foreign_value_under_a_key_is_an_online_store_error(
        redis_url: str, redis_key_prefix: str) -> None:
    """A value skewless did not write (no version) is reported, not a bare ValueError."""
    client = redis.Redis.from_url(redis_url)
    client.set(f"{redis_key_prefix}:v@1:[1]", b"written by something else")
    client.close()
    store = RedisOnlineStore(redis_url, redis_key_prefix)
    with pytest.raises(OnlineStoreError, match="not written by skewless"):
        store.read([("v@1", "[1]")])
    store.close()


_OPERATIONS: dict[str, Callable[[OnlineStore], object]] = {
    "read": lambda store: store.read([("v@1", "[1]")]),
    "write": lambda store: store.write("v@1", [("[1]", 1, b"x")]),
    "drop_namespace": lambda store: store.drop_namespace("v@1"),
}


@pytest.mark.parametrize("operation", list(_OPERATIONS))
def test_unreachable_server_is_unavailable_and_named(operation: str) -> None:
    store = RedisOnlineStore(UNREACHABLE, "p", socket_timeout=1.0)
    with pytest.raises(OnlineStoreUnavailableError, match=re.escape(UNREACHABLE)):
        _OPERATIONS[operation](store)
    store.close()


def test_silent_server_times_out_as_unavailable() -> None:
    """A server that accepts the connection but never answers is unavailable, after the timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        store = RedisOnlineStore(url, "p", socket_timeout=0.2)
        with pytest.raises(OnlineStoreUnavailableError, match=re.escape(url)):
            store.read([("v@1", "[1]")])
        store.close()


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379/0", "redis://127.0.0.1:notaport/0",
                                 "redis://127.0.0.1:6379/abc", "127.0.0.1:6379", "not a url"])
def test_malformed_url_is_an_error_naming_it(url: str) -> None:
    with pytest.raises(OnlineStoreError) as raised:
        RedisOnlineStore(url, "p")
    assert not isinstance(raised.value, OnlineStoreUnavailableError), "malformed is not down"
    assert repr(url) in str(raised.value)
    assert "redis://" in str(raised.value).replace(repr(url), "")  # shows a valid example
