"""The ``skewless`` command line. Every command finds its project the same way as the Python
API: ``--project PATH``, else ``$SKEWLESS_PROJECT``, else the current folder and its parents."""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from skewless._time import to_utc, utc_now
from skewless.errors import ConfigError, EntityFrameError, SkewlessError, TimestampError

if TYPE_CHECKING:

    from skewless._project import Project
    from skewless._store import FeatureStore
    from skewless.monitoring._drift import FeatureVerdict
    from skewless.registry import ModelVersion
    from skewless.tracking import RunRecord

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
runs_app = typer.Typer(help="Inspect experiment runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
models_app = typer.Typer(help="Inspect and manage registered models.", no_args_is_help=True)
app.add_typer(models_app, name="models")
alias_app = typer.Typer(help="Set or delete model aliases.", no_args_is_help=True)
models_app.add_typer(alias_app, name="alias")
feedback_app = typer.Typer(help="Ground-truth labels for logged predictions.",
                           no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")

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
def apply(project: ProjectOption = None,
          force: Annotated[bool, typer.Option(
              "--force", help="Apply changes even to definitions that a model behind a live "
              "alias was trained on (those versions then refuse to load).")] = False) -> None:
    """Validate the definitions module against its sources and record it."""
    with _store(project) as store:
        changes = store.apply(force=force)
    table = Table("kind", "name", "result", "hash")
    for change in changes:
        style = {"unchanged": "dim", "created": "green", "changed": "yellow"}.get(change.action)
        table.add_row(change.kind, change.name, change.action, change.new_hash[:12], style=style)
    out.print(table)


@app.command()
@_user_errors
def train(
    config: Annotated[Path, typer.Argument(help="Training job YAML: labels, service, estimator, "
                                           "split, class_weights, model name (see `skewless "
                                           "train --help`).")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Build the training frame, split by time, fit, compare with the baseline and register.

    CONFIG names the label file, feature service, estimator class (scikit-learn, XGBoost or
    LightGBM) with its params, optional preprocessing steps, the split (valid/test/gap),
    class_weights, threshold, the model name and an optional alias to set.
    """
    from skewless.training._train import load_train_config
    from skewless.training._train import train as run_training

    job = load_train_config(config)
    with _store(project) as store:
        result = run_training(store, job, progress=not as_json)
    version = result.version
    if as_json:
        print(json.dumps({"model": version.name, "version": version.version,
                          "beats_baseline": version.beats_baseline,
                          "onnx": dataclasses.asdict(version.training.onnx)
                          if version.training and version.training.onnx else None,
                          "metrics": version.metrics, "seconds": result.seconds}, indent=2))
        return
    out.print(_metrics_table(version.metrics))
    training = version.training
    verdict = {True: "[green]beats its baseline[/]", False: "[red]does NOT beat its baseline "
               "(production needs --force)[/]", None: "not compared with a baseline"}
    out.print(f"registered [bold]{version.ref}[/] in {result.seconds:.1f} s — "
              f"{verdict[version.beats_baseline]}")
    if training and training.onnx:
        onnx = training.onnx
        out.print("ONNX export kept (max difference "
                  f"{onnx.max_abs_diff:.2g})" if onnx.kept else f"no ONNX export: {onnx.reason}")
    if version.aliases:
        out.print(f"aliases: {', '.join(version.aliases)}")


def _metrics_table(metrics: dict[str, float]) -> Table:
    """Model vs baseline, one row per metric, columns per split; row counts in the caption."""
    splits = [s for s in ("valid", "test") if any(k.startswith(f"{s}.") for k in metrics)]
    facts = ("rows", "threshold", "positive_rate")
    names = sorted({key.split(".")[-1] for key in metrics
                    if key.split(".")[0] in splits and key.split(".")[-1] not in facts})
    caption = ", ".join(
        f"{split}: {metrics[f'{split}.rows']:,.0f} rows"
        + (f" ({metrics[f'{split}.positive_rate']:.2%} positive)"
           if f"{split}.positive_rate" in metrics else "")
        for split in splits if f"{split}.rows" in metrics)
    table = Table("metric", *[f"{s} {who}" for s in splits for who in ("model", "baseline")],
                  caption=caption or None)
    for name in names:
        cells = []
        for split in splits:
            for key in (f"{split}.{name}", f"{split}.baseline.{name}"):
                cells.append(f"{metrics[key]:.4f}" if key in metrics else "—")
        table.add_row(name, *cells)
    return table


@app.command()
@_user_errors
def serve(
    model: Annotated[list[str], typer.Option(
        "--model", "-m", help="NAME@ALIAS (follows the alias: a promotion or rollback is picked "
        "up within seconds) or NAME/VERSION; repeat to serve several models.")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
    project: ProjectOption = None,
) -> None:
    """Serve predictions over HTTP: POST /v1/models/NAME/predict, /v1/feedback, /health,
    /ready, /metrics, /docs. Stops gracefully on Ctrl-C or SIGTERM."""
    from skewless.serving import serve as run_server

    err.print(f"serving {', '.join(model)} on http://{host}:{port} with {workers} worker(s); "
              "Ctrl-C stops", highlight=False)
    run_server(project, model, host=host, port=port, workers=workers, log_level=log_level)


@feedback_app.command("load")
@_user_errors
def feedback_load(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet with request_id and label (and "
                                         "optionally at/timestamp, when the label was known).")],
    project: ProjectOption = None,
) -> None:
    """Store labels for earlier predictions, joined to them by request id for monitoring."""
    from skewless.serving._feedback import FeedbackStore, load_feedback_file

    context = _project(project)
    store = FeedbackStore.from_config(context.config.prediction_log, context.path)
    if store is None:
        raise ConfigError("prediction_log.sink is 'off': there is no prediction log to join "
                          "labels to; set it to parquet or postgresql")
    records = load_feedback_file(file)
    try:
        stored = store.add(records)
    finally:
        store.close()
    out.print(f"stored {stored:,} label(s) from {file}")


def _drift_table(title: str, verdicts: Sequence[FeatureVerdict]) -> Table:
    """The features by severity, each with every reason in full (Rich wraps them)."""
    table = Table("feature", "kind", "flagged", "severity", "why", title=title)
    for verdict in sorted(verdicts, key=lambda v: -v.severity):
        table.add_row(verdict.name, verdict.kind, "yes" if verdict.flagged else "",
                      f"{verdict.severity:.2f}", "\n".join(verdict.reasons),
                      style="red" if verdict.flagged else None)
    return table


@app.command()
@_user_errors
def monitor(
    model: Annotated[str, typer.Option("--model", "-m", help="NAME@ALIAS or NAME/VERSION.")],
    window: Annotated[str, typer.Option(help="1h, 24h, 7d (the span before now) or "
                                        "START..END (ISO 8601 with a zone).")] = "24h",
    output: Annotated[Path | None, typer.Option(help="Folder for report.json and report.html "
                                                "(default: reports/MODEL-VERSION-TIME/).",
                                                show_default=False)] = None,
    fail_on: Annotated[str, typer.Option(help="Exit with status 2 on 'alert' (a rule of "
                                         "monitoring.alerts fired), 'drift' (any feature "
                                         "flagged) or 'never'.")] = "never",
    skew_sample: Annotated[int | None, typer.Option(help="Logged predictions to recompute "
                                                    "offline for the skew check (default: "
                                                    "monitoring.skew_sample).",
                                                    show_default=False)] = None,
    project: ProjectOption = None,
) -> None:
    """Drift, data quality, performance and training–serving skew of a model version over a
    window of its prediction log; writes a JSON and a self-contained HTML report and sends
    the alerts of skewless.yaml's monitoring section."""
    from skewless.monitoring._alerts import deliver_alerts, evaluate_alerts
    from skewless.monitoring._html import render_html
    from skewless.monitoring._report import monitor as make_report

    if fail_on not in ("alert", "drift", "never"):
        raise ConfigError(f"--fail-on {fail_on!r}: use alert, drift or never")
    context = _project(project)
    report = make_report(model, window, project=context.path, skew_sample=skew_sample)
    settings = context.config.monitoring
    rules = [rule for rule in settings.alerts if rule.window == window]
    alerts = evaluate_alerts(report, rules)
    report = dataclasses.replace(report, alerts=[dataclasses.asdict(a) for a in alerts])
    stamp = report.generated_at.strftime("%Y%m%dT%H%M%SZ")
    folder = output or context.path / "reports" / f"{report.model}-{report.version}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    document = report.to_json()
    (folder / "report.json").write_text(json.dumps(document, indent=2))
    (folder / "report.html").write_text(render_html(document))
    delivery = deliver_alerts(report, alerts, settings, context.path, folder / "report.json")
    out.print(_drift_table(
        f"{report.model}/{report.version}: {report.rows:,} predictions, "
        f"{report.window.start:%Y-%m-%d %H:%M} .. {report.window.end:%Y-%m-%d %H:%M} UTC",
        report.features))
    if report.prediction is not None:
        out.print(f"prediction drift: {'yes' if report.prediction.drifted else 'no'}"
                  + (f" ({'; '.join(report.prediction.reasons)})"
                     if report.prediction.reasons else ""))
    if report.performance is not None:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(report.performance.metrics.items()))
        out.print(f"performance on {report.performance.labelled_rows:,} labelled rows "
                  f"({report.performance.coverage:.1%} covered): {shown}")
    else:
        out.print(f"performance: {report.performance_reason}")
    if report.skew is not None:
        out.print(f"training-serving skew on {report.skew.sampled} logged predictions: "
                  f"largest mismatch rate {report.skew.max_mismatch_rate:.1%}")
    else:
        out.print(f"skew: {report.skew_reason}")
    for alert in alerts:
        out.print(f"[bold red]alert[/] {alert.message}")
    if delivery.deduplicated:
        out.print(f"not re-sent (fired within monitoring.dedupe_s): "
                  f"{', '.join(delivery.deduplicated)}")
    for failure in delivery.failed:
        err.print(f"[bold red]alert not delivered:[/] {failure}", highlight=False)
    out.print(f"report: {folder / 'report.html'}")
    if (fail_on == "alert" and alerts) or (fail_on == "drift" and report.flagged):
        raise typer.Exit(2)


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
    from skewless._historical import read_frame

    frame = read_frame(entity_file)
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


# -- runs ---------------------------------------------------------------------------------------


def _project(project: Path | None) -> Project:
    from skewless._project import get_project

    return get_project(project)


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def _print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)  # type: ignore[arg-type]
    return str(value)


@runs_app.command("list")
@_user_errors
def runs_list(
    experiment: Annotated[str | None, typer.Option("--experiment", "-e", help="Only this "
                                                   "experiment.", show_default=False)] = None,
    filter: Annotated[str | None, typer.Option("--filter", help="e.g. \"metrics.auc > 0.8 and "
                                               "params.max_depth = '6'\"",
                                               show_default=False)] = None,
    order_by: Annotated[list[str] | None, typer.Option("--order-by", help="e.g. 'metrics.auc "
                                                       "DESC' (repeatable); newest first by "
                                                       "default.", show_default=False)] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs.")] = 50,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """List runs, filtered and ordered like skewless.search_runs."""
    runs = _project(project).runs.search(experiment, filter, order_by, limit)
    if as_json:
        _print_json(runs)
        return
    metric_names = sorted({k for r in runs for k in r.metrics})[:6]
    table = Table("run", "experiment", "name", "status", "started", *metric_names)
    for run in runs:
        table.add_row(run.run_id[:12], run.experiment, run.name, run.status,
                      _when(run.start_time),
                      *(f"{run.metrics[m]:.4g}" if m in run.metrics else "" for m in metric_names))
    out.print(table)
    out.print(f"{len(runs)} run{'s' if len(runs) != 1 else ''}")


def _run(project: Project, run_id: str) -> RunRecord:
    """A run by id, or by a unique prefix of at least 6 characters (as `runs list` shows)."""
    from skewless.errors import TrackingError

    if len(run_id) >= 32:
        return project.runs.get(run_id)
    matches = [r for r in project.runs.search(None, f"run_id like '{run_id}%'", None, 2)]
    if len(run_id) < 6 or len(matches) != 1:
        raise TrackingError(f"{run_id!r} names {'no' if not matches else 'more than one'} run; "
                            "give at least 6 characters of an id from `skewless runs list`")
    return matches[0]


@runs_app.command("show")
@_user_errors
def runs_show(
    run_id: Annotated[str, typer.Argument(help="A run id (or a unique prefix).")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one run: status, code version, params, metrics, tags, artifacts."""
    run = _run(_project(project), run_id)
    if as_json:
        _print_json(run)
        return
    out.print(f"[bold]run {run.run_id}[/]  {run.name}  experiment {run.experiment}")
    out.print(f"status {run.status}, started {_when(run.start_time)}, ended "
              f"{_when(run.end_time)} by {run.created_by}")
    out.print(f"code {run.git_commit or 'not in git'}"
              f"{' (uncommitted changes)' if run.git_dirty else ''}")
    for title, values in (("params", run.params), ("metrics", run.metrics),
                          ("tags", run.tags), ("artifacts", run.artifacts)):
        if values:
            table = Table("name", "value", title=title, title_justify="left")
            for key, value in sorted(values.items()):
                table.add_row(key, str(value))
            out.print(table)
    if run.error:
        err.print(f"[red]{run.error}[/]", markup=True, highlight=False)


@runs_app.command("compare")
@_user_errors
def runs_compare(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids (or prefixes).")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Params and metrics of several runs side by side; differing rows are highlighted."""
    context = _project(project)
    runs = [_run(context, run_id) for run_id in run_ids]
    rows = {f"params.{k}": [r.params.get(k) for r in runs] for k in
            sorted({k for r in runs for k in r.params})}
    rows.update({f"metrics.{k}": [r.metrics.get(k) for r in runs] for k in
                 sorted({k for r in runs for k in r.metrics})})
    if as_json:
        _print_json({"runs": [r.run_id for r in runs], "rows": rows})
        return
    table = Table("", *(f"{r.name}\n{r.run_id[:12]}" for r in runs))
    for name, values in rows.items():
        differs = len({str(v) for v in values}) > 1
        table.add_row(name, *("" if v is None else str(v) for v in values),
                      style="bold yellow" if differs else None)
    out.print(table)


# -- models -------------------------------------------------------------------------------------


@models_app.command("list")
@_user_errors
def models_list(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Every registered model with its latest version and aliases."""
    registry = _project(project).registry
    models = [(name, latest, registry.store.aliases(name))
              for name, latest, _ in registry.store.models()]
    if as_json:
        _print_json([{"name": n, "latest_version": v, "aliases": a} for n, v, a in models])
        return
    table = Table("model", "latest version", "aliases")
    for name, latest, aliases in models:
        table.add_row(name, str(latest), ", ".join(f"{a} → {v}" for a, v in sorted(
            aliases.items())))
    out.print(table)


def _version_row(version: ModelVersion) -> list[str]:
    return [str(version.version), version.status, ", ".join(version.aliases), version.flavor,
            _when(version.created_at), version.created_by, (version.run_id or "")[:12],
            ", ".join(f"{k}={v:.4g}" for k, v in sorted(version.metrics.items())[:3])]


@models_app.command("versions")
@_user_errors
def models_versions(
    name: Annotated[str, typer.Argument(help="Model name.")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """All versions of a model, oldest first."""
    versions = _project(project).registry.store.versions(name)
    if as_json:
        _print_json(versions)
        return
    table = Table("version", "status", "aliases", "flavor", "created", "by", "run", "metrics")
    for version in versions:
        table.add_row(*_version_row(version))
    out.print(table)


@models_app.command("show")
@_user_errors
def models_show(
    ref: Annotated[str, typer.Argument(help="NAME@ALIAS, NAME/VERSION or NAME@latest.")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Everything recorded about one model version."""
    context = _project(project)
    version = context.registry.get_model_version(ref)
    if as_json:
        _print_json(version)
        return
    out.print(f"[bold]{version.ref}[/]  {version.status}  aliases: "
              f"{', '.join(version.aliases) or 'none'}")
    out.print(f"flavor {version.flavor}, artifact {context.artifacts.uri(version.artifact_path)}")
    for file in version.files:
        out.print(f"  {file.path.removeprefix(version.artifact_path + '/')}  sha256 "
                  f"{file.sha256}  {file.size} bytes")
    out.print(f"created {_when(version.created_at)} by {version.created_by}; run "
              f"{version.run_id or 'none'}; code {version.git_commit or 'not in git'}"
              f"{' (uncommitted changes)' if version.git_dirty else ''}")
    out.print(f"python {version.python_version}; "
              + ", ".join(f"{k} {v}" for k, v in sorted(version.packages.items())))
    if version.signature:
        out.print("inputs: " + ", ".join(f"{c.name}:{c.dtype}" for c in version.signature.inputs))
    if version.params:
        out.print(f"params {version.params}")
    training = version.training
    if training is None:
        if version.metrics:
            out.print(f"metrics {version.metrics}")
        return
    out.print(f"feature service {training.service}; features: "
              + ", ".join(f"{f.name} ({f.ref})" for f in training.features))
    out.print(f"label {training.label} ({training.task}"
              + (f", classes {training.classes}" if training.classes else "")
              + f"); trained on {training.rows:,} rows from {_when(training.time_start)} to "
              f"{_when(training.time_end)}; data fingerprint {version.training_fingerprint}")
    if training.baseline is not None:
        b = training.baseline
        out.print(f"validation {b.metric}: model {b.model:.6g}, baseline {b.baseline:.6g} — "
                  + ("beats its baseline" if b.beats else "[red]does NOT beat its baseline[/]"))
    if training.onnx is not None:
        onnx = training.onnx
        out.print(f"ONNX export kept ({onnx.input_dtype} input, max difference "
                  f"{onnx.max_abs_diff:.2g} over {onnx.rows_checked:,} rows)" if onnx.kept
                  else f"no ONNX export: {onnx.reason}")
    out.print(_metrics_table(version.metrics))


@alias_app.command("set")
@_user_errors
def alias_set(
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias: Annotated[str, typer.Argument(help="Alias, e.g. production, staging, archived.")],
    version: Annotated[int, typer.Argument(help="Version number.")],
    project: ProjectOption = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Set production even on a version that lost to its baseline.")] = False,
) -> None:
    """Point NAME@ALIAS at VERSION (recorded in the alias history)."""
    before = _project(project).registry.set_alias(name, alias, version, force=force)
    moved = f"from {before} " if before is not None else ""
    out.print(f"{name}@{alias}: {moved}→ {version}")


@alias_app.command("delete")
@_user_errors
def alias_delete(
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias: Annotated[str, typer.Argument(help="Alias to remove.")],
    project: ProjectOption = None,
) -> None:
    """Remove an alias (recorded in the alias history)."""
    before = _project(project).registry.delete_alias(name, alias)
    out.print(f"{name}@{alias} removed (was {before})")


@models_app.command("rollback")
@_user_errors
def models_rollback(
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias: Annotated[str, typer.Option(help="The alias to move back.")] = "production",
    project: ProjectOption = None,
) -> None:
    """Move an alias back to the version it pointed at before its last move."""
    before, after = _project(project).registry.rollback(name, alias)
    out.print(f"{name}@{alias}: rolled back from {before} to {after}")


@models_app.command("lineage")
@_user_errors
def models_lineage(
    ref: Annotated[str, typer.Argument(help="NAME@ALIAS, NAME/VERSION or NAME@latest.")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Where a version comes from: run → params/metrics → features and their sources."""
    from rich.tree import Tree

    lineage = _project(project).registry.lineage(ref)
    version = lineage.version
    if as_json:
        _print_json(lineage)
        return
    tree = Tree(f"[bold]{version.ref}[/] ({version.flavor}, code "
                f"{(version.git_commit or 'not in git')[:12]})")
    run = lineage.run
    branch = tree.add(f"run {run.run_id} ({run.name}, {run.status})" if run else "no run")
    if run:
        for key, value in sorted(run.params.items()):
            branch.add(f"param {key} = {value}")
        for key, metric in sorted(run.metrics.items()):
            branch.add(f"metric {key} = {metric:.6g}")
    features = tree.add(f"feature service {version.feature_service or 'none'}"
                        + (f", training data {version.training_fingerprint[:12]}"
                           if version.training_fingerprint else ""))
    for definition in lineage.definitions:
        node = features.add(f"{definition['kind']} {definition['name']} "
                            f"{definition['hash'][:12]}")
        spec = definition["spec"]
        if spec is None:
            node.add("[red]definition not found in this project's history[/]")
        elif "source" in spec:
            node.add(f"source {spec['source']['path']} (time {spec['source']['timestamp']})")
    out.print(tree)


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
