"""The model registry: immutable versions with provenance, loading by alias/version/latest with
digest checks, pickle only by opt-in, aliases with history, rollback, deletion, lineage.

Every test runs on SQLite and on PostgreSQL (the ``project`` fixture).
"""

from __future__ import annotations

import dataclasses
import hashlib
import platform
import shutil
import subprocess
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.linear_model import LogisticRegression

import skewless as sk
from _data import ALL, PAYMENTS, RATIO, USER, USER_STATS, write_transactions
from _registry_workers import Constant
from skewless._project import Project
from skewless.errors import (
    ArtifactIntegrityError,
    ModelNotFoundError,
    PickleNotAllowedError,
    RegistryError,
    TrackingError,
)
from skewless.registry import AliasMove, ColumnSpec, ModelSignature, ModelVersion


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return np.random.default_rng(3).normal(size=(120, 4))


@pytest.fixture(scope="module")
def y(X: np.ndarray) -> np.ndarray:
    return (X[:, 0] - X[:, 2] > 0).astype(int)


@pytest.fixture(scope="module")
def models(X: np.ndarray, y: np.ndarray) -> list[LogisticRegression]:
    """Two scikit-learn models that answer differently."""
    return [LogisticRegression(C=1.0).fit(X, y), LogisticRegression(C=0.01).fit(X[:, ::-1], y)]


def _register(project: Project, value: int, name: str = "fraud") -> ModelVersion:
    """A tiny model whose predictions name it (``value`` everywhere)."""
    return sk.register_model(Constant(value), name, flavor="pickle", allow_pickle=True,
                             project=project.path)


def _predicts(project: Project, ref: str) -> int:
    model = sk.load_model(ref, allow_pickle=True, project=project.path)
    return int(model.predict(np.zeros((1, 1)))[0])


def _stored_file(project: Project, version: ModelVersion) -> Path:
    [stored] = version.files
    return project.path / "artifacts" / stored.path


# -- the version record ------------------------------------------------------------------------

