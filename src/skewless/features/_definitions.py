"""The feature definitions: written once in Python, used offline, online and for monitoring.

Every definition is an immutable dataclass with a canonical ``spec()`` (plain JSON data) and a
``definition_hash`` over the parts of the spec that decide feature values. Descriptions and tags
are recorded but not hashed: editing them never changes what a model sees.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from skewless._time import format_duration, parse_duration
from skewless.errors import DefinitionError

if TYPE_CHECKING:
    from skewless.features._references import FeatureRef

__all__ = [
    "AGGREGATION_FUNCTIONS",
    "DTYPES",
    "Aggregation",
    "Definition",
    "Entity",
    "FeatureService",
    "FeatureView",
    "Field",
    "OnDemandFeatureView",
    "Source",
]

DType = Literal["int64", "float64", "string", "bool", "timestamp"]
DTYPES: tuple[str, ...] = ("int64", "float64", "string", "bool", "timestamp")
ENTITY_DTYPES: tuple[str, ...] = ("int64", "string")
NUMERIC_DTYPES: tuple[str, ...] = ("int64", "float64")
AGGREGATION_FUNCTIONS: tuple[str, ...] = ("count", "sum", "mean", "min", "max", "std", "last")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or name.startswith("__"):
        raise DefinitionError(
            f"{what} name {name!r} is not valid: use letters, digits and underscores, "
            "starting with a letter or one underscore"
        )
    return name


def _check_dtype(dtype: object, what: str, allowed: Sequence[str] = DTYPES) -> str:
    if dtype not in allowed:
        raise DefinitionError(f"{what} has dtype {dtype!r}; accepted dtypes: {', '.join(allowed)}")
    return str(dtype)


def _digest(spec: Mapping[str, Any]) -> str:
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Definition:
    """What every definition shares: a kind, a name, a spec and a content hash."""

    kind: ClassVar[str]
    name: str

    def spec(self) -> dict[str, Any]:
        """Every attribute as plain JSON data, enough to rebuild the definition."""
        raise NotImplementedError

    def _hashed_spec(self) -> dict[str, Any]:
        spec = self.spec()
        spec.pop("description", None)
        spec.pop("tags", None)
        return spec

    @property
    def definition_hash(self) -> str:
        """SHA-256 of the value-deciding parts of the spec (not description or tags)."""
        return _digest({"kind": self.kind, **self._hashed_spec()})


@dataclass(frozen=True)
class Entity(Definition):
    """A join key such as ``user_id``: its name is the column name in sources and requests."""

    kind: ClassVar[str] = "entity"
    name: str
    dtype: Literal["int64", "string"] = "int64"
    description: str = ""

    def __post_init__(self) -> None:
        _check_name(self.name, "Entity")
        _check_dtype(self.dtype, f"Entity {self.name!r}", ENTITY_DTYPES)

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "description": self.description}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Entity:
        return cls(spec["name"], spec["dtype"], spec.get("description", ""))


@dataclass(frozen=True)
class Source:
    """Where raw history lives: a Parquet or CSV file or glob, with its event-time column.

    ``created`` names the optional processing-time column: a row is invisible to any time before
    it was created, and among rows with the same event time the latest created wins.
    ``timezone`` declares the zone of naive timestamp columns; without it naive columns are
    rejected. A relative ``path`` is relative to the project folder.
    """

    path: str
    timestamp: str
    created: str | None = None
    timezone: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.path, str | PurePath) or not str(self.path):
            raise DefinitionError(f"Source path must be a file path or glob, not {self.path!r}")
        object.__setattr__(self, "path", str(self.path))
        _check_name(self.timestamp, "Source timestamp column")
        if self.created is not None:
            _check_name(self.created, "Source created column")
            if self.created == self.timestamp:
                raise DefinitionError(
                    f"Source {self.path!r}: the created column must differ from the "
                    "timestamp column"
                )
        if self.format not in ("parquet", "csv"):
            raise DefinitionError(
                f"Source {self.path!r}: cannot tell the format from the file name; "
                "use a path ending in .parquet or .csv"
            )

    @property
    def format(self) -> str:
        """``parquet`` or ``csv``, from the path's suffix."""
        suffix = self.path.rsplit(".", 1)[-1].lower()
        return {"parquet": "parquet", "pq": "parquet", "csv": "csv"}.get(suffix, suffix)

    def spec(self) -> dict[str, Any]:
        return {"path": self.path, "timestamp": self.timestamp, "created": self.created,
                "timezone": self.timezone}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Source:
        return cls(spec["path"], spec["timestamp"], spec.get("created"), spec.get("timezone"))


@dataclass(frozen=True)
class Field:
    """A named, typed column: a plain feature of a view, or a request-time value."""

    name: str
    dtype: DType

    def __post_init__(self) -> None:
        _check_name(self.name, "Field")
        _check_dtype(self.dtype, f"Field {self.name!r}")

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Field:
        return cls(spec["name"], spec["dtype"])


