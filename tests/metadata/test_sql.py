"""The SQL metadata backend on SQLite and PostgreSQL: checks, migrations, errors, concurrency."""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from itertools import pairwise
from pathlib import Path

import alembic.command
import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

import _metadata_workers as work
from skewless.errors import ConfigError, MetadataError, MetadataUnavailableError
from skewless.metadata import SCHEMA_REVISION, Database, SqlMetadataBackend
from skewless.testing import METADATA_BACKEND_CHECKS
from skewless.testing._metadata import MetadataBackendFactory

TABLES = {"alembic_version", "audit_log", "current_definitions", "definitions",
          "high_water_marks", "experiments", "runs", "run_params", "run_tags", "run_metrics",
          "run_latest_metrics", "run_artifacts", "registered_models", "model_versions",
          "model_aliases", "alias_history"}
ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'metadata.sqlite'}"


@pytest.fixture(params=ENGINES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """``(url, schema)`` of an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return _sqlite_url(tmp_path), None
    return request.getfixturevalue("postgres_url"), request.getfixturevalue("pg_schema")


@pytest.fixture
def factory(database: tuple[str, str | None]) -> MetadataBackendFactory:
    """Each call opens a backend for a new project in the one database of the test."""
    url, schema = database
    counter = itertools.count()
    return lambda: SqlMetadataBackend(url, f"project_{next(counter)}", schema=schema)


@pytest.mark.parametrize("check", METADATA_BACKEND_CHECKS,
                         ids=lambda check: check.__name__.removeprefix("check_"))
def test_conformance(check: Callable[[MetadataBackendFactory], None],
                     factory: MetadataBackendFactory) -> None:
    check(factory)


def test_schema_revision_is_the_alembic_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(_migrations_folder()))
    assert ScriptDirectory.from_config(config).get_heads() == [SCHEMA_REVISION]


def _migrations_folder() -> Path:
    import skewless.metadata

    return Path(skewless.metadata.__file__).parent / "migrations"


def _tables(url: str, schema: str | None) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return set(sa.inspect(connection).get_table_names(schema=schema))
    finally:
        engine.dispose()


def _revision(url: str, schema: str | None) -> str:
    engine = sa.create_engine(url)
    table = f'"{schema}".alembic_version' if schema else "alembic_version"
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql(f"SELECT version_num FROM {table}").scalar_one()
    finally:
        engine.dispose()


def test_opening_an_empty_database_migrates_it_to_head(
        database: tuple[str, str | None]) -> None:
    url, schema = database
    SqlMetadataBackend(url, "p", schema=schema).close()
    assert _tables(url, schema) >= TABLES
    assert _revision(url, schema) == SCHEMA_REVISION


@pytest.mark.postgres
def test_schema_is_created_and_holds_every_table(postgres_url: str,
                                                 pg_schema_name: str) -> None:
    backend = SqlMetadataBackend(postgres_url, "p", schema=pg_schema_name)
    backend.set_high_water_mark("v@1", work.START, "alice")
    backend.close()
    assert _tables(postgres_url, pg_schema_name) == TABLES
    assert not TABLES & _tables(postgres_url, "public")


def test_reopening_a_migrated_database_runs_no_migration(
        database: tuple[str, str | None], monkeypatch: pytest.MonkeyPatch) -> None:
    url, schema = database
    first = SqlMetadataBackend(url, "p", schema=schema)
    first.set_high_water_mark("v@1", work.START, "alice")
    first.close()

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("a migration ran on an up-to-date database")

    monkeypatch.setattr(alembic.command, "upgrade", refuse)
    reopened = SqlMetadataBackend(url, "p", schema=schema)
    assert reopened.high_water_mark("v@1") == work.START
    reopened.close()


def test_relative_sqlite_path_is_under_base_dir(tmp_path: Path) -> None:
    SqlMetadataBackend("sqlite:///data/metadata.sqlite", "p", base_dir=tmp_path).close()
    assert (tmp_path / "data" / "metadata.sqlite").is_file()


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql+psycopg://postgres@127.0.0.1:1/test",
     "postgresql+psycopg://postgres@127.0.0.1:1/test"),
    ("postgresql://postgres:s3cret@127.0.0.1:1/test", "postgresql://postgres:***@127.0.0.1:1/test"),
    ("postgresql+psycopg://postgres@host.invalid:5432/test",
     "postgresql+psycopg://postgres@host.invalid:5432/test"),
])
def test_unreachable_database_is_unavailable_and_named(url: str, shown: str) -> None:
    with pytest.raises(MetadataUnavailableError) as raised:
        SqlMetadataBackend(url, "p")
    assert shown in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_unopenable_sqlite_file_is_unavailable_and_named(tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("not a folder")
    url = f"sqlite:///{tmp_path / 'a_file' / 'metadata.sqlite'}"
    with pytest.raises(MetadataUnavailableError, match=r"metadata\.url") as raised:
        SqlMetadataBackend(url, "p")
    assert url in str(raised.value)


@pytest.mark.parametrize(("url", "expected"), [
    ("mysql://user:s3cret@127.0.0.1/db", "accepted databases are sqlite and postgresql"),
    ("garbage", "is not a database URL"),
    ("", "is not a database URL"),
    ("postgresql+nodriver://user:s3cret@127.0.0.1/db", "no driver"),
])
def test_unsupported_url_is_a_config_error(url: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as raised:
        SqlMetadataBackend(url, "p")
    assert "metadata.url" in str(raised.value)
    assert "s3cret" not in str(raised.value)


def _run_workers(url: str, schema: str | None, project: str) -> None:
    """Start every worker at once in its own spawned process; re-raise the first failure."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(work.PROCESSES)
    with ProcessPoolExecutor(work.PROCESSES, mp_context=context, initializer=work.init,
                             initargs=(barrier,)) as pool:
        futures = [pool.submit(work.apply_and_mark, url, schema, project, worker)
                   for worker in range(work.PROCESSES)]
        for future in futures:
            future.result(timeout=300)


def _expect_every_version_once(backend: SqlMetadataBackend) -> None:
    rounds = range(work.ROUNDS)
    workers = range(work.PROCESSES)
    for worker in workers:
        name = work.own_name(worker)
        history = [r.definition_hash for r in backend.definition_history("feature_view", name)]
        assert history == [work.definition_hash(name, worker, r) for r in rounds], name
    shared = [r.definition_hash for r in backend.definition_history("feature_view", work.SHARED)]
    assert sorted(shared) == sorted(work.definition_hash(work.SHARED, w, r)
                                    for w in workers for r in rounds)


def _expect_serial_audit(backend: SqlMetadataBackend) -> None:
    """Each audited change starts from the hash the previous one left (no lost update)."""
    entries = list(reversed(backend.audit_log(limit=10_000)))
    chain = [e.detail for e in entries if e.target == f"feature_view:{work.SHARED}"]
    assert len(chain) == work.PROCESSES * work.ROUNDS
    assert chain[0]["old_hash"] is None
    lost = [later for earlier, later in pairwise(chain)
            if later["old_hash"] != earlier["new_hash"]]
    assert not lost, f"{len(lost)} audited changes did not start from the current hash: {lost}"
    current = {r.name: r.definition_hash for r in backend.current_definitions()}
    assert current[work.SHARED] == chain[-1]["new_hash"]
    moves = [e.detail["until"] for e in entries if e.target == f"feature_view:{work.SHARED_MARK}"]
    assert moves == sorted(set(moves)), "the shared mark was audited moving back or in place"


def _expect_marks_at_their_maximum(backend: SqlMetadataBackend) -> None:
    assert backend.high_water_mark(work.SHARED_MARK) == max(
        work.shared_mark(w, r) for w in range(work.PROCESSES) for r in range(work.ROUNDS))
    for worker in range(work.PROCESSES):
        assert backend.high_water_mark(work.own_name(worker)) == work.own_mark(work.ROUNDS - 1)


@pytest.fixture(params=ENGINES)
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """``(url, schema)`` of a database nobody has opened: migrations race as well."""
    if request.param == "sqlite":
        return _sqlite_url(tmp_path), None
    return request.getfixturevalue("postgres_url"), request.getfixturevalue("pg_schema_name")


def test_concurrent_processes_lose_nothing(fresh_database: tuple[str, str | None]) -> None:
    url, schema = fresh_database
    _run_workers(url, schema, "concurrent")
    backend = SqlMetadataBackend(url, "concurrent", schema=schema)
    try:
        _expect_every_version_once(backend)
        _expect_serial_audit(backend)
        _expect_marks_at_their_maximum(backend)
    finally:
        backend.close()


def test_plain_rows_equal_sqlalchemy_rows_and_driver_errors_are_translated(
        database: tuple[str, str | None]) -> None:
    url, schema = database
    db = Database(url, schema=schema)
    try:
        backend = SqlMetadataBackend(db, "plain")
        backend.apply_definitions([("entity", "user", "a" * 64, {"x": 1.5}),
                                   ("entity", "card", "b" * 64, {"y": None})], "tester")
        d = sa.table("current_definitions", sa.column("project"), sa.column("kind"),
                     sa.column("name"), sa.column("definition_hash"), schema=schema)
        query = sa.select(d.c.kind, d.c.name, d.c.definition_hash).where(
            d.c.project == sa.bindparam("project")).order_by(d.c.name)
        with db.transaction(read_only=True) as connection:
            plain = db.plain_rows(connection, query, {"project": "plain"})
            again = db.plain_rows(connection, query, {"project": "plain"})  # compiled once
            expected = [tuple(row) for row in connection.execute(query, {"project": "plain"})]
        assert plain == again == expected == [("entity", "card", "b" * 64),
                                              ("entity", "user", "a" * 64)]
        missing = sa.select(sa.table("no_such_table", sa.column("x")).c.x)
        with pytest.raises(MetadataError, match="no_such_table"), \
                db.transaction(read_only=True) as connection:
            db.plain_rows(connection, missing, {})
    finally:
        db.close()
