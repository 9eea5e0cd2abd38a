"""The command line, driven as a user drives it: exit codes, output files, JSON, messages."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import skewless as sk
from skewless.cli import app

AS_OF = "2024-03-01T00:00:00Z"
runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    if code:
        assert "Traceback" not in result.output
    return result.output


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`skewless init` + `skewless apply` of the example project, shared by the module."""
    folder = tmp_path_factory.mktemp("cli") / "fraud"
    output = run("init", str(folder))
    assert "skewless.yaml" in output
    assert "created" in run("apply", "--project", str(folder))
    return folder


def test_init_refuses_to_overwrite(project: Path) -> None:
    assert "never overwrites" in run("init", str(project), code=1)


def test_reapply_reports_unchanged(project: Path) -> None:
    output = run("apply", "-p", str(project))
    assert "unchanged" in output
    assert "created" not in output


def test_features_list_and_describe(project: Path) -> None:
    listed = json.loads(run("features", "list", "-p", str(project), "--json"))
    names = {row["feature"] for row in listed["features"]}
    assert "user_transactions:amount_mean_30d" in names
    assert "payment_ratios:amount_to_mean_30d" in names
    assert "fraud_features" in listed["services"]
    described = json.loads(run("features", "describe", "user_transactions", "-p", str(project),
                               "--json"))
    assert described["kind"] == "feature_view"
    assert described["versions"] == 1
    assert described["spec"]["ttl"] == "30d"
    assert "did you mean 'user_transactions'" in run("features", "describe", "user_transaction",
                                                     "-p", str(project), code=1)


def _labels(project: Path) -> pa.Table:
    transactions = pq.read_table(project / "data" / "transactions.parquet")
    return transactions.select(["user_id", "event_timestamp", "amount", "is_fraud"]).slice(100,
                                                                                           300)


def test_historical_writes_parquet_and_csv_equal_to_the_api(project: Path) -> None:
    labels = _labels(project)
    pq.write_table(labels, project / "labels.parquet")
    run("historical", str(project / "labels.parquet"), "-s", "fraud_features", "-o",
        str(project / "out.parquet"), "-p", str(project))
    written = pq.read_table(project / "out.parquet")
    with sk.FeatureStore(project) as store:
        expected = store.get_historical_features(labels, "fraud_features").to_arrow()
    assert written.equals(expected)

    pcsv.write_csv(labels, project / "labels.csv")
    run("historical", str(project / "labels.csv"), "-f", "user_transactions:amount_count_7d",
        "-o", str(project / "out.csv"), "-p", str(project))
    from_csv = pcsv.read_csv(project / "out.csv")
    assert from_csv["amount_count_7d"].to_pylist() == expected["amount_count_7d"].to_pylist()


def test_historical_rejects_naive_times(project: Path) -> None:
    (project / "naive.csv").write_text("user_id,event_timestamp\n1,2024-02-01 00:00:00\n")
    output = run("historical", str(project / "naive.csv"), "-s", "fraud_features", "-p",
                 str(project), code=1)
    assert "no time zone" in output


def test_materialize_then_online_json(project: Path) -> None:
    assert "records written" in run("materialize", "2024-01-01T00:00:00Z", AS_OF, "-p",
                                    str(project))
    assert "nothing to materialize" not in run("materialize-incremental", AS_OF, "-p",
                                               str(project))
    assert "nothing to materialize" in run("materialize-incremental", AS_OF, "-p", str(project))
    document = json.loads(run("online", "-s", "fraud_features", "-e", "user_id=7,amount=250",
                              "-e", "user_id=123456,amount=1", "--now", AS_OF, "-p",
                              str(project)))
    with sk.FeatureStore(project) as store:
        from datetime import datetime

        expected = store.get_online_features(
            "fraud_features", [{"user_id": 7, "amount": 250.0}, {"user_id": 123456, "amount": 1.0}],
            now=datetime.fromisoformat(AS_OF))
    assert document["features"] == expected.to_dict()
    assert document["statuses"] == expected.statuses()
    assert document["statuses"]["amount_mean_30d"] == ["present", "missing"]


@pytest.mark.parametrize(("args", "message"), [
    (["materialize", "yesterday", AS_OF], "not an ISO 8601 time"),
    (["materialize", "2024-01-01T00:00:00", AS_OF], "no time zone"),
    (["online", "-f", "user_transactions:amount"], "at least one entity row"),
    (["online", "-e", "user_id"], "key=value"),
    (["online", "-e", "user_id=1", "-f", "user_transactions:amuont"], "did you mean"),
    (["historical", "missing.parquet", "-s", "fraud_features"], "does not exist"),
    (["historical", "x.parquet"], "does not exist"),
])
def test_user_errors_are_one_line_and_exit_1(project: Path, args: list[str],
                                             message: str) -> None:
    assert message in run(*args, "-p", str(project), code=1)


def test_no_project_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKEWLESS_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert "skewless init" in run("features", "list", code=1)


@pytest.mark.parametrize("command", [[], ["init"], ["apply"], ["features", "list"],
                                     ["features", "describe"], ["materialize"],
                                     ["materialize-incremental"], ["historical"], ["online"]])
def test_every_command_has_help(command: list[str]) -> None:
    output = run(*command, "--help")
    assert "Usage" in output
    assert "--help" in output
