"""Project configuration: ``skewless.yaml`` → typed settings, with environment overrides.

Any key can be overridden from the environment as ``SKEWLESS_<SECTION>__<KEY>``, e.g.
``SKEWLESS_ONLINE_STORE__TYPE=redis`` and ``SKEWLESS_ONLINE_STORE__URL=redis://host:6379/0``.
Overriding a section's ``type`` with a different value replaces the whole section, so the
other backend's keys from the file do not leak into it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic import Field as PydanticField

from skewless.errors import ConfigError, ProjectNotFoundError

__all__ = [
    "CONFIG_FILE",
    "ArtifactsConfig",
    "DuckDBEngineConfig",
    "MetadataConfig",
    "ProjectConfig",
    "RedisOnlineConfig",
    "SQLiteOnlineConfig",
    "find_project",
    "load_config",
]

CONFIG_FILE = "skewless.yaml"
PROJECT_ENV = "SKEWLESS_PROJECT"
_NOT_OVERRIDES = {PROJECT_ENV, "SKEWLESS_REQUIRE_SERVICES", "SKEWLESS_USER"}
_NOT_OVERRIDE_PREFIXES = ("SKEWLESS_ALERT_",)  # set for an alert's command, not settings
_SECTIONS = ("offline_engine", "online_store", "metadata", "artifacts", "serving",
             "prediction_log", "monitoring")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DuckDBEngineConfig(_Section):
    """The embedded offline engine. ``memory_limit`` bounds DuckDB; beyond it, it spills to disk."""

    type: Literal["duckdb"] = "duckdb"
    memory_limit: str = "600MB"
    threads: int | None = None
    temp_directory: str = ".skewless/duckdb"


class SQLiteOnlineConfig(_Section):
    """The embedded online store: one SQLite file."""

    type: Literal["sqlite"] = "sqlite"
    path: str = "data/online.sqlite"


class RedisOnlineConfig(_Section):
    """Redis as the online store; keys start with ``key_prefix`` (the project name by default)."""

    type: Literal["redis"]
    url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str | None = None
    socket_timeout: float = 5.0
    retries: int | None = PydanticField(default=None, ge=0)


class MetadataConfig(_Section):
    """The metadata database: a SQLAlchemy URL (SQLite file by default, or PostgreSQL).

    ``schema`` puts every table in that PostgreSQL schema (created when missing).
    """

    url: str = "sqlite:///data/metadata.sqlite"
    db_schema: str | None = PydanticField(default=None, alias="schema")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ArtifactsConfig(_Section):
    """Where artifacts (models, files logged to runs) live: a folder relative to the project,
    an absolute path, or any fsspec URL such as ``s3://bucket/prefix``."""

    root: str = "artifacts"


class ServingConfig(_Section):
    """The prediction server (``skewless serve``).

    ``api_key`` guards the admin endpoints (and the prediction endpoints too with
    ``protect_predictions``); set it with ``SKEWLESS_SERVING__API_KEY`` rather than in the file.
    ``timeout_ms`` bounds the primary model of each deployment; on timeout or error the model
    at alias ``fallback`` answers, else ``defaults[model name]``. ``cache_size`` > 0 turns on a
    per-worker LRU cache of predictions (``cache_ttl_s``). Online reads give up after
    ``online_timeout_s`` without retrying; after the online store fails, reads go to the
    reference profile's defaults for ``online_retry_s`` before it is tried again.
    ``allow_pickle`` lets the server load pickled models (which run code when loaded).
    Requests that reach a worker together are answered by one model call of up to
    ``batch_max_rows`` rows (1 answers each request alone).
    """

    api_key: str | None = None
    protect_predictions: bool = False
    timeout_ms: float = PydanticField(default=50.0, gt=0)
    alias_poll_s: float = PydanticField(default=1.0, gt=0)
    max_body_bytes: int = PydanticField(default=1_048_576, gt=0)
    max_rows: int = PydanticField(default=1_000, gt=0)
    batch_max_rows: int = PydanticField(default=256, gt=0)
    cache_size: int = PydanticField(default=0, ge=0)
    cache_ttl_s: float = PydanticField(default=60.0, gt=0)
    online_retry_s: float = PydanticField(default=1.0, gt=0)
    online_timeout_s: float = PydanticField(default=0.02, gt=0)
    defaults: dict[str, float | int | bool | str] = PydanticField(default_factory=dict)
    allow_pickle: bool = False


