"""The online store interface: versioned opaque records, read many at once."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

__all__ = ["OnlineStore", "Record"]

Record = tuple[str, int, bytes]
"""``(entity_key, version, payload)``: a newer-or-equal version replaces an older one."""


class OnlineStore(ABC):
    """Key-value storage of the latest feature values, in namespaces (one per view version).

    The store knows nothing of features: the feature store encodes values into ``payload``.
    Implementations must pass ``skewless.testing.check_online_store``.
    """

    @abstractmethod
    def write(self, namespace: str, records: Sequence[Record]) -> int:
        """Store records whose version is at least the stored one; return how many were stored.

        Conditional writes make materialization idempotent and order-independent: re-running it,
        or running an older interval after a newer one, never replaces newer values.
        """

    @abstractmethod
    def read(self, keys: Sequence[tuple[str, str]]) -> list[bytes | None]:
        """Payloads of ``(namespace, entity_key)`` pairs, ``None`` where absent; one round trip."""

    @abstractmethod
    def drop_namespace(self, namespace: str) -> None:
        """Delete every record of a namespace."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
