"""``FeatureStore``: one project's definitions, offline history and online values."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skewless._project import current_actor
from skewless._time import to_utc, utc_now
from skewless.config import ProjectConfig, find_project, load_config
from skewless.errors import DefinitionError, DefinitionInUseError
from skewless.features._catalogue import Catalogue
from skewless.features._definitions import (
    DEFINITION_KINDS,
    Definition,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
)

if TYPE_CHECKING:
    from skewless._historical import HistoricalResult
    from skewless._materialize import MaterializationReport
    from skewless._online_features import OnlineReadPlan, OnlineResult
    from skewless.metadata import DefinitionChange, MetadataBackend
    from skewless.offline import OfflineEngine
    from skewless.online import OnlineStore
    from skewless.training import TrainingFrame

__all__ = ["FeatureStore"]

ProgressCallback = Callable[[str, int, int], None]
"""``(view, done, total)``, called as materialization proceeds."""


class FeatureStore:
    """A skewless project: where features are defined, retrieved and served.

    ``project`` is the project folder (or its ``skewless.yaml``); when omitted it is
    ``$SKEWLESS_PROJECT``, else the current folder or the nearest parent holding a
    ``skewless.yaml``. Connections open on first use, so opening a store is cheap.
    """

    def __init__(self, project: str | os.PathLike[str] | None = None) -> None:
        self.path: Path = find_project(project)
        self.config: ProjectConfig = load_config(self.path)
        self._metadata: MetadataBackend | None = None
        self._offline: OfflineEngine | None = None
        self._online: OnlineStore | None = None
        self._catalogue: Catalogue | None = None
        self._functions: dict[tuple[str, str], Callable[..., Any]] = {}
        self._read_plans: dict[tuple[tuple[str, ...] | None, bool], OnlineReadPlan] = {}

    # -- backends, created on first use -------------------------------------------------------

    def _resolve(self, relative: str) -> Path:
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.path / path

    @property
    def metadata(self) -> MetadataBackend:
        if self._metadata is None:
            from skewless.metadata import SqlMetadataBackend

            settings = self.config.metadata
            self._metadata = SqlMetadataBackend(settings.url, self.config.project,
                                                schema=settings.db_schema, base_dir=self.path)
        return self._metadata

    @property
    def offline(self) -> OfflineEngine:
        if self._offline is None:
            from skewless.offline import DuckDBEngine

            settings = self.config.offline_engine
            temp = self._resolve(settings.temp_directory)
            temp.mkdir(parents=True, exist_ok=True)
            self._offline = DuckDBEngine(self.path, memory_limit=settings.memory_limit,
                                         threads=settings.threads, temp_directory=temp)
        return self._offline

    @property
    def online(self) -> OnlineStore:
        if self._online is None:
            settings = self.config.online_store
            if settings.type == "redis":
                from skewless.online import RedisOnlineStore

                self._online = RedisOnlineStore(
                    settings.url, settings.key_prefix or self.config.project,
                    socket_timeout=settings.socket_timeout, retries=settings.retries)
            else:
                from skewless.online import SQLiteOnlineStore

                self._online = SQLiteOnlineStore(self._resolve(settings.path))
        return self._online

    def close(self) -> None:
        """Close every connection the store opened."""
        for backend in (self._online, self._offline, self._metadata):
            if backend is not None:
                backend.close()
        self._online = self._offline = self._metadata = None

    def refresh(self) -> None:
        """Forget the cached applied definitions (and read plans built from them), so the next
        read sees definitions another process applied since."""
        self._catalogue = None
        self._read_plans.clear()

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- definitions --------------------------------------------------------------------------

    def load_definitions(self) -> list[Definition]:
        """Import the project's definitions module (``definitions:`` in skewless.yaml)."""
        from skewless.features._repo import load_definitions

        return load_definitions(self._resolve(self.config.definitions))

    def apply(self, objects: Iterable[Definition] | None = None, *,
              force: bool = False) -> list[DefinitionChange]:
        """Validate definitions against their sources and record them with content hashes.

        ``objects`` defaults to everything in the definitions module. Definitions already
        applied and not passed stay as they are. Unchanged definitions are a no-op; a changed
        one is recorded under its new hash (the old version stays in the history) and its stale
        online values are dropped until it is materialized again.

        Changing a definition that a model version behind a live alias (any alias but
        ``archived``) was trained on is refused with ``DefinitionInUseError`` naming those
        versions, since it would change what the served model sees; ``force=True`` applies it
        anyway (the model then refuses to load until retrained or the change is reverted).
        """
        from skewless.features._validation import validate_sources

        objects = list(self.load_definitions() if objects is None else objects)
        applied = self.catalogue
        merged: dict[tuple[str, str], Any] = {(d.kind, d.name): d for d in applied.definitions()}
        new = Catalogue.collect(objects)
        merged.update({(d.kind, d.name): d for d in new.definitions()})
        candidate = Catalogue.build(merged.values())  # references may point at applied ones
        changed_views = Catalogue(views={name: view for name, view in new.views.items()
                                         if name not in applied.views
                                         or applied.views[name].definition_hash
                                         != view.definition_hash})
        validate_sources(changed_views, self.offline.source_columns)
        if not force:
            self._refuse_changes_in_use(applied, new)
        changes = self.metadata.apply_definitions(
            [(d.kind, d.name, d.definition_hash, d.spec()) for d in new.definitions()],
            current_actor())
        for odfv in candidate.on_demand.values():
            if odfv.function is not None:
                self._functions[(odfv.name, odfv.definition_hash)] = odfv.function
        for name in changed_views.views:
            if name in applied.views:
                from skewless._online_features import namespaces

                for namespace in namespaces(applied.views[name]):
                    self.online.drop_namespace(namespace)
        self._catalogue = None
        self._read_plans.clear()
        return changes

    def _refuse_changes_in_use(self, applied: Catalogue, new: Catalogue) -> None:
        """Raise ``DefinitionInUseError`` when a change breaks a live model's bindings."""
        current = {f"{d.kind}:{d.name}": d.definition_hash for d in applied.definitions()}
        changed = {f"{d.kind}:{d.name}": d.definition_hash for d in new.definitions()
                   if current.get(f"{d.kind}:{d.name}", d.definition_hash) != d.definition_hash}
        if not changed:
            return
        from skewless._project import get_project

        users: dict[str, list[str]] = {}
        for model, version, alias, hashes in \
                get_project(self.path).registry.store.live_feature_hashes():
            for key in changed.keys() & hashes.keys():
                if hashes[key] == current[key]:  # the model matches what is applied now
                    users.setdefault(key, []).append(f"{model}/{version}@{alias}")
        if users:
            detail = "; ".join(f"{key.replace(':', ' ', 1)} is used by {', '.join(models)}"
                               for key, models in sorted(users.items()))
            raise DefinitionInUseError(
                f"refusing to change definitions that served models were trained on: {detail}. "
                "Give the changed definition a new name (a new view) and retrain, or apply with "
                "force=True (`skewless apply --force`) — those versions will then refuse to load "
                "until they are retrained")

    @property
    def catalogue(self) -> Catalogue:
        """The applied definitions (read from the metadata database once, then cached)."""
        if self._catalogue is None:
            definitions = []
            for record in self.metadata.current_definitions():
                definition = DEFINITION_KINDS[record.kind].from_spec(record.spec)
                if isinstance(definition, OnDemandFeatureView):
                    definition = self._bind(definition, record.definition_hash)
                definitions.append(definition)
            self._catalogue = Catalogue.build(definitions)
        return self._catalogue

    def _bind(self, odfv: OnDemandFeatureView, digest: str) -> OnDemandFeatureView:
        """Attach the function of an applied on-demand view: from this process's ``apply``, or
        from the definitions module when its code is the applied code."""
        function = self._functions.get((odfv.name, digest))
        if function is None:
            try:
                module_views = [d for d in self.load_definitions()
                                if isinstance(d, OnDemandFeatureView) and d.name == odfv.name]
            except DefinitionError:
                module_views = []
            for candidate in module_views:
                if candidate.definition_hash == digest:
                    function = candidate.function
            if function is None:
                return odfv  # run_on_demand explains how to fix it if the view is used
            self._functions[(odfv.name, digest)] = function
        return OnDemandFeatureView(odfv.name, odfv.inputs, odfv.request_fields, function,
                                   odfv.outputs, odfv.description, odfv.tags)

    # -- retrieval ----------------------------------------------------------------------------

    def get_historical_features(
        self,
        entity_df: Any,
        features: Any,
        *,
        full_names: bool = False,
        as_of_created: bool = True,
        timestamp_column: str = "event_timestamp",
    ) -> HistoricalResult:
        """Point-in-time-correct features for every row of ``entity_df``.

        ``entity_df`` (pandas or Arrow) holds the entity keys and a UTC-aware
        ``timestamp_column``; its rows come back in order, duplicates kept, unmatched rows with
        nulls. ``features`` are ``"view:feature"`` strings, views or a service.
        ``as_of_created=False`` uses Feast's rule (created time only breaks ties).
        """
        from skewless._historical import get_historical_features

        return get_historical_features(
            self.offline, self.catalogue.resolve(features), entity_df, full_names=full_names,
            as_of_created=as_of_created, timestamp_column=timestamp_column)

    def get_training_frame(
        self,
        labels: Any,
        service: str | FeatureService,
        *,
        label: str | None = None,
        timestamp_column: str = "event_timestamp",
        full_names: bool = False,
    ) -> TrainingFrame:
        """Labels joined point-in-time with ``service``'s features, ready to train on.

        ``labels`` (pandas or Arrow) holds the entity keys, ``timestamp_column``, the request
        fields of the service's on-demand views, and one label column (named by ``label`` when
        there are other columns). The frame equals ``get_historical_features`` for the same
        rows and records its content fingerprint and the hash of every definition it used.
        """
        from skewless.training._frame import build_training_frame

        return build_training_frame(self, labels, service, label=label,
                                    timestamp_column=timestamp_column, full_names=full_names)

    def get_online_features(
        self,
        features: Any,
        entity_rows: Sequence[Mapping[str, Any]],
        now: datetime | None = None,
        *,
        full_names: bool = False,
    ) -> OnlineResult:
        """The latest materialized values for each entity row, with statuses and event times.

        ``entity_rows`` are mappings of entity keys (and request fields of on-demand views).
        ``now`` is the read's time for the ttl check; the current time when omitted.
        """
        from skewless._online_features import OnlineReadPlan, read_online

        if isinstance(features, str):
            key: tuple[str, ...] | None = (features,)
        elif isinstance(features, list | tuple) and all(isinstance(f, str) for f in features):
            key = tuple(features)
        else:
            key = None
        plan = self._read_plans.get((key, full_names)) if key else None
        if plan is None:
            plan = OnlineReadPlan.build(self.catalogue.resolve(features), full_names)
            if key:
                self._read_plans[(key, full_names)] = plan
        when = utc_now() if now is None else to_utc(now, "now")
        return read_online(self.online, plan, entity_rows, when)

    # -- materialization ----------------------------------------------------------------------

    def _online_views(self, views: Sequence[str] | None) -> list[FeatureView]:
        catalogue = self.catalogue
        if views is None:
            return [v for v in catalogue.views.values() if v.online]
        unknown = [name for name in views if name not in catalogue.views]
        if unknown:
            raise DefinitionError(f"no feature view named {', '.join(map(repr, unknown))} was "
                                  f"applied; applied views: {', '.join(catalogue.views)}")
        return [catalogue.views[name] for name in views]

    def materialize(self, start: datetime | None, end: datetime, *,
                    views: Sequence[str] | None = None,
                    progress: ProgressCallback | bool = True) -> list[MaterializationReport]:
        """Write the latest values as of ``end`` of every key with a row that became visible
        in ``[start, end]`` (``start=None``: all history) to the online store.

        Writes are conditional on event time, so re-running, or running an older interval after
        a newer one, never replaces newer values. Aggregations are recomputed as of ``end``
        for every key, since events leave their windows as time passes. The view's high-water
        mark moves to ``end`` only when the run leaves no gap after it (``start`` is None or at
        or before the mark), so ``materialize_incremental`` never skips history.
        """
        start_utc = None if start is None else to_utc(start, "start")
        end_utc = to_utc(end, "end")
        if start_utc is not None and start_utc > end_utc:
            raise DefinitionError(f"materialize: start {start_utc} is after end {end_utc}")
        return self._materialize([(v, start_utc) for v in self._online_views(views)], end_utc,
                                 progress, contiguous_only=True)

    def materialize_incremental(self, end: datetime, *, views: Sequence[str] | None = None,
                                progress: ProgressCallback | bool = True
                                ) -> list[MaterializationReport]:
        """Materialize each view from its high-water mark (the previous run's ``end``) to
        ``end``, then move the mark. A view already at or past ``end`` is skipped, so re-running
        is a no-op, and an interrupted run can simply be run again."""
        from skewless._online_features import namespaces

        end_utc = to_utc(end, "end")
        plan = []
        for view in self._online_views(views):
            mark = self.metadata.high_water_mark(namespaces(view)[0])
            if mark is None or mark < end_utc:
                plan.append((view, mark))
        return self._materialize(plan, end_utc, progress)

    def _materialize(self, plan: list[tuple[FeatureView, datetime | None]], end: datetime,
                     progress: ProgressCallback | bool, contiguous_only: bool = False
                     ) -> list[MaterializationReport]:
        from skewless._materialize import materialize_view
        from skewless._online_features import namespaces
        from skewless._progress import progress_reporter

        reports = []
        with progress_reporter(progress, lambda view: f"materialize {view}") as report:
            for view, start in plan:
                reports.append(materialize_view(
                    self.offline, self.online, view, start, end,
                    lambda done, total, name=view.name: report(name, done, total)))
                mark_name = namespaces(view)[0]
                if contiguous_only and start is not None:
                    mark = self.metadata.high_water_mark(mark_name)
                    if mark is None or start > mark:
                        continue
                self.metadata.set_high_water_mark(mark_name, end, current_actor())
        return reports
