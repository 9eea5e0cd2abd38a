"""A brute-force reference of skewless's time semantics, written from DESIGN.md ("Time semantics").

Every answer is found by looping over all source rows, so each rule below can be checked by
reading one line. It is deliberately slow and shares no code with any offline engine: the
property tests compare the engines against it on random data.

Rules (``t`` is the entity row's time, ``created`` the processing time, null meaning "created
at its event time"):

* a row is *visible* at ``t`` when ``event_ts <= t`` and, with ``as_of_created=True``,
  ``created <= t``;
* plain fields: among visible rows of the key with ``t - ttl <= event_ts`` (no ttl: no lower
  bound), the row with the latest ``event_ts`` wins, ties broken by the latest ``created``; its
  value is taken even when null; no such row gives null;
* aggregations: the non-null values of visible rows with ``t - window < event_ts <= t``;
  ``count`` is their number (0 when none); everything else is a float and null when there is
  no value; ``std`` is the sample standard deviation (null below two values); ``last`` is the
  value of the latest such row by (event time, created).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["AggregationSpec", "Row", "aggregate", "historical", "latest_row"]

Key = tuple[Hashable, ...]


@dataclass(frozen=True)
class Row:
    """One source row: entity key, event time, optional created time and feature values."""

    key: Key
    ts: datetime
    created: datetime | None = None
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def created_at(self) -> datetime:
        """The created time, a null one meaning "created at its event time"."""
        return self.ts if self.created is None else self.created

    @property
    def order(self) -> tuple[datetime, datetime]:
        """Recency: the latest event time first, then the latest created time."""
        return (self.ts, self.created_at)


@dataclass(frozen=True)
class AggregationSpec:
    """One windowed aggregate of ``column``, named ``name`` in the output."""

    column: str
    function: str
    window: timedelta
    name: str


def _visible(row: Row, t: datetime, as_of_created: bool) -> bool:
    """Whether ``row`` could have been seen at ``t``."""
    if row.ts > t:
        return False
    return not as_of_created or row.created_at <= t


def latest_row(rows: Iterable[Row], key: Key, t: datetime, *, ttl: timedelta | None,
               as_of_created: bool) -> Row | None:
    """The row a plain field of ``key`` takes its value from at ``t`` (None: no match)."""
    best: Row | None = None
    for row in rows:
        if row.key != key or not _visible(row, t, as_of_created):
            continue
        if ttl is not None and row.ts < t - ttl:
            continue
        if best is None or row.order > best.order:
            best = row
    return best


def _sample_std(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return None
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def aggregate(rows: Iterable[Row], key: Key, t: datetime, spec: AggregationSpec, *,
              as_of_created: bool) -> int | float | None:
    """The value of one windowed aggregate of ``key`` at ``t``."""
    in_window = sorted(
        (row for row in rows
         if row.key == key and _visible(row, t, as_of_created) and row.ts > t - spec.window
         and row.values.get(spec.column) is not None),
        key=lambda row: row.order,
    )
    values = [float(row.values[spec.column]) for row in in_window]
    if spec.function == "count":
        return len(values)
    if not values:
        return None
    if spec.function == "sum":
        return math.fsum(values)
    if spec.function == "mean":
        return math.fsum(values) / len(values)
    if spec.function == "min":
        return min(values)
    if spec.function == "max":
        return max(values)
    if spec.function == "std":
        return _sample_std(values)
    if spec.function == "last":
        return values[-1]
    raise ValueError(f"unknown aggregation function {spec.function!r}")


def historical(rows: Sequence[Row], entities: Sequence[tuple[Key, datetime]], *,
               fields: Sequence[str] = (), aggregations: Sequence[AggregationSpec] = (),
               ttl: timedelta | None = None, as_of_created: bool = True) -> dict[str, list[Any]]:
    """Every feature of one view for each ``(key, t)`` entity row, in entity-row order."""
    out: dict[str, list[Any]] = {name: [] for name in fields}
    out.update({spec.name: [] for spec in aggregations})
    for key, t in entities:
        row = latest_row(rows, key, t, ttl=ttl, as_of_created=as_of_created)
        for name in fields:
            out[name].append(None if row is None else row.values.get(name))
        for spec in aggregations:
            out[spec.name].append(aggregate(rows, key, t, spec, as_of_created=as_of_created))
    return out
