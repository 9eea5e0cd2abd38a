"""The metadata backend interface and the records it stores."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = ["AuditEntry", "DefinitionChange", "DefinitionRecord", "MetadataBackend"]


@dataclass(frozen=True)
class DefinitionRecord:
    """One recorded version of a definition, identified by its content hash."""

    kind: str
    name: str
    definition_hash: str
    spec: dict[str, Any]
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class DefinitionChange:
    """What applying one definition did."""

    kind: str
    name: str
    action: Literal["created", "changed", "unchanged", "described"]
    old_hash: str | None
    new_hash: str


@dataclass(frozen=True)
class AuditEntry:
    """One change to the metadata, with who made it and when."""

    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


class MetadataBackend(ABC):
    """Where a project's definitions, high-water marks and audit log are kept.

    Implementations must pass ``skewless.testing.check_metadata_backend``.
    Every write is one transaction: it happens whole or not at all.
    """

    @abstractmethod
    def apply_definitions(
        self, definitions: Sequence[tuple[str, str, str, dict[str, Any]]], actor: str
    ) -> list[DefinitionChange]:
        """Record ``(kind, name, hash, spec)`` tuples as the current definitions.

        A new hash is a new version (older ones stay); the same hash is a no-op, except that a
        changed description or tags (not hashed) is stored as ``described``.
        """

    @abstractmethod
    def current_definitions(self) -> list[DefinitionRecord]:
        """The definitions in force, one per (kind, name)."""

    @abstractmethod
    def definition_history(self, kind: str, name: str) -> list[DefinitionRecord]:
        """Every recorded version of one definition, oldest first."""

    @abstractmethod
    def high_water_mark(self, view: str) -> datetime | None:
        """The end of the last completed materialization of ``view``, if any."""

    @abstractmethod
    def set_high_water_mark(self, view: str, end: datetime, actor: str) -> None:
        """Record that ``view`` is materialized up to ``end``; never moves the mark back."""

    @abstractmethod
    def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        """The latest changes, newest first."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