@dataclass(frozen=True)
class Aggregation:
    """A windowed aggregate of a numeric source column: at t it covers ``t - window < ts <= t``.

    ``count`` is an int64 (0 over an empty window); every other function is a float64 (null over
    an empty window). ``std`` is the sample standard deviation (null for fewer than two events);
    ``last`` is the latest non-null value in the window (by event time, ties by created time).
    """

    column: str
    function: Literal["count", "sum", "mean", "min", "max", "std", "last"]
    window: timedelta | str
    name: str = ""

    def __post_init__(self) -> None:
        _check_name(self.column, "Aggregation column")
        if self.function not in AGGREGATION_FUNCTIONS:
            raise DefinitionError(
                f"Aggregation function {self.function!r} is not supported; "
                f"use one of {', '.join(AGGREGATION_FUNCTIONS)}"
            )
        window = parse_duration(self.window, f"Aggregation window of {self.column!r}")
        object.__setattr__(self, "window", window)
        if not self.name:
            object.__setattr__(
                self, "name", f"{self.column}_{self.function}_{format_duration(window)}"
            )
        _check_name(self.name, "Aggregation")

    @property
    def dtype(self) -> str:
        return "int64" if self.function == "count" else "float64"

    @property
    def span(self) -> timedelta:
        """The window as a ``timedelta`` (``window`` may have been given as text)."""
        return cast(timedelta, self.window)

    def spec(self) -> dict[str, Any]:
        return {"column": self.column, "function": self.function,
                "window": format_duration(self.span), "name": self.name}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Aggregation:
        return cls(spec["column"], spec["function"], spec["window"], spec["name"])


@dataclass(frozen=True, eq=False)
class FeatureView(Definition):
    """A named group of features over one source, keyed by one or more entities.

    Plain ``fields`` take the latest value as of time t, ignoring rows older than ``ttl``;
    ``aggregations`` summarise the events in a window ending at t.
    """

    kind: ClassVar[str] = "feature_view"
    name: str
    entities: Sequence[Entity]
    source: Source
    fields: Sequence[Field] = ()
    aggregations: Sequence[Aggregation] = ()
    ttl: timedelta | str | None = None
    online: bool = True
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_name(self.name, "FeatureView")
        entities = tuple(self.entities)
        if not entities or not all(isinstance(e, Entity) for e in entities):
            raise DefinitionError(f"FeatureView {self.name!r} needs a list of one or more Entity")
        if not isinstance(self.source, Source):
            raise DefinitionError(f"FeatureView {self.name!r}: source must be a skewless.Source")
        fields_ = tuple(self.fields)
        aggregations = tuple(self.aggregations)
        if not all(isinstance(f, Field) for f in fields_):
            raise DefinitionError(f"FeatureView {self.name!r}: fields must be skewless.Field")
        if not all(isinstance(a, Aggregation) for a in aggregations):
            raise DefinitionError(
                f"FeatureView {self.name!r}: aggregations must be skewless.Aggregation"
            )
        if not fields_ and not aggregations:
            raise DefinitionError(f"FeatureView {self.name!r} has no fields and no aggregations")
        object.__setattr__(self, "entities", entities)
        object.__setattr__(self, "fields", fields_)
        object.__setattr__(self, "aggregations", aggregations)
        object.__setattr__(self, "tags", dict(self.tags))
        if self.ttl is not None:
            object.__setattr__(self, "ttl", parse_duration(self.ttl, f"ttl of {self.name!r}"))
        names = [e.name for e in entities] + self.feature_names
        reserved = {self.source.timestamp, self.source.created}
        for n in names:
            if names.count(n) > 1:
                raise DefinitionError(f"FeatureView {self.name!r} defines {n!r} more than once")
            if n in reserved:
                raise DefinitionError(
                    f"FeatureView {self.name!r}: {n!r} is the source's timestamp column, "
                    "not a feature"
                )

    @property
    def feature_names(self) -> list[str]:
        """Plain fields first, then aggregations, in definition order."""
        return [f.name for f in self.fields] + [a.name for a in self.aggregations]

    @property
    def features(self) -> list[Field]:
        """Every feature of the view as a typed Field."""
        return list(self.fields) + [Field(a.name, a.dtype) for a in self.aggregations]  # type: ignore[arg-type]

    @property
    def join_keys(self) -> list[str]:
        return [e.name for e in self.entities]

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entities": [e.spec() for e in self.entities],
            "source": self.source.spec(),
            "fields": [f.spec() for f in self.fields],
            "aggregations": [a.spec() for a in self.aggregations],
            "ttl": format_duration(self.ttl) if isinstance(self.ttl, timedelta) else None,
            "online": self.online,
            "description": self.description,
            "tags": dict(self.tags),
        }

    def _hashed_spec(self) -> dict[str, Any]:
        spec = super()._hashed_spec()
        spec.pop("online")
        for entity in spec["entities"]:
            entity.pop("description")
        return spec

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> FeatureView:
        return cls(
            name=spec["name"],
            entities=[Entity.from_spec(e) for e in spec["entities"]],
            source=Source.from_spec(spec["source"]),
            fields=[Field.from_spec(f) for f in spec["fields"]],
            aggregations=[Aggregation.from_spec(a) for a in spec["aggregations"]],
            ttl=spec.get("ttl"),
            online=spec.get("online", True),
            description=spec.get("description", ""),
            tags=spec.get("tags", {}),
        )


