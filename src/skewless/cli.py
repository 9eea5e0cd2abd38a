"""The ``skewless`` command line. Every command finds its project the same way as the Python
API: ``--project PATH``, else ``$SKEWLESS_PROJECT``, else the current folder and its parents."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from skewless._time import to_utc, utc_now
from skewless.errors import EntityFrameError, SkewlessError, TimestampError

if TYPE_CHECKING:
    import pyarrow as pa

    from skewless._store import FeatureStore

__all__ = ["app", "main"]

app = typer.Typer(
    name="skewless",
    help="Production ML without training–serving skew: one feature definition everywhere.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
features_app = typer.Typer(help="Inspect the applied feature definitions.", no_args_is_help=True)
app.add_typer(features_app, name="features")

out = Console()
err = Console(stderr=True)

ProjectOption = Annotated[
    Path | None,
    typer.Option("--project", "-p", help="Project folder (default: $SKEWLESS_PROJECT, else the "
                 "current folder or its nearest parent with a skewless.yaml).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
FeaturesOption = Annotated[
    list[str] | None,
    typer.Option("--features", "-f", help="'view:feature' references (repeat, or separate "
                 "with commas); a view name alone means all its features.", show_default=False),
]
ServiceOption = Annotated[
    str | None, typer.Option("--service", "-s", help="A feature service instead of --features.",
                             show_default=False)]
ViewsOption = Annotated[
    list[str] | None,
    typer.Option("--views", help="Only these feature views (repeat, or separate with commas).",
                 show_default=False),
]

F = TypeVar("F", bound=Callable[..., Any])


def _user_errors(command: F) -> F:
    """Turn a SkewlessError into a one-line message and exit status 1, never a traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SkewlessError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(1) from None

    return run  # type: ignore[return-value]


def _store(project: Path | None) -> FeatureStore:
    from skewless._store import FeatureStore

    return FeatureStore(project)


def _time(text: str, what: str) -> datetime:
    if text.lower() == "now":
        return utc_now()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise TimestampError(f"{what} {text!r} is not an ISO 8601 time; write e.g. "
                             "2024-03-01T00:00:00Z, or 'now'") from None
    return to_utc(value, what)


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def _features(store: FeatureStore, features: list[str] | None, service: str | None) -> Any:
    if service:
        return store.catalogue.service(service)
    references = _split(features)
    if not references:
        raise SkewlessError("name the features with --features view:feature (or a view name), "
                            "or a feature service with --service NAME")
    catalogue = store.catalogue
    expanded: list[Any] = []
    for reference in references:
        view = catalogue.views.get(reference) or catalogue.on_demand.get(reference)
        expanded.append(view if view is not None and ":" not in reference else reference)
    return expanded


@app.command()
@_user_errors
def init(
    path: Annotated[Path, typer.Argument(help="Folder to create the project in.")] = Path("."),
    example_data: Annotated[bool, typer.Option(help="Also write generated example "
                                               "transactions to data/.")] = True,
) -> None:
    """Create a project: skewless.yaml, an example features.py and example data."""
    from skewless._scaffold import init_project

    for written in init_project(path, example_data=example_data):
        out.print(f"created {written}")
    out.print(f"next: cd {path} && skewless apply")


@app.command()
@_user_errors
def apply(project: ProjectOption = None) -> None:
    """Validate the definitions module against its sources and record it."""
    with _store(project) as store:
        changes = store.apply()
    table = Table("kind", "name", "result", "hash")
    for change in changes:
        style = {"unchanged": "dim", "created": "green", "changed": "yellow"}.get(change.action)
        table.add_row(change.kind, change.name, change.action, change.new_hash[:12], style=style)
    out.print(table)


