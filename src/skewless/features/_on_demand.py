"""Running on-demand views: one function call on the same NumPy arrays, offline and online.

Offline, the inputs are whole Arrow columns of the training frame (:func:`run_on_demand`);
online, they are the few values of a request as Python lists (:func:`run_on_demand_values`).
Both hand the view's function the arrays of the same conversion rules (:func:`to_numpy`, and
:func:`values_to_numpy`, which gives exactly what ``to_numpy`` gives for the same values
without building Arrow arrays for a handful of numbers) and check its outputs the same way,
which is why the two paths cannot disagree; ``tests/features/test_on_demand.py`` holds them to
it value by value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from skewless.errors import DefinitionError
from skewless.features._references import FeatureRef

if TYPE_CHECKING:
    from skewless.features._definitions import Field, OnDemandFeatureView

__all__ = ["ARROW_TYPES", "infer_outputs", "run_on_demand", "run_on_demand_values", "to_numpy",
           "values_to_numpy"]

ARROW_TYPES: dict[str, pa.DataType] = {
    "int64": pa.int64(),
    "float64": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


def to_numpy(column: pa.Array | pa.ChunkedArray, dtype: str) -> np.ndarray:
    """The NumPy form an on-demand function receives for a column of the given dtype."""
    if dtype in ("int64", "float64"):
        return column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    if dtype == "timestamp":
        return column.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)
    return np.array(column.to_pylist(), dtype=object)


_EXACT_FLOAT = 2**53  # Arrow refuses ints beyond this as float64, so they take its path


def _plain(value: Any, dtype: str) -> bool:
    """Whether NumPy converts ``value`` exactly as Arrow's typed conversion would."""
    if value is None:
        return True
    if dtype == "float64" and type(value) is float:
        return True
    if dtype in ("int64", "float64"):
        return type(value) is int and -_EXACT_FLOAT <= value <= _EXACT_FLOAT
    return type(value) is (str if dtype == "string" else bool)


def values_to_numpy(values: Sequence[Any], dtype: str) -> np.ndarray:
    """``to_numpy(pa.array(values, type=ARROW_TYPES[dtype]), dtype)``, for the few values of
    an online request.

    Plain Python numbers, strings and booleans (and ``None``) go straight to NumPy, which gives
    the same array without building an Arrow one; anything else (timestamps, NumPy scalars,
    a value of the wrong type) goes through Arrow, which converts it or raises exactly as the
    offline path does.
    """
    if dtype != "timestamp" and all(_plain(value, dtype) for value in values):
        numeric = dtype in ("int64", "float64")
        return np.array(values, dtype=np.float64 if numeric else object)
    return to_numpy(pa.array(values, type=ARROW_TYPES[dtype]), dtype)