class PredictionLogConfig(_Section):
    """Where every prediction is logged: Parquet segments under ``path`` (default), a
    PostgreSQL table (``sink: postgresql`` with ``url``), or nowhere (``off``). A background
    writer flushes every ``flush_interval_s`` or ``batch_size`` records; at most
    ``queue_size`` records wait, and records beyond that are dropped and counted."""

    sink: Literal["parquet", "postgresql", "off"] = "parquet"
    path: str = "data/predictions"
    feedback_path: str = "data/feedback"
    url: str | None = None
    db_schema: str | None = PydanticField(default=None, alias="schema")
    queue_size: int = PydanticField(default=10_000, gt=0)
    batch_size: int = PydanticField(default=1_000, gt=0)
    flush_interval_s: float = PydanticField(default=1.0, gt=0)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AlertRule(_Section):
    """Fire when ``metric`` of a monitoring report is ``above`` or ``below`` a threshold.

    Metrics: ``drifted_features``, ``flagged_features``, ``prediction_drift`` (1 or 0),
    ``max_severity``, ``label_coverage``, ``skew_mismatch_rate``, ``performance.<metric>``
    (e.g. ``performance.auc_roc``), and per feature ``psi.<f>``, ``ks.<f>``,
    ``wasserstein.<f>``, ``js_distance.<f>``, ``null_rate.<f>``. ``window`` is the report window
    the rule is meant for (``skewless monitor --window``), e.g. ``1h``.
    """

    metric: str
    above: float | None = None
    below: float | None = None
    window: str = "1h"
    name: str | None = None


class MonitoringConfig(_Section):
    """Alerts on monitoring reports, and the drift gauges of the prediction server.

    A firing rule POSTs to ``webhook`` (retried ``webhook_retries`` times) and runs
    ``command`` (e.g. a retraining job), at most once per rule and model every ``dedupe_s``.
    Reports check training–serving skew on ``skew_sample`` logged predictions. The server
    recomputes its drift gauges every ``gauge_interval_s`` over its last ``gauge_window``
    predictions per model.
    """

    alerts: list[AlertRule] = PydanticField(default_factory=list)
    webhook: str | None = None
    webhook_retries: int = PydanticField(default=3, ge=0)
    webhook_timeout_s: float = PydanticField(default=5.0, gt=0)
    command: str | None = None
    dedupe_s: float = PydanticField(default=3600.0, ge=0)
    skew_sample: int = PydanticField(default=200, ge=0)
    gauge_interval_s: float = PydanticField(default=30.0, gt=0)
    gauge_window: int = PydanticField(default=10_000, gt=0)
    rule: dict[str, Any] = PydanticField(default_factory=dict)
    """Settings of the drift rule (``skewless.monitoring.DriftRule``): ``alpha``,
    ``wasserstein``, ``ks``, ``psi``, ``js``, ``null_rate``, ... and per-feature
    ``overrides: {feature: {setting: value}}``."""


OnlineConfig = Annotated[SQLiteOnlineConfig | RedisOnlineConfig,
                         PydanticField(discriminator="type")]


class ProjectConfig(_Section):
    """Everything ``skewless.yaml`` holds. Relative paths are relative to the project folder."""

    project: str = PydanticField(pattern=r"^[A-Za-z0-9_\-]+$")
    definitions: str = "features.py"
    offline_engine: DuckDBEngineConfig = DuckDBEngineConfig()
    online_store: OnlineConfig = SQLiteOnlineConfig()
    metadata: MetadataConfig = MetadataConfig()
    artifacts: ArtifactsConfig = ArtifactsConfig()
    serving: ServingConfig = ServingConfig()
    prediction_log: PredictionLogConfig = PredictionLogConfig()
    monitoring: MonitoringConfig = MonitoringConfig()


