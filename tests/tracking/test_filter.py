"""The search_runs filter language: parsing, errors that point at the bad token, and searches
on SQLite and PostgreSQL (filters, attributes, times, LIKE, ordering, limits)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

import skewless as sk
from skewless._project import Project
from skewless.errors import FilterError
from skewless.tracking import RunRecord
from skewless.tracking._filter import (
    Condition,
    FieldRef,
    OrderItem,
    parse_filter,
    parse_order_by,
)

END = None  # the caret is just past the end of the text


def _expect_caret(error: FilterError, text: str, bad: str | None) -> None:
    """The error quotes ``text`` and puts carets under exactly ``bad`` (its last occurrence),
    or one caret just past the end when ``bad`` is END."""
    _, quoted, marks = str(error).split("\n")
    assert quoted == f"  {text}"
    column, width = len(marks) - len(marks.lstrip()) - 2, len(marks.strip())
    assert marks.strip() == "^" * width
    expected = (len(text), 1) if bad is None else (text.rindex(bad), len(bad))
    assert (column, width) == expected, f"caret under {text[column:column + width]!r}"


# -- parsing ----------------------------------------------------------------------------------

def test_parse_conditions() -> None:
    assert parse_filter("metrics.auc > 0.8 and params.max_depth = '6'") == [
        Condition(FieldRef("metrics", "auc"), ">", 0.8),
        Condition(FieldRef("params", "max_depth"), "=", "6"),
    ]
    assert parse_filter("metrics.`val auc` >= 1e-3 AND tags.note LIKE 'it\\'s%'") == [
        Condition(FieldRef("metrics", "val auc"), ">=", 0.001),
        Condition(FieldRef("tags", "note"), "like", "it's%"),
    ]
    assert parse_filter("metrics.delta<-0.5 and status!='failed'") == [
        Condition(FieldRef("metrics", "delta"), "<", -0.5),
        Condition(FieldRef("attributes", "status"), "!=", "failed"),
    ]
    assert parse_filter('attributes.name ilike "Base%"') == [
        Condition(FieldRef("attributes", "name"), "ilike", "Base%")]
    assert parse_filter(None) == parse_filter("   ") == []


def test_times_are_parsed_to_utc() -> None:
    [condition] = parse_filter("start_time >= '2024-03-01T02:00:00+02:00'")
    assert condition.value == datetime(2024, 3, 1, tzinfo=UTC)
    assert condition.value.tzinfo == UTC  # type: ignore[union-attr]
    [condition] = parse_filter("end_time < '2024-03-01T00:00:00.5Z'")
    assert condition.value == datetime(2024, 3, 1, 0, 0, 0, 500_000, tzinfo=UTC)


def test_parse_order_by() -> None:
    assert parse_order_by(["metrics.auc DESC", "params.max_depth", "name asc"]) == [
        OrderItem(FieldRef("metrics", "auc"), True),
        OrderItem(FieldRef("params", "max_depth"), False),
        OrderItem(FieldRef("attributes", "name"), False),
    ]
    assert parse_order_by(None) == [OrderItem(FieldRef("attributes", "start_time"), True)]


@pytest.mark.parametrize(("text", "bad", "message"), [
    ("metrics.auc >", END, "expected a value after metrics.auc >"),
    ("metrics.auc > 0.8 and params.max_depth =", END, "expected a value"),
    ("metrics.auc > 0.8 and", END, "expected a field such as metrics.auc"),
    ("metrics.auc", END, "expected an operator after metrics.auc"),
    ("metrics.auc > 0.8 or params.max_depth = '6'", "or", "only 'and' joins conditions"),
    ("metrics.auc > 0.8 params.max_depth = '6'", "params.max_depth", "expected 'and' or the end"),
    ("metrics.auc 0.8", "0.8", "expected an operator after metrics.auc: =, !=, >"),
    ("metrics.auc >> 0.8", ">", "expected a value after metrics.auc >"),
    ("params.max_depth = 6", "6", "quote the value, e.g. params.max_depth = '6'"),
    ("metrics.auc > 'high'", "'high'", "metrics compare with numbers"),
    ("metrics.auc like '0.9%'", "'0.9%'", "metrics compare with numbers"),
    ("foo = 'a'", "foo", "'foo' is not a field: write metrics.NAME"),
    ("metric.auc > 0.8", "metric.auc", "unknown field kind 'metric'"),
    ("attributes.colour = 'red'", "attributes.colour", "unknown attribute 'colour'"),
    ("metrics.auc ~ 0.8", "~", "unexpected character '~'"),
    ("params.kind = 'unterminated", "'", "unexpected character \"'\""),
    ("and metrics.auc > 0.8", "and", "expected a field"),
    ("0.8 < metrics.auc", "0.8", "expected a field"),
    ("metrics.auc > 0.8 and and", "and", "expected a field"),
    ("start_time > 'yesterday'", "'yesterday'", "'yesterday' is not an ISO 8601 time"),
    ("start_time > '2024-03-01T00:00:00'", "'2024-03-01T00:00:00'", "has no time zone"),
    ("end_time like '2024%'", "'2024%'", "attributes.end_time is a time"),
    ("status = 'ok' and start_time > 5", "5", "quote the value"),
])
def test_a_malformed_filter_points_at_the_bad_token(text: str, bad: str | None,
                                                    message: str) -> None:
    with pytest.raises(FilterError, match=message) as raised:
        parse_filter(text)
    _expect_caret(raised.value, text, bad)


@pytest.mark.parametrize(("item", "bad", "message"), [
    ("metrics.auc DOWN", "DOWN", "expected ASC or DESC"),
    ("metrics.auc desc nulls", "nulls", "expected ASC or DESC"),
    ("", END, "expected a field to order by"),
    ("'auc' desc", "'auc'", "expected a field to order by"),
    ("metrics", "metrics", "'metrics' is not a field"),
    ("params.depth > 3", ">", "expected ASC or DESC"),
])
def test_a_malformed_order_by_points_at_the_bad_token(item: str, bad: str | None,
                                                      message: str) -> None:
    with pytest.raises(FilterError, match=message) as raised:
        parse_order_by(["metrics.auc", item])
    _expect_caret(raised.value, item, bad)


# -- searching --------------------------------------------------------------------------------

def _run(project: Project, name: str, *, params: dict[str, object] | None = None,
         metrics: dict[str, float] | None = None, tags: dict[str, str] | None = None,
         experiment: str = "fraud", fail: bool = False) -> RunRecord:
    run = sk.start_run(experiment, name, tags, project=project.path)
    run.log_params(params or {})
    for key, value in (metrics or {}).items():
        run.log_metric(key, value)
    run.end("failed" if fail else "finished", "RuntimeError: stopped" if fail else None)
    return sk.get_run(run.run_id, project=project.path)


@pytest.fixture
def runs(project: Project) -> dict[str, RunRecord]:
    made = {}
    made["baseline"] = _run(project, "baseline", params={"max_depth": 6},
                            metrics={"auc": 0.85}, tags={"team": "risk"})
    made["deep"] = _run(project, "deep", params={"max_depth": 10}, metrics={"auc": 0.91})
    made["shallow"] = _run(project, "Shallow-try", params={"max_depth": 6},
                           metrics={"auc": 0.70}, fail=True)
    made["other"] = _run(project, "elsewhere", metrics={"auc": 0.99}, experiment="churn")
    made["no_auc"] = _run(project, "no-auc", params={"max_depth": 6}, metrics={"loss": 0.2})
    return made


def _names(project: Project, filter: str | None = None, order_by: list[str] | None = None,
           limit: int = 1_000, experiment: str | None = "fraud") -> list[str]:
    return [r.name for r in sk.search_runs(experiment, filter, order_by, limit,
                                           project=project.path)]


def test_search_by_metrics_and_params(project: Project, runs: dict[str, RunRecord]) -> None:
    assert _names(project, "metrics.auc > 0.8 and params.max_depth = '6'") == ["baseline"]
    assert sorted(_names(project, "metrics.auc > 0.8")) == ["baseline", "deep"]
    assert _names(project, "metrics.auc < 0.8") == ["Shallow-try"]  # runs without auc never match
    assert _names(project, "metrics.auc = 0.85") == ["baseline"]
    assert sorted(_names(project, "metrics.auc != 0.85")) == ["Shallow-try", "deep"]
    assert sorted(_names(project, "params.max_depth != '6'")) == ["deep"]
    assert _names(project, "tags.team = 'risk'") == ["baseline"]
    assert sorted(_names(project, "metrics.auc > 0.8", experiment=None)) == [
        "baseline", "deep", "elsewhere"]
    assert _names(project, "metrics.auc > 0.8", experiment="nothing-here") == []
    # conditions are reordered for the database (equality first): the answer is the same
    assert _names(project, "params.max_depth = '6' and metrics.auc > 0.8") == ["baseline"]
    assert _names(project, "metrics.auc != 0.85 and params.max_depth = '6' and "
                  "attributes.name like '%try'") == ["Shallow-try"]


def test_search_uses_the_latest_value_of_a_metric(project: Project) -> None:
    with sk.start_run("fraud", "overfit", project=project.path) as run:
        run.log_metric("auc", 0.95, step=0)
        run.log_metric("auc", 0.60, step=1)
    assert _names(project, "metrics.auc > 0.9") == []
    assert _names(project, "metrics.auc = 0.6") == ["overfit"]


def test_order_and_limit(project: Project, runs: dict[str, RunRecord]) -> None:
    # runs without the metric come last either way
    assert _names(project, order_by=["metrics.auc DESC"]) == ["deep", "baseline",
                                                              "Shallow-try", "no-auc"]
    assert _names(project, order_by=["metrics.auc ASC"]) == ["Shallow-try", "baseline", "deep",
                                                             "no-auc"]
    assert _names(project, order_by=["metrics.auc DESC"], limit=2) == ["deep", "baseline"]
    assert _names(project, "params.max_depth = '6'", ["metrics.auc desc"], limit=1) == [
        "baseline"]
    # newest first by default
    assert _names(project) == ["no-auc", "Shallow-try", "deep", "baseline"]
    assert _names(project, order_by=["params.max_depth", "metrics.auc DESC"]) == [
        "deep", "baseline", "Shallow-try", "no-auc"]  # params are text: '10' < '6'
    assert _names(project, order_by=["start_time"], limit=3, experiment=None) == [
        "baseline", "deep", "Shallow-try"]


def test_attributes(project: Project, runs: dict[str, RunRecord]) -> None:
    assert _names(project, "status = 'failed'") == ["Shallow-try"]
    assert sorted(_names(project, "attributes.status = 'finished'")) == ["baseline", "deep",
                                                                         "no-auc"]
    deep = runs["deep"]
    assert _names(project, f"run_id = '{deep.run_id}'") == ["deep"]
    assert _names(project, f"created_by = '{deep.created_by}'", ["start_time"]) == [
        "baseline", "deep", "Shallow-try", "no-auc"]
    assert _names(project, "created_by = 'somebody else'") == []


def test_times(project: Project, runs: dict[str, RunRecord]) -> None:
    deep = runs["deep"].start_time
    iso = deep.isoformat()
    assert _names(project, f"start_time > '{iso}'", ["start_time"]) == ["Shallow-try", "no-auc"]
    assert _names(project, f"start_time >= '{iso}'", ["start_time"]) == [
        "deep", "Shallow-try", "no-auc"]
    assert _names(project, f"start_time = '{iso}'") == ["deep"]
    # the same instant written in another zone
    shifted = deep.astimezone(timezone(timedelta(hours=-5))).isoformat()
    assert _names(project, f"start_time < '{shifted}'") == ["baseline"]
    assert _names(project, f"end_time <= '{runs['baseline'].end_time.isoformat()}'") == [
        "baseline"]
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert _names(project, f"start_time > '{later}'") == []


def test_like_is_case_sensitive_and_ilike_is_not(project: Project,
                                                 runs: dict[str, RunRecord]) -> None:
    assert _names(project, "name like 'Shallow%'") == ["Shallow-try"]
    assert _names(project, "name like 'shallow%'") == []
    assert _names(project, "name ilike 'SHALLOW%'") == ["Shallow-try"]
    assert sorted(_names(project, "name like '%e%'")) == ["baseline", "deep"]
    assert _names(project, "name like 'no-au_'") == ["no-auc"]
    assert sorted(_names(project, "params.max_depth like '1%'")) == ["deep"]
    assert _names(project, "tags.team ilike 'R%'") == ["baseline"]


def test_search_errors_name_the_bad_token(project: Project, runs: dict[str, RunRecord]) -> None:
    text = "metrics.auc > 0.8 and params.max_depth = 6"
    with pytest.raises(FilterError, match="quote the value") as raised:
        sk.search_runs("fraud", text, project=project.path)
    _expect_caret(raised.value, text, "6")
    with pytest.raises(FilterError, match="expected ASC or DESC") as raised:
        sk.search_runs("fraud", order_by=["metrics.auc downwards"], project=project.path)
    _expect_caret(raised.value, "metrics.auc downwards", "downwards")
