"""Feedback: labels stored on both backends, the latest label of a request winning, feedback
files read with their types kept, and labels joined to the prediction log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skewless.config import PredictionLogConfig
from skewless.errors import FeedbackError, TimestampError
from skewless.serving._feedback import (
    FeedbackRecord,
    FeedbackStore,
    ParquetFeedbackStore,
    PostgresFeedbackStore,
    label_coverage,
    load_feedback_file,
)
from skewless.serving._prediction_log import (
    ParquetPredictionSink,
    PostgresPredictionSink,
    PredictionRecord,
)

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
NAMES = ("amount", "n_orders")


def prediction(i: int, version: int = 1) -> PredictionRecord:
    return PredictionRecord(
        request_id=f"r{i}", at=T0 + timedelta(seconds=i), model="fraud", version=version,
        entity_keys=("user_id",), entities=(i,), request_fields=(), request=(),
        feature_names=NAMES, features=(1.5 * i, i), prediction=i % 2, classes=(0, 1),
        probabilities=(0.4, 0.6), latency_ms=2.0, degraded=False, reason=None)


def label(request_id: str, value: bool | int | float | str, minutes: int = 0) -> FeedbackRecord:
    return FeedbackRecord(request_id, value, T0 + timedelta(hours=1, minutes=minutes))


StoreFactory = Callable[[], FeedbackStore]


@pytest.fixture(params=["parquet", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens a feedback store (and its prediction log) on Parquet files or PostgreSQL; each
    call opens the same one again."""
    opened: list[FeedbackStore] = []

    def make() -> FeedbackStore:
        store: FeedbackStore
        if request.param == "parquet":
            store = ParquetFeedbackStore(
                tmp_path / "feedback", predictions=ParquetPredictionSink(tmp_path / "log"))
        else:
            url = request.getfixturevalue("postgres_url")
            schema = request.getfixturevalue("pg_schema")
            store = PostgresFeedbackStore(
                url, schema=schema, predictions=PostgresPredictionSink(url, schema=schema))
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def test_single_and_batch_labels_are_stored(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.add([label("r1", True)]) == 1
    assert store.add([label("r2", False), label("r3", True, minutes=1)]) == 2
    assert store.add([]) == 0

    latest = make_store().latest_labels().sort_by("request_id")

    assert latest.column_names == ["request_id", "label", "label_at"]
    assert latest.column("label").to_pylist() == [True, False, True]
    assert latest.column("label_at").to_pylist()[2] == T0 + timedelta(hours=1, minutes=1)
    assert latest.schema.field("label_at").type == pa.timestamp("us", tz="UTC")
    assert store.latest_labels(["r2", "unknown"]).column("request_id").to_pylist() == ["r2"]
    assert store.latest_labels([]).num_rows == 0


def test_the_latest_label_of_a_request_wins(make_store: StoreFactory) -> None:
    store = make_store()
    store.add([label("r1", "fraud", minutes=10), label("r2", "ok")])
    store.add([label("r1", "ok", minutes=5)])
    store.add([label("r2", "fraud")])

    table = store.latest_labels()
    latest = dict(zip(table.column("request_id").to_pylist(), table.column("label").to_pylist(),
                      strict=True))

    assert latest == {"r1": "fraud", "r2": "fraud"}


def test_labels_are_joined_to_the_predictions(make_store: StoreFactory) -> None:
    store = make_store()
    store.predictions.write([prediction(i) for i in range(4)] + [prediction(9, version=2)])
    assert store.labelled_predictions("fraud").column("label").null_count == 5
    store.add([label("r2", 1), label("r0", 0), label("r9", 1), label("elsewhere", 1)])
    store.add([label("r0", 1, minutes=1)])

    table = store.labelled_predictions("fraud", version=1)

    assert table.column_names[-2:] == ["label", "label_at"]
    assert table.column_names[:-2] == store.predictions.read("fraud", version=1).column_names
    assert table.column("request_id").to_pylist() == ["r0", "r1", "r2", "r3"]
    assert table.column("label").to_pylist() == [1, None, 1, None]
    assert table.column("label_at").to_pylist()[0] == T0 + timedelta(hours=1, minutes=1)
    assert table.column("feature__amount").to_pylist() == [0.0, 1.5, 3.0, 4.5]
    assert label_coverage(table) == 0.5
    window = store.labelled_predictions("fraud", start=T0 + timedelta(seconds=2))
    assert window.column("request_id").to_pylist() == ["r2", "r3", "r9"]
    assert label_coverage(store.labelled_predictions("churn")) == 0.0


def test_bad_labels_and_times_are_refused(make_store: StoreFactory) -> None:
    store = make_store()
    with pytest.raises(FeedbackError, match="must be a number, string or boolean"):
        store.add([FeedbackRecord("r1", {"class": 1}, T0)])  # type: ignore[arg-type]
    with pytest.raises(TimestampError, match="no time zone"):
        store.add([FeedbackRecord("r1", 1, datetime(2024, 5, 1))])
    with pytest.raises(FeedbackError, match="request_id"):
        store.add([FeedbackRecord("", 1, T0)])
    assert store.latest_labels().num_rows == 0


def test_parquet_labels_are_atomic_segments_by_day(tmp_path: Path) -> None:
    store = ParquetFeedbackStore(tmp_path, predictions=ParquetPredictionSink(tmp_path / "log"))
    store.add([label("r1", 1.5), FeedbackRecord("r2", 0.5, T0 + timedelta(days=1))])
    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert [str(p.parent) for p in files] == ["date=2024-05-01", "date=2024-05-02"]
    assert all(p.name.startswith("part-") and p.suffix == ".parquet" for p in files)
    assert pq.read_schema(tmp_path / files[0]).names == ["request_id", "label", "at"]


# -- feedback files -----------------------------------------------------------------------------

def test_load_csv_keeps_label_types_and_reads_times(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("request_id,label,at\n"
                    "101,true,2024-05-01T12:00:00Z\n"
                    "102,false,2024-05-01 14:30:00+02:00\n")

    records = load_feedback_file(path)

    assert records == [FeedbackRecord("101", True, T0),
                       FeedbackRecord("102", False, T0 + timedelta(minutes=30))]
    for text, expected in (("1\n2", [1, 2]), ("0.5\n2", [0.5, 2.0]), ("yes\nno", ["yes", "no"])):
        path.write_text("request_id,label\na," + text.replace("\n", "\nb,") + "\n")
        loaded = load_feedback_file(path, now=T0)
        assert [r.label for r in loaded] == expected
        assert [type(r.label) for r in loaded] == [type(v) for v in expected]
        assert all(r.at == T0 for r in loaded)


def test_load_parquet_with_a_timestamp_column(tmp_path: Path) -> None:
    path = tmp_path / "labels.parquet"
    pq.write_table(pa.table({
        "request_id": ["r1", "r2"], "label": [3, 4],
        "timestamp": pa.array([T0, T0 + timedelta(hours=1)], pa.timestamp("ms", tz="UTC"))}),
        path)

    assert load_feedback_file(path) == [FeedbackRecord("r1", 3, T0),
                                         FeedbackRecord("r2", 4, T0 + timedelta(hours=1))]


def test_bad_feedback_files_say_what_is_wrong(tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_text("id,label\nr1,1\n")
    with pytest.raises(FeedbackError, match=r"no column .request_id.*request_id, label and "
                                            "optionally one of at, timestamp"):
        load_feedback_file(csv)
    csv.write_text("request_id,target\nr1,1\n")
    with pytest.raises(FeedbackError, match=r"no column .label.*found: request_id, target"):
        load_feedback_file(csv)
    csv.write_text("request_id,label,at\nr1,1,2024-05-01T12:00:00\n")
    with pytest.raises(TimestampError, match="zone"):
        load_feedback_file(csv)
    csv.write_text("request_id,label\nr1,1\n,0\n")
    with pytest.raises(FeedbackError, match="'request_id' is empty in row 2"):
        load_feedback_file(csv)
    csv.write_text("request_id,label\nr1,1\nr2,\n")
    with pytest.raises(FeedbackError, match="'label' is empty in row 2"):
        load_feedback_file(csv)
    with pytest.raises(FeedbackError, match="does not exist"):
        load_feedback_file(tmp_path / "missing.csv")
    with pytest.raises(FeedbackError, match=r"accepted: \.csv, \.parquet, \.pq"):
        load_feedback_file(tmp_path / "labels.json")
    naive = tmp_path / "naive.parquet"
    pq.write_table(pa.table({"request_id": ["r1"], "label": [1],
                             "at": pa.array([datetime(2024, 5, 1)], pa.timestamp("us"))}), naive)
    with pytest.raises(TimestampError, match="no time zone"):
        load_feedback_file(naive)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(FeedbackError, match="cannot read feedback file"):
        load_feedback_file(broken)


def test_from_config(tmp_path: Path) -> None:
    assert FeedbackStore.from_config(PredictionLogConfig(sink="off"), tmp_path) is None
    store = FeedbackStore.from_config(PredictionLogConfig(feedback_path="labels"), tmp_path)
    assert isinstance(store, ParquetFeedbackStore)
    assert store.folder == tmp_path / "labels"
    assert isinstance(store.predictions, ParquetPredictionSink)
    assert store.predictions.folder == tmp_path / "data" / "predictions"


@pytest.mark.postgres
def test_postgres_from_config(postgres_url: str, pg_schema: str, tmp_path: Path) -> None:
    config = PredictionLogConfig(sink="postgresql", url=postgres_url, schema=pg_schema)
    store = FeedbackStore.from_config(config, tmp_path)
    assert isinstance(store, PostgresFeedbackStore)
    assert isinstance(store.predictions, PostgresPredictionSink)
    store.add([label("r1", "ok")])
    assert store.latest_labels().column("label").to_pylist() == ["ok"]
    store.close()
