"""The SQLAlchemy metadata backend: a SQLite file by default, PostgreSQL by URL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from skewless._time import utc_now
from skewless.errors import ConfigError, MetadataError, MetadataUnavailableError
from skewless.metadata import _tables as t
from skewless.metadata._backend import (
    AuditEntry,
    DefinitionChange,
    DefinitionRecord,
    MetadataBackend,
)

__all__ = ["SCHEMA_REVISION", "SqlMetadataBackend"]

SCHEMA_REVISION = "0001"
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

        @sa.event.listens_for(engine, "begin")
        def _begin_immediate(connection: sa.Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

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


class SqlMetadataBackend(MetadataBackend):
    """Metadata in a SQL database through SQLAlchemy; the schema is migrated with Alembic."""

    def __init__(self, url: str, project: str, *, schema: str | None = None,
                 base_dir: Path | None = None) -> None:
        self.project = project
        self.schema = schema
        self.url = _display_url(url)
        try:
            self._engine = _engine(url, base_dir, schema)
        except NoSuchModuleError as exc:
            raise ConfigError(f"metadata.url {self.url!r}: no driver for it ({exc})") from exc
        self._migrate()

    def _unavailable(self, exc: DBAPIError) -> MetadataUnavailableError:
        return MetadataUnavailableError(
            f"cannot reach the metadata database at {self.url}: {exc.orig}; check that it is "
            "running and that metadata.url in skewless.yaml is right"
        )

    @contextmanager
    def _transaction(self) -> Iterator[sa.Connection]:
        """One transaction; failing to connect (or losing the connection) is "unavailable"."""
        try:
            connection = self._engine.connect()
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
        with self._transaction() as connection:
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

    def _insert_ignoring_duplicates(self, table: sa.Table) -> Any:
        if self._engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    def apply_definitions(
        self, definitions: Sequence[tuple[str, str, str, dict[str, Any]]], actor: str
    ) -> list[DefinitionChange]:
        now = utc_now()
        # Checked before the transaction, and compared as stored (tuples become lists...).
        batch = [(kind, name, digest, _as_json(kind, name, spec))
                 for kind, name, digest, spec in definitions]
        changes: list[DefinitionChange] = []
        with self._transaction() as connection:
            self._serialize_applies(connection)
            current = {
                (row.kind, row.name): row.definition_hash
                for row in connection.execute(
                    sa.select(t.current_definitions).where(
                        t.current_definitions.c.project == self.project)
                )
            }
            for kind, name, digest, spec in batch:
                old = current.get((kind, name))
                action = self._store_version(connection, kind, name, digest, spec, now, actor)
                if old != digest:
                    action = "created" if old is None else "changed"
                    self._make_current(connection, kind, name, digest, now, actor)
                    current[(kind, name)] = digest
                changes.append(DefinitionChange(kind, name, action, old, digest))
                if action != "unchanged":
                    connection.execute(sa.insert(t.audit_log).values(
                        project=self.project, at=now, actor=actor, action=f"definition.{action}",
                        target=f"{kind}:{name}", detail={"old_hash": old, "new_hash": digest}))
        return changes

    def _serialize_applies(self, connection: sa.Connection) -> None:
        """Make concurrent applies of one project take turns (SQLite's BEGIN IMMEDIATE does).

        Without it, two applies read the same current hash and both record a change from it.
        """
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"),
                               {"id": _lock_id(f"apply:{self.project}")})

    def _store_version(self, connection: sa.Connection, kind: str, name: str, digest: str,
                       spec: dict[str, Any], now: datetime,
                       actor: str) -> Literal["unchanged", "described"]:
        """Insert the version, or update its spec; ``described`` when the stored spec differed."""
        version = {"project": self.project, "kind": kind, "name": name,
                   "definition_hash": digest}
        stored = connection.execute(
            sa.select(t.definitions.c.id, t.definitions.c.spec).filter_by(**version)
        ).first()
        if stored is None:
            connection.execute(
                self._insert_ignoring_duplicates(t.definitions)
                .values(**version, spec=spec, created_at=now, created_by=actor)
                .on_conflict_do_nothing()
            )
            return "unchanged"
        if _as_dict(stored.spec) == spec:
            return "unchanged"
        connection.execute(sa.update(t.definitions).where(t.definitions.c.id == stored.id)
                           .values(spec=spec))
        return "described"

    def _make_current(self, connection: sa.Connection, kind: str, name: str, digest: str,
                      now: datetime, actor: str) -> None:
        upsert = self._insert_ignoring_duplicates(t.current_definitions).values(
            project=self.project, kind=kind, name=name, definition_hash=digest,
            applied_at=now, applied_by=actor)
        connection.execute(upsert.on_conflict_do_update(
            index_elements=["project", "kind", "name"],
            set_={"definition_hash": digest, "applied_at": now, "applied_by": actor},
        ))

    def _records(self, query: sa.Select[Any]) -> list[DefinitionRecord]:
        with self._transaction() as connection:
            return [
                DefinitionRecord(row.kind, row.name, row.definition_hash, _as_dict(row.spec),
                                 row.created_at, row.created_by)
                for row in connection.execute(query)
            ]

    def current_definitions(self) -> list[DefinitionRecord]:
        d, c = t.definitions, t.current_definitions
        return self._records(
            sa.select(d).join(c, sa.and_(d.c.project == c.c.project, d.c.kind == c.c.kind,
                                         d.c.name == c.c.name,
                                         d.c.definition_hash == c.c.definition_hash))
            .where(c.c.project == self.project).order_by(d.c.id)
        )

    def definition_history(self, kind: str, name: str) -> list[DefinitionRecord]:
        d = t.definitions
        return self._records(sa.select(d).where(d.c.project == self.project, d.c.kind == kind,
                                                d.c.name == name).order_by(d.c.id))

    def high_water_mark(self, view: str) -> datetime | None:
        m = t.high_water_marks
        with self._transaction() as connection:
            return connection.execute(sa.select(m.c.materialized_until).where(
                m.c.project == self.project, m.c.view == view)).scalar()

    def set_high_water_mark(self, view: str, end: datetime, actor: str) -> None:
        m = t.high_water_marks
        now = utc_now()
        upsert = self._insert_ignoring_duplicates(m).values(
            project=self.project, view=view, materialized_until=end, updated_at=now)
        with self._transaction() as connection:
            # RETURNING yields a row only when the mark was inserted or moved (psycopg's
            # rowcount is -1 for this statement, which would audit marks that did not move).
            moved = connection.execute(upsert.on_conflict_do_update(
                index_elements=["project", "view"],
                set_={"materialized_until": end, "updated_at": now},
                where=m.c.materialized_until < upsert.excluded.materialized_until,
            ).returning(m.c.view)).first()
            if moved is not None:
                connection.execute(sa.insert(t.audit_log).values(
                    project=self.project, at=now, actor=actor, action="materialize",
                    target=f"feature_view:{view}", detail={"until": end.isoformat()}))

    def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        a = t.audit_log
        with self._transaction() as connection:
            rows = connection.execute(sa.select(a).where(a.c.project == self.project)
                                      .order_by(a.c.id.desc()).limit(limit))
            return [AuditEntry(r.at, r.actor, r.action, r.target, _as_dict(r.detail))
                    for r in rows]

    def close(self) -> None:
        self._engine.dispose()


def _as_dict(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)


def _as_json(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` as JSON will give it back; a spec JSON cannot hold fails the whole apply."""
    try:
        normalized: dict[str, Any] = json.loads(json.dumps(spec, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise MetadataError(
            f"the spec of {kind} {name!r} cannot be stored as JSON ({exc}); nothing was applied"
        ) from exc
    return normalized


def _lock_id(text: str) -> int:
    """A stable signed 64-bit id for a PostgreSQL advisory lock."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)
