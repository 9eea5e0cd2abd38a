"""run.log_model(..., training_frame=...): evaluation, bindings, profile, ONNX export, and the
two guarantees around them — loading checks the feature definitions, apply refuses to change
what a live model was trained on — on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import skewless as sk
from _projects import forget_project
from _training import DEFINITIONS, SPENDING, make_fraud_project
from skewless.errors import (
    DefinitionInUseError,
    FeaturesChangedError,
    PromotionRefusedError,
    RegistryError,
    TrainingError,
)
from skewless.training import Split, time_split


@pytest.fixture
def folder(tmp_path: Path, metadata_yaml: str) -> Iterator[Path]:
    yield tmp_path
    forget_project(tmp_path)


@pytest.fixture
def store(folder: Path, metadata_yaml: str) -> Iterator[sk.FeatureStore]:
    make_fraud_project(folder, metadata_yaml)
    with sk.FeatureStore(folder) as store:
        store.apply(DEFINITIONS)
        yield store


@pytest.fixture
def split(store: sk.FeatureStore, folder: Path) -> Split:
    labels = make_fraud_project(folder, (folder / "skewless.yaml").read_text().split("\n", 1)[1])
    return time_split(store.get_training_frame(labels, "fraud"), valid="10d", test="10d",
                      gap="1d")


def _forest() -> Pipeline:
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                         RandomForestClassifier(n_estimators=30, max_depth=6, random_state=0))


@pytest.fixture
def logged(split: Split, folder: Path) -> tuple[Pipeline, sk.registry.ModelVersion]:
    model = _forest().fit(split.train.X(), split.train.y())
    with sk.start_run("fraud", project=folder) as run:
        version = run.log_model(model, "fraud", training_frame=split, service="fraud")
    return model, version


def test_log_model_binds_the_version_to_its_features_and_data(
        logged: tuple[Pipeline, sk.registry.ModelVersion], split: Split, folder: Path) -> None:
    _model, version = logged
    frame = split.frame
    assert version.feature_service == "fraud"
    assert version.feature_hashes == frame.definition_hashes
    assert version.feature_hashes["feature_view:spending"] == SPENDING.definition_hash
    assert version.training_fingerprint == frame.fingerprint
    training = version.training
    assert training is not None
    assert [f.name for f in training.features] == frame.feature_names
    assert next(f.ref for f in training.features) == "spending:amount_count_1h"
    assert [c.name for c in training.request_fields] == ["amount"]
    assert (training.label, training.task, training.classes) == ("is_fraud", "binary",
                                                                 [False, True])
    assert (training.time_start, training.time_end) == split.train.time_range
    assert training.rows == split.train.num_rows
    signature = version.signature
    assert [c.name for c in signature.inputs] == ["user_id", "amount"]
    assert [c.name for c in signature.outputs] == ["prediction", "probability[False]",
                                                   "probability[True]"]
    assert [c.name for c in signature.features] == frame.feature_names
    # metrics of model and baseline, on validation and test, logged to the run and copied
    for key in ("valid.auc_roc", "valid.log_loss", "valid.brier", "valid.f1",
                "valid.average_precision", "test.auc_roc", "valid.baseline.log_loss",
                "test.baseline.brier"):
        assert key in version.metrics, key
    assert version.metrics["valid.baseline.auc_roc"] == 0.5
    assert version.metrics["valid.auc_roc"] > 0.8  # the bursts are easy to see
    assert training.baseline is not None
    assert training.baseline.metric == "brier"
    assert version.beats_baseline is True
    run = sk.get_run(version.run_id, project=folder)
    assert "evaluation.json" in run.artifacts
    # the reference profile: the training features and the validation predictions
    profile = sk._project.get_project(folder).registry.reference_profile("fraud/1")
    assert list(profile.features) == frame.feature_names
    assert profile.rows == split.train.num_rows
    assert profile.predictions is not None
    assert profile.predictions.kind == "numeric"
    column = split.train.table["amount_mean_30d"]
    assert profile.features["amount_mean_30d"].null_count == column.null_count
    # an ONNX export that reproduces the forest is kept beside the native model
    assert training.onnx is not None
    assert training.onnx.kept, training.onnx.reason
    assert training.onnx.max_abs_diff <= 1e-5
    assert training.onnx.rows_checked == split.valid.num_rows


def test_a_model_loaded_by_alias_in_a_fresh_process_predicts_identically(
        logged: tuple[Pipeline, sk.registry.ModelVersion], split: Split, folder: Path,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    model, version = logged
    sk.set_alias("fraud", "production", version.version, project=folder)
    scratch = tmp_path_factory.mktemp("fresh")
    np.save(scratch / "X.npy", split.test.X())
    script = textwrap.dedent(f"""
        import numpy as np, skewless
        X = np.load({str(scratch / 'X.npy')!r})
        for flavor in (None, "onnx"):
            model = skewless.load_model("fraud@production", flavor=flavor,
                                        project={str(folder)!r})
            np.save({str(scratch)!r} + f"/{{flavor}}.npy", model.predict_proba(X))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    expected = model.predict_proba(split.test.X())
    np.testing.assert_array_equal(np.load(scratch / "None.npy"), expected)
    np.testing.assert_allclose(np.load(scratch / "onnx.npy"), expected, rtol=0, atol=1e-5)


