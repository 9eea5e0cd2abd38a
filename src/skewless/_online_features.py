"""Online reads: entity rows in, the latest values with status and event time out.

The view's ttl applies here exactly as in the offline join: a value whose event time is older
than ``now - ttl`` is returned as null with status ``expired``. A read plan is computed once per
feature list and reused, so a request does no resolution work.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from skewless._time import from_micros, micros
from skewless.errors import EntityFrameError
from skewless.features import FeatureView, OnDemandFeatureView
from skewless.features._catalogue import ResolvedFeatures
from skewless.features._on_demand import run_on_demand_values, values_to_numpy
from skewless.features._references import FeatureRef
from skewless.online._store import OnlineStore

__all__ = ["OnlineReadPlan", "OnlineResult", "entity_key", "namespaces", "read_online"]

Status = Literal["present", "missing", "expired"]
_EMPTY_AGGREGATE = {"count": 0}


def namespaces(view: FeatureView) -> tuple[str, str]:
    """Online namespaces of a view's fields and aggregations, tied to its definition hash."""
    base = f"{view.name}@{view.definition_hash[:12]}"
    return base, f"{base}#agg"


def entity_key(values: Sequence[Any]) -> str:
    """The canonical text of an entity key (the same in materialization and online reads)."""
    if len(values) == 1 and type(values[0]) is int:
        return f"[{values[0]}]"  # the JSON text, without the encoder's overhead
    return json.dumps(list(values), separators=(",", ":"))


@dataclass(frozen=True)
class _ViewRead:
    view: FeatureView
    keys: tuple[str, ...]
    fields_namespace: str | None
    aggregates_namespace: str | None
    fields: list[tuple[FeatureRef, int, bool]]  # ref, position in payload, is a timestamp
    aggregates: list[tuple[FeatureRef, int, Any]]  # ref, position, value over an empty window
    ttl_us: int | None


@dataclass(frozen=True)
class OnlineReadPlan:
    """Everything a read of one feature list needs, computed once."""

    resolved: ResolvedFeatures
    names: list[str]
    views: list[_ViewRead]
    entity_dtypes: dict[str, str]

    @classmethod
    def build(cls, resolved: ResolvedFeatures, full_names: bool) -> OnlineReadPlan:
        reads = []
        for view, features in resolved.views:
            fields_ns, aggregates_ns = namespaces(view)
            field_names = [f.name for f in view.fields]
            aggregate_names = [a.name for a in view.aggregations]
            fields = [(FeatureRef(view.name, f), field_names.index(f) + 1,
                       view.fields[field_names.index(f)].dtype == "timestamp")
                      for f in features if f in field_names]
            aggregates = [(FeatureRef(view.name, a), aggregate_names.index(a) + 1,
                           _EMPTY_AGGREGATE.get(view.aggregations[aggregate_names.index(a)].function))
                          for a in features if a in aggregate_names]
            ttl = view.ttl // timedelta(microseconds=1) if isinstance(view.ttl, timedelta) else None
            reads.append(_ViewRead(view, tuple(view.join_keys),
                                   fields_ns if fields else None,
                                   aggregates_ns if aggregates else None,
                                   fields, aggregates, ttl))
        return cls(resolved, resolved.output_names(full_names), reads, resolved.entity_dtypes)


@dataclass(frozen=True)
class OnlineResult:
    """Per entity row: the features' values, statuses and event times, as column lists."""

    values: dict[str, list[Any]]
    status: dict[str, list[Status]]
    timestamps: dict[str, list[datetime | None]]

    def to_dict(self) -> dict[str, list[Any]]:
        """Entity keys and feature names → one value per entity row."""
        return self.values

    def statuses(self) -> dict[str, list[Status]]:
        """Same shape as ``to_dict``: ``present``, ``missing`` or ``expired`` per value."""
        return self.status

    def event_timestamps(self) -> dict[str, list[datetime | None]]:
        """Same shape as ``to_dict``: the event time of each value (the as-of time for
        aggregations), ``None`` for entity keys and missing values."""
        return self.timestamps


def _check_key(row: Mapping[str, Any], index: int, key: str, dtype: str) -> Any:
    try:
        value = row[key]
    except KeyError:
        raise EntityFrameError(f"entity row {index} has no {key!r}; every row needs "
                               f"{key!r}") from None
    except TypeError:
        raise EntityFrameError(f"entity row {index} is {type(row).__name__}, not a mapping of "
                               "entity keys to values") from None
    if dtype == "int64":
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            raise EntityFrameError(f"entity row {index}: {key!r} must be an integer, got {value!r}")
        return int(value)
    if not isinstance(value, str):
        raise EntityFrameError(f"entity row {index}: {key!r} must be a string, got {value!r}")
    return value