def _describe(error: dict[str, Any], raw: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error["loc"]
                        if part not in ("sqlite", "redis", "duckdb"))
    kind = error["type"]
    if kind == "extra_forbidden":
        parent: Any = ProjectConfig
        section = error["loc"][0] if len(error["loc"]) > 1 else None
        if section == "online_store":
            parent = (RedisOnlineConfig if raw.get("online_store", {}).get("type") == "redis"
                      else SQLiteOnlineConfig)
        elif section is not None:
            parent = ProjectConfig.model_fields[str(section)].annotation
        accepted = sorted((f.alias or name) for name, f in parent.model_fields.items())
        return f"{location}: unknown key; accepted keys: {', '.join(accepted)}"
    if kind == "union_tag_invalid":
        return (f"{location}.type: got {error['ctx']['tag']!r}; accepted values: "
                f"{error['ctx']['expected_tags']}")
    if kind == "literal_error":
        return f"{location}: got {error['input']!r}; accepted values: {error['ctx']['expected']}"
    return f"{location}: {error['msg']} (got {error.get('input')!r})"


def _environment_overrides(raw: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    """Merge ``SKEWLESS_<SECTION>__<KEY>`` (and ``SKEWLESS_<KEY>``) variables into ``raw``.

    Values stay text (pydantic converts numbers and booleans where a field wants them), except
    mappings and lists written in YAML/JSON flow style; a ``type`` override is applied first, so
    the other overrides of the section survive it.
    """
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    overrides = []
    for name, value in environ.items():
        if not name.startswith("SKEWLESS_") or name in _NOT_OVERRIDES \
                or name.startswith(_NOT_OVERRIDE_PREFIXES):
            continue
        path = name.removeprefix("SKEWLESS_").lower().split("__")
        if path[0] not in ProjectConfig.model_fields or len(path) > 2 or (
                len(path) == 2 and path[0] not in _SECTIONS):
            raise ConfigError(
                f"environment variable {name} overrides nothing: use SKEWLESS_<KEY> for "
                f"{', '.join(k.upper() for k in ProjectConfig.model_fields if k not in _SECTIONS)}"
                f" or SKEWLESS_<SECTION>__<KEY> with a section among "
                f"{', '.join(s.upper() for s in _SECTIONS)}"
            )
        overrides.append((path, value))
    overrides.sort(key=lambda item: (len(item[0]), item[0][-1] != "type"))
    for path, text in overrides:
        # a mapping or list (e.g. SKEWLESS_SERVING__DEFAULTS='{fraud: false}') is read as YAML
        value: Any = yaml.safe_load(text) if text.lstrip()[:1] in ("{", "[") else text
        if len(path) == 1:
            merged[path[0]] = value
            continue
        section, key = path
        current = merged.get(section)
        if not isinstance(current, dict) or (key == "type" and current.get("type") != value):
            current = {}
        merged[section] = {**current, key: value}
    online = merged.get("online_store")
    if isinstance(online, dict) and "type" not in online:
        merged["online_store"] = {"type": "sqlite", **online}
    return merged


def load_config(project_dir: Path, environ: dict[str, str] | None = None) -> ProjectConfig:
    """Read and validate ``skewless.yaml`` in ``project_dir``, applying environment overrides."""
    path = project_dir / CONFIG_FILE
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ProjectNotFoundError(
            f"{path} does not exist; create a project with `skewless init {project_dir}`"
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a mapping of keys to values")
    raw = _environment_overrides(raw, dict(os.environ if environ is None else environ))
    try:
        return ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "\n  ".join(_describe(e, raw) for e in exc.errors())
        raise ConfigError(f"{path} is invalid:\n  {problems}") from exc


def find_project(path: str | os.PathLike[str] | None = None) -> Path:
    """The project folder: ``path`` if given, else ``$SKEWLESS_PROJECT``, else the current
    folder or its nearest parent holding ``skewless.yaml``."""
    if path is not None or os.environ.get(PROJECT_ENV):
        given = Path(path if path is not None else os.environ[PROJECT_ENV]).expanduser()
        folder = given.parent if given.name == CONFIG_FILE else given
        if not (folder / CONFIG_FILE).is_file():
            source = "" if path is not None else f" (from ${PROJECT_ENV})"
            raise ProjectNotFoundError(
                f"no {CONFIG_FILE} in {folder}{source}; create one with `skewless init {folder}`"
            )
        return folder.resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise ProjectNotFoundError(
        f"no {CONFIG_FILE} in {here} or its parents; pass --project PATH, set "
        f"${PROJECT_ENV}, or create a project with `skewless init PATH`"
    )