def _function_source(function: Callable[..., Any]) -> str:
    """The function's source text, the part of an on-demand view that decides its values."""
    try:
        return textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        code = function.__code__
        return f"<bytecode {code.co_code.hex()} {code.co_consts!r}>"


@dataclass(frozen=True, eq=False)
class OnDemandFeatureView(Definition):
    """Features computed by a pure Python function at request time and on training frames.

    ``function`` receives a mapping from column name to a NumPy array — the input features,
    under their feature names, and the request fields — and returns a mapping (or DataFrame)
    from output name to an array of the same length. The same function, fed by the same
    conversion, runs on the whole training frame at once and on each online request, so the two
    cannot disagree. Numeric inputs arrive as float64 with NaN for nulls; strings and bools as
    object arrays with None for nulls; timestamps as ``datetime64[us]`` in UTC.

    ``outputs`` declares the output columns; when omitted skewless learns names and dtypes by
    calling the function once on a one-row sample when the view is created.
    """

    kind: ClassVar[str] = "on_demand_feature_view"
    name: str
    inputs: Sequence[Any]
    request_fields: Sequence[Field]
    function: Callable[[Mapping[str, Any]], Any] | None
    outputs: Sequence[Field] | None = None
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    source_code: str = ""

    def __post_init__(self) -> None:
        _check_name(self.name, "OnDemandFeatureView")
        from skewless.features._references import reference_strings

        object.__setattr__(self, "inputs", tuple(reference_strings(self.inputs)))
        request_fields = tuple(self.request_fields)
        if not all(isinstance(f, Field) for f in request_fields):
            raise DefinitionError(
                f"OnDemandFeatureView {self.name!r}: request_fields must be skewless.Field"
            )
        object.__setattr__(self, "request_fields", request_fields)
        object.__setattr__(self, "tags", dict(self.tags))
        if self.function is not None:
            if not callable(self.function):
                raise DefinitionError(
                    f"OnDemandFeatureView {self.name!r}: function is not callable")
            object.__setattr__(self, "source_code", _function_source(self.function))
        if self.outputs is None:
            if self.function is None:
                raise DefinitionError(f"OnDemandFeatureView {self.name!r} needs outputs")
            from skewless.features._on_demand import infer_outputs

            object.__setattr__(self, "outputs", tuple(infer_outputs(self)))
        outputs = tuple(self.outputs or ())
        if not outputs or not all(isinstance(f, Field) for f in outputs):
            raise DefinitionError(
                f"OnDemandFeatureView {self.name!r}: outputs must be a non-empty list of Field"
            )
        object.__setattr__(self, "outputs", outputs)

    @cached_property
    def input_refs(self) -> tuple[FeatureRef, ...]:
        """``inputs`` parsed, once: the online path reads them on every request."""
        from skewless.features._references import FeatureRef

        return tuple(FeatureRef.parse(text) for text in self.inputs)

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.outputs or ()]

    @property
    def features(self) -> list[Field]:
        return list(self.outputs or ())

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "inputs": list(self.inputs),
            "request_fields": [f.spec() for f in self.request_fields],
            "outputs": [f.spec() for f in self.outputs or ()],
            "function": self.source_code,
            "description": self.description,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> OnDemandFeatureView:
        """Rebuild without the function: it is bound from the definitions module when used."""
        return cls(
            name=spec["name"],
            inputs=spec["inputs"],
            request_fields=[Field.from_spec(f) for f in spec["request_fields"]],
            function=None,
            outputs=[Field.from_spec(f) for f in spec["outputs"]],
            description=spec.get("description", ""),
            tags=spec.get("tags", {}),
            source_code=spec["function"],
        )


@dataclass(frozen=True, eq=False)
class FeatureService(Definition):
    """The named set of features a model consumes, as ``"view:feature"`` references."""

    kind: ClassVar[str] = "feature_service"
    name: str
    features: Sequence[Any]
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_name(self.name, "FeatureService")
        from skewless.features._references import reference_strings

        references = tuple(reference_strings(self.features))
        if not references:
            raise DefinitionError(f"FeatureService {self.name!r} has no features")
        object.__setattr__(self, "features", references)
        object.__setattr__(self, "tags", dict(self.tags))

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "features": list(self.features),
                "description": self.description, "tags": dict(self.tags)}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> FeatureService:
        return cls(spec["name"], spec["features"], spec.get("description", ""),
                   spec.get("tags", {}))


DEFINITION_KINDS: dict[str, Any] = {
    cls.kind: cls for cls in (Entity, FeatureView, OnDemandFeatureView, FeatureService)
}