def test_a_version_records_where_it_came_from(project: Project, X: np.ndarray,
                                              models: list[LogisticRegression]) -> None:
    before = datetime.now(UTC)
    with sk.start_run("fraud", project=project.path) as run:
        run.log_params({"C": 1.0, "solver": "lbfgs"})
        run.log_metric("auc", 0.80)
        run.log_metric("auc", 0.87)  # the latest value is the one copied
        run.log_metric("logloss", 0.31, step=4)
        version = run.log_model(
            models[0], "fraud", input_example=X[:8], description="baseline model",
            tags={"owner": "risk"}, feature_service="fraud_features",
            training_fingerprint="f" * 64,
            reference_profile={"amount": {"bins": [0, 10, 100], "null_rate": 0.0}})
        run.log_metric("auc", 0.99)  # after registration: not part of the version
    after = datetime.now(UTC)

    assert (version.name, version.version, version.ref, version.status) == (
        "fraud", 1, "fraud/1", "ready")
    assert version.flavor == "sklearn"
    assert version.flavor_spec["class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert version.run_id == run.run_id
    assert version.params == {"C": "1.0", "solver": "lbfgs"}
    assert version.metrics == {"auc": 0.87, "logloss": 0.31}
    assert version.signature == ModelSignature(
        [ColumnSpec(f"x{i}", "float64") for i in range(4)],
        [ColumnSpec("prediction", "int64"), ColumnSpec("probabilities", "float64")])
    assert np.allclose(version.input_example, X[:5])
    assert (version.description, version.tags) == ("baseline model", {"owner": "risk"})
    assert version.feature_service == "fraud_features"
    assert version.training_fingerprint == "f" * 64
    assert version.reference_profile == {"amount": {"bins": [0, 10, 100], "null_rate": 0.0}}
    assert version.feature_hashes is None
    assert version.python_version == platform.python_version()
    for package in ("scikit-learn", "skops", "numpy", "skewless"):
        assert version.packages[package] == metadata.version(package)
    assert (version.created_by, version.aliases) == (project.actor, [])
    assert before <= version.created_at <= after
    # the files: under the version's folder, with digests that match their bytes
    assert version.artifact_path.startswith("models/fraud/")
    assert [f.path.rsplit("/", 1)[1] for f in version.files] == ["model.skops"]
    for stored in version.files:
        assert stored.path.startswith(version.artifact_path + "/")
        data = (project.path / "artifacts" / stored.path).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (stored.sha256, stored.size)
    # what is stored is what was returned, and it cannot be changed
    assert sk.get_model_version("fraud/1", project=project.path) == version
    with pytest.raises(dataclasses.FrozenInstanceError):
        version.version = 2  # type: ignore[misc]

    alone = sk.register_model(models[1], "fraud", project=project.path,
                              signature={"inputs": [{"name": "a", "dtype": "float64"}]})
    assert (alone.version, alone.run_id, alone.params, alone.metrics) == (2, None, {}, {})
    assert alone.signature == ModelSignature([ColumnSpec("a", "float64")], [])
    assert sk.list_models(project=project.path) == [("fraud", 2)]
    assert [v.version for v in sk.model_versions("fraud", project=project.path)] == [1, 2]
    assert sk.get_model_version("fraud/1", project=project.path) == version  # unchanged


def test_signature_from_a_data_frame(project: Project, X: np.ndarray, y: np.ndarray) -> None:
    frame = pd.DataFrame({"amount": X[:, 0], "count": (X[:, 1] > 0).astype("int64"),
                          "country": np.where(X[:, 2] > 0, "ES", "FR")})
    model = LogisticRegression().fit(frame[["amount", "count"]], y)
    version = sk.register_model(model, "frame", input_example=frame[["amount", "count"]],
                                project=project.path)
    assert version.signature is not None
    assert version.signature.inputs == [ColumnSpec("amount", "float64"),
                                        ColumnSpec("count", "int64")]
    assert version.input_example == [
        {"amount": pytest.approx(row["amount"], rel=1e-9), "count": row["count"]}
        for row in frame[["amount", "count"]].head(5).to_dict("records")]


def test_an_input_example_with_missing_values(project: Project) -> None:
    example = np.array([[np.nan, 1.0], [2.0, np.inf], [3.0, 4.0]])
    version = sk.register_model(Constant(1), "gaps", flavor="pickle", allow_pickle=True,
                                input_example=example, project=project.path)
    assert version.input_example == [[None, 1.0], [2.0, None], [3.0, 4.0]]
    by_column = sk.register_model(Constant(1), "gaps", flavor="pickle", allow_pickle=True,
                                  input_example={"amount": [1.5, float("nan")]},
                                  project=project.path)
    assert by_column.input_example == {"amount": [1.5, None]}
    assert by_column.signature is not None
    assert by_column.signature.inputs == [ColumnSpec("amount", "float64")]


def test_registering_to_an_unknown_run_fails(project: Project) -> None:
    with pytest.raises(TrackingError, match="no run 'nope'"):
        sk.register_model(Constant(1), "fraud", flavor="pickle", allow_pickle=True,
                          run_id="nope", project=project.path)


@pytest.mark.parametrize("name", ["bad name", "-leading", "", "a/b", "x" * 201])
def test_model_names_are_checked(project: Project, name: str) -> None:
    with pytest.raises(RegistryError, match="is not valid"):
        _register(project, 1, name)


def _git(folder: Path, *arguments: str) -> str:
    return subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.com",
                           *arguments], cwd=folder, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")
def test_code_commit_and_dirty_state(project: Project, monkeypatch: pytest.MonkeyPatch,
                                     tmp_path_factory: pytest.TempPathFactory) -> None:
    code = tmp_path_factory.mktemp("code")
    _git(code, "init", "-q")
    (code / "train.py").write_text("print('training')\n")
    _git(code, "add", "train.py")
    _git(code, "commit", "-q", "-m", "first")
    commit = _git(code, "rev-parse", "HEAD")
    monkeypatch.chdir(code)

    with sk.start_run("fraud", project=project.path) as run:
        clean = run.log_model(Constant(1), "fraud", flavor="pickle", allow_pickle=True)
    assert (clean.git_commit, clean.git_dirty) == (commit, False)
    recorded = sk.get_run(run.run_id, project=project.path)
    assert (recorded.git_commit, recorded.git_dirty) == (commit, False)

    (code / "train.py").write_text("print('changed, not committed')\n")  # at once
    dirty = _register(project, 2)
    assert (dirty.git_commit, dirty.git_dirty) == (commit, True)

    (code / "notes.txt").write_text("untracked files do not make the tree dirty\n")
    _git(code, "commit", "-q", "-am", "second")
    second = _git(code, "rev-parse", "HEAD")
    assert second != commit
    assert (_register(project, 3).git_commit, _register(project, 4).git_dirty) == (second, False)

    monkeypatch.chdir(tmp_path_factory.mktemp("not-a-repository"))
    outside = _register(project, 5)
    assert (outside.git_commit, outside.git_dirty) == (None, None)