def test_a_changed_definition_is_refused_while_a_live_model_uses_it(
        logged: tuple[Pipeline, sk.registry.ModelVersion], store: sk.FeatureStore,
        folder: Path) -> None:
    _, version = logged
    sk.set_alias("fraud", "production", version.version, project=folder)
    changed = sk.FeatureView(SPENDING.name, SPENDING.entities, SPENDING.source, ttl="10d",
                             fields=SPENDING.fields, aggregations=SPENDING.aggregations)
    with pytest.raises(DefinitionInUseError,
                       match=r"feature_view spending is used by fraud/1@production.*--force"):
        store.apply([changed])
    assert store.catalogue.views["spending"].definition_hash == SPENDING.definition_hash
    # an archived version does not hold definitions back
    sk.set_alias("fraud", "archived", version.version, project=folder)
    assert [c.action for c in store.apply([changed]) if c.kind == "feature_view"] == ["changed"]
    with pytest.raises(FeaturesChangedError,
                       match=r"fraud/1 was trained on .*feature_view spending \(trained on "
                             f"{SPENDING.definition_hash[:12]}, applied "
                             rf"{changed.definition_hash[:12]}\)"):
        sk.load_model("fraud/1", project=folder)
    assert sk.load_model("fraud/1", check_features=False, project=folder) is not None
    store.apply([SPENDING])  # reverting the change makes the model loadable again
    assert sk.load_model("fraud/1", project=folder).predict_proba(np.zeros((1, 5))).shape \
        == (1, 2)


def test_force_applies_a_change_and_the_live_model_then_refuses_to_load(
        logged: tuple[Pipeline, sk.registry.ModelVersion], store: sk.FeatureStore,
        folder: Path) -> None:
    sk.set_alias("fraud", "canary", logged[1].version, project=folder)
    changed = sk.FeatureView(SPENDING.name, SPENDING.entities, SPENDING.source, ttl="9d",
                             fields=SPENDING.fields, aggregations=SPENDING.aggregations)
    store.apply([changed], force=True)
    with pytest.raises(FeaturesChangedError, match="feature_view spending"):
        sk.load_model("fraud@canary", project=folder)


def test_a_model_that_loses_to_its_baseline_is_flagged_and_not_promoted(
        split: Split, folder: Path) -> None:
    coin = DummyClassifier(strategy="uniform", random_state=0).fit(split.train.X(),
                                                                   split.train.y())
    with sk.start_run("fraud", project=folder) as run:
        version = run.log_model(coin, "fraud", training_frame=split)
    assert version.beats_baseline is False
    comparison = version.training.baseline
    assert comparison.model > comparison.baseline  # Brier: the coin is worse than priors
    with pytest.raises(PromotionRefusedError, match=r"fraud/1 did not beat its baseline "
                                                    r"on validation \(brier"):
        sk.set_alias("fraud", "production", version.version, project=folder)
    assert sk.get_model_version("fraud/1", project=folder).aliases == []
    sk.set_alias("fraud", "staging", version.version, project=folder)  # other aliases are fine
    sk.set_alias("fraud", "production", version.version, force=True, project=folder)
    assert sk.get_model_version("fraud@production", project=folder).version == 1


def test_binding_errors_name_the_fix(split: Split, folder: Path) -> None:
    model = _forest().fit(split.train.X(), split.train.y())
    with sk.start_run("fraud", project=folder) as run:
        with pytest.raises(TrainingError, match="built from 'fraud'"):
            run.log_model(model, "fraud", training_frame=split, service="other")
        with pytest.raises(TrainingError, match="signature= is derived from the training frame"):
            run.log_model(model, "fraud", training_frame=split, signature={"inputs": []})
        with pytest.raises(TrainingError, match="pass training_frame= as well"):
            run.log_model(model, "fraud", service="fraud")
        with pytest.raises(TrainingError, match="not dict"):
            run.log_model(model, "fraud", training_frame={"rows": 1})
        with pytest.raises(TrainingError, match="either a Split or a frame with validation="):
            run.log_model(model, "fraud", training_frame=split, validation=split.valid)
        plain = run.log_model(model, "fraud")  # no training frame: no bindings, no export
    assert plain.training is None
    with pytest.raises(RegistryError, match=r"fraud/1 has no ONNX export \(it was not logged "
                                            r"with a training frame\)"):
        sk.load_model("fraud/1", flavor="onnx", project=folder)
    with pytest.raises(RegistryError, match="can be loaded as 'sklearn' or"):
        sk.load_model("fraud/1", flavor="xgboost", project=folder)


def test_a_frame_without_validation_is_registered_without_a_comparison(
        split: Split, folder: Path) -> None:
    import pandas as pd

    frame = split.train
    model = make_pipeline(SimpleImputer(), RandomForestClassifier(n_estimators=5, random_state=0))
    model.fit(pd.DataFrame(frame.X(), columns=frame.feature_names), frame.y())
    with sk.start_run("fraud", project=folder) as run:
        version = run.log_model(model, "fraud", training_frame=frame)
    assert version.beats_baseline is None
    assert not any(key.startswith("valid.") for key in version.metrics)
    sk.set_alias("fraud", "production", version.version, project=folder)  # nothing to refuse
    assert json.loads(json.dumps(version.training.to_json()))["label"] == "is_fraud"
