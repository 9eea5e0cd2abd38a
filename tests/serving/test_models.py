"""The ONNX runner's deadline: a run past it is ended by onnxruntime (through the watchdog
thread) and reported as a ``TimeoutError``, and runs within it are not disturbed."""

from __future__ import annotations

import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from skewless.serving._models import OnnxRunner

SIDE = 500
STEPS = 400  # chained 500x500 matrix products: seconds of work, ended between two of them


def _slow_model() -> bytes:
    """A regressor whose one run multiplies its input by a matrix ``STEPS`` times."""
    weight = helper.make_tensor("w", TensorProto.DOUBLE, [SIDE, SIDE],
                                np.eye(SIDE).ravel().tolist())
    nodes, previous = [], "x"
    for step in range(STEPS):
        nodes.append(helper.make_node("MatMul", [previous, "w"], [f"m{step}"]))
        previous = f"m{step}"
    nodes.append(helper.make_node("Identity", [previous], ["y"]))
    graph = helper.make_graph(
        nodes, "slow", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [None, SIDE])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [None, SIDE])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


@pytest.fixture(scope="module")
def runner() -> OnnxRunner:
    return OnnxRunner(_slow_model(), classes=None, threshold=None)


def test_a_run_past_its_deadline_is_ended(runner: OnnxRunner) -> None:
    X = np.ones((SIDE, SIDE))
    started = time.monotonic()
    runner(X)  # no deadline: the whole run
    whole = time.monotonic() - started
    assert whole > 0.5, "the model must be slow enough for the deadline to matter"
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="ran past its deadline"):
        runner(X, deadline=time.monotonic() + 0.05)
    assert time.monotonic() - started < whole / 2


def test_runs_within_their_deadline_are_left_alone(runner: OnnxRunner) -> None:
    X = np.full((1, SIDE), 2.0)
    for _ in range(3):  # the watchdog must not end a later run for an earlier one's deadline
        outputs = runner(X, deadline=time.monotonic() + 30)
        assert outputs.probabilities is None
        assert outputs.predictions[:3] == [2.0, 2.0, 2.0]
