"""The artifact store: files stored atomically with SHA-256 digests under a local folder or an
fsspec URL, verified on every read, never overwritten with other bytes."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import numpy as np
import pytest

import skewless as sk
from _projects import forget_project
from _registry_workers import Constant
from skewless.artifacts import ArtifactStore, StoredArtifact, sha256_file
from skewless.errors import ArtifactError, ArtifactIntegrityError

PAYLOAD = bytes(range(256)) * 4_100  # ~1 MiB: more than one read chunk


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def memory_root() -> Iterator[str]:
    """A fresh folder of fsspec's in-memory file system, removed afterwards."""
    root = f"memory://skewless-test-{uuid.uuid4().hex}"
    yield root
    filesystem = fsspec.filesystem("memory")
    if filesystem.exists(root):
        filesystem.rm(root, recursive=True)


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        return ArtifactStore(str(tmp_path / "artifacts"))
    return ArtifactStore(request.getfixturevalue("memory_root"))


def _overwrite(store: ArtifactStore, relative: str, data: bytes) -> None:
    """Change a stored file behind the store's back (what tampering or a bad disk does)."""
    with store._fs.open(f"{store._base}/{relative}", "wb") as file:
        file.write(data)


def _listing(store: ArtifactStore) -> list[str]:
    return sorted(store._fs.find(store._base))


