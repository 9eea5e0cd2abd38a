"""What the registry stores about a model version, an alias move and a model's lineage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from skewless.artifacts import StoredArtifact

__all__ = ["RESERVED_ALIASES", "AliasMove", "ColumnSpec", "ModelSignature", "ModelVersion"]

RESERVED_ALIASES = ("latest",)
STAGES = ("production", "staging", "archived")


@dataclass(frozen=True)
class ColumnSpec:
    """One named, typed input or output of a model."""

    name: str
    dtype: str


@dataclass(frozen=True)
class ModelSignature:
    """The model's inputs and outputs, in order."""

    inputs: list[ColumnSpec]
    outputs: list[ColumnSpec] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"inputs": [vars(c) for c in self.inputs],
                "outputs": [vars(c) for c in self.outputs]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelSignature:
        return cls([ColumnSpec(**c) for c in data.get("inputs", [])],
                   [ColumnSpec(**c) for c in data.get("outputs", [])])


@dataclass(frozen=True)
class ModelVersion:
    """An immutable registered model version and everything known about where it came from.

    ``artifact_path`` is the version's folder in the artifact store; ``files`` its files with
    their digests. ``feature_service``, ``feature_hashes``, ``training_fingerprint`` and
    ``reference_profile`` are filled when the model was trained on skewless features.
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
