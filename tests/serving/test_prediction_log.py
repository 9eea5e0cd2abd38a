"""The prediction log: records round-trip through both sinks to the same Arrow layout, segments
appear atomically, the writer flushes on time and on close, and every record it cannot write is
counted."""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skewless.config import PredictionLogConfig
from skewless.errors import (
    ConfigError,
    PredictionLogError,
    PredictionLogUnavailableError,
    TimestampError,
)
from skewless.serving._prediction_log import (
    ParquetPredictionSink,
    PostgresPredictionSink,
    PredictionLog,
    PredictionRecord,
    PredictionSink,
    read_predictions,
)

T0 = datetime(2024, 5, 1, 23, 59, 59, 500_000, tzinfo=UTC)
FEATURES = ("amount_avg_7d", "country", "is_new", "n_orders", "never_seen")
ENTITIES = ("user_id", "merchant")
REQUEST = ("amount", "channel", "first_time")
CLASSES = (0, 1)


def record(i: int, *, model: str = "fraud", version: int = 1,
           at: datetime | None = None, **changes: Any) -> PredictionRecord:
    """A classifier's record with one value of every type, and a feature that is always None."""
    fields: dict[str, Any] = dict(
        request_id=f"{model}-{version}-{i}", at=at or T0 + timedelta(milliseconds=i),
        model=model, version=version, entity_keys=ENTITIES, entities=(i, f"m{i % 3}"),
        request_fields=REQUEST, request=(12.5 + i, "web" if i % 2 else None, i % 2 == 0),
        feature_names=FEATURES, features=(0.25 * i, "FR", i % 3 == 0, i, None),
        prediction=i % 2, classes=CLASSES, probabilities=(0.9, 0.1) if i % 2 else (0.2, 0.8),
        latency_ms=1.5 + i, degraded=i % 4 == 3, reason="timeout" if i % 4 == 3 else None)
    fields.update(changes)
    return PredictionRecord(**fields)


def expected_row(r: PredictionRecord) -> dict[str, Any]:
    """``r`` as a row of the common read layout."""
    row: dict[str, Any] = {"request_id": r.request_id, "timestamp": r.at, "model": r.model,
                           "version": r.version}
    row |= {f"entity__{k}": v for k, v in zip(r.entity_keys, r.entities, strict=True)}
    row |= {f"request__{k}": v for k, v in zip(r.request_fields, r.request, strict=True)}
    row |= {f"feature__{k}": v for k, v in zip(r.feature_names, r.features, strict=True)}
    row["prediction"] = r.prediction
    if r.probabilities is not None and r.classes is not None:
        row |= {f"probability__{c}": p for c, p in zip(r.classes, r.probabilities, strict=True)}
    return row | {"latency_ms": r.latency_ms, "degraded": r.degraded, "reason": r.reason}


def parquet_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# -- the Parquet sink ---------------------------------------------------------------------------

def test_parquet_round_trip_keeps_every_field_and_type(tmp_path: Path) -> None:
    records = [record(i) for i in range(8)]
    ParquetPredictionSink(tmp_path).write(records)

    table = read_predictions(tmp_path, "fraud")

    assert table.to_pylist() == [expected_row(r) for r in records]
    types = dict(zip(table.column_names, table.schema.types, strict=True))
    assert types["timestamp"] == pa.timestamp("us", tz="UTC")
    assert types["version"] == pa.int64()
    assert types["entity__user_id"] == pa.int64()
    assert types["entity__merchant"] == pa.string()
    assert types["request__first_time"] == pa.bool_()
    assert types["feature__amount_avg_7d"] == pa.float64()
    assert types["feature__is_new"] == pa.bool_()
    assert types["feature__never_seen"] == pa.float64()
    assert types["prediction"] == pa.int64()
    assert table.column_names[:4] == ["request_id", "timestamp", "model", "version"]
    assert table.column_names[-3:] == ["latency_ms", "degraded", "reason"]


def test_one_segment_per_model_version_and_day(tmp_path: Path) -> None:
    batch = [record(i, model=m, version=v) for i in range(3)
             for m, v in (("fraud", 1), ("fraud", 2), ("churn", 7))]
    batch.append(record(9, model="churn", version=7, at=T0 + timedelta(seconds=1)))
    ParquetPredictionSink(tmp_path).write(batch)

    files = [p.relative_to(tmp_path) for p in parquet_files(tmp_path)]
    folders = sorted(str(p.parent) for p in files)
    assert folders == ["model=churn/version=7/date=2024-05-01",
                       "model=churn/version=7/date=2024-05-02",
                       "model=fraud/version=1/date=2024-05-01",
                       "model=fraud/version=2/date=2024-05-01"]
    assert all(p.name.startswith("part-") and p.suffix == ".parquet" for p in files)
    assert "model" not in pq.read_schema(tmp_path / files[0]).names
    churn = read_predictions(tmp_path, "churn")
    assert churn.column("request_id").to_pylist() == [
        "churn-7-0", "churn-7-1", "churn-7-2", "churn-7-9"]
    assert read_predictions(tmp_path, "fraud", version=2).column("version").to_pylist() == [2] * 3
    assert read_predictions(tmp_path, "fraud").num_rows == 6


