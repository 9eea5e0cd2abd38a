"""Artifact storage with SHA-256 digests: a local folder by default, any fsspec URL."""

from skewless.artifacts._store import ArtifactStore, StoredArtifact, sha256_file

__all__ = ["ArtifactStore", "StoredArtifact", "sha256_file"]
