"""Loading from a SQLite metadata database without SQLAlchemy gives the very records the general
path gives, and hands every case it was not written for back to the general path."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import skewless as sk
from _projects import forget_project
from _serving import FraudProject, build_fraud_project
from skewless._project import get_project
from skewless.errors import FeaturesChangedError, ModelNotFoundError
from skewless.metadata import SCHEMA_REVISION
from skewless.registry._sqlite_reader import READABLE_REVISION, read_model_version, sqlite_path

DATABASE = "data/metadata.sqlite"  # the default metadata.url, relative to the project


@pytest.fixture(scope="module")
def fraud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FraudProject]:
    """Version 1: trained through the feature store (training binding, feature hashes,
    reference profile, ONNX export), alias production. Version 2: registered from a run with
    params, metrics and an input example, aliases staging and fallback. Version 3: deleted."""
    folder = tmp_path_factory.mktemp("reader") / "fraud"
    built = build_fraud_project(folder)
    with sk.start_run("fraud", project=folder) as run:
        run.log_params({"C": 0.5, "solver": "lbfgs"})
        run.log_metric("auc", 0.9)
        run.log_model(built.model, "fraud", input_example=np.zeros((2, 7)))
    sk.set_alias("fraud", "staging", 2, project=folder)
    sk.set_alias("fraud", "fallback", 2, project=folder)
    sk.register_model(built.model, "fraud", project=folder)
    sk.delete_model_version("fraud", 3, project=folder)
    yield built
    forget_project(folder)


def test_the_reader_knows_the_current_schema() -> None:
    assert READABLE_REVISION == SCHEMA_REVISION


@pytest.mark.parametrize("selector", [1, 2, "production", "staging", "fallback", "latest"])
def test_records_equal_the_general_path(fraud: FraudProject, selector: str | int) -> None:
    project = get_project(fraud.folder)
    found = read_model_version(fraud.folder / DATABASE, "serving", "fraud", selector)
    assert found is not None
    record, applied = found
    ref = f"fraud/{selector}" if isinstance(selector, int) else f"fraud@{selector}"
    assert record == project.registry.get_model_version(ref)
    assert applied == {f"{d.kind}:{d.name}": d.definition_hash
                       for d in project.definitions.current_definitions()}


def test_the_rich_version_is_read_whole(fraud: FraudProject) -> None:
    found = read_model_version(fraud.folder / DATABASE, "serving", "fraud", "production")
    assert found is not None
    record = found[0]
    assert record.training is not None
    assert record.training.onnx.kept
    assert record.feature_hashes
    assert record.reference_profile
    assert record.created_at.tzinfo is not None
    assert record.aliases == ["production"]
    staging = read_model_version(fraud.folder / DATABASE, "serving", "fraud", "staging")
    assert staging is not None
    assert staging[0].params == {"C": "0.5", "solver": "lbfgs"}
    assert staging[0].aliases == ["fallback", "staging"]
    assert np.asarray(staging[0].input_example).shape == (2, 7)


@pytest.mark.parametrize(("name", "selector"), [
    ("fraud", "nope"), ("fraud", 9), ("nobody", "production"), ("nobody", "latest"),
])
def test_what_is_not_there_goes_the_general_way(fraud: FraudProject, name: str,
                                                selector: str | int) -> None:
    assert read_model_version(fraud.folder / DATABASE, "serving", name, selector) is None
    assert read_model_version(fraud.folder / DATABASE, "other-project", "fraud", 1) is None


def test_another_schema_revision_or_no_database_goes_the_general_way(
        fraud: FraudProject, tmp_path: Path) -> None:
    assert read_model_version(tmp_path / "missing.sqlite", "serving", "fraud", 1) is None
    (tmp_path / "garbage.sqlite").write_bytes(b"not a database at all" * 100)
    assert read_model_version(tmp_path / "garbage.sqlite", "serving", "fraud", 1) is None
    older = tmp_path / "older.sqlite"
    with sqlite3.connect(fraud.folder / DATABASE) as source, sqlite3.connect(older) as copy:
        source.backup(copy)
    with sqlite3.connect(older) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0003'")
    assert read_model_version(older, "serving", "fraud", 1) is None


@pytest.mark.parametrize(("url", "expected"), [
    ("sqlite:///data/metadata.sqlite", "base/data/metadata.sqlite"),
    ("sqlite:////srv/meta.sqlite", "/srv/meta.sqlite"),
    ("sqlite://", None),
    ("sqlite:///:memory:", None),
    ("sqlite:///data/m.sqlite?timeout=5", None),
    ("postgresql+psycopg://u@127.0.0.1:5432/test", None),
])
def test_only_plain_sqlite_urls_are_read_directly(url: str, expected: str | None) -> None:
    path = sqlite_path(url, Path("base"))
    assert (None if path is None else path.as_posix()) == expected


def _fresh_process(folder: Path, code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True,
                          text=True, timeout=120, check=False,
                          env={"SKEWLESS_PROJECT": str(folder), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_fresh_process_loads_and_predicts_without_sqlalchemy_or_fsspec(
        fraud: FraudProject) -> None:
    out = _fresh_process(fraud.folder, (
        "import sys, numpy as np, skewless\n"
        "model = skewless.load_model('fraud@production', flavor='onnx')\n"
        "print(model.predict_proba(np.zeros((1, 7)))[0, 1],"
        " 'sqlalchemy' in sys.modules, 'fsspec' in sys.modules)\n"))
    probability, sqlalchemy, fsspec = out.split()
    assert (sqlalchemy, fsspec) == ("False", "False")
    expected = fraud.model.predict_proba(np.zeros((1, 7)))[0, 1]
    assert float(probability) == pytest.approx(expected, abs=1e-5)


def test_errors_are_those_of_the_general_path(fraud: FraudProject, tmp_path: Path) -> None:
    copy = tmp_path / "fraud"
    shutil.copytree(fraud.folder, copy)
    forget_project(copy)
    with pytest.raises(ModelNotFoundError, match=r"has no alias 'nope'.*production → 1"):
        sk.load_model("fraud@nope", project=copy)
    forget_project(copy)
    with pytest.raises(ModelNotFoundError, match="fraud/3 was deleted"):
        sk.load_model("fraud/3", project=copy)
    forget_project(copy)
    features = copy / "features.py"
    features.write_text(features.read_text().replace('ttl="30d"', 'ttl="31d"', 1))
    with sk.FeatureStore(copy) as store:
        store.apply(force=True)
    forget_project(copy)
    with pytest.raises(FeaturesChangedError, match="no longer the applied ones"):
        sk.load_model("fraud@production", flavor="onnx", project=copy)
    forget_project(copy)
