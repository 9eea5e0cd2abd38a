"""The embedded online store: one SQLite file in WAL mode."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from skewless.errors import OnlineStoreError, OnlineStoreUnavailableError
from skewless.online._store import OnlineStore, Record

__all__ = ["SQLiteOnlineStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS online_features (
    namespace TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    version INTEGER NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (namespace, entity_key)
) WITHOUT ROWID
"""
_UPSERT = """
INSERT INTO online_features (namespace, entity_key, version, payload) VALUES (?, ?, ?, ?)
ON CONFLICT (namespace, entity_key) DO UPDATE SET version = excluded.version,
    payload = excluded.payload WHERE excluded.version >= online_features.version
"""
_MAX_PAIRS = 10_000  # keys per statement, plus one variable per namespace; SQLite allows 32,766


class SQLiteOnlineStore(OnlineStore):
    """Online features in a SQLite file; each thread gets its own connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._connection() as connection:
                connection.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise OnlineStoreUnavailableError(
                f"cannot open the SQLite online store at {path}: {exc}; check "
                "online_store.path in skewless.yaml and that the folder is writable"
            ) from exc

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                         check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    def write(self, namespace: str, records: Sequence[Record]) -> int:
        connection = self._connection()
        try:
            connection.execute("BEGIN IMMEDIATE")
            before = connection.total_changes
            connection.executemany(_UPSERT, [(namespace, k, v, p) for k, v, p in records])
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise OnlineStoreError(f"writing to the SQLite online store {self.path} failed: "
                                   f"{exc}") from exc
        return connection.total_changes - before

    def read(self, keys: Sequence[tuple[str, str]]) -> list[bytes | None]:
        if not keys:
            return []
        found: dict[tuple[str, str], bytes] = {}
        connection = self._connection()
        try:
            for start in range(0, len(keys), _MAX_PAIRS):
                by_namespace: dict[str, list[str]] = {}
                for namespace, key in keys[start:start + _MAX_PAIRS]:
                    by_namespace.setdefault(namespace, []).append(key)
                # one primary-key range per namespace, all in one statement
                selects, parameters = [], []
                for namespace, entity_keys in by_namespace.items():
                    selects.append("SELECT namespace, entity_key, payload FROM online_features "
                                   f"WHERE namespace = ? AND entity_key IN "
                                   f"({','.join('?' * len(entity_keys))})")
                    parameters += [namespace, *entity_keys]
                rows = connection.execute(" UNION ALL ".join(selects), parameters).fetchall()
                found.update(((n, k), p) for n, k, p in rows)
        except sqlite3.Error as exc:
            raise OnlineStoreError(f"reading the SQLite online store {self.path} failed: "
                                   f"{exc}") from exc
        return [found.get(key) for key in keys]

    def drop_namespace(self, namespace: str) -> None:
        try:
            self._connection().execute("DELETE FROM online_features WHERE namespace = ?",
                                       (namespace,))
        except sqlite3.Error as exc:
            raise OnlineStoreError(f"deleting namespace {namespace!r} from the SQLite online "
                                   f"store {self.path} failed: {exc}") from exc

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
