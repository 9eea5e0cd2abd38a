"""Feature references: ``"view:feature"`` strings, or views and services standing for theirs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from skewless.errors import DefinitionError

__all__ = ["FeatureRef", "reference_strings"]


@dataclass(frozen=True, order=True)
class FeatureRef:
    """One feature of one view (a feature view or an on-demand view)."""

    view: str
    feature: str

    @classmethod
    def parse(cls, text: str) -> FeatureRef:
        view, sep, feature = text.partition(":")
        if not sep or not view or not feature or ":" in feature:
            raise DefinitionError(
                f"feature reference {text!r} is not of the form 'view:feature', "
                "e.g. 'user_stats:amount_mean_7d'"
            )
        return cls(view, feature)

    def __str__(self) -> str:
        return f"{self.view}:{self.feature}"

    @property
    def full_name(self) -> str:
        """The output column name with ``full_names=True``."""
        return f"{self.view}__{self.feature}"


def reference_strings(items: Any) -> list[str]:
    """Flatten references: strings stay, a view gives all its features, a service its list."""
    from skewless.features._definitions import FeatureService, FeatureView, OnDemandFeatureView

    if isinstance(items, str | FeatureView | OnDemandFeatureView | FeatureService):
        items = [items]
    if not isinstance(items, Iterable):
        raise DefinitionError(
            f"features must be a list of 'view:feature' strings, views or services, not {items!r}"
        )
    out: list[str] = []
    for item in items:
        if isinstance(item, str):
            out.append(str(FeatureRef.parse(item)))
        elif isinstance(item, FeatureView | OnDemandFeatureView):
            out.extend(f"{item.name}:{name}" for name in item.feature_names)
        elif isinstance(item, FeatureService):
            out.extend(item.features)
        else:
            raise DefinitionError(
                f"{item!r} is not a feature reference: pass 'view:feature' strings, "
                "a FeatureView, an OnDemandFeatureView or a FeatureService"
            )
    return list(dict.fromkeys(out))