def test_put_file_records_digest_and_size(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "weights.bin"
    source.write_bytes(PAYLOAD)
    stored = store.put_file(source, "runs/r1/weights.bin")
    assert stored == StoredArtifact("runs/r1/weights.bin", _digest(PAYLOAD), len(PAYLOAD))
    assert sha256_file(source) == stored.sha256
    assert store.read_verified(stored) == PAYLOAD
    # written under a temporary name and renamed: nothing else is left behind
    assert _listing(store) == [f"{store._base}/runs/r1/weights.bin"]
    assert store.uri("runs/r1/weights.bin").endswith("/runs/r1/weights.bin")


def test_put_directory_keeps_the_layout(store: ArtifactStore, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.txt").write_text("b")
    (folder / "sub" / "a.txt").write_text("a")
    (folder / "empty").mkdir()
    stored = store.put_directory(folder, "models/m/1")
    assert [(s.path, s.sha256, s.size) for s in stored] == [
        ("models/m/1/b.txt", _digest(b"b"), 1), ("models/m/1/sub/a.txt", _digest(b"a"), 1)]
    destination = store.fetch(stored, "models/m/1", tmp_path / "copy")
    assert (destination / "b.txt").read_text() == "b"
    assert (destination / "sub" / "a.txt").read_text() == "a"


def test_a_tampered_file_is_refused(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(PAYLOAD)
    stored = store.put_file(source, "m/model.bin")
    tampered = bytearray(PAYLOAD)
    tampered[1000] ^= 0xFF  # same size, one bit pattern changed
    _overwrite(store, "m/model.bin", bytes(tampered))
    with pytest.raises(ArtifactIntegrityError, match="does not match its record") as raised:
        store.read_verified(stored)
    message = str(raised.value)
    assert "m/model.bin" in message
    assert "modified or truncated" in message
    assert stored.sha256[:12] in message
    with pytest.raises(ArtifactIntegrityError):
        store.fetch([stored], "m", tmp_path / "out")
    assert not (tmp_path / "out" / "model.bin").exists()


def test_a_truncated_file_is_refused(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(PAYLOAD)
    stored = store.put_file(source, "m/model.bin")
    _overwrite(store, "m/model.bin", PAYLOAD[:-1])
    with pytest.raises(ArtifactIntegrityError, match=f"{len(PAYLOAD) - 1} bytes"):
        store.read_verified(stored)
    _overwrite(store, "m/model.bin", b"")
    with pytest.raises(ArtifactIntegrityError, match="modified or truncated"):
        store.read_verified(stored)


def test_a_missing_file_is_refused(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(b"weights")
    stored = store.put_file(source, "m/model.bin")
    store._fs.rm(f"{store._base}/m/model.bin")
    with pytest.raises(ArtifactIntegrityError, match="is missing"):
        store.read_verified(stored)


def test_an_artifact_is_never_overwritten_with_other_bytes(store: ArtifactStore,
                                                           tmp_path: Path) -> None:
    source = tmp_path / "card.md"
    source.write_bytes(b"version one")
    first = store.put_file(source, "runs/r/card.md")
    assert store.put_file(source, "runs/r/card.md") == first  # the same bytes: a no-op
    source.write_bytes(b"version two")
    with pytest.raises(ArtifactError, match="already exists with other content; artifacts are "
                                            "immutable, store under a new path"):
        store.put_file(source, "runs/r/card.md")
    assert store.read_verified(first) == b"version one"
    assert _listing(store) == [f"{store._base}/runs/r/card.md"]  # the attempt left nothing


@pytest.mark.parametrize("relative", ["../outside.txt", "/etc/passwd", "a/../../b", ""])
def test_paths_must_stay_under_the_root(store: ArtifactStore, tmp_path: Path,
                                        relative: str) -> None:
    source = tmp_path / "f.txt"
    source.write_text("x")
    with pytest.raises(ArtifactError, match=r"must be relative, without '\.\.'"):
        store.put_file(source, relative)


def test_an_unknown_url_scheme_is_an_artifact_error() -> None:
    with pytest.raises(ArtifactError, match=r"cannot be opened.*use a local folder or an fsspec"):
        ArtifactStore("nosuchscheme://bucket/prefix")


# -- the project's artifact root --------------------------------------------------------------

def _project(tmp_path: Path, metadata_yaml: str, root: str) -> Path:
    (tmp_path / "skewless.yaml").write_text(
        f"project: tests\n{metadata_yaml}\nartifacts: {{root: '{root}'}}\n")
    return tmp_path


def test_project_artifacts_in_memory(tmp_path: Path, metadata_yaml: str, memory_root: str,
                                     ) -> None:
    folder = _project(tmp_path, metadata_yaml, memory_root)
    report = tmp_path / "report.txt"
    report.write_text("auc 0.9\n")
    try:
        with sk.start_run("fraud", project=folder) as run:
            run.log_artifact(report)
            version = run.log_model(Constant(7), "fraud", flavor="pickle", allow_pickle=True)
        memory = fsspec.filesystem("memory")
        base = memory_root.removeprefix("memory:/")
        assert memory.cat(f"{base}/runs/{run.run_id}/report.txt") == b"auc 0.9\n"
        assert sk.get_run(run.run_id, project=folder).artifacts == {
            "report.txt": _digest(b"auc 0.9\n")}
        [model_file] = version.files
        assert memory.cat(f"{base}/{model_file.path}")  # stored there, not on disk
        assert not (tmp_path / "artifacts").exists()
        model = sk.load_model("fraud@latest", allow_pickle=True, project=folder)
        assert model.predict(np.zeros((3, 2))).tolist() == [7, 7, 7]
        memory.pipe(f"{base}/{model_file.path}", b"not the model")
        with pytest.raises(ArtifactIntegrityError, match="memory://"):
            sk.load_model("fraud/1", allow_pickle=True, project=folder)
    finally:
        forget_project(folder)


def test_project_artifacts_in_a_folder(tmp_path: Path, metadata_yaml: str,
                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("artifact-root")
    folder = _project(tmp_path, metadata_yaml, str(elsewhere))
    try:
        version = sk.register_model(Constant(1), "fraud", flavor="pickle", allow_pickle=True,
                                    project=folder)
        [model_file] = version.files
        assert (elsewhere / model_file.path).is_file()
        assert sha256_file(elsewhere / model_file.path) == model_file.sha256
    finally:
        forget_project(folder)
    relative = _project(tmp_path, metadata_yaml, "store/artifacts")
    try:
        version = sk.register_model(Constant(2), "fraud", flavor="pickle", allow_pickle=True,
                                    project=relative)
        [model_file] = version.files
        assert (tmp_path / "store" / "artifacts" / model_file.path).is_file()
    finally:
        forget_project(relative)
