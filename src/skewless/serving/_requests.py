"""Prediction requests: the JSON body checked against the model's inputs, field by field.

A body is one row or a list of rows; a row is ``{"entities": {...}, "request": {...}}`` for a
model bound to a feature service, or ``{"features": {...}}`` for a model that takes its
feature vector directly. Every problem becomes a ``PredictionRequestError`` naming the field,
which the server answers with 422 — never a 500.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from skewless.errors import PredictionRequestError
from skewless.registry import ColumnSpec
from skewless.serving._models import ServedModel

if TYPE_CHECKING:
    from skewless.serving._feedback import FeedbackRecord

__all__ = ["Row", "parse_feedback", "parse_rows", "read_json"]


@dataclass(frozen=True, slots=True)
class Row:
    """One checked row: the flat mapping the feature read takes (entity keys and request
    fields), and the values in input order for the log and the cache."""

    flat: dict[str, Any]
    entities: tuple[Any, ...]
    request: tuple[Any, ...]


def read_json(body: bytes) -> Any:
    """The parsed body; invalid JSON is a 422 that says where it broke."""
    if not body:
        raise PredictionRequestError("the request body is empty; send JSON", "body")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PredictionRequestError(f"the request body is not valid JSON: {exc}", "body") \
            from None


def _value(spec: ColumnSpec, value: Any, where: str) -> Any:
    """``value`` checked against ``spec.dtype`` (ints are accepted for floats)."""
    dtype = spec.dtype
    if dtype in ("float64", "float32"):
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                isinstance(value, float) and not math.isfinite(value)):
            raise PredictionRequestError(f"{where} must be a number, got {value!r}", where)
        return float(value)
    if dtype in ("int64", "int32"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise PredictionRequestError(f"{where} must be an integer, got {value!r}", where)
        return value
    if dtype == "bool":
        if not isinstance(value, bool):
            raise PredictionRequestError(f"{where} must be true or false, got {value!r}", where)
        return value
    if not isinstance(value, str):
        raise PredictionRequestError(f"{where} must be a string, got {value!r}", where)
    return value


def _section(row: dict[str, Any], key: str, specs: list[ColumnSpec], where: str
             ) -> tuple[Any, ...]:
    given = row.get(key, {})
    place = f"{where}{key}"
    if not isinstance(given, dict):
        raise PredictionRequestError(f"{place} must be an object of field: value", place)
    unknown = [name for name in given if name not in {s.name for s in specs}]
    if unknown:
        expected = ", ".join(s.name for s in specs) or "nothing"
        raise PredictionRequestError(f"unknown field {place}.{unknown[0]}; {place} takes "
                                     f"{expected}", f"{place}.{unknown[0]}")
    values = []
    for spec in specs:
        if spec.name not in given:
            raise PredictionRequestError(f"{place}.{spec.name} is missing", f"{place}.{spec.name}")
        values.append(_value(spec, given[spec.name], f"{place}.{spec.name}"))
    return tuple(values)


def parse_rows(body: Any, model: ServedModel, max_rows: int) -> tuple[list[Row], bool]:
    """Checked rows of a parsed body, and whether it was a single row (not a list)."""
    single = isinstance(body, dict)
    items = [body] if single else body
    if not isinstance(items, list):
        raise PredictionRequestError("the body must be a row object or a list of rows", "body")
    if not items:
        raise PredictionRequestError("the list of rows is empty", "body")
    if len(items) > max_rows:
        raise PredictionRequestError(f"{len(items)} rows in one request; at most {max_rows}",
                                     "body", status=413)
    bound = model.resolver is not None
    allowed = {"entities", "request"} if bound else {"features"}
    entity_specs = model.inputs[:len(model.entity_keys)]
    request_specs = model.inputs[len(model.entity_keys):]
    rows = []
    for index, item in enumerate(items):
        where = "" if single else f"[{index}]."
        if not isinstance(item, dict):
            raise PredictionRequestError(f"row {where or 0} must be an object with "
                                         f"{' and '.join(sorted(allowed))}", where or "body")
        extra = [key for key in item if key not in allowed]
        if extra:
            raise PredictionRequestError(
                f"unknown field {where}{extra[0]}; a row of {model.name} has "
                f"{' and '.join(sorted(allowed))}", f"{where}{extra[0]}")
        if not bound:
            values = _section(item, "features", model.inputs, where)
            rows.append(Row(dict(zip(model.feature_names, values, strict=True)), (), values))
            continue
        entities = _section(item, "entities", entity_specs, where)
        request = _section(item, "request", request_specs, where)
        flat = dict(zip(model.entity_keys, entities, strict=True))
        flat.update(zip(model.request_fields, request, strict=True))
        rows.append(Row(flat, entities, request))
    return rows, single


def parse_feedback(body: Any, now: datetime) -> list[FeedbackRecord]:
    """Feedback records of a parsed ``/v1/feedback`` body: ``{"request_id": ..., "label":
    ...}`` or a list of them; the label is any JSON scalar, kept as sent."""
    from skewless.serving._feedback import FeedbackRecord

    single = isinstance(body, dict)
    items = [body] if single else body
    if not isinstance(items, list) or not items:
        raise PredictionRequestError("send {\"request_id\": ..., \"label\": ...} or a "
                                     "non-empty list of them", "body")
    records = []
    for index, item in enumerate(items):
        where = "" if single else f"[{index}]."
        if not isinstance(item, dict):
            raise PredictionRequestError(f"feedback {where or 'body'} must be an object",
                                         where or "body")
        extra = sorted(set(item) - {"request_id", "label"})
        if extra:
            raise PredictionRequestError(f"unknown field {where}{extra[0]}; feedback has "
                                         "request_id and label", f"{where}{extra[0]}")
        request_id = item.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise PredictionRequestError(f"{where}request_id must be the request id a "
                                         "prediction answered with", f"{where}request_id")
        if "label" not in item:
            raise PredictionRequestError(f"{where}label is missing", f"{where}label")
        label = item["label"]
        if label is None or isinstance(label, dict | list):
            raise PredictionRequestError(f"{where}label must be a number, string or boolean",
                                         f"{where}label")
        records.append(FeedbackRecord(request_id, label, now))
    return records