def _output_array(values: Any, out: Field, rows: int, view: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim == 0:
        array = np.full(rows, array)
    if len(array) != rows:
        raise DefinitionError(
            f"on-demand view {view!r}: output {out.name!r} has {len(array)} values "
            f"for {rows} rows; return one value per row"
        )
    return array


def _to_arrow(array: np.ndarray, out: Field, view: str) -> pa.Array:
    try:
        if array.dtype.kind == "M":
            return pa.array(array.astype("datetime64[us]"), from_pandas=True).cast(
                ARROW_TYPES[out.dtype]
            )
        return pa.array(array, from_pandas=True).cast(ARROW_TYPES[out.dtype])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise DefinitionError(
            f"on-demand view {view!r}: output {out.name!r} cannot be read as {out.dtype} "
            f"({exc}); fix the function or the declared output dtype"
        ) from exc


_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


def _to_values(array: np.ndarray, out: Field, view: str) -> list[Any]:
    """``_to_arrow(array, out, view).to_pylist()``; a float output of floats, the usual
    case, without the Arrow array (NaN is null, as ``from_pandas`` makes it)."""
    if out.dtype == "float64" and array.ndim == 1 and array.dtype in _FLOATS:
        return [None if value != value else value
                for value in array.astype(np.float64, copy=False).tolist()]
    return _to_arrow(array, out, view).to_pylist()


def _call(view: OnDemandFeatureView, columns: dict[str, np.ndarray], rows: int
          ) -> dict[str, np.ndarray]:
    """The view's function called on ``columns``; each declared output as one array of
    ``rows`` values."""
    if view.function is None:
        raise DefinitionError(
            f"on-demand view {view.name!r} has no function loaded; run `skewless apply` "
            "or pass the view to store.apply() in this process"
        )
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            result = view.function(columns)
    except Exception as exc:
        raise DefinitionError(f"on-demand view {view.name!r} raised {exc!r}") from exc
    if not hasattr(result, "__getitem__"):
        raise DefinitionError(
            f"on-demand view {view.name!r} returned {type(result).__name__}; "
            "return a dict (or DataFrame) of output columns"
        )
    outputs: dict[str, np.ndarray] = {}
    for out in view.features:
        try:
            values = result[out.name]
        except (KeyError, IndexError) as exc:
            raise DefinitionError(
                f"on-demand view {view.name!r} did not return its output {out.name!r}"
            ) from exc
        outputs[out.name] = _output_array(values, out, rows, view.name)
    return outputs


def run_on_demand(
    view: OnDemandFeatureView,
    features: Mapping[FeatureRef, pa.Array | pa.ChunkedArray],
    dtypes: Mapping[FeatureRef, str],
    requests: Mapping[str, pa.Array | pa.ChunkedArray],
    rows: int,
) -> dict[str, pa.Array]:
    """Call the view's function on Arrow columns and type its outputs as Arrow arrays.

    ``features`` holds the input feature columns (by reference, with their ``dtypes``),
    ``requests`` the request-field columns; the function sees each feature under its name and
    under ``view__feature``, and each request field under its name.
    """
    columns: dict[str, np.ndarray] = {}
    for ref in view.input_refs:
        columns[ref.feature] = columns[ref.full_name] = to_numpy(features[ref], dtypes[ref])
    for request in view.request_fields:
        columns[request.name] = to_numpy(requests[request.name], request.dtype)
    outputs = _call(view, columns, rows)
    return {out.name: _to_arrow(outputs[out.name], out, view.name) for out in view.features}


def run_on_demand_values(
    view: OnDemandFeatureView,
    features: Mapping[FeatureRef, Sequence[Any]],
    dtypes: Mapping[FeatureRef, str],
    requests: Mapping[str, np.ndarray],
    rows: int,
) -> dict[str, list[Any]]:
    """:func:`run_on_demand` for the online path: feature values as Python lists in, each
    output as a Python list out.

    The function receives the very arrays :func:`run_on_demand` would give it for the same
    values (see :func:`values_to_numpy`); ``requests`` are already converted by it.
    """
    columns: dict[str, np.ndarray] = {}
    for ref in view.input_refs:
        columns[ref.feature] = columns[ref.full_name] = values_to_numpy(features[ref],
                                                                        dtypes[ref])
    columns.update(requests)
    outputs = _call(view, columns, rows)
    return {out.name: _to_values(outputs[out.name], out, view.name) for out in view.features}


_SAMPLES: dict[str, Any] = {"int64": 1, "float64": 1.0, "string": "a", "bool": True,
                            "timestamp": np.datetime64("2024-01-01T00:00:00", "us")}
_KINDS = {"f": "float64", "i": "int64", "u": "int64", "b": "bool", "M": "timestamp",
          "O": "string", "U": "string"}


def infer_outputs(view: OnDemandFeatureView) -> list[Field]:
    """Learn output names and dtypes by calling the function on a one-row sample."""
    from skewless.features._definitions import Field

    columns: dict[str, np.ndarray] = {}
    for ref in map(FeatureRef.parse, view.inputs):
        columns[ref.feature] = columns[ref.full_name] = np.array([1.0])
    for request in view.request_fields:
        sample = _SAMPLES[request.dtype]
        columns[request.name] = np.array([sample], dtype=object if request.dtype in
                                         ("string", "bool") else None)
    assert view.function is not None
    try:
        with np.errstate(all="ignore"):
            result = view.function(columns)
        names = list(result.keys())
    except Exception as exc:
        raise DefinitionError(
            f"on-demand view {view.name!r}: could not learn its outputs from a sample call "
            f"({exc!r}); declare them with outputs=[Field(...), ...]"
        ) from exc
    return [Field(str(name), _KINDS.get(np.asarray(result[name]).dtype.kind, "float64"))  # type: ignore[arg-type]
            for name in names]
