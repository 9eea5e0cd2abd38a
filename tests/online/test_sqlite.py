"""The SQLite online store: the conformance checks, persistence, and its failure modes."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from skewless.errors import OnlineStoreUnavailableError
from skewless.online import SQLiteOnlineStore
from skewless.testing import ONLINE_STORE_CHECKS
from skewless.testing._online import OnlineStoreFactory


@pytest.fixture
def factory(tmp_path: Path) -> OnlineStoreFactory:
    """Each call opens a store in a new file."""
    counter = itertools.count()
    return lambda: SQLiteOnlineStore(tmp_path / f"online-{next(counter)}.sqlite")


@pytest.mark.parametrize("check", ONLINE_STORE_CHECKS,
                         ids=lambda check: check.__name__.removeprefix("check_"))
def test_conformance(check: Callable[[OnlineStoreFactory], None],
                     factory: OnlineStoreFactory) -> None:
    check(factory)


def test_values_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folders" / "online.sqlite"
    store = SQLiteOnlineStore(path)
    store.write("v@1", [("[1]", 3, b"kept")])
    store.close()
    reopened = SQLiteOnlineStore(path)
    try:
        assert reopened.read([("v@1", "[1]")]) == [b"kept"]
        assert reopened.write("v@1", [("[1]", 2, b"older")]) == 0
    finally:
        reopened.close()


def test_threads_share_one_store(tmp_path: Path) -> None:
    """Each thread gets its own connection; concurrent writers lose nothing."""
    store = SQLiteOnlineStore(tmp_path / "online.sqlite")

    def write(thread: int) -> None:
        for start in range(0, 200, 20):
            store.write("v@1", [(f"[{thread},{i}]", 1, b"x") for i in range(start, start + 20)])

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    keys = [("v@1", f"[{t},{i}]") for t in range(4) for i in range(200)]
    assert store.read(keys) == [b"x"] * len(keys)
    store.close()


def _unopenable_paths(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "not_sqlite.sqlite").write_bytes(b"this is not a SQLite database" * 100)
    return {"parent is a file": tmp_path / "a_file" / "online.sqlite",
            "path is a folder": tmp_path,
            "not a database": tmp_path / "not_sqlite.sqlite"}


@pytest.mark.parametrize("case", ["parent is a file", "path is a folder", "not a database"])
def test_unusable_path_is_unavailable_and_named(tmp_path: Path, case: str) -> None:
    path = _unopenable_paths(tmp_path)[case]
    with pytest.raises(OnlineStoreUnavailableError) as raised:
        SQLiteOnlineStore(path)
    assert str(path) in str(raised.value)
    assert "online_store.path" in str(raised.value)
