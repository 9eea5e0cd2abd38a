"""The model registry of a project: register, load, alias, roll back, trace lineage."""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skewless._provenance import code_version, package_versions, python_version
from skewless.errors import (
    FeaturesChangedError,
    ModelNotFoundError,
    PickleNotAllowedError,
    PromotionRefusedError,
    RegistryError,
)
from skewless.registry._records import (
    RESERVED_ALIASES,
    AliasMove,
    ModelSignature,
    ModelVersion,
    TrainingBinding,
)
from skewless.registry._signature import example_to_json, infer_signature

if TYPE_CHECKING:
    from skewless._project import Project
    from skewless.monitoring import ReferenceProfile
    from skewless.registry._store import RegistryStore
    from skewless.tracking import RunRecord

__all__ = ["Lineage", "Registry", "parse_model_ref"]

ATTACHMENTS = "_training"
"""Folder of a version's training attachments (ONNX export, reference profile), which loading
the native model skips."""
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,99}$")


def parse_model_ref(ref: str) -> tuple[str, str | int]:
    """``"fraud@production"`` → ``("fraud", "production")``; ``"fraud/3"`` → ``("fraud", 3)``;
    ``"fraud"`` alone means its latest version."""
    if not isinstance(ref, str) or not ref:
        raise ModelNotFoundError(f"model reference {ref!r}: write NAME@ALIAS, NAME/VERSION or "
                                 "NAME@latest")
    if "@" in ref:
        name, _, alias = ref.partition("@")
        return name, alias
    name, slash, number = ref.rpartition("/")
    if slash and number.isdigit():
        return name, int(number)
    return ref, "latest"


def check_model_name(name: str) -> str:
    if not isinstance(name, str) or not _MODEL_NAME.match(name):
        raise RegistryError(f"model name {name!r} is not valid: use letters, digits, '_', '.' "
                            "and '-', starting with a letter or digit")
    return name


def check_alias(alias: str) -> str:
    if not isinstance(alias, str) or not _ALIAS.match(alias) or alias in RESERVED_ALIASES:
        raise RegistryError(f"alias {alias!r} is not valid: use letters, digits, '_' and '-', "
                            "starting with a letter; 'latest' is reserved")
    return alias


@dataclass(frozen=True)
class Lineage:
    """Where a version comes from: its run, and the feature definitions and sources it used."""

    version: ModelVersion
    run: RunRecord | None
    definitions: list[dict[str, Any]]


