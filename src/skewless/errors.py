"""The one exception hierarchy of skewless.

Every error a user can cause says what went wrong and what to do about it. Errors raised by a
lower layer (DuckDB, SQLAlchemy, redis-py, the file system) are translated at the boundary into
one of these, with the original kept as ``__cause__``::

    SkewlessError
    ├── ConfigError                  skewless.yaml or an environment override is invalid
    ├── ProjectNotFoundError         no skewless.yaml where one was looked for
    ├── DefinitionError              a feature definition is invalid on its own
    │   ├── SourceSchemaError        a definition does not match the columns of its source
    │   └── DefinitionInUseError     a change would alter features a live model version uses
    ├── FeatureNotFoundError         a feature reference names nothing that was applied
    ├── EntityFrameError             an entity frame / entity rows are unusable
    │   └── TimestampError           naive or unparseable timestamps
    ├── SourceError                  a source is missing, unreadable or empty
    ├── OfflineEngineError           the offline engine failed on a valid request
    ├── OnlineStoreError             the online store failed or holds unusable data
    │   └── OnlineStoreUnavailableError   it cannot be reached (names the URL)
    ├── MetadataError                the metadata database failed
    │   └── MetadataUnavailableError      it cannot be reached (names the URL)
    ├── TrackingError                a run or experiment cannot be used as asked
    │   └── FilterError              a search filter is malformed (points at the bad token)
    ├── RegistryError                a model registry operation is refused
    │   ├── ModelNotFoundError       no such model, version or alias (suggests close names)
    │   ├── PickleNotAllowedError    pickle-based save or load without allow_pickle=True
    │   ├── FeaturesChangedError     a model's feature definitions are no longer the applied ones
    │   └── PromotionRefusedError    production alias for a model that lost to its baseline
    ├── TrainingError                a training frame, split or evaluation cannot be built
    ├── PredictionRequestError       a prediction request does not fit the model (names the field)
    ├── PredictionLogError           the prediction log or feedback store cannot be written/read
    │   └── PredictionLogUnavailableError   its database cannot be reached (names the URL)
    ├── FeedbackError                labels cannot be used as given (file, column, label type)
    ├── MonitoringError              a monitoring report or alert cannot be made as asked
    └── ArtifactError                an artifact cannot be stored or read
        └── ArtifactIntegrityError   its bytes do not match the recorded SHA-256 digest
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "ArtifactIntegrityError",
    "ConfigError",
    "DefinitionError",
    "DefinitionInUseError",
    "EntityFrameError",
    "FeatureNotFoundError",
    "FeaturesChangedError",
    "FeedbackError",
    "FilterError",
    "MetadataError",
    "MetadataUnavailableError",
    "ModelNotFoundError",
    "MonitoringError",
    "OfflineEngineError",
    "OnlineStoreError",
    "OnlineStoreUnavailableError",
    "PickleNotAllowedError",
    "PredictionLogError",
    "PredictionLogUnavailableError",
    "PredictionRequestError",
    "ProjectNotFoundError",
    "PromotionRefusedError",
    "RegistryError",
    "SkewlessError",
    "SourceError",
    "SourceSchemaError",
    "TimestampError",
    "TrackingError",
    "TrainingError",
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


class TrackingError(SkewlessError):
    """A run or experiment cannot be used as asked (e.g. a param logged twice differently)."""


class FilterError(TrackingError):
    """A ``search_runs`` filter or order-by is malformed; the message points at the token."""


class RegistryError(SkewlessError):
    """A model registry operation is refused (e.g. deleting a version an alias points to)."""


class ModelNotFoundError(RegistryError):
    """No such model, version or alias; the message suggests close names."""


class PickleNotAllowedError(RegistryError):
    """Saving or loading with pickle was attempted without ``allow_pickle=True``."""


class ArtifactError(SkewlessError):
    """An artifact cannot be stored or read."""


class ArtifactIntegrityError(ArtifactError):
    """An artifact's bytes do not match its recorded SHA-256 digest (tampered or truncated)."""


class DefinitionInUseError(DefinitionError):
    """Applying a changed definition would change the features of a model version that a live
    alias serves; the message names the models, versions and aliases (``force=True`` overrides)."""


class FeaturesChangedError(RegistryError):
    """A model version was trained on feature definitions that are no longer the applied ones;
    the message names each changed definition."""


class PromotionRefusedError(RegistryError):
    """Setting ``production`` on a version that did not beat its baseline (``force=True``
    overrides)."""


class TrainingError(SkewlessError):
    """A training frame, split, evaluation or model binding cannot be built as asked."""


class PredictionRequestError(SkewlessError):
    """A prediction or feedback request does not fit: ``field`` names the offending part
    (``entities.user_id``, ``request.amount``, ``[3].request``...) and ``status`` is the HTTP
    status the server answers with (422, or 413 for an oversized body)."""

    def __init__(self, message: str, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


class PredictionLogError(SkewlessError):
    """The prediction log or the feedback store cannot be written or read; the message names
    the folder or database."""


class PredictionLogUnavailableError(PredictionLogError):
    """The prediction log's database cannot be reached; the message names the URL."""


class FeedbackError(SkewlessError):
    """Labels cannot be used as given: a feedback file is unreadable or lacks a column, or a
    label is not a number, string or boolean."""


class MonitoringError(SkewlessError):
    """A monitoring report or alert cannot be made as asked: an unreadable window, nothing
    logged in it, no prediction log, or an alert that cannot be delivered."""