def _decode(payloads: Sequence[bytes | None], columns: list[tuple[FeatureRef, int, Any, bool]],
            ttl_us: int | None, now_us: int
            ) -> tuple[list[list[Any]], list[Status], list[datetime | None]]:
    """Values (one list per column), statuses and event times of one namespace's records.

    A record is ``[event_time_us, value, ...]``; ``columns`` gives each wanted feature's
    position, its value when absent or expired, and whether it is a timestamp.
    """
    oldest = None if ttl_us is None else now_us - ttl_us
    values = [[empty] * len(payloads) for _, _, empty, _ in columns]
    status: list[Status] = ["missing"] * len(payloads)
    stamps: list[datetime | None] = [None] * len(payloads)
    # one JSON parse for the whole batch instead of one per record
    records = json.loads(b"[" + b",".join(p or b"null" for p in payloads) + b"]")
    for i, record in enumerate(records):
        if record is None:
            continue
        stamps[i] = from_micros(record[0])
        if oldest is not None and record[0] < oldest:
            status[i] = "expired"
            continue
        status[i] = "present"
        for column, (_, position, _, is_time) in zip(values, columns, strict=True):
            value = record[position]
            column[i] = from_micros(value) if is_time and value is not None else value
    return values, status, stamps


def read_online(store: OnlineStore, plan: OnlineReadPlan, rows: Sequence[Mapping[str, Any]],
                now: datetime) -> OnlineResult:
    """Fetch every view of the plan for every row in one store round trip."""
    count = len(rows)
    keys = {name: [_check_key(row, i, name, dtype) for i, row in enumerate(rows)]
            for name, dtype in plan.entity_dtypes.items()}
    encoded: dict[tuple[str, ...], list[str]] = {}
    requests: list[tuple[str, str]] = []
    for read in plan.views:
        if read.keys not in encoded:
            encoded[read.keys] = [entity_key(parts) for parts in
                                  zip(*(keys[k] for k in read.keys), strict=True)]
        for namespace in (read.fields_namespace, read.aggregates_namespace):
            if namespace is not None:
                requests += [(namespace, key) for key in encoded[read.keys]]
    payloads = store.read(requests)
    now_us = micros(now)
    values: dict[FeatureRef, list[Any]] = {}
    status: dict[FeatureRef, list[Status]] = {}
    stamps: dict[FeatureRef, list[datetime | None]] = {}
    offset = 0
    for read in plan.views:
        parts = [(read.fields_namespace, [(ref, position, None, is_time)
                                          for ref, position, is_time in read.fields]),
                 (read.aggregates_namespace, [(ref, position, empty, False)
                                              for ref, position, empty in read.aggregates])]
        for namespace, columns in parts:
            if namespace is None:
                continue
            decoded = _decode(payloads[offset:offset + count], columns, read.ttl_us, now_us)
            offset += count
            for (ref, *_), column in zip(columns, decoded[0], strict=True):
                values[ref], status[ref], stamps[ref] = column, decoded[1], decoded[2]
    for odfv in plan.resolved.on_demand:
        _run_on_demand_online(odfv, plan.resolved, rows, values, status, stamps)
    out_values: dict[str, list[Any]] = dict(keys)
    out_status: dict[str, list[Status]] = {k: ["present"] * count for k in keys}
    out_stamps: dict[str, list[datetime | None]] = {k: [None] * count for k in keys}
    for ref, name in zip(plan.resolved.requested, plan.names, strict=True):
        out_values[name], out_status[name], out_stamps[name] = values[ref], list(status[ref]), \
            list(stamps[ref])
    return OnlineResult(out_values, out_status, out_stamps)


def _run_on_demand_online(odfv: OnDemandFeatureView, resolved: ResolvedFeatures,
                          rows: Sequence[Mapping[str, Any]],
                          values: dict[FeatureRef, list[Any]],
                          status: dict[FeatureRef, list[Status]],
                          stamps: dict[FeatureRef, list[datetime | None]]) -> None:
    count = len(rows)
    input_refs = odfv.input_refs
    requests: dict[str, np.ndarray] = {}
    for request in odfv.request_fields:
        column = []
        for i, row in enumerate(rows):
            if request.name not in row:
                raise EntityFrameError(f"entity row {i} has no request field {request.name!r}, "
                                       f"which on-demand view {odfv.name!r} needs")
            column.append(row[request.name])
        try:
            requests[request.name] = values_to_numpy(column, request.dtype)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise EntityFrameError(f"request field {request.name!r} must be {request.dtype}: "
                                   f"{exc}") from exc
    outputs = run_on_demand_values(odfv, values, resolved.dtypes, requests, count)
    statuses: list[Status] = []
    times: list[datetime | None] = []
    for i in range(count):
        row_status: Status = next((status[r][i] for r in input_refs
                                   if status[r][i] != "present"), "present")
        row_times = [stamps[r][i] for r in input_refs if stamps[r][i] is not None]
        statuses.append(row_status)
        times.append(min(row_times) if row_times else None)
    for name, column_values in outputs.items():
        ref = FeatureRef(odfv.name, name)
        values[ref], status[ref], stamps[ref] = column_values, list(statuses), list(times)
