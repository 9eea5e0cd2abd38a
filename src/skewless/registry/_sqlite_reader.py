"""Reading a model version out of a SQLite metadata database without SQLAlchemy.

Loading a model is often the first thing a fresh process does (a batch job, a serverless
function, a server starting), and importing SQLAlchemy alone is about 0.15 s of it. For a
project on the default SQLite metadata database, ``load_model`` reads the three things it
needs (the version a reference points at, that version's row, the applied definition hashes)
with the standard library's ``sqlite3``, read-only, in one transaction.

This reader only ever answers when everything is where it expects it: a plain
``sqlite:///path`` URL, an existing database at the schema revision it knows, the model,
alias and version present. Anything else (another database, an older schema to migrate, an
unknown model or alias, a locked or damaged file) returns ``None`` and the caller goes the
general way, through SQLAlchemy, which migrates, or names the problem and its fix.
``tests/registry/test_sqlite_reader.py`` checks that both ways give equal records.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from skewless.registry._records import ModelVersion, version_from_row

__all__ = ["READABLE_REVISION", "read_model_version"]

READABLE_REVISION = "0004"
"""The metadata schema revision these queries are written for (``SCHEMA_REVISION``)."""

_JSON = ("files", "flavor_spec", "signature", "input_example", "params", "metrics", "tags",
         "packages", "feature_hashes", "reference_profile", "training")
_TIMES = ("created_at", "deleted_at")


def sqlite_path(url: str, base_dir: Path) -> Path | None:
    """The file of a plain ``sqlite:///relative`` or ``sqlite:////absolute`` URL (relative
    to ``base_dir``, as the metadata database takes it); ``None`` for any other URL."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    path = url[len(prefix):]
    if not path or path == ":memory:":
        return None
    return Path(path) if Path(path).is_absolute() else base_dir / path


def read_model_version(path: Path, project: str, name: str, selector: str | int
                       ) -> tuple[ModelVersion, dict[str, str]] | None:
    """The version ``selector`` (a number, an alias or ``latest``) of model ``name`` and the
    applied definition hashes (``"kind:name" → hash``); ``None`` when this reader cannot
    answer and the general path must."""
    if not path.is_file():
        return None
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                     timeout=30, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        connection.execute("BEGIN")
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        if revision != [(READABLE_REVISION,)]:
            return None
        version = _version(connection, project, name, selector)
        if version is None:
            return None
        connection.row_factory = sqlite3.Row
        row = connection.execute(
            "SELECT * FROM model_versions WHERE project = ? AND model_name = ? AND version = ?",
            (project, name, version)).fetchone()
        if row is None:
            return None
        aliases = sorted(alias for (alias,) in connection.execute(
            "SELECT alias FROM model_aliases WHERE project = ? AND model_name = ? "
            "AND version = ?", (project, name, version)))
        applied = {f"{kind}:{definition}": digest for kind, definition, digest in
                   connection.execute("SELECT kind, name, definition_hash FROM "
                                      "current_definitions WHERE project = ?", (project,))}
        return version_from_row(_decoded(row), aliases), applied
    except (sqlite3.Error, ValueError, KeyError, TypeError):
        return None
    finally:
        connection.close()


def _version(connection: sqlite3.Connection, project: str, name: str, selector: str | int
             ) -> int | None:
    if isinstance(selector, int):
        return selector
    if selector == "latest":
        found = connection.execute(
            "SELECT max(version) FROM model_versions WHERE project = ? AND model_name = ? "
            "AND status = 'ready'", (project, name)).fetchone()
    else:
        found = connection.execute(
            "SELECT version FROM model_aliases WHERE project = ? AND model_name = ? "
            "AND alias = ?", (project, name, selector)).fetchone()
    return None if found is None or found[0] is None else int(found[0])


def _decoded(row: sqlite3.Row) -> SimpleNamespace:
    """The row as SQLAlchemy's column types give it: JSON parsed, times as aware UTC
    datetimes, booleans as ``bool``."""
    values: dict[str, Any] = dict(zip(row.keys(), tuple(row), strict=True))
    for column in _JSON:
        if values[column] is not None:
            values[column] = json.loads(values[column])
    for column in _TIMES:
        if values[column] is not None:
            values[column] = datetime.fromisoformat(values[column]).replace(tzinfo=UTC)
    if values["git_dirty"] is not None:
        values["git_dirty"] = bool(values["git_dirty"])
    return SimpleNamespace(**values)
