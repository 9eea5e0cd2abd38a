"""Artifact storage: files under one root (a local folder or any fsspec URL), each stored
atomically with its SHA-256 digest and verified on every read."""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from skewless.errors import ArtifactError, ArtifactIntegrityError

__all__ = ["ArtifactStore", "StoredArtifact", "sha256_file"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredArtifact:
    """One stored file: its path under the store's root, SHA-256 digest and size in bytes."""

    path: str
    sha256: str
    size: int


def sha256_file(path: Path) -> str:
    """The SHA-256 hex digest of a local file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _clean(relative: str) -> str:
    path = PurePosixPath(relative.replace(os.sep, "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ArtifactError(f"artifact path {relative!r} must be relative, without '..'")
    return str(path)


class ArtifactStore:
    """Files under ``root``: a local folder path or an fsspec URL (``s3://bucket/prefix``...).

    Writes go to a temporary name beside the target and are renamed into place, so a reader
    never sees half a file; an existing artifact is never overwritten with different bytes.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self._filesystem: Any = None
        if "://" not in root:
            # A plain folder: fsspec (and the asyncio it imports, 30 ms) is imported on the
            # first write only, so that loading a model reads its files without it.
            self._base = Path(root).expanduser().absolute().as_posix().rstrip("/")
            self.is_local = True
            return
        import fsspec

        try:
            self._filesystem, base = fsspec.core.url_to_fs(root)
        except (ValueError, ImportError) as exc:
            raise ArtifactError(f"artifact root {root!r} cannot be opened: {exc}; use a local "
                                "folder or an fsspec URL whose package is installed") from exc
        self._base = base.rstrip("/")
        protocols = (self._fs.protocol,) if isinstance(self._fs.protocol, str) \
            else self._fs.protocol
        self.is_local = "file" in protocols or "local" in protocols

    @property
    def _fs(self) -> Any:
        if self._filesystem is None:
            from fsspec.implementations.local import LocalFileSystem

            self._filesystem = LocalFileSystem()
        return self._filesystem

    def _open_for_reading(self, full: str) -> BinaryIO:
        return open(full, "rb") if self.is_local else self._fs.open(full, "rb")

    def _full(self, relative: str) -> str:
        return f"{self._base}/{_clean(relative)}"

    def uri(self, relative: str) -> str:
        """The URL of a stored path, for records and messages."""
        full = self._full(relative)
        return f"file://{full}" if self.is_local else self._fs.unstrip_protocol(full)

    def put_file(self, source: Path, relative: str) -> StoredArtifact:
        """Store a local file under ``relative``; returns its digest and size."""
        target = self._full(relative)
        digest = hashlib.sha256()
        size = 0
        temporary = f"{target}.tmp-{uuid.uuid4().hex}"
        try:
            self._fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            with source.open("rb") as reader, self._fs.open(temporary, "wb") as writer:
                for chunk in iter(lambda: reader.read(_CHUNK), b""):
                    digest.update(chunk)
                    size += len(chunk)
                    writer.write(chunk)
            stored = StoredArtifact(_clean(relative), digest.hexdigest(), size)
            if self._fs.exists(target):
                self._verify(target, stored)  # same bytes: nothing to do; else refuse
                self._fs.rm(temporary)
                return stored
            self._fs.mv(temporary, target)
        except ArtifactIntegrityError as exc:
            self._fs.rm(temporary)
            raise ArtifactError(f"{self.uri(relative)} already exists with other content; "
                                "artifacts are immutable, store under a new path") from exc
        except OSError as exc:
            raise ArtifactError(f"cannot store {source} at {self.uri(relative)}: {exc}") from exc
        return stored

    def put_directory(self, source: Path, relative: str) -> list[StoredArtifact]:
        """Store every file under a local folder, keeping the relative layout."""
        return [self.put_file(path, f"{relative}/{path.relative_to(source).as_posix()}")
                for path in sorted(source.rglob("*")) if path.is_file()]

    def _check(self, data: bytes, expected: StoredArtifact) -> bytes:
        digest = hashlib.sha256(data).hexdigest()
        if len(data) != expected.size or digest != expected.sha256:
            raise ArtifactIntegrityError(
                f"artifact {self.uri(expected.path)} does not match its record "
                f"({len(data)} bytes, sha256 {digest[:12]}… instead of {expected.size} bytes, "
                f"sha256 {expected.sha256[:12]}…): it was modified or truncated after it was "
                "stored; restore it or register the model again"
            )
        return data

    def _verify(self, full: str, expected: StoredArtifact) -> None:
        with self._open_for_reading(full) as reader:
            self._check(reader.read(), expected)

    def read_verified(self, artifact: StoredArtifact) -> bytes:
        """The bytes of a stored file, read once and checked against its digest."""
        full = self._full(artifact.path)
        try:
            with self._open_for_reading(full) as reader:
                data = reader.read()
        except FileNotFoundError as exc:
            raise ArtifactIntegrityError(f"artifact {self.uri(artifact.path)} is missing; "
                                         "restore it or register the model again") from exc
        except OSError as exc:
            raise ArtifactError(f"cannot read {self.uri(artifact.path)}: {exc}") from exc
        return self._check(data, artifact)

    def fetch(self, artifacts: list[StoredArtifact], prefix: str, destination: Path) -> Path:
        """Write verified copies of ``artifacts`` (all under ``prefix``) into ``destination``.

        What is written is exactly the bytes that were verified, so a file swapped between the
        check and the use cannot slip through.
        """
        for artifact in artifacts:
            local = destination / PurePosixPath(artifact.path).relative_to(prefix)
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(self.read_verified(artifact))
        return destination
