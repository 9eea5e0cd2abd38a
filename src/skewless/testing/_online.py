"""Conformance checks of online stores: what every ``OnlineStore`` must do, whatever its engine.

Each check takes a factory that returns a fresh, empty store, asserts one behaviour, closes the
store, and raises ``AssertionError`` saying what differed. Namespaces and keys look like the ones
skewless writes (``view@hash``, ``view@hash#agg``; JSON lists as entity keys) plus awkward ones
(glob characters, ``:``, non-ASCII), because a key-value engine that builds keys or patterns out
of them is where isolation breaks.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from skewless.online._store import OnlineStore, Record
from skewless.testing._runner import expect, expect_equal, run_checks

__all__ = ["ONLINE_STORE_CHECKS", "OnlineStoreFactory", "check_online_store"]

OnlineStoreFactory = Callable[[], OnlineStore]
"""Makes a fresh, empty store on every call."""

_VIEW = "user_stats@0123456789ab"
_LARGE_BATCH = 25_000


@contextmanager
def _fresh(factory: OnlineStoreFactory) -> Iterator[OnlineStore]:
    store = factory()
    try:
        yield store
    finally:
        store.close()


def _written(store: OnlineStore, namespace: str, records: list[Record], expected: int,
             what: str) -> None:
    """Write ``records`` and check how many the store reports as stored."""
    expect_equal(store.write(namespace, records), expected, f"records stored by {what}")


def _read_one(store: OnlineStore, namespace: str, key: str) -> bytes | None:
    return store.read([(namespace, key)])[0]


def check_reads_several_namespaces_at_once(factory: OnlineStoreFactory) -> None:
    """One read returns values of several namespaces, each from its own namespace."""
    with _fresh(factory) as store:
        _written(store, "users@1", [("[1]", 1, b"u1"), ("[2]", 1, b"u2")], 2, "a first write")
        _written(store, "merchants@1", [('["m1"]', 1, b"m1")], 1, "a first write")
        expect_equal(store.read([("users@1", "[1]"), ("merchants@1", '["m1"]'),
                                 ("users@1", "[2]")]),
                     [b"u1", b"m1", b"u2"], "read across two namespaces")


def check_absent_keys_read_as_none(factory: OnlineStoreFactory) -> None:
    """Missing keys, keys of another namespace and unknown namespaces read as None in place."""
    with _fresh(factory) as store:
        store.write(_VIEW, [("[1]", 1, b"one"), ("[3]", 1, b"three")])
        store.write("other@1", [("[2]", 1, b"elsewhere")])
        keys = [(_VIEW, "[0]"), (_VIEW, "[1]"), (_VIEW, "[2]"), (_VIEW, "[3]"),
                ("never_written@1", "[1]")]
        expect_equal(store.read(keys), [None, b"one", None, b"three", None],
                     "read of present and absent keys")


def check_results_follow_key_order(factory: OnlineStoreFactory) -> None:
    """Results come in the order of the keys asked for, duplicates included."""
    with _fresh(factory) as store:
        values = {f"[{i}]": f"value {i}".encode() for i in range(50)}
        store.write(_VIEW, [(key, 1, payload) for key, payload in values.items()])
        keys = list(values) * 2 + ["[999]", "[7]", "[7]"]
        random.Random(0).shuffle(keys)
        expect_equal(store.read([(_VIEW, key) for key in keys]),
                     [values.get(key) for key in keys], "shuffled read with duplicates")


def check_older_version_is_ignored(factory: OnlineStoreFactory) -> None:
    """A record older than the stored one is not written and not counted."""
    with _fresh(factory) as store:
        _written(store, _VIEW, [("[1]", 5, b"v5")], 1, "the first write")
        _written(store, _VIEW, [("[1]", 4, b"v4")], 0, "a write of an older version")
        expect_equal(_read_one(store, _VIEW, "[1]"), b"v5", "value after an older write")


def check_equal_version_replaces(factory: OnlineStoreFactory) -> None:
    """A record of the same version replaces the stored one (re-materialization corrects)."""
    with _fresh(factory) as store:
        store.write(_VIEW, [("[1]", 5, b"first")])
        _written(store, _VIEW, [("[1]", 5, b"second")], 1, "a write of the same version")
        expect_equal(_read_one(store, _VIEW, "[1]"), b"second", "value after an equal write")


def check_newer_version_replaces(factory: OnlineStoreFactory) -> None:
    """A newer record replaces the stored one."""
    with _fresh(factory) as store:
        store.write(_VIEW, [("[1]", 5, b"v5")])
        _written(store, _VIEW, [("[1]", 6, b"v6")], 1, "a write of a newer version")
        expect_equal(_read_one(store, _VIEW, "[1]"), b"v6", "value after a newer write")


def check_write_counts_only_stored_records(factory: OnlineStoreFactory) -> None:
    """In a mixed batch, the count is of new, newer and equal records, not of older ones."""
    with _fresh(factory) as store:
        store.write(_VIEW, [("[1]", 5, b"old 1"), ("[2]", 5, b"old 2"), ("[4]", 5, b"old 4")])
        batch = [("[1]", 4, b"older"), ("[2]", 6, b"newer"), ("[3]", 1, b"new"),
                 ("[4]", 5, b"equal")]
        _written(store, _VIEW, batch, 3, "a batch with one older record")
        expect_equal(store.read([(_VIEW, f"[{i}]") for i in range(1, 5)]),
                     [b"old 1", b"newer", b"new", b"equal"], "values after the mixed batch")


def check_versions_are_64_bit_integers(factory: OnlineStoreFactory) -> None:
    """Versions compare exactly over the whole signed 64-bit range (no float rounding)."""
    cases = [(2**62 + 1, 2**62), (2**63 - 1, 2**63 - 2), (2**53 + 1, 2**53), (-5, -6),
             (0, -1), (10, 9), (100, 99)]
    with _fresh(factory) as store:
        for i, (newer, older) in enumerate(cases):
            key = f"[{i}]"
            store.write(_VIEW, [(key, newer, b"newer")])
            _written(store, _VIEW, [(key, older, b"older")], 0,
                     f"a write of version {older} over version {newer}")
            _written(store, _VIEW, [(key, newer, b"again")], 1,
                     f"a write of version {newer} over the same version")
            expect_equal(_read_one(store, _VIEW, key), b"again",
                         f"value after versions {newer}, {older}, {newer}")


def check_namespaces_are_isolated(factory: OnlineStoreFactory) -> None:
    """The same key in different namespaces holds different values and versions."""
    namespaces = [_VIEW, f"{_VIEW}#agg", "user_stats", "user_stats@01", "v*", "v?", "v[1]"]
    with _fresh(factory) as store:
        for namespace in namespaces:
            _written(store, namespace, [("[1]", 10, namespace.encode())], 1,
                     f"the first write to namespace {namespace!r}")
        _written(store, "user_stats@02", [("[1]", 1, b"low")], 1,
                 "a low version in a fresh namespace while others hold a higher one")
        expect_equal(store.read([(n, "[1]") for n in namespaces]),
                     [n.encode() for n in namespaces], "the same key across namespaces")


def check_drop_namespace_removes_only_that_namespace(factory: OnlineStoreFactory) -> None:
    """Dropping a namespace leaves namespaces sharing a prefix or glob characters intact."""
    namespaces = [_VIEW, f"{_VIEW}#agg", f"{_VIEW}0", "v*", "vx", "v?", "v[1]", "v1", "v\\"]
    with _fresh(factory) as store:
        for namespace in namespaces:
            store.write(namespace, [("[1]", 1, b"x"), ('["a b"]', 1, b"y")])
        for dropped in (_VIEW, "v*", "v?", "v[1]", "v\\", "never_written"):
            store.drop_namespace(dropped)
            expect(store.read([(dropped, "[1]"), (dropped, '["a b"]')]) == [None, None],
                   f"drop_namespace({dropped!r}) left values behind")
        kept = [n for n in namespaces if n not in (_VIEW, "v*", "v?", "v[1]", "v\\")]
        expect_equal(store.read([(n, "[1]") for n in kept]), [b"x"] * len(kept),
                     f"namespaces {kept} after dropping others")


def check_drop_namespace_forgets_versions(factory: OnlineStoreFactory) -> None:
    """After a drop, any version may be written again (a re-applied view starts over)."""
    with _fresh(factory) as store:
        store.write(_VIEW, [("[1]", 100, b"v100")])
        store.drop_namespace(_VIEW)
        _written(store, _VIEW, [("[1]", 1, b"v1")], 1, "a low version after the drop")
        expect_equal(_read_one(store, _VIEW, "[1]"), b"v1", "value written after the drop")


def check_binary_payloads(factory: OnlineStoreFactory) -> None:
    """Payloads are opaque bytes: empty, separators, NUL, non-UTF-8, every byte, 1 MiB."""
    payloads = [b"", b":", b"1:2:3", b"\x00", b"\xff\xfe\xfd", "é".encode("latin-1"),
                bytes(range(256)), random.Random(1).randbytes(1 << 20)]
    with _fresh(factory) as store:
        records = [(f"[{i}]", 1, payload) for i, payload in enumerate(payloads)]
        _written(store, _VIEW, records, len(records), "a batch of binary payloads")
        result = store.read([(_VIEW, key) for key, _, _ in records])
        for (key, _, payload), got in zip(records, result, strict=True):
            expect(got == payload, f"payload of key {key} changed: wrote {payload[:40]!r}"
                                   f" ({len(payload)} bytes), read {got!r:.80}")


def check_large_batches(factory: OnlineStoreFactory) -> None:
    """25,000 records go in with one write and come back, with absent keys, in one read."""
    records = [(f"[{i}]", i, f"payload {i}".encode()) for i in range(_LARGE_BATCH)]
    with _fresh(factory) as store:
        _written(store, _VIEW, records, _LARGE_BATCH, f"one write of {_LARGE_BATCH} records")
        keys = [(_VIEW, f"[{i}]") for i in range(-10, _LARGE_BATCH + 10)]
        result = store.read(keys)
        expected = [payload for _, _, payload in records]
        expect_equal(len(result), len(keys), "number of results of a large read")
        expect(result[:10] == [None] * 10 and result[-10:] == [None] * 10,
               "absent keys around a large batch did not read as None")
        wrong = [i for i, (got, want) in enumerate(zip(result[10:-10], expected, strict=True))
                 if got != want]
        expect(not wrong, f"{len(wrong)} of {_LARGE_BATCH} values read back wrong, the first "
                          f"at key [{wrong[0] if wrong else ''}]")
        older = [(key, version - 1, b"older") for key, version, _ in records]
        _written(store, _VIEW, older, 0, f"one write of {_LARGE_BATCH} older records")


def check_empty_requests(factory: OnlineStoreFactory) -> None:
    """An empty read returns an empty list; an empty write stores nothing."""
    with _fresh(factory) as store:
        expect_equal(store.read([]), [], "read of no keys")
        _written(store, _VIEW, [], 0, "an empty write")
        expect_equal(store.read([(_VIEW, "[1]")]), [None], "read from a fresh store")


def check_json_entity_keys(factory: OnlineStoreFactory) -> None:
    """Entity keys are any text: JSON lists with spaces, colons, glob characters, non-ASCII."""
    keys = ["[42]", '["a b"]', '[1,"x"]', "[1,2]", "[12]", "42", '["42"]', "[null]", "[42.5]",
            '["a:b"]', '["*"]', '["[x]"]', '["ünïcødé 🙂"]', '["tab\\tand \\"quote\\""]', ""]
    with _fresh(factory) as store:
        _written(store, _VIEW, [(key, 1, key.encode() + b"!") for key in keys], len(keys),
                 "a batch of JSON-ish keys")
        expect_equal(store.read([(_VIEW, key) for key in keys]),
                     [key.encode() + b"!" for key in keys], "values of JSON-ish keys")


ONLINE_STORE_CHECKS: list[Callable[[OnlineStoreFactory], None]] = [
    check_reads_several_namespaces_at_once,
    check_absent_keys_read_as_none,
    check_results_follow_key_order,
    check_older_version_is_ignored,
    check_equal_version_replaces,
    check_newer_version_replaces,
    check_write_counts_only_stored_records,
    check_versions_are_64_bit_integers,
    check_namespaces_are_isolated,
    check_drop_namespace_removes_only_that_namespace,
    check_drop_namespace_forgets_versions,
    check_binary_payloads,
    check_large_batches,
    check_empty_requests,
    check_json_entity_keys,
]
"""Every online-store check, in the order ``check_online_store`` runs them."""


def check_online_store(factory: OnlineStoreFactory) -> None:
    """Run every check of ``ONLINE_STORE_CHECKS`` on stores made by ``factory``.

    ``factory`` must return a fresh, empty store on each call. Raises ``AssertionError`` listing
    every check that failed and why.
    """
    run_checks("online store", ONLINE_STORE_CHECKS, factory)
