"""Model versions and aliases in the metadata database."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from skewless._time import utc_now
from skewless.errors import ModelNotFoundError, RegistryError
from skewless.metadata import _tables as t
from skewless.metadata._database import Database
from skewless.registry._records import AliasMove, ModelVersion, version_from_row

__all__ = ["RegistryStore"]


class RegistryStore:
    """Reads and writes one project's model versions and aliases, one transaction per call."""

    def __init__(self, database: Database, project: str) -> None:
        self.database = database
        self.project = project

    # -- versions -----------------------------------------------------------------------------

    def insert_version(self, name: str, values: Mapping[str, Any], actor: str) -> int:
        """Allocate the next version number and insert the version in the same transaction,
        so concurrent registrations get 1, 2, 3... with no gap, duplicate or loss."""
        m, v = t.registered_models, t.model_versions
        with self.database.transaction() as connection:
            connection.execute(self.database.upsert(m).values(
                project=self.project, name=name, latest_version=0, created_at=utc_now(),
                created_by=actor).on_conflict_do_nothing())
            version = connection.execute(
                sa.update(m).where(m.c.project == self.project, m.c.name == name)
                .values(latest_version=m.c.latest_version + 1).returning(m.c.latest_version)
            ).scalar_one()
            # The time is read once the row is locked, so later versions never get earlier times.
            now = utc_now()
            connection.execute(sa.insert(v).values(
                project=self.project, model_name=name, version=version, status="ready",
                created_at=now, created_by=actor, **values))
            self._audit(connection, "model.register", f"{name}/{version}", {}, actor, now)
        return version

    def _audit(self, connection: sa.Connection, action: str, target: str,
               detail: dict[str, Any], actor: str, now: datetime) -> None:
        connection.execute(sa.insert(t.audit_log).values(
            project=self.project, at=now, actor=actor, action=action, target=target,
            detail=detail))

    def models(self) -> list[tuple[str, int, datetime]]:
        """``(name, latest version, created at)`` of every registered model."""
        m = t.registered_models
        with self.database.transaction(read_only=True) as connection:
            return [tuple(row) for row in connection.execute(  # type: ignore[misc]
                sa.select(m.c.name, m.c.latest_version, m.c.created_at)
                .where(m.c.project == self.project).order_by(m.c.name))]

    def _unknown_model(self, name: str) -> ModelNotFoundError:
        names = [n for n, _, _ in self.models()]
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else (
            f"; registered models: {', '.join(names)}" if names else "; none is registered yet")
        return ModelNotFoundError(f"no model named {name!r}{hint}")

    def resolve(self, name: str, selector: str | int) -> int:
        """The version number meant by a version, an alias, or ``latest``."""
        if isinstance(selector, int):
            self.get(name, selector)
            return selector
        if selector == "latest":
            v = t.model_versions
            with self.database.transaction(read_only=True) as connection:
                latest = connection.execute(sa.select(sa.func.max(v.c.version)).where(
                    v.c.project == self.project, v.c.model_name == name,
                    v.c.status == "ready")).scalar()
            if latest is None:
                if name in [n for n, _, _ in self.models()]:
                    raise ModelNotFoundError(f"model {name!r} has no live version: every "
                                             "version was deleted; register a new one")
                raise self._unknown_model(name)
            return int(latest)
        aliases = self.aliases(name)
        if selector not in aliases:
            if not self.models() or name not in [n for n, _, _ in self.models()]:
                raise self._unknown_model(name)
            known = ", ".join(f"{a} → {n}" for a, n in sorted(aliases.items())) or "none"
            raise ModelNotFoundError(f"model {name!r} has no alias {selector!r} (aliases: "
                                     f"{known}); set one with skewless.set_alias or "
                                     f"`skewless models alias set {name} {selector} VERSION`")
        return aliases[selector]

    def get(self, name: str, version: int) -> ModelVersion:
        v = t.model_versions
        with self.database.transaction(read_only=True) as connection:
            row = connection.execute(sa.select(v).where(
                v.c.project == self.project, v.c.model_name == name,
                v.c.version == version)).first()
        if row is None:
            latest = {n: last for n, last, _ in self.models()}.get(name)
            if latest is None:
                raise self._unknown_model(name)
            raise ModelNotFoundError(f"model {name!r} has no version {version}; its versions "
                                     f"are 1 to {latest}")
        aliases = [a for a, n in self.aliases(name).items() if n == version]
        return version_from_row(row, sorted(aliases))

    def versions(self, name: str) -> list[ModelVersion]:
        v = t.model_versions
        aliases = self.aliases(name)
        with self.database.transaction(read_only=True) as connection:
            rows = connection.execute(sa.select(v).where(
                v.c.project == self.project, v.c.model_name == name).order_by(v.c.version)).all()
        if not rows:
            raise self._unknown_model(name)
        return [version_from_row(row, sorted(a for a, n in aliases.items() if n == row.version))
                for row in rows]

    def delete_version(self, name: str, version: int, actor: str) -> None:
        """Mark a version deleted (its number is never reused); refused while aliased."""
        record = self.get(name, version)  # explains an unknown model or version
        if record.status != "ready":
            raise RegistryError(f"{name}/{version} is already deleted")
        v = t.model_versions
        with self.database.transaction() as connection:
            self.database.lock(connection, f"model:{self.project}:{name}")
            pointing = self._aliases(connection, name)
            held = sorted(a for a, n in pointing.items() if n == version)
            if held:
                raise RegistryError(f"{name}/{version} is {', '.join(held)}; move or delete "
                                    f"{'that alias' if len(held) == 1 else 'those aliases'} "
                                    "before deleting the version")
            now = utc_now()
            deleted = connection.execute(sa.update(v).where(
                v.c.project == self.project, v.c.model_name == name, v.c.version == version,
                v.c.status == "ready").values(status="deleted", deleted_at=now)).rowcount
            if not deleted:  # a concurrent delete_version won the race
                raise RegistryError(f"{name}/{version} is already deleted")
            self._audit(connection, "model.delete", f"{name}/{version}", {}, actor, now)

    # -- aliases ------------------------------------------------------------------------------

    def _status(self, connection: sa.Connection, name: str, version: int) -> str | None:
        v = t.model_versions
        return connection.execute(sa.select(v.c.status).where(
            v.c.project == self.project, v.c.model_name == name,
            v.c.version == version)).scalar()

    def _aliases(self, connection: sa.Connection, name: str) -> dict[str, int]:
        a = t.model_aliases
        return dict(connection.execute(sa.select(a.c.alias, a.c.version).where(
            a.c.project == self.project, a.c.model_name == name)).all())

    def aliases(self, name: str) -> dict[str, int]:
        with self.database.transaction(read_only=True) as connection:
            return self._aliases(connection, name)

    def _move(self, connection: sa.Connection, name: str, alias: str, old: int | None,
              new: int | None, action: str, actor: str, now: datetime) -> None:
        a = t.model_aliases
        where = (a.c.project == self.project, a.c.model_name == name, a.c.alias == alias)
        if new is None:
            connection.execute(sa.delete(a).where(*where))
        elif old is None:
            connection.execute(sa.insert(a).values(project=self.project, model_name=name,
                                                   alias=alias, version=new, updated_at=now,
                                                   updated_by=actor))
        else:
            connection.execute(sa.update(a).where(*where).values(version=new, updated_at=now,
                                                                 updated_by=actor))
        connection.execute(sa.insert(t.alias_history).values(
            project=self.project, model_name=name, alias=alias, from_version=old,
            to_version=new, action=action, at=now, by=actor))
        self._audit(connection, f"alias.{action}", f"{name}@{alias}",
                    {"from": old, "to": new}, actor, now)

    def set_alias(self, name: str, alias: str, version: int, actor: str,
                  action: str = "set") -> int | None:
        """Point ``alias`` at ``version``; returns the version it pointed at before.

        Archiving (alias ``archived``) takes every other alias away from that version.
        """
        record = self.get(name, version)  # explains an unknown model or version
        deleted = RegistryError(f"{name}/{version} is deleted; aliases point at live versions")
        if record.status != "ready":
            raise deleted
        with self.database.transaction() as connection:
            self.database.lock(connection, f"model:{self.project}:{name}")
            # Read under the lock: moves are recorded in the order they happen, with times in
            # that order too ("which version was production at time X" depends on it).
            now = utc_now()
            if self._status(connection, name, version) != "ready":
                raise deleted  # a concurrent delete_version won the race
            current = self._aliases(connection, name)
            old = current.get(alias)
            if old != version:
                self._move(connection, name, alias, old, version, action, actor, now)
            if alias == "archived":
                for other, target in sorted(current.items()):
                    if target == version and other != "archived":
                        self._move(connection, name, other, version, None, "archive", actor, now)
        return old

    def delete_alias(self, name: str, alias: str, actor: str) -> int:
        self.resolve(name, alias)  # explains an unknown model or alias
        with self.database.transaction() as connection:
            self.database.lock(connection, f"model:{self.project}:{name}")
            current = self._aliases(connection, name).get(alias)
            if current is None:
                raise ModelNotFoundError(f"model {name!r} has no alias {alias!r}")
            self._move(connection, name, alias, current, None, "delete", actor, utc_now())
        return current

    def live_feature_hashes(self) -> list[tuple[str, int, str, dict[str, str]]]:
        """``(model, version, alias, feature hashes)`` for every alias other than ``archived``
        that points at a version trained on skewless features."""
        a, v = t.model_aliases, t.model_versions
        with self.database.transaction(read_only=True) as connection:
            rows = connection.execute(
                sa.select(a.c.model_name, a.c.version, a.c.alias, v.c.feature_hashes)
                .join(v, sa.and_(v.c.project == a.c.project, v.c.model_name == a.c.model_name,
                                 v.c.version == a.c.version))
                .where(a.c.project == self.project, a.c.alias != "archived",
                       v.c.feature_hashes.is_not(None))
                .order_by(a.c.model_name, a.c.version, a.c.alias)).all()
        return [(r.model_name, r.version, r.alias, dict(r.feature_hashes)) for r in rows
                if r.feature_hashes]

    def history(self, name: str, alias: str) -> list[AliasMove]:
        h = t.alias_history
        with self.database.transaction(read_only=True) as connection:
            rows = connection.execute(sa.select(h).where(
                h.c.project == self.project, h.c.model_name == name, h.c.alias == alias)
                .order_by(h.c.id)).all()
        return [AliasMove(r.alias, r.from_version, r.to_version, r.action, r.at, r.by)
                for r in rows]

    def rollback(self, name: str, alias: str, actor: str) -> tuple[int, int]:
        """Move ``alias`` back to the version it pointed at before its last move."""
        self.resolve(name, alias)  # explains an unknown model or alias
        with self.database.transaction() as connection:
            self.database.lock(connection, f"model:{self.project}:{name}")
            current = self._aliases(connection, name).get(alias)
            h = t.alias_history
            last = connection.execute(sa.select(h).where(
                h.c.project == self.project, h.c.model_name == name, h.c.alias == alias)
                .order_by(h.c.id.desc()).limit(1)).first()
            if current is None or last is None:
                raise RegistryError(f"{name}@{alias} has no history to roll back")
            previous = last.from_version
            if previous is None:
                raise RegistryError(f"{name}@{alias} was first set to version {current} and "
                                    "never pointed anywhere else: there is nothing to roll back "
                                    "to; set it to a version with set_alias")
            if self._status(connection, name, previous) != "ready":
                raise RegistryError(f"{name}@{alias} pointed at {name}/{previous} before, but "
                                    "that version is deleted; set the alias explicitly")
            self._move(connection, name, alias, current, previous, "rollback", actor, utc_now())
        return current, previous
