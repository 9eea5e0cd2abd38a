"""Monitoring: reference profiles now; drift, quality, performance and skew reports build on
them.
"""

from skewless.monitoring._profile import (
    FORMAT_VERSION,
    Category,
    FeatureKind,
    FeatureProfile,
    ReferenceProfile,
    build_profile,
    profile_values,
)

__all__ = ["FORMAT_VERSION", "Category", "FeatureKind", "FeatureProfile", "ReferenceProfile",
           "build_profile", "profile_values"]
