"""Inferring a model's signature from an input example."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from skewless.errors import RegistryError
from skewless.registry._records import ColumnSpec, ModelSignature

__all__ = ["example_to_json", "infer_signature"]


def _dtype(values: Any) -> str:
    kind = np.asarray(values).dtype.kind
    return {"f": "float64", "i": "int64", "u": "int64", "b": "bool", "M": "timestamp"}.get(
        kind, "string")


def _columns(data: Any, prefix: str) -> list[ColumnSpec]:
    if hasattr(data, "dtypes") and hasattr(data, "columns"):  # a pandas DataFrame
        return [ColumnSpec(str(c), _dtype(data[c])) for c in data.columns]
    if isinstance(data, dict):
        return [ColumnSpec(str(k), _dtype(v)) for k, v in data.items()]
    array = np.asarray(data)
    if array.ndim <= 1:
        return [ColumnSpec(prefix, _dtype(array))]
    return [ColumnSpec(f"{prefix}{i}", _dtype(array[:, i])) for i in range(array.shape[1])]


def infer_signature(model: Any, input_example: Any) -> ModelSignature:
    """Inputs from the example's columns; outputs from the model's answer to it."""
    outputs: list[ColumnSpec] = []
    if hasattr(model, "predict"):
        try:
            prediction = model.predict(input_example)
        except Exception as exc:
            raise RegistryError(f"the model cannot predict its input_example ({exc!r}); pass an "
                                "example shaped like its training data, or a signature") from exc
        outputs = [ColumnSpec("prediction", _dtype(prediction))]
        if hasattr(model, "predict_proba"):
            outputs.append(ColumnSpec("probabilities", "float64"))
    return ModelSignature(_columns(input_example, "x"), outputs)


def _null_if_not_finite(value: Any) -> Any:
    """NaN and infinities as ``None``: JSON has no such numbers (PostgreSQL refuses them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_null_if_not_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _null_if_not_finite(item) for key, item in value.items()}
    return value


def example_to_json(example: Any, rows: int = 5) -> Any:
    """A few rows of the example as JSON data, for the record; missing values become null."""
    if hasattr(example, "head") and hasattr(example, "to_json"):
        import pyarrow as pa

        records = pa.Table.from_pandas(example.head(rows), preserve_index=False).to_pylist()
        return json.loads(json.dumps(_null_if_not_finite(records), default=str))
    if isinstance(example, dict):
        return {str(k): _null_if_not_finite(np.asarray(v)[:rows].tolist())
                for k, v in example.items()}
    return _null_if_not_finite(np.asarray(example)[:rows].tolist())
