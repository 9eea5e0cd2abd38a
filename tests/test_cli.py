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
    return transactions.select(["user_id", "event_timestamp", "amount", "merchant_category",
                                "is_fraud"]).rename_columns(
        ["user_id", "event_timestamp", "amount", "category", "is_fraud"]).slice(100, 300)


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
    document = json.loads(run("online", "-s", "fraud_features",
                              "-e", "user_id=7,amount=250,category=fuel",
                              "-e", "user_id=123456,amount=1,category=fuel", "--now", AS_OF,
                              "-p", str(project)))
    with sk.FeatureStore(project) as store:
        from datetime import datetime

        expected = store.get_online_features(
            "fraud_features", [{"user_id": 7, "amount": 250.0, "category": "fuel"},
                               {"user_id": 123456, "amount": 1.0, "category": "fuel"}],
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
                                     ["runs", "list"], ["runs", "show"], ["runs", "compare"],
                                     ["models", "list"], ["models", "show"], ["models", "versions"],
                                     ["models", "alias", "set"], ["models", "alias", "delete"],
                                     ["models", "rollback"], ["models", "lineage"],
                                     ["features", "describe"], ["materialize"],
                                     ["materialize-incremental"], ["historical"], ["online"]])
def test_every_command_has_help(command: list[str]) -> None:
    output = run(*command, "--help")
    assert "Usage" in output
    assert "--help" in output


# -- runs and models ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A project with three runs and a registered model with two versions."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("tracked")
    (folder / "skewless.yaml").write_text("project: tracked\n")
    features = np.random.default_rng(0).random((60, 3))
    model = LogisticRegression().fit(features, features[:, 0] > 0.5)
    run_ids = []
    for depth in (3, 6, 9):
        with sk.start_run("fraud", name=f"depth-{depth}", project=folder) as run:
            run.log_params({"max_depth": depth, "lr": 0.1})
            run.log_metric("auc", 0.7 + depth / 100)
            if depth != 9:
                run.log_model(model, "fraud")
        run_ids.append(run.run_id)
    return folder, run_ids


def test_runs_list_filter_and_order(tracked: tuple[Path, list[str]]) -> None:
    folder, run_ids = tracked
    listed = json.loads(run("runs", "list", "--filter", "metrics.auc > 0.75", "--order-by",
                            "metrics.auc DESC", "--json", "-p", str(folder)))
    assert [r["run_id"] for r in listed] == [run_ids[2], run_ids[1]]
    bad = run("runs", "list", "--filter", "metrics.auc >", "-p", str(folder), code=1)
    assert "expected a value" in bad
    assert "^" in bad


def test_runs_show_and_compare(tracked: tuple[Path, list[str]]) -> None:
    folder, run_ids = tracked
    shown = json.loads(run("runs", "show", run_ids[0][:8], "--json", "-p", str(folder)))
    assert shown["params"] == {"max_depth": "3", "lr": "0.1"}
    assert shown["status"] == "finished"
    compared = json.loads(run("runs", "compare", *run_ids, "--json", "-p", str(folder)))
    assert compared["rows"]["params.max_depth"] == ["3", "6", "9"]
    assert "give at least 6 characters" in run("runs", "show", "abc", "-p", str(folder), code=1)


def test_models_alias_rollback_and_lineage(tracked: tuple[Path, list[str]]) -> None:
    folder, run_ids = tracked
    assert "→ 1" in run("models", "alias", "set", "fraud", "production", "1", "-p", str(folder))
    assert "from 1 → 2" in run("models", "alias", "set", "fraud", "production", "2", "-p",
                               str(folder))
    listed = json.loads(run("models", "list", "--json", "-p", str(folder)))
    assert listed == [{"name": "fraud", "latest_version": 2, "aliases": {"production": 2}}]
    assert "from 2 to 1" in run("models", "rollback", "fraud", "-p", str(folder))
    shown = json.loads(run("models", "show", "fraud@production", "--json", "-p", str(folder)))
    assert (shown["version"], shown["run_id"]) == (1, run_ids[0])
    versions = json.loads(run("models", "versions", "fraud", "--json", "-p", str(folder)))
    assert [v["version"] for v in versions] == [1, 2]
    lineage = run("models", "lineage", "fraud/2", "-p", str(folder))
    assert run_ids[1] in lineage
    assert "param max_depth = 6" in lineage
    assert "removed (was 1)" in run("models", "alias", "delete", "fraud", "production", "-p",
                                    str(folder))
    assert "no alias 'staging'" in run("models", "rollback", "fraud", "--alias", "staging", "-p",
                                       str(folder), code=1)
    assert "did you mean 'fraud'" in run("models", "versions", "frad", "-p", str(folder), code=1)


def test_the_monitor_table_shows_every_reason_in_full() -> None:
    import io

    import numpy as np
    from rich.console import Console

    from skewless.cli import _drift_table
    from skewless.monitoring import build_profile
    from skewless.monitoring._drift import compare

    rng = np.random.default_rng(3)
    reference = pa.table({"amount": rng.normal(size=5_000), "steady": rng.normal(size=5_000)})
    window = pa.table({"amount": rng.normal(1.0, 2.0, size=2_000),
                       "steady": rng.normal(size=2_000)})
    verdicts = compare(build_profile(reference), window)
    console = Console(file=io.StringIO(), width=80, record=True)
    console.print(_drift_table("drift", verdicts))
    shown = "".join(c for c in console.export_text() if not c.isspace() and c != "│")
    reasons = [reason for verdict in verdicts for reason in verdict.reasons]
    assert any(len(reason) > 80 for reason in reasons)  # wider than its column: wrapped
    for reason in reasons:
        assert "".join(reason.split()) in shown
    assert shown.index("amount") < shown.index("steady")  # most severe first
