"""The catalogue: a consistent set of definitions, and resolution of feature references."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from skewless.errors import DefinitionError, FeatureNotFoundError
from skewless.features._definitions import (
    Definition,
    Entity,
    FeatureService,
    FeatureView,
    Field,
    OnDemandFeatureView,
)
from skewless.features._references import FeatureRef, reference_strings

__all__ = ["Catalogue", "ResolvedFeatures"]


@dataclass(frozen=True)
class ResolvedFeatures:
    """What a retrieval needs: the requested features and everything they depend on."""

    requested: list[FeatureRef]
    views: list[tuple[FeatureView, list[str]]]
    on_demand: list[OnDemandFeatureView]
    request_fields: list[Field]
    dtypes: dict[FeatureRef, str]

    @property
    def join_keys(self) -> list[str]:
        """Every entity key the retrieval needs, in first-seen order."""
        keys: dict[str, None] = {}
        for view, _ in self.views:
            keys.update(dict.fromkeys(view.join_keys))
        return list(keys)

    @property
    def entity_dtypes(self) -> dict[str, str]:
        return {e.name: e.dtype for view, _ in self.views for e in view.entities}

    def output_names(self, full_names: bool) -> list[str]:
        """Output column names; short names must not collide."""
        if full_names:
            return [ref.full_name for ref in self.requested]
        names = [ref.feature for ref in self.requested]
        clashes = sorted({n for n in names if names.count(n) > 1})
        if clashes:
            raise DefinitionError(
                f"features {', '.join(clashes)} are requested from more than one view; "
                "pass full_names=True to get 'view__feature' column names"
            )
        return names


@dataclass
class Catalogue:
    """Entities, feature views, on-demand views and services, checked against each other."""

    entities: dict[str, Entity] = field(default_factory=dict)
    views: dict[str, FeatureView] = field(default_factory=dict)
    on_demand: dict[str, OnDemandFeatureView] = field(default_factory=dict)
    services: dict[str, FeatureService] = field(default_factory=dict)

    @classmethod
    def collect(cls, definitions: Iterable[Any]) -> Catalogue:
        """Index definitions by name, rejecting duplicates, without checking references."""
        catalogue = cls()
        for definition in definitions:
            catalogue._add(definition)
        return catalogue

    @classmethod
    def build(cls, definitions: Iterable[Any]) -> Catalogue:
        """Check a set of definitions for consistency and index them by name."""
        catalogue = cls.collect(definitions)
        for view in catalogue.on_demand.values():
            catalogue._check_on_demand(view)
        for service in catalogue.services.values():
            for ref in map(FeatureRef.parse, service.features):
                catalogue.dtype_of(ref, f"FeatureService {service.name!r}")
        return catalogue

    def _add(self, definition: Any) -> None:
        if isinstance(definition, Entity):
            self._add_entity(definition)
        elif isinstance(definition, FeatureView | OnDemandFeatureView):
            if definition.name in self.views or definition.name in self.on_demand:
                raise DefinitionError(
                    f"two views are named {definition.name!r}; view names must be unique"
                )
            if isinstance(definition, FeatureView):
                for entity in definition.entities:
                    self._add_entity(entity)
                self.views[definition.name] = definition
            else:
                self.on_demand[definition.name] = definition
        elif isinstance(definition, FeatureService):
            if definition.name in self.services:
                raise DefinitionError(f"two feature services are named {definition.name!r}")
            self.services[definition.name] = definition
        else:
            raise DefinitionError(
                f"{definition!r} is not a skewless definition (Entity, FeatureView, "
                "OnDemandFeatureView or FeatureService)"
            )

    def _add_entity(self, entity: Entity) -> None:
        known = self.entities.setdefault(entity.name, entity)
        if known.dtype != entity.dtype:
            raise DefinitionError(
                f"entity {entity.name!r} is declared both as {known.dtype} and as {entity.dtype}; "
                "use one Entity object everywhere"
            )

    def _check_on_demand(self, view: OnDemandFeatureView) -> None:
        for ref in map(FeatureRef.parse, view.inputs):
            if ref.view in self.on_demand:
                raise DefinitionError(
                    f"on-demand view {view.name!r} takes {ref} from another on-demand view; "
                    "inputs must come from feature views"
                )
            self.dtype_of(ref, f"on-demand view {view.name!r}")
        inputs = {FeatureRef.parse(i).feature for i in view.inputs}
        for request in view.request_fields:
            if request.name in inputs:
                raise DefinitionError(
                    f"on-demand view {view.name!r}: request field {request.name!r} has the "
                    "name of one of its input features; rename one of them"
                )

    def definitions(self) -> list[Definition]:
        """Every definition, in an order where dependencies come first."""
        return [*self.entities.values(), *self.views.values(), *self.on_demand.values(),
                *self.services.values()]

    def all_references(self) -> list[str]:
        views: list[FeatureView | OnDemandFeatureView] = [*self.views.values(),
                                                          *self.on_demand.values()]
        return [f"{v.name}:{name}" for v in views for name in v.feature_names]

    def dtype_of(self, ref: FeatureRef, used_by: str = "") -> str:
        """The dtype of a referenced feature; unknown references get close-match suggestions."""
        view: FeatureView | OnDemandFeatureView | None = (
            self.views.get(ref.view) or self.on_demand.get(ref.view)
        )
        if view is not None:
            for feature in view.features:
                if feature.name == ref.feature:
                    return feature.dtype
        where = f" (used by {used_by})" if used_by else ""
        close = difflib.get_close_matches(str(ref), self.all_references(), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        if view is None and not close:
            hint = f"; no view named {ref.view!r} was applied — run `skewless apply`"
        raise FeatureNotFoundError(f"unknown feature {str(ref)!r}{where}{hint}")

    def service(self, name: str) -> FeatureService:
        if name not in self.services:
            close = difflib.get_close_matches(name, list(self.services), n=3)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise FeatureNotFoundError(f"unknown feature service {name!r}{hint}")
        return self.services[name]

    def resolve(self, features: Any) -> ResolvedFeatures:
        """Turn references into the views, on-demand views and request fields they need."""
        if isinstance(features, str) and ":" not in features and features in self.services:
            features = self.services[features]
        requested = [FeatureRef.parse(r) for r in reference_strings(features)]
        if not requested:
            raise FeatureNotFoundError("no features were requested")
        dtypes = {ref: self.dtype_of(ref) for ref in requested}
        needed: dict[str, dict[str, None]] = {}
        on_demand: dict[str, OnDemandFeatureView] = {}
        for ref in requested:
            if ref.view in self.on_demand:
                odfv = self.on_demand[ref.view]
                on_demand[odfv.name] = odfv
                for input_ref in map(FeatureRef.parse, odfv.inputs):
                    dtypes[input_ref] = self.dtype_of(input_ref)
                    needed.setdefault(input_ref.view, {})[input_ref.feature] = None
            else:
                needed.setdefault(ref.view, {})[ref.feature] = None
        request_fields: dict[str, Field] = {}
        for odfv in on_demand.values():
            for request in odfv.request_fields:
                known = request_fields.setdefault(request.name, request)
                if known.dtype != request.dtype:
                    raise DefinitionError(
                        f"request field {request.name!r} is {known.dtype} in one on-demand view "
                        f"and {request.dtype} in {odfv.name!r}"
                    )
        return ResolvedFeatures(
            requested=requested,
            views=[(self.views[name], list(names)) for name, names in needed.items()],
            on_demand=list(on_demand.values()),
            request_fields=list(request_fields.values()),
            dtypes=dtypes,
        )

