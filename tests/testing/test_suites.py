"""The conformance suites catch broken backends, and report every failed check by name."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from skewless.metadata import AuditEntry, SqlMetadataBackend
from skewless.online import Record, SQLiteOnlineStore
from skewless.testing import (
    METADATA_BACKEND_CHECKS,
    ONLINE_STORE_CHECKS,
    check_metadata_backend,
    check_online_store,
)


class _LastWriteWins(SQLiteOnlineStore):
    """Broken on purpose: ignores versions (every write replaces) and cannot drop."""

    def write(self, namespace: str, records: Sequence[Record]) -> int:
        return super().write(namespace, [(key, 2**62, payload) for key, _, payload in records])

    def drop_namespace(self, namespace: str) -> None:
        raise NotImplementedError("drop")


class _OldestFirstAudit(SqlMetadataBackend):
    """Broken on purpose: lists the audit log oldest first."""

    def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        return list(reversed(super().audit_log(limit)))


def _failed_checks(message: str) -> set[str]:
    return set(re.findall(r"^  (check_\w+): ", message, flags=re.MULTILINE))


def test_online_suite_names_every_failed_check(tmp_path: Path) -> None:
    counter = itertools.count()
    with pytest.raises(AssertionError) as raised:
        check_online_store(lambda: _LastWriteWins(tmp_path / f"{next(counter)}.sqlite"))
    message = str(raised.value)
    assert _failed_checks(message) == {
        "check_older_version_is_ignored", "check_write_counts_only_stored_records",
        "check_versions_are_64_bit_integers", "check_large_batches",
        "check_drop_namespace_removes_only_that_namespace",
        "check_drop_namespace_forgets_versions"}
    assert f"6 of {len(ONLINE_STORE_CHECKS)} online store checks failed" in message
    assert "NotImplementedError: drop" in message
    assert "records stored by a write of an older version: expected 0, got 1" in message


def test_metadata_suite_names_every_failed_check(tmp_path: Path) -> None:
    counter = itertools.count()
    url = f"sqlite:///{tmp_path / 'metadata.sqlite'}"
    with pytest.raises(AssertionError) as raised:
        check_metadata_backend(lambda: _OldestFirstAudit(url, f"p{next(counter)}"))
    message = str(raised.value)
    assert _failed_checks(message) == {"check_audit_log_is_newest_first"}
    assert f"1 of {len(METADATA_BACKEND_CHECKS)} metadata backend checks failed" in message
    assert "('alice', 'definition.created', 'feature_view:a')" in message