class Registry:
    """Model versions of one project, stored in its metadata database and artifact store."""

    def __init__(self, project: Project) -> None:
        self.project = project

    @cached_property
    def store(self) -> RegistryStore:
        from skewless.registry._store import RegistryStore

        return RegistryStore(self.project.database, self.project.config.project)

    def register_model(
        self,
        model: Any,
        name: str,
        *,
        flavor: str | None = None,
        signature: ModelSignature | dict[str, Any] | None = None,
        input_example: Any = None,
        allow_pickle: bool = False,
        run_id: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        feature_service: str | None = None,
        feature_hashes: dict[str, str] | None = None,
        training_fingerprint: str | None = None,
        reference_profile: dict[str, Any] | None = None,
        training: TrainingBinding | None = None,
        attachments: Mapping[str, bytes] | None = None,
    ) -> ModelVersion:
        """Store ``model`` and record it as the next version of ``name``.

        The flavor is inferred from the model's type unless given; generic Python objects need
        ``flavor="pickle", allow_pickle=True``. The signature is inferred from
        ``input_example`` when not given. With ``run_id`` the run's params and metrics are
        copied into the version, so the record stands on its own. ``attachments`` are extra
        files (relative path → bytes) stored under ``_training/`` beside the model, with
        their digests: the training workflow's ONNX export and reference profile.
        """
        from skewless.flavors import flavor_for, get_flavor

        check_model_name(name)
        chosen = get_flavor(flavor) if flavor else flavor_for(model)
        if isinstance(signature, dict):
            signature = ModelSignature.from_json(signature)
        if signature is None and input_example is not None:
            signature = infer_signature(model, input_example)
        run = self.project.runs.get(run_id) if run_id else None
        prefix = f"models/{name}/{uuid.uuid4().hex}"
        with tempfile.TemporaryDirectory(prefix="skewless-model-") as scratch:
            folder = Path(scratch) / "model"
            folder.mkdir()
            spec = chosen.save(model, folder, allow_pickle=allow_pickle)
            for relative, data in (attachments or {}).items():
                target = folder / ATTACHMENTS / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            files = self.project.artifacts.put_directory(folder, prefix)
        commit, dirty = code_version(max_age=0)  # exact: the record is immutable
        actor = self.project.actor
        version = self.store.insert_version(name, {
            "run_id": run_id, "artifact_root": prefix, "files": [vars(f) for f in files],
            "flavor": chosen.name, "flavor_spec": spec,
            "signature": signature.to_json() if signature else None,
            "input_example": None if input_example is None else example_to_json(input_example),
            "params": run.params if run else {}, "metrics": run.metrics if run else {},
            "tags": dict(tags or {}), "description": description, "git_commit": commit,
            "git_dirty": dirty, "python_version": python_version(),
            "packages": package_versions(tuple(chosen.packages)),
            "feature_service": feature_service, "feature_hashes": feature_hashes,
            "training_fingerprint": training_fingerprint, "reference_profile": reference_profile,
            "training": training.to_json() if training else None,
        }, actor)
        return self.store.get(name, version)

    def get_model_version(self, ref: str) -> ModelVersion:
        name, selector = parse_model_ref(ref)
        return self.store.get(name, self.store.resolve(name, selector))

    def load_model(self, ref: str, *, allow_pickle: bool = False, flavor: str | None = None,
                   check_features: bool = True) -> Any:
        """The model behind a reference, after verifying every file's SHA-256 digest.

        ``flavor="onnx"`` loads the ONNX export the training workflow kept instead of the
        native model. A model trained on a feature service is loaded only while the feature
        definitions it was trained on are still the applied ones (``check_features=False``
        skips that, e.g. to inspect an old version).
        """
        from skewless.flavors import get_flavor

        record, applied = self._version_to_load(ref)
        if record.status != "ready":
            raise ModelNotFoundError(f"{record.ref} was deleted")
        if check_features:
            self.check_features(record, applied)
        if flavor is not None and flavor != record.flavor:
            return self._load_export(record, flavor)
        if record.flavor == "pickle" and not allow_pickle:
            raise PickleNotAllowedError(
                f"{record.ref} is stored with pickle, which runs code when loaded; load it "
                "with allow_pickle=True only if you trust whoever registered it")
        model_files = [f for f in record.files
                       if not f.path.startswith(f"{record.artifact_path}/{ATTACHMENTS}/")]
        with tempfile.TemporaryDirectory(prefix="skewless-load-") as scratch:
            folder = self.project.artifacts.fetch(model_files, record.artifact_path,
                                                  Path(scratch))
            return get_flavor(record.flavor).load(folder, record.flavor_spec,
                                                  allow_pickle=allow_pickle)

    def _version_to_load(self, ref: str) -> tuple[ModelVersion, dict[str, str] | None]:
        """The record behind ``ref`` and, when read along with it, the applied definition
        hashes. In a process that has not opened the metadata database yet, a SQLite one is
        read without SQLAlchemy (see ``_sqlite_reader``)."""
        if "store" not in self.__dict__:
            from skewless.registry._sqlite_reader import read_model_version, sqlite_path

            settings = self.project.config.metadata
            path = None if settings.db_schema else sqlite_path(settings.url, self.project.path)
            if path is not None:
                name, selector = parse_model_ref(ref)
                found = read_model_version(path, self.project.config.project, name, selector)
                if found is not None:
                    return found
        return self.get_model_version(ref), None

    def _load_export(self, record: ModelVersion, flavor: str) -> Any:
        from skewless.flavors import get_flavor

        if flavor != "onnx":
            raise RegistryError(f"{record.ref} is a {record.flavor!r} model; it can be loaded "
                                f"as {record.flavor!r} or, when an export was kept, as 'onnx'")
        return get_flavor("onnx").load_file(self.onnx_export(record))

    def onnx_export(self, record: ModelVersion) -> bytes:
        """The verified bytes of the ONNX export the training workflow kept for ``record``."""
        export = record.training.onnx if record.training else None
        if export is None or not export.kept or export.path is None:
            why = export.reason if export else "it was not logged with a training frame"
            raise RegistryError(f"{record.ref} has no ONNX export ({why}); load it without "
                                "flavor= to get the native model")
        return self._attachment(record, export.path)

    def _attachment(self, record: ModelVersion, relative: str) -> bytes:
        path = f"{record.artifact_path}/{ATTACHMENTS}/{relative}"
        stored = next((f for f in record.files if f.path == path), None)
        if stored is None:
            raise RegistryError(f"{record.ref} has no file {relative!r}; the version's record "
                                "and artifacts disagree — register it again")
        return self.project.artifacts.read_verified(stored)

    def reference_profile(self, ref: str) -> ReferenceProfile:
        """The reference profile of a version's training data, read and digest-verified."""
        import json

        from skewless.monitoring import ReferenceProfile

        record = self.get_model_version(ref)
        summary = record.reference_profile
        if not summary or "file" not in summary:
            raise RegistryError(f"{record.ref} has no reference profile; log the model with "
                                "run.log_model(..., training_frame=...) to record one")
        return ReferenceProfile.from_json(json.loads(self._attachment(record, summary["file"])))

    def check_features(self, record: ModelVersion, applied: dict[str, str] | None = None
                       ) -> None:
        """Refuse a version whose feature definitions are no longer the applied ones
        (``applied``: ``"kind:name" → hash``, read from the metadata database when not given)."""
        if not record.feature_hashes:
            return
        if applied is None:
            applied = {f"{d.kind}:{d.name}": d.definition_hash
                       for d in self.project.definitions.current_definitions()}
        changed = [f"{key.replace(':', ' ', 1)} (trained on {digest[:12]}, applied "
                   f"{applied[key][:12] if key in applied else 'nothing'})"
                   for key, digest in sorted(record.feature_hashes.items())
                   if applied.get(key) != digest]
        if changed:
            raise FeaturesChangedError(
                f"{record.ref} was trained on feature definitions that are no longer the "
                f"applied ones: {'; '.join(changed)}. Serving it would compute different "
                "features from the ones it learnt; re-apply the definitions it was trained on, "
                "or retrain and register a new version")

    def set_alias(self, name: str, alias: str, version: int, *, force: bool = False
                  ) -> int | None:
        """Point ``alias`` at ``version``. ``production`` is refused for a version that did not
        beat its baseline on validation, unless ``force``."""
        check_alias(alias)
        if alias == "production" and not force:
            record = self.store.get(name, int(version))
            if record.beats_baseline is False:
                comparison = record.training.baseline  # type: ignore[union-attr]
                raise PromotionRefusedError(
                    f"{record.ref} did not beat its baseline on validation ({comparison.metric}"
                    f" {comparison.model:.6g} vs baseline {comparison.baseline:.6g}); promote it "
                    "anyway with force=True (`--force`) if you know why")
        return self.store.set_alias(name, alias, int(version), self.project.actor)

    def delete_alias(self, name: str, alias: str) -> int:
        return self.store.delete_alias(name, alias, self.project.actor)

    def alias_history(self, name: str, alias: str) -> list[AliasMove]:
        if name not in {n for n, _, _ in self.store.models()}:
            raise self.store._unknown_model(name)
        return self.store.history(name, alias)

    def rollback(self, name: str, alias: str = "production") -> tuple[int, int]:
        return self.store.rollback(name, alias, self.project.actor)

    def delete_model_version(self, name: str, version: int) -> None:
        self.store.delete_version(name, int(version), self.project.actor)

    def lineage(self, ref: str) -> Lineage:
        """The version, its run, and each feature definition it was trained on with its
        source, looked up by content hash in the definitions history."""
        record = self.get_model_version(ref)
        run = self.project.runs.get(record.run_id) if record.run_id else None
        definitions = []
        if record.feature_hashes:
            history = self.project.definitions
            for key, digest in sorted(record.feature_hashes.items()):
                kind, _, view = key.partition(":")  # "feature_view:user_stats"
                match = next((d for d in history.definition_history(kind, view)
                              if d.definition_hash == digest), None)
                definitions.append({"kind": kind, "name": view, "hash": digest,
                                    "spec": match.spec if match else None})
        return Lineage(record, run, definitions)
