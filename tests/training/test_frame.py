"""store.get_training_frame: the point-in-time frame, its provenance and its error paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import skewless as sk
from _training import DEFINITIONS, RATIOS, SERVICE, SPENDING, make_fraud_project
from skewless.errors import FeatureNotFoundError, TrainingError
from skewless.training import TrainingFrame


@pytest.fixture
def labels(tmp_path: Path) -> pa.Table:
    return make_fraud_project(tmp_path)


@pytest.fixture
def store(tmp_path: Path, labels: pa.Table) -> Iterator[sk.FeatureStore]:
    with sk.FeatureStore(tmp_path) as store:
        store.apply(DEFINITIONS)
        yield store


def test_frame_equals_historical_features_for_the_same_labels(
        store: sk.FeatureStore, labels: pa.Table) -> None:
    frame = store.get_training_frame(labels, "fraud")
    expected = store.get_historical_features(labels, "fraud").to_arrow()
    assert frame.table.equals(expected)
    assert frame.label == "is_fraud"
    assert frame.feature_names == ["amount_count_1h", "amount_sum_1h", "amount_count_7d",
                                   "amount_mean_30d", "amount_to_mean_30d"]
    assert [f.ref for f in frame.features][-1] == "ratios:amount_to_mean_30d"
    assert [r.name for r in frame.request_fields] == ["amount"]
    assert frame.entity_keys == ["user_id"]
    X = frame.X()
    assert X.shape == (labels.num_rows, 5)
    assert X.dtype == np.float64
    # nulls (no history yet) become NaN, values are the frame's
    column = frame.table["amount_mean_30d"]
    assert np.isnan(X[:, 3]).sum() == column.null_count > 0
    np.testing.assert_array_equal(frame.y(), labels["is_fraud"].to_numpy())


def test_frame_records_definition_hashes_and_a_content_fingerprint(
        store: sk.FeatureStore, labels: pa.Table) -> None:
    frame = store.get_training_frame(labels, SERVICE)
    assert frame.definition_hashes == {
        "feature_service:fraud": SERVICE.definition_hash,
        "feature_view:spending": SPENDING.definition_hash,
        "on_demand_feature_view:ratios": RATIOS.definition_hash,
    }
    again = store.get_training_frame(labels.to_pandas(), "fraud")
    assert again.fingerprint == frame.fingerprint  # same content, however it was passed
    flipped = labels.set_column(3, "is_fraud", pc.invert(labels["is_fraud"]))
    assert store.get_training_frame(flipped, "fraud").fingerprint != frame.fingerprint
    start, end = frame.time_range
    assert start == pc.min(labels["event_timestamp"]).as_py()
    assert end == pc.max(labels["event_timestamp"]).as_py()


def test_label_column_is_found_or_must_be_named(store: sk.FeatureStore,
                                                 labels: pa.Table) -> None:
    extra = labels.append_column("note", pa.array(["x"] * labels.num_rows))
    with pytest.raises(TrainingError, match=r"candidates: is_fraud, note.*label='COLUMN'"):
        store.get_training_frame(extra, "fraud")
    frame = store.get_training_frame(extra, "fraud", label="is_fraud")
    assert "note" not in frame.table.column_names
    assert frame.label == "is_fraud"
    with pytest.raises(TrainingError, match="no column 'fraud'"):
        store.get_training_frame(labels, "fraud", label="fraud")
    with pytest.raises(TrainingError, match="'amount' is an entity key, the timestamp or a "
                                            "request field"):
        store.get_training_frame(labels, "fraud", label="amount")


@pytest.mark.parametrize(("drop", "message"), [
    ("amount", r"lack column\(s\) amount"),
    ("user_id", r"lack column\(s\) user_id"),
    ("event_timestamp", "no timestamp column 'event_timestamp'"),
])
def test_missing_label_columns_are_named(store: sk.FeatureStore, labels: pa.Table, drop: str,
                                         message: str) -> None:
    with pytest.raises(TrainingError, match=message):
        store.get_training_frame(labels.drop_columns([drop]), "fraud")


def test_null_labels_unknown_services_and_unapplied_services_are_refused(
        store: sk.FeatureStore, labels: pa.Table) -> None:
    nulls = labels.set_column(3, "is_fraud", pa.array([None] + [True] * (labels.num_rows - 1)))
    with pytest.raises(TrainingError, match="1 null value"):
        store.get_training_frame(nulls, "fraud")
    with pytest.raises(FeatureNotFoundError, match="did you mean 'fraud'"):
        store.get_training_frame(labels, "frad")
    edited = sk.FeatureService("fraud", ["spending:amount_count_1h"])
    with pytest.raises(TrainingError, match="differs from the applied one"):
        store.get_training_frame(labels, edited)


def test_non_numeric_features_cannot_become_a_matrix(store: sk.FeatureStore,
                                                     labels: pa.Table) -> None:
    frame = store.get_training_frame(labels, "fraud")
    texts = frame.table.append_column("word", pa.array(["a"] * frame.num_rows))
    odd = TrainingFrame(texts, frame.service, frame.definition_hashes, frame.entity_keys,
                        frame.entity_dtypes, frame.request_fields,
                        [*frame.features, type(frame.features[0])("word", "v:word", "string")],
                        frame.label, frame.timestamp_column, frame.fingerprint)
    with pytest.raises(TrainingError, match="feature 'word' is string, not numeric"):
        odd.X()
