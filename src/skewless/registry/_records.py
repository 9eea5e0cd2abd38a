"""What the registry stores about a model version, an alias move and a model's lineage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Literal

from skewless.artifacts import StoredArtifact

__all__ = ["RESERVED_ALIASES", "AliasMove", "BaselineComparison", "ColumnSpec", "FeatureBinding",
           "ModelSignature", "ModelVersion", "OnnxExportRecord", "TrainingBinding",
           "version_from_row"]

RESERVED_ALIASES = ("latest",)
STAGES = ("production", "staging", "archived")


@dataclass(frozen=True)
class ColumnSpec:
    """One named, typed input or output of a model."""

    name: str
    dtype: str


@dataclass(frozen=True)
class ModelSignature:
    """The model's inputs and outputs, in order.

    For a model trained on a feature service the inputs are what a caller sends (entity keys
    and request fields), and ``features`` is the ordered vector the model itself consumes,
    which the server builds from the online store.
    """

    inputs: list[ColumnSpec]
    outputs: list[ColumnSpec] = field(default_factory=list)
    features: list[ColumnSpec] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = {"inputs": [vars(c) for c in self.inputs],
                "outputs": [vars(c) for c in self.outputs]}
        if self.features:
            data["features"] = [vars(c) for c in self.features]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelSignature:
        return cls([ColumnSpec(**c) for c in data.get("inputs", [])],
                   [ColumnSpec(**c) for c in data.get("outputs", [])],
                   [ColumnSpec(**c) for c in data.get("features", [])])


@dataclass(frozen=True)
class FeatureBinding:
    """One position of a model's feature vector: the column name the model was fitted with,
    the feature reference (``view:feature``) the server reads, its dtype, and the value the
    server uses when the online store is unreachable (the training data's median or most
    frequent value, from the reference profile)."""

    name: str
    ref: str
    dtype: str
    default: float | int | bool | str | None = None


@dataclass(frozen=True)
class BaselineComparison:
    """The model against its baseline on the validation set, by ``metric`` (lower is better
    for losses and errors, which is what ``beats`` accounts for)."""

    metric: str
    model: float
    baseline: float
    beats: bool


@dataclass(frozen=True)
class OnnxExportRecord:
    """Whether an ONNX export was kept beside the native model, and why not when it was not.

    ``path`` is the export's file relative to the version's artifact folder; ``max_abs_diff``
    the largest difference from the native model's outputs on the validation rows checked.
    """

    kept: bool
    reason: str | None
    max_abs_diff: float | None
    rows_checked: int
    input_dtype: str | None
    path: str | None


@dataclass(frozen=True)
class TrainingBinding:
    """What a model version trained with skewless is bound to.

    The feature service and its definition hashes are columns of the version itself
    (``feature_service``, ``feature_hashes``); this holds the rest: the inputs a caller
    sends, the feature vector, the label and its classes, the label time range and row
    count of the training frame, the baseline comparison and the ONNX export.
    """

    service: str
    entity_keys: list[ColumnSpec]
    request_fields: list[ColumnSpec]
    features: list[FeatureBinding]
    label: str
    task: str
    classes: list[Any] | None
    threshold: float | None
    rows: int
    time_start: datetime
    time_end: datetime
    baseline: BaselineComparison | None
    onnx: OnnxExportRecord | None

    def to_json(self) -> dict[str, Any]:
        return _binding_adapter().dump_python(self, mode="json")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainingBinding:
        return _binding_adapter().validate_python(data)


@cache
def _binding_adapter() -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(TrainingBinding)


@dataclass(frozen=True)
class ModelVersion:
    """An immutable registered model version and everything known about where it came from.

    ``artifact_path`` is the version's folder in the artifact store; ``files`` its files with
    their digests. ``feature_service``, ``feature_hashes``, ``training_fingerprint``,
    ``reference_profile`` (a summary; the profile itself is a file of the version) and
    ``training`` are filled when the model was logged with a training frame.
    """

    name: str
    version: int
    status: Literal["ready", "deleted"]
    flavor: str
    flavor_spec: dict[str, Any]
    artifact_path: str
    files: list[StoredArtifact]
    run_id: str | None
    signature: ModelSignature | None
    input_example: Any
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    description: str
    git_commit: str | None
    git_dirty: bool | None
    python_version: str
    packages: dict[str, str]
    feature_service: str | None
    feature_hashes: dict[str, str] | None
    training_fingerprint: str | None
    reference_profile: dict[str, Any] | None
    created_at: datetime
    created_by: str
    aliases: list[str] = field(default_factory=list)
    training: TrainingBinding | None = None

    @property
    def beats_baseline(self) -> bool | None:
        """Whether the model beat its baseline on validation; ``None`` when not evaluated."""
        if self.training is None or self.training.baseline is None:
            return None
        return self.training.baseline.beats

    @property
    def ref(self) -> str:
        """``name/version``, the way the API and CLI name this version."""
        return f"{self.name}/{self.version}"


@dataclass(frozen=True)
class AliasMove:
    """One change of an alias: ``set``, ``delete``, ``rollback`` or ``archive`` (an alias taken
    away because its version was archived)."""

    alias: str
    from_version: int | None
    to_version: int | None
    action: str
    at: datetime
    by: str


def version_from_row(row: Any, aliases: list[str]) -> ModelVersion:
    """The record of a ``model_versions`` row (attributes named as its columns, values as
    SQLAlchemy's column types give them) and the aliases pointing at it."""
    return ModelVersion(
        name=row.model_name, version=row.version, status=row.status, flavor=row.flavor,
        flavor_spec=dict(row.flavor_spec), artifact_path=row.artifact_root,
        files=[StoredArtifact(**f) for f in row.files], run_id=row.run_id,
        signature=ModelSignature.from_json(row.signature) if row.signature else None,
        input_example=row.input_example, params=dict(row.params), metrics=dict(row.metrics),
        tags=dict(row.tags), description=row.description, git_commit=row.git_commit,
        git_dirty=row.git_dirty, python_version=row.python_version, packages=dict(row.packages),
        feature_service=row.feature_service, feature_hashes=row.feature_hashes,
        training_fingerprint=row.training_fingerprint, reference_profile=row.reference_profile,
        created_at=row.created_at, created_by=row.created_by, aliases=aliases,
        training=TrainingBinding.from_json(row.training) if row.training else None)