@features_app.command("list")
@_user_errors
def features_list(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """List every applied feature with its view and dtype."""
    with _store(project) as store:
        catalogue = store.catalogue
        rows = [{"feature": f"{view.name}:{feature.name}", "dtype": feature.dtype,
                 "kind": view.kind, "online": getattr(view, "online", True)}
                for view in [*catalogue.views.values(), *catalogue.on_demand.values()]
                for feature in view.features]
        services = {s.name: list(s.features) for s in catalogue.services.values()}
    if as_json:
        print(json.dumps({"features": rows, "services": services}, indent=2))
        return
    table = Table("feature", "dtype", "view kind")
    for row in rows:
        table.add_row(row["feature"], row["dtype"], row["kind"])
    out.print(table)
    for name, references in services.items():
        out.print(f"service [bold]{name}[/]: {', '.join(references)}")


@features_app.command("describe")
@_user_errors
def features_describe(
    name: Annotated[str, typer.Argument(help="A feature view, on-demand view, service or "
                                        "entity name.")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one definition: its spec, content hash and how many versions were applied."""
    from skewless.errors import FeatureNotFoundError

    with _store(project) as store:
        catalogue = store.catalogue
        definition = (catalogue.views.get(name) or catalogue.on_demand.get(name)
                      or catalogue.services.get(name) or catalogue.entities.get(name))
        if definition is None:
            known = [*catalogue.views, *catalogue.on_demand, *catalogue.services,
                     *catalogue.entities]
            import difflib

            close = difflib.get_close_matches(name, known, n=3)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise FeatureNotFoundError(f"nothing named {name!r} was applied{hint}")
        history = store.metadata.definition_history(definition.kind, definition.name)
    document = {"kind": definition.kind, "hash": definition.definition_hash,
                "versions": len(history), "spec": definition.spec()}
    if as_json:
        print(json.dumps(document, indent=2, default=str))
        return
    out.print(f"[bold]{definition.kind}[/] {name}  hash {definition.definition_hash[:12]}  "
              f"({len(history)} version{'s' if len(history) != 1 else ''} applied)")
    out.print_json(json.dumps(document["spec"], default=str))


def _report(reports: list[Any]) -> None:
    if not reports:
        out.print("nothing to materialize: every view is already at that time")
    for report in reports:
        out.print(f"{report.view}: {report.keys} keys, {report.written} records written "
                  f"(as of {report.end.isoformat()})")


@app.command()
@_user_errors
def materialize(
    start: Annotated[str, typer.Argument(help="Start, ISO 8601 with a zone "
                                         "(e.g. 2024-01-01T00:00:00Z).")],
    end: Annotated[str, typer.Argument(help="End (ISO 8601 with a zone, or 'now').")],
    views: ViewsOption = None,
    project: ProjectOption = None,
) -> None:
    """Write the latest values as of END, for keys with rows seen from START, to the online
    store."""
    with _store(project) as store:
        _report(store.materialize(_time(start, "START"), _time(end, "END"),
                                  views=_split(views) or None))


@app.command("materialize-incremental")
@_user_errors
def materialize_incremental(
    end: Annotated[str, typer.Argument(help="End (ISO 8601 with a zone, or 'now').")],
    views: ViewsOption = None,
    project: ProjectOption = None,
) -> None:
    """Materialize each view from where the previous run stopped up to END."""
    with _store(project) as store:
        _report(store.materialize_incremental(_time(end, "END"), views=_split(views) or None))


def _read_frame(path: Path) -> pa.Table:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if not path.is_file():
        raise EntityFrameError(f"entity file {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pq.read_table(path)
        if suffix == ".csv":
            return pcsv.read_csv(path)
    except Exception as exc:  # pyarrow raises several unrelated types for unreadable files
        raise EntityFrameError(f"cannot read entity file {path}: {exc}") from exc
    raise EntityFrameError(f"entity file {path}: use a .parquet or .csv file")


@app.command()
@_user_errors
def historical(
    entity_file: Annotated[Path, typer.Argument(help="Parquet or CSV with the entity keys and "
                                                "an 'event_timestamp' column (with a zone).")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the result here "
                                                "(.parquet or .csv); print a preview when "
                                                "omitted.", show_default=False)] = None,
    features: FeaturesOption = None,
    service: ServiceOption = None,
    full_names: Annotated[bool, typer.Option(help="Name columns 'view__feature'.")] = False,
    as_of_created: Annotated[bool, typer.Option(help="Hide rows before their created time "
                                                "(--no-as-of-created: Feast's rule).")] = True,
    timestamp_column: Annotated[str, typer.Option(help="The entity file's time column.")] =
    "event_timestamp",
    project: ProjectOption = None,
) -> None:
    """Point-in-time-correct features for every row of ENTITY_FILE."""
    frame = _read_frame(entity_file)
    with _store(project) as store:
        result = store.get_historical_features(
            frame, _features(store, features, service), full_names=full_names,
            as_of_created=as_of_created, timestamp_column=timestamp_column).to_arrow()
    if output is None:
        preview = Table(*result.column_names)
        for row in result.slice(0, 20).to_pylist():
            preview.add_row(*(str(v) for v in row.values()))
        out.print(preview)
        out.print(f"{result.num_rows} rows")
        return
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if output.suffix.lower() == ".csv":
        pcsv.write_csv(result, output)
    elif output.suffix.lower() in (".parquet", ".pq"):
        pq.write_table(result, output)
    else:
        raise EntityFrameError(f"--output {output}: use a .parquet or .csv file name")
    err.print(f"wrote {result.num_rows} rows × {result.num_columns} columns to {output}")


def _parse_row(text: str) -> dict[str, Any]:
    import yaml

    row: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise EntityFrameError(f"--entity {text!r}: write key=value pairs separated by "
                                   "commas, e.g. user_id=42,amount=12.5")
        parsed = yaml.safe_load(value) if value.strip() else None
        row[key.strip()] = parsed if isinstance(parsed, int | float | bool | str) else value
    return row


@app.command()
@_user_errors
def online(
    entity: Annotated[list[str] | None, typer.Option("--entity", "-e", help="One entity row "
                                                     "as key=value[,key=value] (repeat for "
                                                     "more rows); request fields go here too.",
                                                     show_default=False)] = None,
    rows_file: Annotated[Path | None, typer.Option(help="A JSON file with a list of entity "
                                                   "rows (objects).", show_default=False)] = None,
    features: FeaturesOption = None,
    service: ServiceOption = None,
    now: Annotated[str | None, typer.Option(help="The read's time for ttl checks (ISO 8601); "
                                            "default: the current time.",
                                            show_default=False)] = None,
    project: ProjectOption = None,
) -> None:
    """Read the latest values from the online store and print them as JSON."""
    rows = [_parse_row(text) for text in entity or []]
    if rows_file is not None:
        try:
            loaded = json.loads(rows_file.read_text())
        except (OSError, ValueError) as exc:
            raise EntityFrameError(f"--rows-file {rows_file}: {exc}") from exc
        if not isinstance(loaded, list):
            raise EntityFrameError(f"--rows-file {rows_file} must hold a JSON list of objects")
        rows += loaded
    if not rows:
        raise EntityFrameError("give at least one entity row with --entity or --rows-file")
    with _store(project) as store:
        result = store.get_online_features(_features(store, features, service), rows,
                                           now=None if now is None else _time(now, "--now"))
    document = {"features": result.to_dict(), "statuses": result.statuses(),
                "event_timestamps": result.event_timestamps()}
    print(_compact_json(document))


def _compact_json(document: dict[str, dict[str, list[Any]]]) -> str:
    """JSON with one line per feature, so a few rows stay readable in a terminal."""

    def encode(value: Any) -> str:
        return json.dumps(value, default=lambda v: v.isoformat())

    sections = []
    for section, columns in document.items():
        lines = ",\n".join(f"    {encode(name)}: {encode(values)}"
                           for name, values in columns.items())
        sections.append(f"  {encode(section)}: {{\n{lines}\n  }}")
    return "{\n" + ",\n".join(sections) + "\n}"


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
