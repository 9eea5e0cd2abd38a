"""`skewless train CONFIG.yaml`: a whole training job from a config file, and its errors."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import skewless as sk
from _projects import forget_project
from _training import DEFINITIONS, make_fraud_project
from skewless.cli import app
from skewless.errors import TrainingError
from skewless.training._train import build_estimator, load_train_config

runner = CliRunner()

CONFIG = """
model: fraud
service: fraud
labels: {{path: data/labels.parquet, label: is_fraud}}
estimator:
  class: {estimator}
  params: {params}
preprocessing:
  - class: sklearn.impute.SimpleImputer
    params: {{strategy: median}}
split: {{valid: 10d, test: 10d, gap: 1d}}
class_weights: {weights}
alias: {alias}
"""


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    labels = make_fraud_project(tmp_path)
    pq.write_table(labels, tmp_path / "data" / "labels.parquet")
    with sk.FeatureStore(tmp_path) as store:
        store.apply(DEFINITIONS)
    yield tmp_path
    forget_project(tmp_path)


def _config(folder: Path, estimator: str = "sklearn.ensemble.RandomForestClassifier",
            params: str = "{n_estimators: 20, max_depth: 5, random_state: 0}",
            weights: str = "false", alias: str = "staging") -> Path:
    path = folder / "train.yaml"
    path.write_text(CONFIG.format(estimator=estimator, params=params, weights=weights,
                                  alias=alias))
    return path


def _train(folder: Path, config: Path, *extra: str, code: int = 0) -> str:
    result = runner.invoke(app, ["train", str(config), "--project", str(folder), *extra])
    assert result.exit_code == code, result.output
    return result.output


def test_train_prints_model_vs_baseline_and_registers_the_version(project: Path) -> None:
    output = _train(project, _config(project))
    assert "valid model" in output
    assert "valid baseline" in output
    assert "registered fraud/1" in output
    assert "beats its baseline" in output
    assert "ONNX export kept" in output
    version = sk.get_model_version("fraud@staging", project=project)
    assert version.version == 1
    assert version.feature_service == "fraud"
    assert version.params["estimator"] == "sklearn.ensemble.RandomForestClassifier"
    assert version.params["estimator.n_estimators"] == "20"
    assert version.beats_baseline is True
    model = sk.load_model("fraud@staging", project=project)
    assert [name for name, _ in model.steps] == ["simpleimputer", "randomforestclassifier"]
    # the table shows the version's logged metrics
    assert f"{version.metrics['valid.auc_roc']:.4f}" in output
    shown = runner.invoke(app, ["models", "show", "fraud/1", "-p", str(project)]).output
    assert "label is_fraud (binary, classes [False, True])" in shown
    assert "validation brier: model" in shown
    assert "beats its baseline" in shown
    assert "amount_to_mean_30d (ratios:amount_to_mean_30d)" in shown
    assert "ONNX export kept" in shown


def test_class_weights_change_the_fit_and_json_output(project: Path) -> None:
    plain = json.loads(_train(project, _config(project), "--json"))
    weighted = json.loads(_train(project, _config(project, weights="true"), "--json"))
    assert (plain["version"], weighted["version"]) == (1, 2)
    assert weighted["metrics"]["valid.brier"] != plain["metrics"]["valid.brier"]
    assert sk.get_model_version("fraud/2", project=project).params["class_weights"] == "True"
    assert weighted["onnx"]["kept"] is True


def test_lightgbm_estimators_train_through_the_same_config(project: Path) -> None:
    output = json.loads(_train(project, _config(
        project, estimator="lightgbm.LGBMClassifier",
        params="{n_estimators: 20, verbose: -1, random_state: 0}"), "--json"))
    version = sk.get_model_version(f"fraud/{output['version']}", project=project)
    assert version.params["estimator"] == "lightgbm.LGBMClassifier"
    assert output["onnx"]["kept"] is True


@pytest.mark.parametrize(("estimator", "params", "message"), [
    ("os.system", "{}", "classes come from sklearn, xgboost, lightgbm"),
    ("sklearn.ensemble.RandomForrestClassifier", "{}", "cannot import estimator class"),
    ("sklearn.ensemble.RandomForestClassifier", "{n_trees: 3}", "check its params"),
])
def test_bad_estimators_are_named(project: Path, estimator: str, params: str,
                                  message: str) -> None:
    output = _train(project, _config(project, estimator=estimator, params=params), code=1)
    assert message in output
    assert "Traceback" not in output


def test_bad_configs_are_named_with_their_field(project: Path) -> None:
    missing = project / "missing.yaml"
    assert "cannot read training config" in _train(project, missing, code=1)
    bad = project / "bad.yaml"
    bad.write_text("model: [unclosed")
    assert "not valid YAML" in _train(project, bad, code=1)
    bad.write_text(textwrap.dedent("""
        model: fraud
        labels: {path: data/labels.parquet}
        estimator: {class: sklearn.linear_model.LogisticRegression}
        threshold: 2
    """))
    with pytest.raises(TrainingError, match=r"service: Field required.*threshold: Input should "
                                            r"be less than or equal to 1"):
        load_train_config(bad)
    config = _config(project).read_text().replace("data/labels.parquet", "data/nothing.csv")
    bad.write_text(config)
    assert "labels file" not in (message := _train(project, bad, code=1))
    assert f"labels {project / 'data' / 'nothing.csv'} does not exist" in message.replace("\n", "")


def test_production_alias_is_refused_for_a_model_that_loses(project: Path) -> None:
    config = _config(project, estimator="sklearn.dummy.DummyClassifier",
                     params="{strategy: uniform}", alias="production")
    output = _train(project, config, code=1)
    assert "did not beat its baseline" in output
    assert sk.get_model_version("fraud/1", project=project).aliases == []


def test_build_estimator_makes_a_pipeline_only_with_preprocessing(project: Path) -> None:
    config = load_train_config(_config(project))
    assert type(build_estimator(config)).__name__ == "Pipeline"
    alone = config.model_copy(update={"preprocessing": []})
    assert type(build_estimator(alone)).__name__ == "RandomForestClassifier"
