"""Feature definitions, references and the catalogue of applied definitions."""

from skewless.features._definitions import (
    AGGREGATION_FUNCTIONS,
    DTYPES,
    Aggregation,
    Definition,
    Entity,
    FeatureService,
    FeatureView,
    Field,
    OnDemandFeatureView,
    Source,
)
from skewless.features._references import FeatureRef

__all__ = [
    "AGGREGATION_FUNCTIONS",
    "DTYPES",
    "Aggregation",
    "Definition",
    "Entity",
    "FeatureRef",
    "FeatureService",
    "FeatureView",
    "Field",
    "OnDemandFeatureView",
    "Source",
]
