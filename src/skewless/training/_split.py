"""Train / validation / test splits that cannot leak the future into the past.

``time_split`` cuts a training frame by label time: the test set is the last ``test`` of the
data, the validation set the ``valid`` before it, the training set everything earlier, with a
``gap`` dropped before each cut so that a label which is only known some time after its event
(a chargeback, a churn) cannot be learnt from in training and then scored in validation. A
``Split`` checks its own time ranges, so an overlapping split cannot be built through the API;
``random_split`` exists for data without meaningful time, and needs an explicit opt-in.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

import numpy as np
import pyarrow.compute as pc

from skewless._time import parse_duration
from skewless.errors import DefinitionError, TrainingError
from skewless.training._frame import TrainingFrame

__all__ = ["Split", "TimeLeakageWarning", "random_split", "time_split"]


class TimeLeakageWarning(UserWarning):
    """A split mixes label times across its parts, so validation can see the future."""


@dataclass(frozen=True)
class Split:
    """Three disjoint parts of one training frame.

    Unless ``random`` (built by ``random_split`` with the explicit opt-in), every training time
    is before every validation time, and every validation time before every test time; the
    constructor refuses anything else.
    """

    train: TrainingFrame
    valid: TrainingFrame
    test: TrainingFrame | None
    frame: TrainingFrame
    random: bool = False

    def __post_init__(self) -> None:
        parts = [("train", self.train), ("valid", self.valid)]
        if self.test is not None:
            parts.append(("test", self.test))
        for name, part in parts:
            if part.num_rows == 0:
                raise TrainingError(f"the {name} part of the split is empty; use shorter "
                                    "valid/test periods or a smaller gap, or more labels")
        if self.random:
            return
        for (earlier, first), (later, second) in pairwise(parts):
            if first.time_range[1] >= second.time_range[0]:
                raise TrainingError(
                    f"the {earlier} part ends at {first.time_range[1]}, not before the {later} "
                    f"part starts at {second.time_range[0]}; overlapping time ranges leak the "
                    "future into training — build splits with time_split")

    def parts(self) -> dict[str, TrainingFrame]:
        """``{"train": …, "valid": …, "test": …}`` (test only when there is one)."""
        found = {"train": self.train, "valid": self.valid}
        if self.test is not None:
            found["test"] = self.test
        return found


def _duration(value: timedelta | str | None, what: str) -> timedelta:
    if value is None or value == timedelta(0) or value in ("0", "0s", "0d"):
        return timedelta(0)
    try:
        return parse_duration(value, what)
    except DefinitionError as exc:
        raise TrainingError(str(exc)) from exc


def time_split(frame: TrainingFrame, valid: timedelta | str = "7d",
               test: timedelta | str | None = "7d", gap: timedelta | str | None = "1d"
               ) -> Split:
    """Split by label time: test is the last ``test`` of the data (``None``: no test set),
    validation the ``valid`` before it, training everything before that; the ``gap`` before
    each cut is left out of both sides.

    With the latest label time ``end``: test is ``end - test < t``, validation is
    ``v0 < t <= v1`` where ``v1 = end - test - gap`` and ``v0 = v1 - valid``, training is
    ``t <= v0 - gap``.
    """
    valid_span = _duration(valid, "valid")
    if not valid_span:
        raise TrainingError("valid must be a positive duration such as '7d'")
    test_span = _duration(test, "test")
    gap_span = _duration(gap, "gap")
    times = frame.table[frame.timestamp_column]
    if frame.num_rows == 0:
        raise TrainingError("the training frame has no rows; check the labels")
    end: datetime = pc.max(times).as_py()
    test_start = end - test_span
    valid_end = test_start - gap_span if test is not None else end
    valid_start = valid_end - valid_span
    train_end = valid_start - gap_span

    def between(low: datetime | None, high: datetime) -> np.ndarray:
        mask = pc.less_equal(times, high)
        if low is not None:
            mask = pc.and_(mask, pc.greater(times, low))
        return mask.to_numpy(zero_copy_only=False)

    test_part = frame.subset(between(test_start, end)) if test is not None else None
    return Split(train=frame.subset(between(None, train_end)),
                 valid=frame.subset(between(valid_start, valid_end)),
                 test=test_part, frame=frame)


def random_split(frame: TrainingFrame, valid: float = 0.2, test: float | None = 0.2, *,
                 seed: int = 0, allow_time_leakage: bool = False) -> Split:
    """Split rows at random — which, for time-stamped labels, lets the model learn from the
    future of the rows it is validated on. Refused unless ``allow_time_leakage=True``, and
    then a ``TimeLeakageWarning`` is issued."""
    if not allow_time_leakage:
        raise TrainingError("a random split of time-stamped labels leaks the future into "
                            "training; use time_split, or pass allow_time_leakage=True if the "
                            "rows are truly independent of time")
    test_share = test or 0.0
    if not (0 < valid < 1 and 0 <= test_share < 1 and valid + test_share < 1):
        raise TrainingError(f"valid={valid} and test={test} must be fractions with a sum "
                            "below 1")
    warnings.warn("random split of time-stamped data: validation metrics may be optimistic",
                  TimeLeakageWarning, stacklevel=2)
    draw = np.random.default_rng(seed).random(frame.num_rows)
    test_part = frame.subset(draw < test_share) if test else None
    return Split(train=frame.subset(draw >= test_share + valid),
                 valid=frame.subset((draw >= test_share) & (draw < test_share + valid)),
                 test=test_part, frame=frame, random=True)
