"""The model registry: immutable versions with provenance, aliases with history, lineage."""

from skewless.registry._records import AliasMove, ColumnSpec, ModelSignature, ModelVersion
from skewless.registry._registry import Lineage, Registry, parse_model_ref

__all__ = ["AliasMove", "ColumnSpec", "Lineage", "ModelSignature", "ModelVersion", "Registry",
           "parse_model_ref"]
