"""Runs: lifecycle, params, metrics with steps, buffered writes, artifacts, and where runs go.

Every test runs on SQLite and on PostgreSQL (the ``project`` fixture).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import skewless as sk
from _projects import forget_project
from skewless._project import Project
from skewless.artifacts import StoredArtifact
from skewless.errors import ArtifactError, TrackingError
from skewless.tracking import Run


def _train() -> None:
    raise ValueError("loss diverged at epoch 3")


def _direct_run(project: Project, **options: float) -> Run:
    """A run with its own buffer settings (``skewless.start_run`` uses the defaults)."""
    run_id, name, started = project.runs.create_run("buffering", None, project.actor,
                                                    (None, None))
    return Run(project, "buffering", run_id, name, started, **options)  # type: ignore[arg-type]


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def other(project: Project) -> Iterator[Project]:
    """The same project opened again: its own engine and connections, like another process."""
    reader = Project(project.path)
    yield reader
    reader.close()


def test_run_is_running_then_finished(project: Project, other: Project) -> None:
    before = datetime.now(UTC)
    with sk.start_run(experiment="fraud", name="baseline", tags={"team": "risk"},
                      project=project.path) as run:
        stored = other.runs.get(run.run_id)
        assert (stored.status, stored.end_time, stored.name) == ("running", None, "baseline")
        assert run.status == "running"
    after = datetime.now(UTC)
    record = sk.get_run(run.run_id, project=project.path)
    assert (record.status, record.experiment, record.error) == ("finished", "fraud", None)
    assert before <= record.start_time <= record.end_time <= after
    assert record.created_by == project.actor
    assert record.tags == {"team": "risk"}
    assert run.status == "finished"


def test_unnamed_run_gets_a_name_from_its_id(project: Project) -> None:
    with sk.start_run("fraud", project=project.path) as run:
        pass
    assert run.name == f"run-{run.run_id[:8]}"
    assert sk.get_run(run.run_id, project=project.path).name == run.name


def _failing_run(project: Project, started: list[Run]) -> None:
    with sk.start_run("fraud", project=project.path) as run:
        started.append(run)
        run.log_params({"lr": 0.1, "max_depth": 6})
        run.set_tag("stage", "training")
        for epoch in range(2_500):  # two full batches written, 500 points still buffered
            run.log_metric("loss", 1 / (epoch + 1))
        _train()


def test_failed_run_records_the_exception_and_loses_nothing(project: Project) -> None:
    started: list[Run] = []
    with pytest.raises(ValueError, match="diverged"):
        _failing_run(project, started)
    [run] = started
    assert run.status == "failed"
    record = sk.get_run(run.run_id, project=project.path)
    assert record.status == "failed"
    assert record.end_time is not None
    assert record.error is not None
    assert record.error.startswith("Traceback (most recent call last)")
    assert "in _train" in record.error
    assert record.error.rstrip().endswith("ValueError: loss diverged at epoch 3")
    assert record.params == {"lr": "0.1", "max_depth": "6"}
    assert record.tags == {"stage": "training"}
    history = project.runs.metric_history(run.run_id, "loss")
    assert [p.step for p in history] == list(range(2_500))
    assert record.metrics == {"loss": 1 / 2_500}


def test_params_never_change(project: Project) -> None:
    with sk.start_run("fraud", project=project.path) as run:
        run.log_param("max_depth", 6)
        run.log_param("max_depth", "6")  # the same text: fine
        with pytest.raises(TrackingError, match=r"param 'max_depth' is already '6'"):
            run.log_param("max_depth", 7)
        # a batch with one conflicting param records none of it
        with pytest.raises(TrackingError, match="max_depth"):
            run.log_params({"lr": 0.3, "max_depth": 8})
        run.record()  # flushed: the stored value is checked too
        with pytest.raises(TrackingError, match="already '6'"):
            run.log_param("max_depth", 9)
        # a writer that bypasses this run's memory (another process) is refused by the store
        with pytest.raises(TrackingError, match="already '6'"):
            project.runs.write(run.run_id, params={"max_depth": "10"})
        run.log_param("lr", 0.01)
    assert sk.get_run(run.run_id, project=project.path).params == {"max_depth": "6",
                                                                   "lr": "0.01"}


def test_tags_can_be_replaced(project: Project) -> None:
    with sk.start_run("fraud", tags={"stage": "dev", "owner": "ana"},
                      project=project.path) as run:
        run.set_tag("stage", "review")
        run.record()
        run.set_tag("stage", "approved")
    assert sk.get_run(run.run_id, project=project.path).tags == {"stage": "approved",
                                                                 "owner": "ana"}


def test_metric_steps_count_up_or_are_given(project: Project) -> None:
    with sk.start_run("fraud", project=project.path) as run:
        for value in (0.9, 0.7, 0.5):
            run.log_metric("loss", value)  # steps 0, 1, 2
        run.log_metric("loss", 0.4, step=10)
        run.log_metric("loss", 0.3)  # continues after the highest step: 11
        run.log_metrics({"precision": 0.8, "recall": 0.6}, step=3)
        run.log_metrics({"precision": 0.85, "recall": 0.65})  # 4 for both
    history = project.runs.metric_history(run.run_id, "loss")
    assert [(p.step, p.value) for p in history] == [(0, 0.9), (1, 0.7), (2, 0.5), (10, 0.4),
                                                    (11, 0.3)]
    assert all(p.timestamp.tzinfo is not None for p in history)
    assert [(p.step, p.value) for p in project.runs.metric_history(run.run_id, "recall")] == [
        (3, 0.6), (4, 0.65)]
    assert sk.get_run(run.run_id, project=project.path).metrics == {
        "loss": 0.3, "precision": 0.85, "recall": 0.65}


def test_latest_metric_is_the_one_at_the_highest_step(project: Project) -> None:
    with sk.start_run("fraud", project=project.path) as run:
        run.log_metric("auc", 0.91, step=5)
        run.log_metric("auc", 0.60, step=2)  # logged later, but an earlier step
        run.log_metric("f1", 0.5, step=7)
        run.record()  # the next points are written in another batch
        run.log_metric("f1", 0.4, step=6)
        run.log_metric("auc", 0.93, step=5)  # the same step again: the later point wins
    assert sk.get_run(run.run_id, project=project.path).metrics == {"auc": 0.93, "f1": 0.5}
    assert [p.value for p in project.runs.metric_history(run.run_id, "auc")] == [0.60, 0.91,
                                                                                0.93]


@pytest.mark.parametrize(("key", "value", "message"), [
    ("loss", float("nan"), "metric 'loss' is nan: metrics must be finite"),
    ("loss", float("inf"), "metric 'loss' is inf"),
    ("loss", float("-inf"), "metric 'loss' is -inf"),
    ("loss", "low", "metric 'loss' must be a number, not 'low'"),
    ("loss", None, "must be a number"),
    ("", 1.0, "metric name '' is not valid"),
    ("x" * 251, 1.0, "at most 250 characters"),
])
def test_a_bad_metric_is_refused_when_logged_and_the_batch_survives(
        project: Project, key: str, value: object, message: str) -> None:
    with sk.start_run("fraud", project=project.path) as run:
        run.log_metric("loss", 0.5)
        with pytest.raises(TrackingError, match=message):
            run.log_metrics({"accuracy": 0.9, key: value})  # type: ignore[dict-item]
        run.log_metric("loss", 0.4)
    record = sk.get_run(run.run_id, project=project.path)
    assert record.status == "finished"
    assert record.metrics == {"loss": 0.4}  # and nothing of the refused call
    assert [p.step for p in project.runs.metric_history(run.run_id, "loss")] == [0, 1]


def test_bad_param_and_tag_names_are_refused(project: Project) -> None:
    with sk.start_run("fraud", project=project.path) as run:
        with pytest.raises(TrackingError, match="param name"):
            run.log_param("p" * 251, 1)
        with pytest.raises(TrackingError, match="tag name"):
            run.set_tag("", "x")
    assert sk.get_run(run.run_id, project=project.path).status == "finished"


def test_ten_thousand_points_are_all_stored(project: Project, other: Project) -> None:
    with sk.start_run("fraud", project=project.path) as run:
        for step in range(10_000):
            run.log_metric("loss", step / 10_000)
        # 10 full batches of 1,000 were written while logging, before the run ends
        assert len(other.runs.metric_history(run.run_id, "loss")) == 10_000
        assert other.runs.get(run.run_id).status == "running"
    history = project.runs.metric_history(run.run_id, "loss")
    assert [(p.step, p.value) for p in history] == [(s, s / 10_000) for s in range(10_000)]
    assert sk.get_run(run.run_id, project=project.path).metrics == {"loss": 0.9999}


def test_a_full_buffer_is_written_as_one_batch(project: Project, other: Project) -> None:
    run = _direct_run(project, flush_interval=3_600, max_buffer=100)
    try:
        for step in range(99):
            run.log_metric("loss", step)
        assert other.runs.metric_history(run.run_id, "loss") == []  # still buffered
        run.log_metric("loss", 99)  # the 100th item fills the buffer
        assert len(other.runs.metric_history(run.run_id, "loss")) == 100
        run.log_param("lr", 0.1)  # params and tags count towards the same buffer
        assert other.runs.get(run.run_id).params == {}
    finally:
        run.end()
    assert other.runs.get(run.run_id).params == {"lr": "0.1"}


def test_the_buffer_is_flushed_periodically_while_the_run_is_going(project: Project,
                                                                   other: Project) -> None:
    run = _direct_run(project, flush_interval=0.05, max_buffer=1_000_000)
    try:
        for step in range(10):
            run.log_metric("loss", step)
        run.set_tag("phase", "warm-up")
        assert _wait_for(lambda: len(other.runs.metric_history(run.run_id, "loss")) == 10)
        assert _wait_for(lambda: other.runs.get(run.run_id).tags == {"phase": "warm-up"})
        assert other.runs.get(run.run_id).status == "running"
        run.log_metric("loss", 10)
        assert _wait_for(lambda: len(other.runs.metric_history(run.run_id, "loss")) == 11)
    finally:
        run.end()
    assert other.runs.get(run.run_id).status == "finished"


def test_an_ended_run_refuses_more_logging(project: Project) -> None:
    run = sk.start_run("fraud", project=project.path)
    run.log_metric("loss", 1.0)
    run.end()
    run.end("failed", "ignored: ending twice is a no-op")
    record = sk.get_run(run.run_id, project=project.path)
    assert (record.status, record.error, record.metrics) == ("finished", None, {"loss": 1.0})
    for attempt in (lambda: run.log_metric("loss", 2.0), lambda: run.log_param("a", 1),
                    lambda: run.set_tag("a", "b"), lambda: run.log_artifact(project.path)):
        with pytest.raises(TrackingError, match="has ended \\(finished\\); start a new run"):
            attempt()


def test_unknown_run_id(project: Project) -> None:
    with pytest.raises(TrackingError, match="no run 'nope' in project 'tests'"):
        sk.get_run("nope", project=project.path)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_log_artifact_stores_files_and_folders_with_digests(project: Project,
                                                            tmp_path_factory: pytest.TempPathFactory
                                                            ) -> None:
    source = tmp_path_factory.mktemp("outputs")
    (source / "card.md").write_text("# model card\n")
    plots = source / "plots"
    (plots / "nested").mkdir(parents=True)
    (plots / "roc.png").write_bytes(bytes(range(256)) * 40)
    (plots / "nested" / "pr.csv").write_text("p,r\n1,0\n")
    with sk.start_run("fraud", project=project.path) as run:
        assert run.log_artifact(source / "card.md") == ["card.md"]
        assert run.log_artifact(plots) == ["plots/nested/pr.csv", "plots/roc.png"]
        assert run.log_artifact(source / "card.md", "docs/README.md") == ["docs/README.md"]
        # recorded at once, not at the end of the run
        assert set(Project(project.path).runs.get(run.run_id).artifacts) == {
            "card.md", "plots/nested/pr.csv", "plots/roc.png", "docs/README.md"}
    record = sk.get_run(run.run_id, project=project.path)
    expected = {"card.md": source / "card.md", "docs/README.md": source / "card.md",
                "plots/roc.png": plots / "roc.png",
                "plots/nested/pr.csv": plots / "nested" / "pr.csv"}
    assert record.artifacts == {path: _sha256(file) for path, file in expected.items()}
    root = project.path / "artifacts" / "runs" / run.run_id
    for path, file in expected.items():
        assert (root / path).read_bytes() == file.read_bytes()
        stored = StoredArtifact(f"runs/{run.run_id}/{path}", record.artifacts[path],
                                file.stat().st_size)
        assert project.artifacts.read_verified(stored) == file.read_bytes()
    assert not [p for p in root.rglob("*") if ".tmp-" in p.name]


def test_a_logged_artifact_is_immutable(project: Project, tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    report.write_text("auc 0.91\n")
    with sk.start_run("fraud", project=project.path) as run:
        run.log_artifact(report)
        run.log_artifact(report)  # the same bytes again: nothing to do
        report.write_text("auc 0.99\n")
        with pytest.raises(ArtifactError, match="already exists with other content; artifacts "
                                                "are immutable"):
            run.log_artifact(report)
        with pytest.raises(ArtifactError, match="no such file or folder"):
            run.log_artifact(tmp_path / "missing.txt")
    stored = project.path / "artifacts" / "runs" / run.run_id / "report.txt"
    assert stored.read_text() == "auc 0.91\n"
    assert sk.get_run(run.run_id, project=project.path).artifacts == {
        "report.txt": hashlib.sha256(b"auc 0.91\n").hexdigest()}


def test_the_project_decides_where_runs_go(project: Project, tmp_path: Path,
                                           metadata_yaml: str) -> None:
    """Two projects in one metadata database see only their own runs."""
    neighbour = tmp_path / "neighbour"
    neighbour.mkdir()
    shared = metadata_yaml.replace("sqlite:///data/", f"sqlite:///{tmp_path}/data/")
    (neighbour / "skewless.yaml").write_text(f"project: neighbour\n{shared}\n")
    try:
        with sk.start_run("fraud", project=project.path) as mine:
            pass
        with sk.start_run("fraud", project=neighbour) as theirs:
            pass
        assert [r.run_id for r in sk.search_runs("fraud", project=project.path)] == [mine.run_id]
        assert [r.run_id for r in sk.search_runs("fraud", project=neighbour)] == [theirs.run_id]
        with pytest.raises(TrackingError, match="no run"):
            sk.get_run(theirs.run_id, project=project.path)
    finally:
        forget_project(neighbour)


def test_skewless_project_picks_the_project_from_the_environment(
        project: Project, monkeypatch: pytest.MonkeyPatch,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    monkeypatch.setenv("SKEWLESS_PROJECT", str(project.path))
    with sk.start_run("from-env") as run:
        run.log_metric("auc", 0.8)
    assert [r.run_id for r in sk.search_runs("from-env", project=project.path)] == [run.run_id]
    assert sk.get_run(run.run_id).metrics == {"auc": 0.8}


def test_without_project_or_environment_the_nearest_skewless_yaml_wins(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKEWLESS_PROJECT", raising=False)
    (project.path / "notebooks" / "deep").mkdir(parents=True)
    monkeypatch.chdir(project.path / "notebooks" / "deep")
    with sk.start_run("from-cwd") as run:
        pass
    assert [r.run_id for r in sk.search_runs("from-cwd", project=project.path)] == [run.run_id]