def test_read_window_is_half_open_and_ordered_by_time(tmp_path: Path) -> None:
    sink = ParquetPredictionSink(tmp_path)
    sink.write([record(i) for i in (5, 3)])
    sink.write([record(i) for i in (4, 1, 2)])

    window = read_predictions(tmp_path, "fraud", start=T0 + timedelta(milliseconds=2),
                              end=T0 + timedelta(milliseconds=5))

    assert window.column("request_id").to_pylist() == ["fraud-1-2", "fraud-1-3", "fraud-1-4"]
    with pytest.raises(TimestampError, match="no time zone"):
        read_predictions(tmp_path, "fraud", start=datetime(2024, 5, 1))


def test_versions_with_different_features_read_together(tmp_path: Path) -> None:
    sink = ParquetPredictionSink(tmp_path)
    sink.write([record(1)])
    sink.write([record(2, version=2, feature_names=("n_orders", "score"), features=(3, "high"),
                       classes=None, probabilities=None, prediction=0.75)])

    table = read_predictions(tmp_path, "fraud")

    rows = table.to_pylist()
    assert [r["version"] for r in rows] == [1, 2]
    assert rows[0]["feature__score"] is None
    assert rows[1]["feature__score"] == "high"
    assert rows[1]["feature__country"] is None
    assert rows[1]["probability__1"] is None
    assert rows[0]["prediction"] == 1.0
    assert rows[1]["prediction"] == 0.75


def test_records_of_one_version_with_other_shapes_share_a_segment(tmp_path: Path) -> None:
    nothing = tuple(None for _ in FEATURES)
    batch = [record(1), record(2, features=nothing, probabilities=None, degraded=True,
                               reason="online_store_unavailable"),
             record(3, feature_names=(), features=(), reason="default", degraded=True),
             record(4, features=(1, "FR", True, "many", None))]
    ParquetPredictionSink(tmp_path).write(batch)

    assert len(parquet_files(tmp_path)) == 1
    rows = read_predictions(tmp_path, "fraud").to_pylist()
    assert [r["reason"] for r in rows] == [None, "online_store_unavailable", "default", None]
    assert rows[1]["feature__country"] is None
    assert rows[1]["probability__0"] is None
    assert rows[2]["feature__amount_avg_7d"] is None
    assert rows[2]["probability__1"] == 0.1
    assert [r["feature__n_orders"] for r in rows] == ["1", None, None, "many"]


def test_missing_folder_reads_as_empty_table_with_standard_columns(tmp_path: Path) -> None:
    table = read_predictions(tmp_path / "nothing", "fraud", version=3)
    assert table.num_rows == 0
    assert table.column_names == ["request_id", "timestamp", "model", "version", "prediction",
                                  "latency_ms", "degraded", "reason"]
    assert read_predictions(tmp_path, "fraud").num_rows == 0


def test_a_failed_batch_leaves_no_file_behind(tmp_path: Path) -> None:
    (tmp_path / "model=churn").write_text("a file where a folder must go")
    sink = ParquetPredictionSink(tmp_path)

    with pytest.raises(PredictionLogError, match="cannot write prediction log segments"):
        sink.write([record(1), record(1, model="churn")])

    assert parquet_files(tmp_path) == [tmp_path / "model=churn"]
    assert read_predictions(tmp_path, "fraud").num_rows == 0


# -- the writer ---------------------------------------------------------------------------------

