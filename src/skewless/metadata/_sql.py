"""The SQLAlchemy metadata backend: a SQLite file by default, PostgreSQL by URL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from skewless._time import utc_now
from skewless.errors import MetadataError
from skewless.metadata import _tables as t
from skewless.metadata._backend import (
    AuditEntry,
    DefinitionChange,
    DefinitionRecord,
    MetadataBackend,
)
from skewless.metadata._database import Database

__all__ = ["SqlMetadataBackend"]

class SqlMetadataBackend(MetadataBackend):
    """Metadata in a SQL database through SQLAlchemy; the schema is migrated with Alembic."""

    def __init__(self, url: str | Database, project: str, *, schema: str | None = None,
                 base_dir: Path | None = None) -> None:
        self.project = project
        self.database = url if isinstance(url, Database) else Database(
            url, schema=schema, base_dir=base_dir)
        self.url = self.database.url
        self._transaction = self.database.transaction
        self._insert_ignoring_duplicates = self.database.upsert

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
        """Make concurrent applies of one project take turns: without it, two applies read the
        same current hash and both record a change from it."""
        self.database.lock(connection, f"apply:{self.project}")

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
        with self._transaction(read_only=True) as connection:
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
        with self._transaction(read_only=True) as connection:
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
        with self._transaction(read_only=True) as connection:
            rows = connection.execute(sa.select(a).where(a.c.project == self.project)
                                      .order_by(a.c.id.desc()).limit(limit))
            return [AuditEntry(r.at, r.actor, r.action, r.target, _as_dict(r.detail))
                    for r in rows]

    def close(self) -> None:
        self.database.close()


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
