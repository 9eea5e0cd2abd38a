"""The one exception hierarchy of skewless.

Every error a user can cause says what went wrong and what to do about it. Errors raised by a
lower layer (DuckDB, SQLAlchemy, redis-py, the file system) are translated at the boundary into
one of these, with the original kept as ``__cause__``::

    SkewlessError
    ├── ConfigError                  skewless.yaml or an environment override is invalid
    ├── ProjectNotFoundError         no skewless.yaml where one was looked for
    ├── DefinitionError              a feature definition is invalid on its own
    │   └── SourceSchemaError        a definition does not match the columns of its source
    ├── FeatureNotFoundError         a feature reference names nothing that was applied
    ├── EntityFrameError             an entity frame / entity rows are unusable
    │   └── TimestampError           naive or unparseable timestamps
    ├── SourceError                  a source is missing, unreadable or empty
    ├── OfflineEngineError           the offline engine failed on a valid request
    ├── OnlineStoreError             the online store failed or holds unusable data
    │   └── OnlineStoreUnavailableError   it cannot be reached (names the URL)
    └── MetadataError                the metadata database failed
        └── MetadataUnavailableError      it cannot be reached (names the URL)
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DefinitionError",
    "EntityFrameError",
    "FeatureNotFoundError",
    "MetadataError",
    "MetadataUnavailableError",
    "OfflineEngineError",
    "OnlineStoreError",
    "OnlineStoreUnavailableError",
    "ProjectNotFoundError",
    "SkewlessError",
    "SourceError",
    "SourceSchemaError",
    "TimestampError",
]


class SkewlessError(Exception):
    """Base class of every error skewless raises on purpose."""


class ConfigError(SkewlessError):
    """The project configuration is invalid: names the key and the accepted values."""


class ProjectNotFoundError(SkewlessError):
    """No project (``skewless.yaml``) was found where one was looked for."""


class DefinitionError(SkewlessError):
    """A feature definition is invalid in itself (bad name, dtype, duration, duplicate...)."""


class SourceSchemaError(DefinitionError):
    """A definition refers to columns its source does not have, or has with another type."""


class FeatureNotFoundError(SkewlessError):
    """A feature reference names no applied feature; the message suggests the closest names."""


class EntityFrameError(SkewlessError):
    """An entity frame or list of entity rows cannot be used (missing key, wrong type...)."""


class TimestampError(EntityFrameError):
    """A timestamp is naive (no time zone) or cannot be read as a time."""


class SourceError(SkewlessError):
    """A source cannot be read: missing file, unreadable format, or no rows."""


class OfflineEngineError(SkewlessError):
    """The offline engine failed while executing a valid request."""


class OnlineStoreError(SkewlessError):
    """The online store failed, or holds data that no longer matches the definitions."""


class OnlineStoreUnavailableError(OnlineStoreError):
    """The online store cannot be reached; the message names the URL or path tried."""


class MetadataError(SkewlessError):
    """The metadata database failed."""


class MetadataUnavailableError(MetadataError):
    """The metadata database cannot be reached; the message names the URL tried."""
