"""Project configuration: skewless.yaml, every error path, env overrides, finding projects."""

from __future__ import annotations

from pathlib import Path

import pytest

from skewless.config import (
    CONFIG_FILE,
    RedisOnlineConfig,
    SQLiteOnlineConfig,
    find_project,
    load_config,
)
from skewless.errors import ConfigError, ProjectNotFoundError

SQLITE_PROJECT = "project: p\nonline_store: {type: sqlite, path: custom/online.sqlite}\n"
REDIS_PROJECT = "project: p\nonline_store: {type: redis, key_prefix: from_file}\n"


def _project(folder: Path, text: str = "project: p\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(text)
    return folder


@pytest.fixture
def no_project_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKEWLESS_PROJECT", raising=False)


# --- reading the file ---------------------------------------------------------------------------

def test_minimal_file_takes_the_embedded_defaults(tmp_path: Path) -> None:
    config = load_config(_project(tmp_path), environ={})
    assert config.project == "p"
    assert config.definitions == "features.py"
    assert config.offline_engine.type == "duckdb"
    assert config.online_store == SQLiteOnlineConfig(path="data/online.sqlite")
    assert config.metadata.url == "sqlite:///data/metadata.sqlite"
    assert config.metadata.db_schema is None


def test_every_section_is_read(tmp_path: Path) -> None:
    text = """
project: shop-prod_2
definitions: defs/features.py
offline_engine: {type: duckdb, memory_limit: 8GB, threads: 2}
online_store: {type: redis, url: 'redis://cache:6379/1', key_prefix: shop, socket_timeout: 0.5}
metadata: {url: 'postgresql+psycopg://app@db:5432/meta', schema: features}
"""
    config = load_config(_project(tmp_path, text), environ={})
    assert (config.project, config.definitions) == ("shop-prod_2", "defs/features.py")
    assert (config.offline_engine.memory_limit, config.offline_engine.threads) == ("8GB", 2)
    assert config.online_store == RedisOnlineConfig(
        type="redis", url="redis://cache:6379/1", key_prefix="shop", socket_timeout=0.5)
    assert (config.metadata.url, config.metadata.db_schema) == (
        "postgresql+psycopg://app@db:5432/meta", "features")


INVALID_FILES = {
    "bad yaml": ("project: [unclosed", ["is not valid YAML", "line 1"]),
    "a list": ("- a\n- b\n", ["must be a mapping"]),
    "a scalar": ("just some text\n", ["must be a mapping"]),
    "empty": ("", ["project: Field required"]),
    "unknown key": ("project: p\nbogus: 1\n", [
        "bogus: unknown key; accepted keys: artifacts, definitions, metadata, monitoring, "
        "offline_engine, online_store, prediction_log, project, serving"]),
    "unknown sqlite key": ("project: p\nonline_store: {type: sqlite, url: x}\n", [
        "online_store.url: unknown key; accepted keys: path, type"]),
    "unknown redis key": ("project: p\nonline_store: {type: redis, path: x}\n", [
        "online_store.path: unknown key; accepted keys: key_prefix, retries, socket_timeout, "
        "type, url"]),
    "unknown metadata key": ("project: p\nmetadata: {uri: x}\n", [
        "metadata.uri: unknown key; accepted keys: schema, url"]),
    "unknown engine key": ("project: p\noffline_engine: {threadz: 2}\n", [
        "offline_engine.threadz: unknown key; accepted keys: memory_limit, temp_directory, "
        "threads, type"]),
    "bad online type": ("project: p\nonline_store: {type: memcached}\n", [
        "online_store.type: got 'memcached'; accepted values: 'sqlite', 'redis'"]),
    "bad engine type": ("project: p\noffline_engine: {type: spark}\n", [
        "offline_engine.type: got 'spark'; accepted values: 'duckdb'"]),
    "bad project name": ("project: 'my project!'\n", ["project:", "'my project!'"]),
    "bad number": ("project: p\nonline_store: {type: redis, socket_timeout: soon}\n", [
        "online_store.socket_timeout:", "'soon'"]),
}


@pytest.mark.parametrize("case", list(INVALID_FILES))
def test_invalid_file_names_the_file_and_the_problem(tmp_path: Path, case: str) -> None:
    text, fragments = INVALID_FILES[case]
    with pytest.raises(ConfigError) as raised:
        load_config(_project(tmp_path, text), environ={})
    message = str(raised.value)
    assert str(tmp_path / CONFIG_FILE) in message
    for fragment in fragments:
        assert fragment in message


def test_missing_file_says_how_to_create_a_project(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFoundError) as raised:
        load_config(tmp_path / "nowhere", environ={})
    assert str(tmp_path / "nowhere" / CONFIG_FILE) in str(raised.value)
    assert f"skewless init {tmp_path / 'nowhere'}" in str(raised.value)


# --- environment overrides ---------------------------------------------------------------------

def test_type_override_replaces_the_section(tmp_path: Path) -> None:
    """The sqlite path from the file does not leak into the redis section the env selects."""
    config = load_config(_project(tmp_path, SQLITE_PROJECT), environ={
        "SKEWLESS_ONLINE_STORE__TYPE": "redis", "SKEWLESS_ONLINE_STORE__URL": "redis://h:1/2"})
    assert config.online_store == RedisOnlineConfig(type="redis", url="redis://h:1/2")


def test_switching_back_to_sqlite_drops_the_redis_keys(tmp_path: Path) -> None:
    config = load_config(_project(tmp_path, REDIS_PROJECT),
                         environ={"SKEWLESS_ONLINE_STORE__TYPE": "sqlite"})
    assert config.online_store == SQLiteOnlineConfig()


def test_same_type_override_keeps_the_other_keys(tmp_path: Path) -> None:
    config = load_config(_project(tmp_path, REDIS_PROJECT),
                         environ={"SKEWLESS_ONLINE_STORE__TYPE": "redis"})
    assert isinstance(config.online_store, RedisOnlineConfig)
    assert config.online_store.key_prefix == "from_file"


def test_key_override_keeps_the_rest_of_the_section(tmp_path: Path) -> None:
    config = load_config(_project(tmp_path, REDIS_PROJECT), environ={
        "SKEWLESS_ONLINE_STORE__SOCKET_TIMEOUT": "2.5",
        "SKEWLESS_ONLINE_STORE__URL": "redis://other:6380/3"})
    assert config.online_store == RedisOnlineConfig(
        type="redis", key_prefix="from_file", socket_timeout=2.5, url="redis://other:6380/3")


def test_top_level_and_aliased_keys_can_be_overridden(tmp_path: Path) -> None:
    config = load_config(_project(tmp_path), environ={
        "SKEWLESS_DEFINITIONS": "defs.py", "SKEWLESS_METADATA__SCHEMA": "features",
        "SKEWLESS_METADATA__URL": "postgresql+psycopg://u@h:5432/db"})
    assert config.definitions == "defs.py"
    assert (config.metadata.url, config.metadata.db_schema) == (
        "postgresql+psycopg://u@h:5432/db", "features")


def test_variables_that_are_not_overrides_are_ignored(tmp_path: Path) -> None:
    config = load_config(_project(tmp_path), environ={
        "SKEWLESS_PROJECT": "/somewhere/else", "SKEWLESS_REQUIRE_SERVICES": "1",
        "HOME": "/root"})
    assert config == load_config(tmp_path, environ={})


def test_overrides_come_from_os_environ_by_default(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKEWLESS_ONLINE_STORE__PATH", "env/online.sqlite")
    assert load_config(_project(tmp_path, SQLITE_PROJECT)).online_store == SQLiteOnlineConfig(
        path="env/online.sqlite")
    assert load_config(tmp_path, environ={}).online_store == SQLiteOnlineConfig(
        path="custom/online.sqlite")


def test_badly_shaped_variable_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SKEWLESS_ONLINE_STORE__URL__HOST") as raised:
        load_config(_project(tmp_path), environ={"SKEWLESS_ONLINE_STORE__URL__HOST": "h"})
    assert "SKEWLESS_<SECTION>__<KEY>" in str(raised.value)


def test_unknown_key_from_the_environment_lists_accepted_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(_project(tmp_path, SQLITE_PROJECT),
                    environ={"SKEWLESS_ONLINE_STORE__PATHS": "x"})
    assert "online_store.paths: unknown key; accepted keys: path, type" in str(raised.value)


def test_online_store_type_defaults_to_sqlite(tmp_path: Path) -> None:
    config = load_config(_project(tmp_path, "project: p\nonline_store: {path: x.sqlite}\n"),
                         environ={})
    assert config.online_store == SQLiteOnlineConfig(path="x.sqlite")


def test_stray_skewless_variable_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SKEWLESS_BOGUS overrides nothing"):
        load_config(_project(tmp_path), environ={"SKEWLESS_BOGUS": "1"})


def test_key_override_of_a_default_section(tmp_path: Path) -> None:
    config = load_config(_project(tmp_path),
                         environ={"SKEWLESS_ONLINE_STORE__PATH": "env/online.sqlite"})
    assert config.online_store == SQLiteOnlineConfig(path="env/online.sqlite")


def test_type_switch_keeps_overrides_of_the_new_section(tmp_path: Path) -> None:
    config = load_config(_project(tmp_path, SQLITE_PROJECT), environ={
        "SKEWLESS_ONLINE_STORE__TYPE": "redis", "SKEWLESS_ONLINE_STORE__KEY_PREFIX": "env"})
    assert isinstance(config.online_store, RedisOnlineConfig)
    assert config.online_store.key_prefix == "env"


def test_text_override_that_looks_like_a_number_stays_text(tmp_path: Path) -> None:
    config = load_config(_project(tmp_path, REDIS_PROJECT),
                         environ={"SKEWLESS_ONLINE_STORE__KEY_PREFIX": "2024"})
    assert isinstance(config.online_store, RedisOnlineConfig)
    assert config.online_store.key_prefix == "2024"


# --- finding the project -----------------------------------------------------------------------

@pytest.mark.usefixtures("no_project_env")
def test_explicit_folder_or_file(tmp_path: Path) -> None:
    project = _project(tmp_path / "shop")
    assert find_project(project) == project.resolve()
    assert find_project(str(project / CONFIG_FILE)) == project.resolve()


@pytest.mark.usefixtures("no_project_env")
def test_explicit_folder_without_config_is_named(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFoundError) as raised:
        find_project(tmp_path)
    assert f"no {CONFIG_FILE} in {tmp_path}" in str(raised.value)
    assert f"skewless init {tmp_path}" in str(raised.value)
    assert "SKEWLESS_PROJECT" not in str(raised.value)


def test_explicit_path_wins_over_the_environment(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKEWLESS_PROJECT", str(_project(tmp_path / "from_env")))
    assert find_project(_project(tmp_path / "given")) == (tmp_path / "given").resolve()


def test_environment_variable_wins_over_the_current_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_project(tmp_path / "here"))
    monkeypatch.setenv("SKEWLESS_PROJECT", str(_project(tmp_path / "from_env")))
    assert find_project() == (tmp_path / "from_env").resolve()


def test_environment_variable_expands_home(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SKEWLESS_PROJECT", "~/shop")
    project = _project(tmp_path / "shop")
    assert find_project() == project.resolve()


def test_environment_variable_without_config_says_where_it_came_from(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKEWLESS_PROJECT", str(tmp_path))
    with pytest.raises(ProjectNotFoundError, match=r"\(from \$SKEWLESS_PROJECT\)"):
        find_project()


@pytest.mark.usefixtures("no_project_env")
def test_nearest_parent_holding_a_config_wins(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    outer = _project(tmp_path / "outer")
    inner = _project(outer / "inner")
    (inner / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(inner / "a" / "b")
    assert find_project() == inner.resolve()
    monkeypatch.chdir(outer)
    assert find_project() == outer.resolve()


@pytest.mark.usefixtures("no_project_env")
def test_no_project_anywhere_says_what_to_do(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProjectNotFoundError) as raised:
        find_project()
    message = str(raised.value)
    assert f"no {CONFIG_FILE} in {tmp_path.resolve()} or its parents" in message
    for hint in ("--project PATH", "$SKEWLESS_PROJECT", "skewless init PATH"):
        assert hint in message
