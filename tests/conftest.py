"""Fixtures shared by the whole suite: the real Redis and PostgreSQL servers.

Tests that need a server skip, with the reason, when it cannot be reached; with
``SKEWLESS_REQUIRE_SERVICES=1`` (CI) they fail instead, so a missing server is never mistaken
for a green run. Nothing a test writes outlives the session:

- Redis: database 13 only, keys under ``redis_key_prefix`` (unique per test, under one prefix
  per session), deleted at the end of the session;
- PostgreSQL: ``pg_schema`` is a fresh schema per test, dropped with everything in it.

``project_dir``/``project`` give a test a project folder whose metadata database is SQLite or
PostgreSQL: a test that takes either runs once on each.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from _projects import forget_project
from skewless._project import Project, get_project

REDIS_URL = "redis://127.0.0.1:6379/13"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_SESSION = uuid.uuid4().hex[:10]
_REDIS_SESSION_PREFIX = f"skewless-test-{_SESSION}"


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def _require(service: str, url: str, probe: Callable[[], object]) -> None:
    """Skip (or fail, when services are required) unless ``probe`` reaches the server."""
    try:
        probe()
    except Exception as exc:
        summary = (str(exc).strip().splitlines() or [""])[0]
        reason = f"{service} at {url} is not reachable ({type(exc).__name__}: {summary})"
        if os.environ.get("SKEWLESS_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason}; SKEWLESS_REQUIRE_SERVICES=1 requires it", pytrace=False)
        pytest.skip(f"{reason}; start it, or set SKEWLESS_REQUIRE_SERVICES=1 to fail instead")


def _delete_keys(client: redis.Redis, pattern: str) -> None:
    for batch in _chunks(list(client.scan_iter(match=pattern, count=1_000)), 1_000):
        client.unlink(*batch)


def _chunks(items: list[bytes], size: int) -> Iterator[list[bytes]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The test database (13) of the local Redis; keys under the session prefix go at the end."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    _require("Redis", REDIS_URL, client.ping)
    yield REDIS_URL
    _delete_keys(client, f"{_REDIS_SESSION_PREFIX}*")
    client.close()


@pytest.fixture
def redis_key_prefix(redis_url: str) -> str:
    """A key prefix no other test uses, cleaned up with the session: give it to Redis stores."""
    return _unique(_REDIS_SESSION_PREFIX)


def _execute(url: str, statement: str) -> None:
    """Run one statement in its own transaction (schema set-up and tear-down)."""
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The SQLAlchemy URL of the local PostgreSQL test database."""
    _require("PostgreSQL", POSTGRES_URL, lambda: _execute(POSTGRES_URL, "SELECT 1"))
    return POSTGRES_URL


@pytest.fixture
def pg_schema_name(postgres_url: str) -> Iterator[str]:
    """A fresh schema name, not created (for code that creates it); dropped afterwards."""
    name = _unique("skewless_test")
    yield name
    _execute(postgres_url, f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def pg_schema(postgres_url: str, pg_schema_name: str) -> str:
    """A fresh, empty PostgreSQL schema for one test; dropped with its contents afterwards."""
    _execute(postgres_url, f'CREATE SCHEMA "{pg_schema_name}"')
    return pg_schema_name


# -- projects on both metadata databases --------------------------------------------------------

@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def metadata_yaml(request: pytest.FixtureRequest) -> str:
    """The ``metadata:`` line of a skewless.yaml: a SQLite file in the project folder, or a
    fresh PostgreSQL schema. Tests that use it run once on each database."""
    if request.param == "sqlite":
        return "metadata: {url: 'sqlite:///data/metadata.sqlite'}"
    url = request.getfixturevalue("postgres_url")
    return f"metadata: {{url: '{url}', schema: {request.getfixturevalue('pg_schema')}}}"


@pytest.fixture
def project_dir(tmp_path: Path, metadata_yaml: str) -> Iterator[Path]:
    """A project folder (``project: tests``) on SQLite or PostgreSQL; whatever opened it through
    ``skewless.*(project=...)`` is closed afterwards, before its schema is dropped."""
    (tmp_path / "skewless.yaml").write_text(f"project: tests\n{metadata_yaml}\n")
    yield tmp_path
    forget_project(tmp_path)


@pytest.fixture
def project(project_dir: Path) -> Project:
    """The project of ``project_dir`` as the module-level functions see it."""
    return get_project(project_dir)
