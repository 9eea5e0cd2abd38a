"""The online on-demand path (Python values in, Python values out) gives exactly what the
offline one (Arrow columns in and out) gives for the same values, errors included."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from skewless import Field, OnDemandFeatureView
from skewless.errors import DefinitionError
from skewless.features._on_demand import (
    ARROW_TYPES,
    run_on_demand,
    run_on_demand_values,
    to_numpy,
    values_to_numpy,
)
from skewless.features._references import FeatureRef

BIG = 2**53

VALUES = {
    "float64": [
        [1.5, None, -2.0],
        [1, 2, 3],
        [float("nan"), float("inf"), None],
        [True, 0.5],
        [BIG, -BIG],
        [np.float64(2.5), 1.0],
        [],
    ],
    "int64": [[1, None, -7], [BIG, None], [np.int64(4)], [1.5, 2.0]],
    "string": [["a", None, "ü"], [None], []],
    "bool": [[True, None, False]],
    "timestamp": [[None]],
}
REFUSED = {
    "float64": [["1.5"], [BIG + 1], [{"a": 1}]],
    "int64": [[True, 3], [-BIG - 1], ["3"]],
    "string": [[1]],
    "bool": [["yes"]],
}


def _same_array(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    if got.dtype.kind == "f":
        np.testing.assert_array_equal(got, expected)  # NaN equals NaN here
    else:
        assert got.tolist() == expected.tolist()


@pytest.mark.parametrize(("dtype", "values"),
                         [(d, v) for d, cases in VALUES.items() for v in cases])
def test_values_to_numpy_equals_the_arrow_conversion(dtype: str, values: list[Any]) -> None:
    expected = to_numpy(pa.array(values, type=ARROW_TYPES[dtype]), dtype)
    _same_array(values_to_numpy(values, dtype), expected)


@pytest.mark.parametrize(("dtype", "values"),
                         [(d, v) for d, cases in REFUSED.items() for v in cases])
def test_values_to_numpy_refuses_what_arrow_refuses(dtype: str, values: list[Any]) -> None:
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)) as offline:
        to_numpy(pa.array(values, type=ARROW_TYPES[dtype]), dtype)
    with pytest.raises(offline.type):
        values_to_numpy(values, dtype)


def _view(function: Callable[[Mapping[str, Any]], Any], out_dtype: str) -> OnDemandFeatureView:
    return OnDemandFeatureView(
        "ratios", inputs=["stats:amount_mean"], request_fields=[Field("amount", "float64")],
        function=function, outputs=[Field("out", out_dtype)])  # type: ignore[arg-type]


MEAN = FeatureRef("stats", "amount_mean")
OUTPUTS: list[tuple[str, str, Callable[[Mapping[str, Any]], Any]]] = [
    ("float ratio, NaN where undefined", "float64",
     lambda c: {"out": c["amount"] / c["amount_mean"]}),
    ("float32 output", "float64",
     lambda c: {"out": (c["amount"] * 1.1).astype(np.float32)}),
    ("one scalar for every row", "float64", lambda c: {"out": 3.25}),
    ("bool output as a float", "float64", lambda c: {"out": c["amount"] > 1}),
    ("int output", "int64", lambda c: {"out": np.arange(len(c["amount"]))}),
    ("bool output", "bool", lambda c: {"out": c["amount"] > 1}),
    ("string output", "string",
     lambda c: {"out": np.where(c["amount"] > 1, "big", "small").astype(object)}),
    ("list output", "float64", lambda c: {"out": [float(v) for v in c["amount"]]}),
]


@pytest.mark.parametrize(("case", "out_dtype", "function"), OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_online_outputs_equal_the_offline_ones(case: str, out_dtype: str,
                                               function: Callable[[Mapping[str, Any]], Any]
                                               ) -> None:
    view = _view(function, out_dtype)
    means = [2.0, None, 0.0, 4.0]
    amounts = [3.0, 1.0, 5.0, 0.5]
    offline = run_on_demand(view, {MEAN: pa.array(means, pa.float64())}, {MEAN: "float64"},
                            {"amount": pa.array(amounts, pa.float64())}, len(amounts))
    online = run_on_demand_values(view, {MEAN: means}, {MEAN: "float64"},
                                  {"amount": values_to_numpy(amounts, "float64")}, len(amounts))
    assert list(online) == ["out"]
    assert online["out"] == offline["out"].to_pylist()
    assert [type(v) for v in online["out"]] == [type(v) for v in offline["out"].to_pylist()]


BAD_OUTPUTS: list[tuple[str, Callable[[Mapping[str, Any]], Any], str]] = [
    ("wrong length", lambda c: {"out": [1.0]}, "has 1 values for 2 rows"),
    ("two dimensions", lambda c: {"out": np.ones((2, 2))}, "cannot be read as float64"),
    ("not a number", lambda c: {"out": np.array(["x", "y"], dtype=object)},
     "cannot be read as float64"),
    ("missing output", lambda c: {"other": c["amount"]}, "did not return its output 'out'"),
    ("raises", lambda c: 1 / 0, "raised ZeroDivisionError"),
]


@pytest.mark.parametrize(("case", "function", "message"), BAD_OUTPUTS,
                         ids=[b[0] for b in BAD_OUTPUTS])
def test_online_and_offline_refuse_a_bad_output_alike(
        case: str, function: Callable[[Mapping[str, Any]], Any], message: str) -> None:
    view = _view(function, "float64")
    with pytest.raises(DefinitionError, match=message):
        run_on_demand(view, {MEAN: pa.array([1.0, 2.0])}, {MEAN: "float64"},
                      {"amount": pa.array([1.0, 2.0])}, 2)
    with pytest.raises(DefinitionError, match=message):
        run_on_demand_values(view, {MEAN: [1.0, 2.0]}, {MEAN: "float64"},
                             {"amount": values_to_numpy([1.0, 2.0], "float64")}, 2)


def test_input_refs_are_the_parsed_inputs() -> None:
    view = _view(lambda c: {"out": c["amount"]}, "float64")
    assert view.input_refs == (MEAN,)
    assert view.input_refs is view.input_refs  # parsed once