# -- loading -----------------------------------------------------------------------------------

def test_load_by_alias_version_and_latest(project: Project, X: np.ndarray,
                                          models: list[LogisticRegression]) -> None:
    for model in models:
        sk.register_model(model, "fraud", project=project.path)
    sk.set_alias("fraud", "production", 1, project=project.path)
    expected = {"fraud@production": models[0], "fraud/1": models[0], "fraud/2": models[1],
                "fraud@latest": models[1], "fraud": models[1]}
    for ref, model in expected.items():
        loaded = sk.load_model(ref, project=project.path)
        assert type(loaded) is LogisticRegression, ref
        assert np.array_equal(loaded.predict(X), model.predict(X)), ref
        assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X)), ref


def test_xgboost_model_round_trip(project: Project, X: np.ndarray, y: np.ndarray) -> None:
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1).fit(X, y)
    version = sk.register_model(model, "boosted", input_example=X[:3], project=project.path)
    assert version.flavor == "xgboost"
    installed = {name: version.packages.get(name) for name in ("xgboost", "xgboost-cpu")}
    assert xgboost.__version__ in installed.values()  # whichever build is installed
    loaded = sk.load_model("boosted@latest", project=project.path)
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert np.array_equal(loaded.predict(X), model.predict(X))


def test_a_tampered_or_truncated_model_is_refused(project: Project, X: np.ndarray,
                                                  models: list[LogisticRegression]) -> None:
    version = sk.register_model(models[0], "fraud", project=project.path)
    path = _stored_file(project, version)
    original = path.read_bytes()
    tampered = bytearray(original)
    tampered[len(tampered) // 2] ^= 0x01
    path.write_bytes(bytes(tampered))
    with pytest.raises(ArtifactIntegrityError, match="modified or truncated") as raised:
        sk.load_model("fraud/1", project=project.path)
    assert version.files[0].path in str(raised.value)
    path.write_bytes(original[:-10])
    with pytest.raises(ArtifactIntegrityError, match=f"{len(original) - 10} bytes"):
        sk.load_model("fraud@latest", project=project.path)
    path.unlink()
    with pytest.raises(ArtifactIntegrityError, match="is missing"):
        sk.load_model("fraud/1", project=project.path)
    path.write_bytes(original)  # restored: loads again
    assert np.array_equal(sk.load_model("fraud/1", project=project.path).predict(X),
                          models[0].predict(X))


def test_pickle_needs_an_opt_in_to_save_and_to_load(project: Project) -> None:
    with pytest.raises(PickleNotAllowedError, match="allow_pickle=True"):
        sk.register_model(Constant(5), "custom", flavor="pickle", project=project.path)
    with pytest.raises(RegistryError, match=r"no flavor saves a _registry_workers\.Constant"):
        sk.register_model(Constant(5), "custom", project=project.path)  # never inferred
    with pytest.raises(ModelNotFoundError):  # nothing was registered by the refusals
        sk.model_versions("custom", project=project.path)

    version = sk.register_model(Constant(5), "custom", flavor="pickle", allow_pickle=True,
                                project=project.path)
    assert (version.version, version.flavor) == (1, "pickle")
    with pytest.raises(PickleNotAllowedError, match="custom/1 is stored with pickle"):
        sk.load_model("custom/1", project=project.path)
    loaded = sk.load_model("custom/1", allow_pickle=True, project=project.path)
    assert isinstance(loaded, Constant)
    assert loaded.predict(np.zeros((2, 1))).tolist() == [5, 5]


def test_unknown_models_aliases_and_versions_suggest_what_exists(project: Project) -> None:
    with pytest.raises(ModelNotFoundError, match="no model named 'fraud'; none is registered"):
        sk.load_model("fraud@production", project=project.path)
    _register(project, 1)
    _register(project, 2, "churn")
    sk.set_alias("fraud", "production", 1, project=project.path)
    with pytest.raises(ModelNotFoundError, match="no model named 'fruad'; did you mean 'fraud'"):
        sk.load_model("fruad@production", project=project.path)
    with pytest.raises(ModelNotFoundError, match="no model named 'nothing'; registered models: "
                                                 "churn, fraud"):
        sk.get_model_version("nothing/1", project=project.path)
    with pytest.raises(ModelNotFoundError, match="has no alias 'prod' \\(aliases: production "
                                                 "→ 1\\)"):
        sk.get_model_version("fraud@prod", project=project.path)
    with pytest.raises(ModelNotFoundError, match="has no version 7; its versions are 1 to 1"):
        sk.load_model("fraud/7", project=project.path)
    with pytest.raises(ModelNotFoundError, match="did you mean 'fraud'"):
        sk.alias_history("fraudd", "production", project=project.path)
    with pytest.raises(ModelNotFoundError, match="has no version 3"):
        sk.set_alias("fraud", "staging", 3, project=project.path)
    with pytest.raises(ModelNotFoundError, match="did you mean 'churn'"):
        sk.delete_model_version("chrun", 1, project=project.path)


@pytest.mark.parametrize("alias", ["latest", "1st", "has space", "", "x" * 101])
def test_alias_names_are_checked(project: Project, alias: str) -> None:
    _register(project, 1)
    with pytest.raises(RegistryError, match="is not valid"):
        sk.set_alias("fraud", alias, 1, project=project.path)


# -- aliases -----------------------------------------------------------------------------------

def _moves(history: list[AliasMove]) -> list[tuple[int | None, int | None, str, str]]:
    return [(m.from_version, m.to_version, m.action, m.by) for m in history]


def test_every_alias_move_is_recorded_with_who_when_from_and_to(project: Project) -> None:
    for value in (1, 2):
        _register(project, value)
    start = datetime.now(UTC)
    project.actor = "alice"
    assert sk.set_alias("fraud", "production", 1, project=project.path) is None
    project.actor = "bob"
    assert sk.set_alias("fraud", "production", 2, project=project.path) == 1
    assert sk.set_alias("fraud", "production", 2, project=project.path) == 2  # not a move
    assert sk.get_model_version("fraud/2", project=project.path).aliases == ["production"]
    assert _predicts(project, "fraud@production") == 2
    project.actor = "carol"
    assert sk.delete_alias("fraud", "production", project=project.path) == 2
    end = datetime.now(UTC)

    history = sk.alias_history("fraud", "production", project=project.path)
    assert _moves(history) == [(None, 1, "set", "alice"), (1, 2, "set", "bob"),
                               (2, None, "delete", "carol")]
    times = [m.at for m in history]
    assert start <= times[0] <= times[1] <= times[2] <= end
    assert all(m.alias == "production" for m in history)
    with pytest.raises(ModelNotFoundError, match="has no alias 'production'"):
        sk.load_model("fraud@production", allow_pickle=True, project=project.path)
    with pytest.raises(ModelNotFoundError, match="has no alias 'production'"):
        sk.delete_alias("fraud", "production", project=project.path)
    assert sk.alias_history("fraud", "staging", project=project.path) == []


def _version_at(history: list[AliasMove], when: datetime) -> int | None:
    """Which version the alias pointed at, at ``when``: the target of the last move before."""
    moves = [m for m in history if m.at <= when]
    return moves[-1].to_version if moves else None


def test_which_version_was_in_production_on_a_date(project: Project) -> None:
    for value in (1, 2, 3):
        _register(project, value)
    marks = [datetime.now(UTC)]
    for version in (1, 2, 3, 1):
        time.sleep(0.002)
        sk.set_alias("fraud", "production", version, project=project.path)
        time.sleep(0.002)
        marks.append(datetime.now(UTC))
    history = sk.alias_history("fraud", "production", project=project.path)
    assert [_version_at(history, when) for when in marks] == [None, 1, 2, 3, 1]
    assert [m.at for m in history] == sorted(m.at for m in history)


def test_archiving_a_version_takes_its_other_aliases_away(project: Project) -> None:
    for value in (1, 2):
        _register(project, value)
    for alias in ("production", "staging", "champion"):
        sk.set_alias("fraud", alias, 1, project=project.path)
    sk.set_alias("fraud", "canary", 2, project=project.path)
    assert sk.get_model_version("fraud/1", project=project.path).aliases == [
        "champion", "production", "staging"]

    assert sk.set_alias("fraud", "archived", 1, project=project.path) is None
    assert sk.get_model_version("fraud/1", project=project.path).aliases == ["archived"]
    assert sk.get_model_version("fraud/2", project=project.path).aliases == ["canary"]
    for alias in ("production", "staging", "champion"):
        [*_, last] = sk.alias_history("fraud", alias, project=project.path)
        assert (last.from_version, last.to_version, last.action) == (1, None, "archive")
    assert _predicts(project, "fraud@archived") == 1  # archived, still loadable
    # staging is an alias like any other: it can point at the other version
    sk.set_alias("fraud", "staging", 2, project=project.path)
    assert sk.get_model_version("fraud@staging", project=project.path).aliases == [
        "canary", "staging"]


def test_rollback_undoes_the_last_move(project: Project) -> None:
    for value in (1, 2, 3):
        _register(project, value)
    for version in (1, 2, 3):
        sk.set_alias("fraud", "production", version, project=project.path)
    assert sk.rollback("fraud", project=project.path) == (3, 2)
    assert _predicts(project, "fraud@production") == 2
    # rolling back again undoes the rollback: it is "undo", not a walk back through history
    assert sk.rollback("fraud", alias="production", project=project.path) == (2, 3)
    assert _predicts(project, "fraud@production") == 3
    history = sk.alias_history("fraud", "production", project=project.path)
    assert [(m.from_version, m.to_version, m.action) for m in history] == [
        (None, 1, "set"), (1, 2, "set"), (2, 3, "set"), (3, 2, "rollback"), (2, 3, "rollback")]


def test_rollback_without_history_fails_clearly(project: Project) -> None:
    _register(project, 1)
    _register(project, 2)
    sk.set_alias("fraud", "production", 1, project=project.path)
    with pytest.raises(RegistryError, match="first set to version 1 and never pointed anywhere "
                                            "else: there is nothing to roll back"):
        sk.rollback("fraud", project=project.path)
    started = time.monotonic()
    with pytest.raises(ModelNotFoundError, match="has no alias 'staging'"):
        sk.rollback("fraud", "staging", project=project.path)
    assert time.monotonic() - started < 5  # answered, not stuck behind the database's lock
    with pytest.raises(ModelNotFoundError, match="did you mean 'fraud'"):
        sk.rollback("frau", project=project.path)
    sk.set_alias("fraud", "production", 2, project=project.path)
    sk.delete_alias("fraud", "production", project=project.path)
    with pytest.raises(ModelNotFoundError, match="has no alias 'production'"):
        sk.rollback("fraud", project=project.path)
    assert len(sk.alias_history("fraud", "production", project=project.path)) == 3


def test_rollback_to_a_deleted_version_fails(project: Project) -> None:
    for value in (1, 2):
        _register(project, value)
    sk.set_alias("fraud", "production", 1, project=project.path)
    sk.set_alias("fraud", "production", 2, project=project.path)
    sk.delete_model_version("fraud", 1, project=project.path)
    with pytest.raises(RegistryError, match="pointed at fraud/1 before, but that version is "
                                            "deleted"):
        sk.rollback("fraud", project=project.path)
    assert sk.get_model_version("fraud@production", project=project.path).version == 2
    assert len(sk.alias_history("fraud", "production", project=project.path)) == 2


def test_deleting_a_version(project: Project) -> None:
    for value in (1, 2):
        _register(project, value)
    sk.set_alias("fraud", "staging", 2, project=project.path)
    sk.set_alias("fraud", "shadow", 2, project=project.path)
    with pytest.raises(RegistryError, match="fraud/2 is shadow, staging; move or delete those "
                                            "aliases before deleting the version"):
        sk.delete_model_version("fraud", 2, project=project.path)
    sk.delete_alias("fraud", "shadow", project=project.path)
    with pytest.raises(RegistryError, match="fraud/2 is staging; move or delete that alias"):
        sk.delete_model_version("fraud", 2, project=project.path)
    sk.set_alias("fraud", "staging", 1, project=project.path)
    sk.delete_model_version("fraud", 2, project=project.path)

    deleted = sk.get_model_version("fraud/2", project=project.path)
    assert deleted.status == "deleted"
    with pytest.raises(ModelNotFoundError, match="fraud/2 was deleted"):
        sk.load_model("fraud/2", allow_pickle=True, project=project.path)
    assert sk.get_model_version("fraud@latest", project=project.path).version == 1
    assert _predicts(project, "fraud") == 1
    with pytest.raises(RegistryError, match="fraud/2 is already deleted"):
        sk.delete_model_version("fraud", 2, project=project.path)
    with pytest.raises(RegistryError, match="fraud/2 is deleted; aliases point at live"):
        sk.set_alias("fraud", "production", 2, project=project.path)
    with pytest.raises(ModelNotFoundError, match="has no version 9"):
        sk.delete_model_version("fraud", 9, project=project.path)
    # numbers are never reused
    assert _register(project, 3).version == 3
    assert [(v.version, v.status) for v in sk.model_versions("fraud", project=project.path)] == [
        (1, "ready"), (2, "deleted"), (3, "ready")]

    sk.delete_alias("fraud", "staging", project=project.path)
    for version in (1, 3):
        sk.delete_model_version("fraud", version, project=project.path)
    with pytest.raises(ModelNotFoundError, match="model 'fraud' has no live version"):
        sk.load_model("fraud@latest", allow_pickle=True, project=project.path)


# -- lineage -----------------------------------------------------------------------------------

def test_lineage_follows_the_run_and_the_feature_definitions(project: Project,
                                                             X: np.ndarray,
                                                             models: list[LogisticRegression]
                                                             ) -> None:
    write_transactions(project.path / "data" / "transactions.parquet", rows=300)
    with sk.FeatureStore(project.path) as store:
        store.apply(ALL)
        service = store.metadata.definition_history("feature_service", "everything")[-1]
        with sk.start_run("fraud", project=project.path) as run:
            run.log_params({"C": 1.0})
            run.log_metric("auc", 0.9)
            run.log_model(models[0], "fraud", feature_service="everything", feature_hashes={
                "feature_view:user_stats": USER_STATS.definition_hash,
                "on_demand_feature_view:ratio": RATIO.definition_hash,
                "feature_service:everything": service.definition_hash,
            })
        # the view changes after training: lineage must show the definition that was used
        changed = sk.FeatureView("user_stats", [USER], PAYMENTS, fields=USER_STATS.fields,
                                 aggregations=USER_STATS.aggregations, ttl="3d")
        store.apply([changed])
        assert changed.definition_hash != USER_STATS.definition_hash

    lineage = sk.lineage("fraud@latest", project=project.path)
    assert lineage.version.version == 1
    assert lineage.run is not None
    assert (lineage.run.run_id, lineage.run.params, lineage.run.metrics) == (
        run.run_id, {"C": "1.0"}, {"auc": 0.9})
    assert lineage.version.feature_service == "everything"
    by_kind = {(d["kind"], d["name"]): d for d in lineage.definitions}
    assert list(by_kind) == [("feature_service", "everything"),
                             ("feature_view", "user_stats"),
                             ("on_demand_feature_view", "ratio")]
    view = by_kind[("feature_view", "user_stats")]
    assert view["hash"] == USER_STATS.definition_hash
    assert view["spec"] == USER_STATS.spec()
    assert view["spec"]["ttl"] == "1d"  # the old definition, not the current 3d one
    assert view["spec"]["source"]["path"] == "data/transactions.parquet"
    assert by_kind[("on_demand_feature_view", "ratio")]["spec"]["name"] == "ratio"
    assert by_kind[("feature_service", "everything")]["spec"] == service.spec


def test_lineage_without_features_or_run(project: Project) -> None:
    _register(project, 1)
    sk.register_model(Constant(2), "fraud", flavor="pickle", allow_pickle=True,
                      feature_hashes={"feature_view:gone": "0" * 64}, project=project.path)
    first = sk.lineage("fraud/1", project=project.path)
    assert (first.run, first.definitions, first.version.version) == (None, [], 1)
    second = sk.lineage("fraud/2", project=project.path)
    assert second.definitions == [{"kind": "feature_view", "name": "gone", "hash": "0" * 64,
                                   "spec": None}]
