"""time_split and random_split: disjoint time ranges, gaps, and the leakage guard."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow.compute as pc
import pytest

import skewless as sk
from _training import DEFINITIONS, make_fraud_project
from skewless.errors import TrainingError
from skewless.training import Split, TimeLeakageWarning, TrainingFrame, random_split, time_split


@pytest.fixture
def frame(tmp_path: Path) -> TrainingFrame:
    labels = make_fraud_project(tmp_path)
    with sk.FeatureStore(tmp_path) as store:
        store.apply(DEFINITIONS)
        return store.get_training_frame(labels, "fraud")


def _times(part: TrainingFrame) -> list:
    return part.table[part.timestamp_column].to_pylist()


def test_time_split_orders_parts_in_time_and_leaves_gaps_out(frame: TrainingFrame) -> None:
    split = time_split(frame, valid="7d", test="5d", gap="1d")
    end = pc.max(frame.table["event_timestamp"]).as_py()
    test_start = end - timedelta(days=5)
    valid_end = test_start - timedelta(days=1)
    valid_start = valid_end - timedelta(days=7)
    assert all(test_start < t <= end for t in _times(split.test))
    assert all(valid_start < t <= valid_end for t in _times(split.valid))
    assert all(t <= valid_start - timedelta(days=1) for t in _times(split.train))
    in_gaps = [t for t in _times(frame)
               if valid_end < t <= test_start or valid_start - timedelta(days=1) < t <= valid_start]
    assert split.train.num_rows + split.valid.num_rows + split.test.num_rows \
        == frame.num_rows - len(in_gaps)
    assert in_gaps  # the generated days are dense: each gap really drops rows
    assert split.train.fingerprint == frame.fingerprint
    assert split.frame is frame


def test_time_split_without_test_or_gap(frame: TrainingFrame) -> None:
    split = time_split(frame, valid="10d", test=None, gap=None)
    assert split.test is None
    assert set(split.parts()) == {"train", "valid"}
    assert split.train.num_rows + split.valid.num_rows == frame.num_rows
    assert split.train.time_range[1] < split.valid.time_range[0]


def test_overlapping_time_ranges_cannot_be_built(frame: TrainingFrame) -> None:
    split = time_split(frame)
    with pytest.raises(TrainingError, match="overlapping time ranges leak the future"):
        Split(train=split.valid, valid=split.train, test=split.test, frame=frame)
    with pytest.raises(TrainingError, match=r"the valid part ends at .* not before the test"):
        Split(train=split.train, valid=frame.subset(pc.greater(
            frame.table["event_timestamp"], split.train.time_range[1])),
            test=split.test, frame=frame)


def test_a_split_with_an_empty_part_is_refused(frame: TrainingFrame) -> None:
    with pytest.raises(TrainingError, match="the train part of the split is empty"):
        time_split(frame, valid="30d", test="30d")
    with pytest.raises(TrainingError, match="'7x' is not a duration"):
        time_split(frame, valid="7x")
    with pytest.raises(TrainingError, match="valid must be a positive duration"):
        time_split(frame, valid="0s")


def test_random_split_needs_an_explicit_opt_in_and_warns(frame: TrainingFrame) -> None:
    with pytest.raises(TrainingError, match="allow_time_leakage=True"):
        random_split(frame)
    with pytest.warns(TimeLeakageWarning):
        split = random_split(frame, valid=0.25, test=0.25, seed=1, allow_time_leakage=True)
    sizes = [split.train.num_rows, split.valid.num_rows, split.test.num_rows]
    assert sum(sizes) == frame.num_rows
    assert split.random
    assert abs(split.valid.num_rows / frame.num_rows - 0.25) < 0.05
    with pytest.raises(TrainingError, match="fractions with a sum below 1"):
        random_split(frame, valid=0.6, test=0.5, allow_time_leakage=True)
