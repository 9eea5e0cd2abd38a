"""Creating a new project folder (``skewless init``)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from skewless.config import CONFIG_FILE
from skewless.errors import ConfigError

__all__ = ["init_project"]

_TEMPLATES = resources.files("skewless.features") / "_templates"


def init_project(path: Path, *, example_data: bool = True) -> list[Path]:
    """Create ``skewless.yaml``, an example ``features.py`` and (optionally) example data.

    Refuses to overwrite an existing ``skewless.yaml``. Returns the files written.
    """
    path = path.expanduser().resolve()
    if (path / CONFIG_FILE).exists():
        raise ConfigError(f"{path / CONFIG_FILE} already exists; skewless init never overwrites "
                          "a project (delete it first to start over)")
    name = re.sub(r"[^A-Za-z0-9_\-]+", "_", path.name).strip("_") or "project"
    path.mkdir(parents=True, exist_ok=True)
    written = []
    config = (_TEMPLATES / "skewless.yaml").read_text().replace("{project}", name)
    (path / CONFIG_FILE).write_text(config)
    written.append(path / CONFIG_FILE)
    definitions = path / "features.py"
    if not definitions.exists():
        definitions.write_text((_TEMPLATES / "features.py").read_text())
        written.append(definitions)
    if example_data:
        from skewless._example_data import generate_transactions

        data = path / "data" / "transactions.parquet"
        generate_transactions(data)
        written.append(data)
    (path / ".gitignore").write_text("data/*.sqlite*\n.skewless/\n")
    return written