class BlockingSink(ParquetPredictionSink):
    """A Parquet sink whose writes wait until ``release`` is set."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.entered = threading.Event()
        self.release = threading.Event()

    def write(self, records: Any) -> None:
        self.entered.set()
        assert self.release.wait(10)
        super().write(records)


class FlakySink(ParquetPredictionSink):
    """A Parquet sink whose first ``failures`` writes fail as a full disk would."""

    def __init__(self, folder: Path, failures: int) -> None:
        super().__init__(folder)
        self.failures = failures
        self.attempts = 0

    def write(self, records: Any) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise OSError(28, "No space left on device")
        super().write(records)


def test_many_batches_are_readable_files_with_no_temporaries(tmp_path: Path) -> None:
    with PredictionLog(ParquetPredictionSink(tmp_path), queue_size=1_000, batch_size=7,
                       flush_interval_s=0.05) as log:
        for i in range(100):
            assert log.log(record(i))
            if i % 10 == 0:
                for path in tmp_path.rglob("*.parquet"):
                    pq.read_table(path)

    files = parquet_files(tmp_path)
    assert all(p.suffix == ".parquet" and not p.name.startswith(".") for p in files)
    assert sum(pq.read_metadata(p).num_rows for p in files) == 100
    assert log.written == 100
    assert log.dropped == 0
    assert log.queue_depth == 0


def test_a_record_is_written_within_the_flush_interval(tmp_path: Path) -> None:
    log = PredictionLog(ParquetPredictionSink(tmp_path), queue_size=100, batch_size=1_000,
                        flush_interval_s=1.0)
    started = time.monotonic()
    assert log.log(record(1))
    time.sleep(0.2)
    assert read_predictions(tmp_path, "fraud").num_rows == 0
    wait_for(lambda: read_predictions(tmp_path, "fraud").num_rows == 1, timeout=1.5)
    assert 0.9 < time.monotonic() - started < 1.5
    assert log.written == 1
    log.close()


def test_close_writes_everything_and_is_idempotent(tmp_path: Path) -> None:
    log = PredictionLog(ParquetPredictionSink(tmp_path), queue_size=1_000, batch_size=100,
                        flush_interval_s=60)
    for i in range(250):
        assert log.log(record(i))

    assert log.close()

    assert read_predictions(tmp_path, "fraud").num_rows == 250
    assert log.written == 250
    assert log.queue_depth == 0
    assert log.close()
    assert not log.log(record(999))
    assert log.dropped == 1


def test_flush_waits_for_everything_logged_before(tmp_path: Path) -> None:
    log = PredictionLog(ParquetPredictionSink(tmp_path), queue_size=1_000, batch_size=500,
                        flush_interval_s=60)
    for i in range(30):
        log.log(record(i))
    assert log.flush(timeout=5)
    assert log.written == 30
    assert read_predictions(tmp_path, "fraud").num_rows == 30
    log.close()


def test_a_full_queue_drops_and_counts_exactly_the_overflow(tmp_path: Path) -> None:
    sink = BlockingSink(tmp_path)
    log = PredictionLog(sink, queue_size=5, batch_size=1, flush_interval_s=0.05)
    assert log.log(record(0))
    assert sink.entered.wait(5)

    accepted = [log.log(record(i)) for i in range(1, 13)]

    assert accepted == [True] * 5 + [False] * 7
    assert log.dropped == 7
    assert log.queue_depth == 6
    sink.release.set()
    assert log.close()
    assert log.written == 6
    assert log.written + log.dropped == 13
    assert read_predictions(tmp_path, "fraud").column("request_id").to_pylist() == [
        f"fraud-1-{i}" for i in range(6)]


def test_log_never_waits_for_a_blocked_sink(tmp_path: Path) -> None:
    sink = BlockingSink(tmp_path)
    log = PredictionLog(sink, queue_size=100, batch_size=1, flush_interval_s=0.05)
    log.log(record(0))
    assert sink.entered.wait(5)
    started = time.perf_counter()
    for i in range(1, 1_000):
        log.log(record(i))
    assert time.perf_counter() - started < 0.5
    assert log.dropped == 1_000 - 1 - 100
    sink.release.set()
    log.close()


def test_a_failing_write_is_retried(tmp_path: Path) -> None:
    sink = FlakySink(tmp_path, failures=2)
    log = PredictionLog(sink, queue_size=100, batch_size=10, flush_interval_s=0.05,
                        retries=3, retry_backoff_s=0.01)
    for i in range(10):
        log.log(record(i))
    assert log.close()
    assert sink.attempts == 3
    assert (log.written, log.dropped, log.failed_batches) == (10, 0, 0)


def test_a_batch_that_keeps_failing_is_counted_and_the_writer_survives(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "log"
    blocker.write_text("a file where the log folder must go")
    log = PredictionLog(ParquetPredictionSink(blocker), queue_size=100, batch_size=4,
                        flush_interval_s=0.05, retries=2, retry_backoff_s=0.01)
    with caplog.at_level(logging.WARNING, logger="skewless.serving._prediction_log"):
        for i in range(4):
            log.log(record(i))
        assert log.flush(timeout=5)
    assert (log.written, log.dropped, log.failed_batches) == (0, 4, 1)
    assert "dropped 4 prediction records" in caplog.text

    blocker.unlink()
    for i in range(4, 7):
        log.log(record(i))
    assert log.close()
    assert (log.written, log.dropped, log.failed_batches) == (3, 4, 1)
    assert read_predictions(blocker, "fraud").num_rows == 3


def test_from_config(tmp_path: Path) -> None:
    assert PredictionLog.from_config(PredictionLogConfig(sink="off"), tmp_path) is None
    with pytest.raises(ConfigError, match=r"prediction_log\.url is required"):
        PredictionLog.from_config(PredictionLogConfig(sink="postgresql"), tmp_path)
    config = PredictionLogConfig(path="logs/predictions", batch_size=3, flush_interval_s=30)
    log = PredictionLog.from_config(config, tmp_path)
    assert log is not None
    assert isinstance(log.sink, ParquetPredictionSink)
    assert log.sink.folder == tmp_path / "logs" / "predictions"
    for i in range(3):
        log.log(record(i))
    assert log.flush(timeout=5)
    assert read_predictions(tmp_path / "logs" / "predictions", "fraud").num_rows == 3
    log.close()
    absolute = PredictionSink.from_config(PredictionLogConfig(path=str(tmp_path / "abs")),
                                          Path("/elsewhere"))
    assert isinstance(absolute, ParquetPredictionSink)
    assert absolute.folder == tmp_path / "abs"


# -- the PostgreSQL sink ------------------------------------------------------------------------

@pytest.mark.postgres
def test_postgres_reads_back_what_parquet_does(postgres_url: str, pg_schema: str,
                                               tmp_path: Path) -> None:
    records = [record(i) for i in range(6)] + [record(
        7, version=2, feature_names=("n_orders", "score"), features=(3, "high"), classes=None,
        probabilities=None, prediction=0.75)]
    sink = PostgresPredictionSink(postgres_url, schema=pg_schema)
    sink.write(records[:4])
    sink.write(records[4:])
    ParquetPredictionSink(tmp_path).write(records)

    stored = sink.read("fraud")
    parquet = read_predictions(tmp_path, "fraud")

    assert stored.schema == parquet.schema
    assert stored.to_pylist() == parquet.to_pylist()
    assert sink.read("fraud", version=1).to_pylist() == [expected_row(r) for r in records[:6]]
    assert sink.read("fraud", version=2).num_rows == 1
    window = sink.read("fraud", start=T0 + timedelta(milliseconds=1),
                       end=T0 + timedelta(milliseconds=3))
    assert window.column("request_id").to_pylist() == ["fraud-1-1", "fraud-1-2"]
    assert sink.read("nothing").column_names == read_predictions(tmp_path, "nothing").column_names
    sink.close()


@pytest.mark.postgres
def test_postgres_ignores_a_request_id_logged_twice(postgres_url: str, pg_schema: str) -> None:
    with PredictionLog(PostgresPredictionSink(postgres_url, schema=pg_schema), queue_size=100,
                       batch_size=3, flush_interval_s=0.05) as log:
        for i in range(3):
            log.log(record(i))
        assert log.flush(timeout=5)
        log.log(record(1, prediction=42, latency_ms=99.0))
        log.log(record(3, features=(math.nan, "FR", True, 1, None)))
    assert log.written == 5
    assert log.dropped == 0

    rows = PostgresPredictionSink(postgres_url, schema=pg_schema).read("fraud").to_pylist()
    assert [r["request_id"] for r in rows] == ["fraud-1-0", "fraud-1-1", "fraud-1-2",
                                               "fraud-1-3"]
    assert rows[1]["prediction"] == 1
    assert rows[1]["latency_ms"] == 2.5
    assert rows[3]["feature__amount_avg_7d"] is None


@pytest.mark.postgres
def test_postgres_from_config(postgres_url: str, pg_schema_name: str, tmp_path: Path) -> None:
    config = PredictionLogConfig(sink="postgresql", url=postgres_url, schema=pg_schema_name)
    log = PredictionLog.from_config(config, tmp_path)
    assert log is not None
    assert isinstance(log.sink, PostgresPredictionSink)
    log.log(record(1))
    assert log.close()
    assert PostgresPredictionSink(postgres_url, schema=pg_schema_name).read("fraud").num_rows == 1


def test_unreachable_postgres_is_reported_with_the_url() -> None:
    sink = PostgresPredictionSink("postgresql://writer:secret@127.0.0.1:1/log")
    with pytest.raises(PredictionLogUnavailableError, match=r"127\.0\.0\.1:1") as caught:
        sink.write([record(1)])
    assert "secret" not in str(caught.value)
    assert caught.value.__cause__ is not None
    with pytest.raises(ConfigError, match="must be a PostgreSQL URL"):
        PostgresPredictionSink("sqlite:///log.sqlite")
