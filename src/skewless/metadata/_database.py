"""The metadata database: one SQLAlchemy engine, Alembic migrations, transactions, and the
translation of driver errors into skewless errors. Feature definitions, runs and the model
registry each keep their own tables in it through their own store classes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from skewless.errors import ConfigError, MetadataError, MetadataUnavailableError

__all__ = ["SCHEMA_REVISION", "Database", "lock_id"]

SCHEMA_REVISION = "0004"
"""The newest Alembic revision; opening a database at an older one migrates it first."""

_MIGRATION_LOCK = 0x5EE1E55  # PostgreSQL advisory lock id for migrations
_MIGRATIONS = Path(__file__).parent / "migrations"


def _display_url(url: str) -> str:
    """``url`` as errors show it: with the password hidden when it parses."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _engine(url: str, base_dir: Path | None, schema: str | None) -> sa.Engine:
    shown = _display_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"metadata.url {url!r} is not a database URL; use e.g. "
            "'sqlite:///data/metadata.sqlite' or 'postgresql+psycopg://user@host:5432/db'"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not Path(database).is_absolute():
            database = str((base_dir or Path.cwd()) / database)
            parsed = parsed.set(database=database)
        if database and database != ":memory:":
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise MetadataUnavailableError(
                    f"cannot create the folder of the metadata database {shown}: {exc}; check "
                    "metadata.url in skewless.yaml and that the folder is writable"
                ) from exc
        engine = sa.create_engine(parsed, connect_args={"timeout": 30})

        # pysqlite's deferred transactions deadlock concurrent writers; take the lock up front.
        @sa.event.listens_for(engine, "connect")
        def _no_implicit_begin(dbapi_connection: Any, _: Any) -> None:
            dbapi_connection.isolation_level = None
            # WAL: readers never block the writer; a commit is one append to the log, synced
            # at checkpoints (an application crash loses nothing committed).
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")
            # LIKE is case-sensitive on PostgreSQL; make SQLite's agree (ILIKE ignores case).
            dbapi_connection.execute("PRAGMA case_sensitive_like=ON")

        @sa.event.listens_for(engine, "begin")
        def _begin_immediate(connection: sa.Connection) -> None:
            reading = connection.get_execution_options().get("skewless_read_only", False)
            connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        args = {"options": f"-csearch_path={schema}"} if schema else {}
        return sa.create_engine(parsed, connect_args={"connect_timeout": 10, **args},
                                pool_pre_ping=True)
    raise ConfigError(
        f"metadata.url {shown!r}: accepted databases are sqlite and postgresql, not {backend!r}"
    )


class Database:
    """A connection to the metadata database, migrated to ``SCHEMA_REVISION`` on open.

    ``url`` is a SQLAlchemy URL (a relative SQLite path is relative to ``base_dir``);
    ``schema`` puts every table in that PostgreSQL schema, created when missing.
    """

    def __init__(self, url: str, *, schema: str | None = None,
                 base_dir: Path | None = None) -> None:
        self.schema = schema
        self.url = _display_url(url)
        self._compiled: dict[sa.Executable, sa.Compiled] = {}
        try:
            self.engine = _engine(url, base_dir, schema)
        except NoSuchModuleError as exc:
            raise ConfigError(f"metadata.url {self.url!r}: no driver for it ({exc})") from exc
        self._migrate()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _unavailable(self, exc: DBAPIError) -> MetadataUnavailableError:
        return MetadataUnavailableError(
            f"cannot reach the metadata database at {self.url}: {exc.orig}; check that it is "
            "running and that metadata.url in skewless.yaml is right"
        )

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[sa.Connection]:
        """One transaction; failing to connect (or losing the connection) is "unavailable".

        On SQLite a write transaction takes the write lock up front; ``read_only=True`` does
        not, so reads never wait for writers (WAL gives them a consistent snapshot).
        """
        try:
            connection = self.engine.connect()
            if read_only:
                connection = connection.execution_options(skewless_read_only=True)
        except DBAPIError as exc:
            raise self._unavailable(exc) from exc
        try:
            with connection, connection.begin():
                yield connection
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise self._unavailable(exc) from exc
            raise MetadataError(f"metadata database {self.url} failed: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise MetadataError(f"metadata database {self.url} failed: {exc}") from exc

    def _current_revision(self, connection: sa.Connection) -> str | None:
        table = f"{self.schema}.alembic_version" if self.schema else "alembic_version"
        if not sa.inspect(connection).has_table("alembic_version", schema=self.schema):
            return None
        return connection.exec_driver_sql(f"SELECT version_num FROM {table}").scalar()

    def _migrate(self) -> None:
        with self.transaction() as connection:
            if self._current_revision(connection) == SCHEMA_REVISION:
                return
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"),
                                   {"id": _MIGRATION_LOCK})
                if self.schema:
                    connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            from alembic import command
            from alembic.config import Config

            config = Config()
            config.set_main_option("script_location", str(_MIGRATIONS))
            config.attributes["connection"] = connection
            config.attributes["schema"] = self.schema
            command.upgrade(config, "head")

    def upsert(self, table: sa.Table) -> Any:
        """An INSERT of this dialect, which has ``on_conflict_do_nothing/do_update``."""
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    def in_list(self, column: sa.ColumnElement[Any], name: str) -> sa.ColumnElement[bool]:
        """``column IN <the list bound to name>`` as ONE parameter, so a statement built once
        is compiled once and executes without SQLAlchemy re-rendering an expanding IN for every
        list length: PostgreSQL gets ``= ANY(array)``, SQLite a ``json_each`` over a JSON
        array. Bind the list with ``self.list_param(values)``."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import ARRAY

            return column == sa.any_(sa.bindparam(name, type_=ARRAY(column.type)))
        return column.in_(sa.select(sa.literal_column("value"))
                          .select_from(sa.func.json_each(sa.bindparam(name, type_=sa.String))))

    def list_param(self, values: list[Any]) -> Any:
        """The value to bind for a parameter of ``in_list``."""
        return values if self.dialect == "postgresql" else json.dumps(values)

    def plain_rows(self, connection: sa.Connection, statement: sa.Executable,
                   params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of ``statement`` as plain tuples.

        On SQLite they come straight from the driver's cursor, skipping SQLAlchemy's result
        rows, which cost a third of the time of a query returning a thousand short values
        (``search_runs``' params and metrics); the statement is compiled once. Only for
        columns whose values need no result processing (text, numbers); driver errors are
        raised as SQLAlchemy's, so ``transaction`` translates them as usual.
        """
        if self.dialect != "sqlite":
            return [tuple(row) for row in connection.execute(statement, params)]
        compiled = self._compiled.get(statement)
        if compiled is None:
            compiled = self._compiled[statement] = statement.compile(dialect=self.engine.dialect)
        values = compiled.construct_params(params)
        args = [values[name] for name in compiled.positiontup or ()]
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        cursor = connection.connection.cursor()
        try:
            cursor.execute(compiled.string, args)
            return cursor.fetchall()
        except dbapi_error as exc:
            raise DBAPIError.instance(compiled.string, args, exc, dbapi_error) from exc
        finally:
            cursor.close()

    def lock(self, connection: sa.Connection, name: str) -> None:
        """Make transactions that take the same named lock run one after another.

        SQLite's BEGIN IMMEDIATE already serializes writers; PostgreSQL needs an advisory lock,
        held until the transaction ends.
        """
        if self.dialect == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"),
                               {"id": lock_id(name)})

    def close(self) -> None:
        self.engine.dispose()


def lock_id(text: str) -> int:
    """A stable signed 64-bit id for a PostgreSQL advisory lock."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)
