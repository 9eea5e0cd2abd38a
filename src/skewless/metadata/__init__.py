"""The metadata database: definitions and their history, materialization marks, audit log."""

from skewless.metadata._backend import (
    AuditEntry,
    DefinitionChange,
    DefinitionRecord,
    MetadataBackend,
)
from skewless.metadata._database import SCHEMA_REVISION, Database
from skewless.metadata._sql import SqlMetadataBackend

__all__ = [
    "SCHEMA_REVISION",
    "AuditEntry",
    "Database",
    "DefinitionChange",
    "DefinitionRecord",
    "MetadataBackend",
    "SqlMetadataBackend",
]
