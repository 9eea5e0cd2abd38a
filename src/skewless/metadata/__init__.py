"""The metadata database: definitions and their history, materialization marks, audit log."""

from skewless.metadata._backend import (
    AuditEntry,
    DefinitionChange,
    DefinitionRecord,
    MetadataBackend,
)
from skewless.metadata._sql import SCHEMA_REVISION, SqlMetadataBackend

__all__ = [
    "SCHEMA_REVISION",
    "AuditEntry",
    "DefinitionChange",
    "DefinitionRecord",
    "MetadataBackend",
    "SqlMetadataBackend",
]
