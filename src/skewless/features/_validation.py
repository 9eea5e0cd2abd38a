"""Checking definitions against the columns their sources really have."""

from __future__ import annotations

import difflib
from collections.abc import Callable

from skewless.errors import SourceSchemaError
from skewless.features._catalogue import Catalogue
from skewless.features._definitions import NUMERIC_DTYPES, FeatureView, Source

__all__ = ["validate_sources"]

# declared dtype → source dtypes that convert to it without loss
_COMPATIBLE = {
    "int64": {"int64"},
    "float64": {"int64", "float64"},
    "string": {"string"},
    "bool": {"bool"},
    "timestamp": {"timestamp", "timestamp_naive"},
}


def _view_problems(view: FeatureView, columns: dict[str, str]) -> list[str]:
    problems: list[str] = []

    def check(column: str, role: str, accepted: set[str]) -> None:
        if column not in columns:
            close = difflib.get_close_matches(column, list(columns), n=2)
            hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
            problems.append(f"{role} column {column!r} is missing{hint}")
        elif columns[column] not in accepted:
            problems.append(
                f"{role} column {column!r} is {columns[column]}, expected "
                f"{' or '.join(sorted(accepted))}"
            )

    source: Source = view.source
    check(source.timestamp, "timestamp", _COMPATIBLE["timestamp"])
    if source.created:
        check(source.created, "created", _COMPATIBLE["timestamp"])
    for entity in view.entities:
        check(entity.name, f"entity {entity.dtype}", _COMPATIBLE[entity.dtype])
    for field in view.fields:
        check(field.name, f"field {field.dtype}", _COMPATIBLE[field.dtype])
    for column in [source.timestamp, source.created,
                   *(f.name for f in view.fields if f.dtype == "timestamp")]:
        if column and columns.get(column) == "timestamp_naive" and source.timezone is None:
            problems.append(
                f"column {column!r} holds times without a time zone; store UTC-aware "
                "timestamps, or declare their zone with Source(..., timezone='UTC')"
            )
    for aggregation in view.aggregations:
        check(aggregation.column, f"aggregated ({aggregation.function}) numeric",
              set(NUMERIC_DTYPES))
    return problems


def validate_sources(catalogue: Catalogue, source_columns: Callable[[Source], dict[str, str]]
                     ) -> None:
    """Raise one ``SourceSchemaError`` listing every mismatch between views and sources."""
    report: list[str] = []
    for view in catalogue.views.values():
        columns = source_columns(view.source)
        problems = _view_problems(view, columns)
        if problems:
            report.append(
                f"FeatureView {view.name!r} does not match source {view.source.path!r} "
                f"(columns: {', '.join(columns)}):\n    " + "\n    ".join(problems)
            )
    if report:
        raise SourceSchemaError("\n".join(report))
