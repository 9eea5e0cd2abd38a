"""Conformance checks of metadata backends: what every ``MetadataBackend`` must do.

Each check takes a factory that returns a backend for a fresh, empty project, asserts one
behaviour, closes what it opened, and raises ``AssertionError`` saying what differed. Every call
of the factory must give a *new project in the same database*: that is how
``check_projects_are_isolated`` tests that projects sharing a database do not see each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

from skewless.errors import MetadataError, SkewlessError
from skewless.metadata._backend import DefinitionChange, DefinitionRecord, MetadataBackend
from skewless.testing._runner import expect, expect_equal, run_checks

__all__ = ["METADATA_BACKEND_CHECKS", "MetadataBackendFactory", "check_metadata_backend"]

MetadataBackendFactory = Callable[[], MetadataBackend]
"""Makes a backend for a new, empty project on every call, all in one database."""

_VIEW = "feature_view"
_T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@contextmanager
def _fresh(factory: MetadataBackendFactory) -> Iterator[MetadataBackend]:
    backend = factory()
    try:
        yield backend
    finally:
        backend.close()


def _spec(name: str, version: int, description: str = "") -> dict[str, Any]:
    """A definition spec; ``version`` changes the hashed part, ``description`` does not."""
    return {"name": name, "fields": [{"name": f"f{version}", "dtype": "float64"}],
            "ttl_seconds": 86_400 * version, "description": description}


def _hash(name: str, version: int) -> str:
    return f"{name}-{version:04d}".ljust(64, "0")


def _definition(name: str, version: int, description: str = "",
                kind: str = _VIEW) -> tuple[str, str, str, dict[str, Any]]:
    return kind, name, _hash(name, version), _spec(name, version, description)


def _apply(backend: MetadataBackend, name: str, version: int, actor: str = "alice",
           description: str = "") -> DefinitionChange:
    """Apply one definition; return what the backend says it did."""
    changes = backend.apply_definitions([_definition(name, version, description)], actor)
    expect_equal(len(changes), 1, "number of changes returned for one definition")
    return changes[0]


def _current(backend: MetadataBackend) -> dict[tuple[str, str], str]:
    return {(r.kind, r.name): r.definition_hash for r in backend.current_definitions()}


def _history(backend: MetadataBackend, name: str, kind: str = _VIEW) -> list[str]:
    return [r.definition_hash for r in backend.definition_history(kind, name)]


def _snapshot(backend: MetadataBackend, names: list[str]) -> tuple[Any, ...]:
    """Everything a failed write must leave as it was."""
    return (backend.current_definitions(), [backend.definition_history(_VIEW, n) for n in names],
            backend.audit_log(1_000))


def _expect_utc(value: datetime | None, what: str) -> None:
    expect(value is not None and value.utcoffset() == timedelta(0),
           f"{what} is not an aware UTC datetime: {value!r}")


def _expect_record(record: DefinitionRecord, name: str, version: int, actor: str,
                   description: str = "") -> None:
    what = f"record of {name} version {version}"
    expect_equal((record.kind, record.name, record.definition_hash),
                 (_VIEW, name, _hash(name, version)), f"{what}: kind, name and hash")
    expect_equal(record.spec, _spec(name, version, description), f"{what}: spec")
    expect_equal(record.created_by, actor, f"{what}: created_by")
    _expect_utc(record.created_at, f"{what}: created_at")
    expect(abs(datetime.now(UTC) - record.created_at) < timedelta(hours=1),
           f"{what}: created_at {record.created_at} is not the time it was applied")


def check_apply_creates_new_definitions(factory: MetadataBackendFactory) -> None:
    """New definitions are ``created``, current, and recorded with spec, actor and time."""
    with _fresh(factory) as backend:
        entity = ("entity", "user", _hash("user", 1), {"name": "user", "join_keys": ["user_id"]})
        changes = backend.apply_definitions([_definition("a", 1), entity], "alice")
        expect_equal(changes, [DefinitionChange(_VIEW, "a", "created", None, _hash("a", 1)),
                               DefinitionChange("entity", "user", "created", None, entity[2])],
                     "changes of a first apply")
        expect_equal(_current(backend), {(_VIEW, "a"): _hash("a", 1), ("entity", "user"):
                                         entity[2]}, "current definitions")
        _expect_record(backend.definition_history(_VIEW, "a")[0], "a", 1, "alice")


def check_reapplying_is_unchanged(factory: MetadataBackendFactory) -> None:
    """Applying the same definition again is ``unchanged``: no new version, no audit entry."""
    with _fresh(factory) as backend:
        _apply(backend, "a", 1)
        audit = backend.audit_log()
        expect_equal(_apply(backend, "a", 1, actor="bob"),
                     DefinitionChange(_VIEW, "a", "unchanged", _hash("a", 1), _hash("a", 1)),
                     "change of a re-apply")
        expect_equal(_history(backend, "a"), [_hash("a", 1)], "history after a re-apply")
        expect_equal(backend.audit_log(), audit, "audit log after a re-apply")
        _expect_record(backend.definition_history(_VIEW, "a")[0], "a", 1, "alice")


def check_unhashed_change_is_described(factory: MetadataBackendFactory) -> None:
    """The same hash with another description is ``described``: the spec is updated in place."""
    with _fresh(factory) as backend:
        _apply(backend, "a", 1, description="before")
        expect_equal(_apply(backend, "a", 1, actor="bob", description="after"),
                     DefinitionChange(_VIEW, "a", "described", _hash("a", 1), _hash("a", 1)),
                     "change of a new description")
        expect_equal([r.spec for r in backend.current_definitions()],
                     [_spec("a", 1, "after")], "current spec after a new description")
        expect_equal(_history(backend, "a"), [_hash("a", 1)], "history after a new description")
        latest = backend.audit_log(1)[0]
        expect_equal((latest.actor, latest.action, latest.target),
                     ("bob", "definition.described", f"{_VIEW}:a"), "audit of a description")


def check_new_hash_is_changed(factory: MetadataBackendFactory) -> None:
    """A new hash is ``changed`` from the previous one and becomes the current version."""
    with _fresh(factory) as backend:
        _apply(backend, "a", 1)
        expect_equal(_apply(backend, "a", 2, actor="bob"),
                     DefinitionChange(_VIEW, "a", "changed", _hash("a", 1), _hash("a", 2)),
                     "change of a new hash")
        expect_equal(_current(backend), {(_VIEW, "a"): _hash("a", 2)}, "current after a change")


def check_history_keeps_every_version_in_order(factory: MetadataBackendFactory) -> None:
    """Every version stays in the history, oldest first, with its own spec and author."""
    with _fresh(factory) as backend:
        actors = ["alice", "bob", "carol"]
        for version, actor in enumerate(actors, start=1):
            _apply(backend, "a", version, actor=actor)
        history = backend.definition_history(_VIEW, "a")
        expect_equal(len(history), 3, "number of versions in the history")
        for version, (record, actor) in enumerate(zip(history, actors, strict=True), start=1):
            _expect_record(record, "a", version, actor)
        expect(history[0].created_at <= history[1].created_at <= history[2].created_at,
               "history is not oldest first")
        expect_equal(backend.definition_history(_VIEW, "never_applied"), [],
                     "history of a name never applied")


def check_current_definitions_hold_only_the_latest(factory: MetadataBackendFactory) -> None:
    """``current_definitions`` has exactly one record per (kind, name): the latest applied."""
    with _fresh(factory) as backend:
        for name, version in [("a", 1), ("a", 2), ("b", 1), ("a", 3), ("b", 2), ("c", 1)]:
            _apply(backend, name, version)
        records = backend.current_definitions()
        expect_equal(sorted((r.name, r.definition_hash, r.spec["ttl_seconds"]) for r in records),
                     [("a", _hash("a", 3), 3 * 86_400), ("b", _hash("b", 2), 2 * 86_400),
                      ("c", _hash("c", 1), 86_400)], "current definitions (name, hash, spec)")


def check_returning_to_an_old_hash(factory: MetadataBackendFactory) -> None:
    """Re-applying an older version makes it current again without duplicating it."""
    with _fresh(factory) as backend:
        _apply(backend, "a", 1)
        _apply(backend, "a", 2)
        expect_equal(_apply(backend, "a", 1, actor="bob"),
                     DefinitionChange(_VIEW, "a", "changed", _hash("a", 2), _hash("a", 1)),
                     "change back to the first hash")
        expect_equal([(r.definition_hash, r.spec) for r in backend.current_definitions()],
                     [(_hash("a", 1), _spec("a", 1))], "current after going back")
        expect_equal(_history(backend, "a"), [_hash("a", 1), _hash("a", 2)],
                     "history after going back (no duplicate version)")


def check_kinds_are_separate(factory: MetadataBackendFactory) -> None:
    """The same name under two kinds is two definitions."""
    with _fresh(factory) as backend:
        backend.apply_definitions([_definition("x", 1), _definition("x", 2, kind="entity")],
                                  "alice")
        expect_equal(_current(backend), {(_VIEW, "x"): _hash("x", 1),
                                         ("entity", "x"): _hash("x", 2)},
                     "current definitions of one name under two kinds")
        expect_equal(_history(backend, "x", kind="entity"), [_hash("x", 2)], "entity history")


def check_repeated_name_in_one_batch(factory: MetadataBackendFactory) -> None:
    """Two versions of one definition in one batch: the second is a change from the first."""
    with _fresh(factory) as backend:
        changes = backend.apply_definitions([_definition("a", 1), _definition("a", 2)], "alice")
        expect_equal(changes, [DefinitionChange(_VIEW, "a", "created", None, _hash("a", 1)),
                               DefinitionChange(_VIEW, "a", "changed", _hash("a", 1),
                                                _hash("a", 2))], "changes of one batch")
        expect_equal(_current(backend), {(_VIEW, "a"): _hash("a", 2)}, "current after the batch")
        expect_equal(_history(backend, "a"), [_hash("a", 1), _hash("a", 2)], "history")


def check_specs_round_trip_as_json(factory: MetadataBackendFactory) -> None:
    """Specs come back as JSON gives them (tuples as lists); the same spec stays unchanged."""
    spec: dict[str, Any] = {"name": "a", "nested": {"list": [1, 2.5, None, True, "ü 🙂"],
                                                    "empty": {}}, "pair": ("x", 1), "big": 2**53}
    with _fresh(factory) as backend:
        backend.apply_definitions([(_VIEW, "a", _hash("a", 1), spec)], "alice")
        expect_equal(backend.current_definitions()[0].spec, {**spec, "pair": ["x", 1]},
                     "spec read back")
        again = backend.apply_definitions([(_VIEW, "a", _hash("a", 1), spec)], "alice")[0]
        expect_equal(again.action, "unchanged", "action of re-applying a spec holding a tuple")


def check_unstorable_spec_fails_the_whole_batch(factory: MetadataBackendFactory) -> None:
    """A spec JSON cannot hold fails the apply with MetadataError, and nothing of it is kept."""
    with _fresh(factory) as backend:
        _apply(backend, "a", 1)
        before = _snapshot(backend, ["a", "b", "c"])
        batch = [_definition("b", 1), _definition("a", 2),
                 (_VIEW, "c", _hash("c", 1), {"name": "c", "tags": {"a", "set"}})]
        try:
            backend.apply_definitions(batch, "bob")
        except MetadataError:
            pass
        else:
            raise AssertionError("applying a spec holding a set did not raise MetadataError")
        expect(_snapshot(backend, ["a", "b", "c"]) == before,
               "a failed apply left part of its batch in the database")


def check_high_water_mark_is_per_view(factory: MetadataBackendFactory) -> None:
    """Marks start empty and belong to one view each."""
    with _fresh(factory) as backend:
        expect_equal(backend.high_water_mark("v@1"), None, "mark of a new view")
        backend.set_high_water_mark("v@1", _T0, "alice")
        backend.set_high_water_mark("w@1", _T0 + timedelta(days=1), "alice")
        expect_equal([backend.high_water_mark(v) for v in ("v@1", "w@1", "v@2")],
                     [_T0, _T0 + timedelta(days=1), None], "marks of three views")


def check_high_water_mark_never_moves_back(factory: MetadataBackendFactory) -> None:
    """An earlier or equal end changes nothing and is not audited; a later one moves the mark."""
    with _fresh(factory) as backend:
        for end in (_T0, _T0 - timedelta(hours=1), _T0, _T0 + timedelta(microseconds=1)):
            backend.set_high_water_mark("v@1", end, "alice")
        expect_equal(backend.high_water_mark("v@1"), _T0 + timedelta(microseconds=1),
                     "mark after moving it back and forth")
        moves = [e for e in backend.audit_log() if e.action == "materialize"]
        expect_equal(len(moves), 2, "audited moves of the mark (only the forward ones)")


def check_high_water_mark_keeps_the_instant(factory: MetadataBackendFactory) -> None:
    """A mark given in another zone comes back as the same instant, in UTC, to the µs."""
    with _fresh(factory) as backend:
        end = datetime(2024, 3, 1, 14, 30, 15, 123_456, tzinfo=timezone(timedelta(hours=2)))
        backend.set_high_water_mark("v@1", end, "alice")
        mark = backend.high_water_mark("v@1")
        expect_equal(mark, end, "mark read back")
        _expect_utc(mark, "mark read back")


def check_naive_high_water_mark_is_rejected(factory: MetadataBackendFactory) -> None:
    """A naive end (no time zone) is refused rather than guessed, and nothing is stored."""
    with _fresh(factory) as backend:
        try:
            backend.set_high_water_mark("v@1", datetime(2024, 3, 1), "alice")
        except SkewlessError:
            pass
        else:
            raise AssertionError("a naive high-water mark was accepted")
        expect_equal(backend.high_water_mark("v@1"), None, "mark after a refused naive end")


def check_audit_log_is_newest_first(factory: MetadataBackendFactory) -> None:
    """The audit log lists changes newest first, with actor, action, target and hashes."""
    with _fresh(factory) as backend:
        _apply(backend, "a", 1, actor="alice")
        backend.set_high_water_mark("a@1", _T0, "bob")
        _apply(backend, "a", 2, actor="carol")
        _apply(backend, "a", 2, actor="dave", description="described")
        entries = backend.audit_log()
        expect_equal([(e.actor, e.action, e.target) for e in entries],
                     [("dave", "definition.described", f"{_VIEW}:a"),
                      ("carol", "definition.changed", f"{_VIEW}:a"),
                      ("bob", "materialize", "feature_view:a@1"),
                      ("alice", "definition.created", f"{_VIEW}:a")], "audit log")
        expect_equal(entries[1].detail, {"old_hash": _hash("a", 1), "new_hash": _hash("a", 2)},
                     "detail of a change")
        for entry in entries:
            _expect_utc(entry.at, "audit time")
        expect(all(a.at >= b.at for a, b in pairwise(entries)),
               "audit times are not newest first")
        expect_equal(backend.audit_log(limit=2), entries[:2], "audit log limited to 2")


def check_projects_are_isolated(factory: MetadataBackendFactory) -> None:
    """Two projects in one database see none of each other's definitions, marks or audit."""
    with ExitStack() as stack:
        first = stack.enter_context(_fresh(factory))
        second = stack.enter_context(_fresh(factory))
        _apply(first, "a", 1, description="first")
        first.set_high_water_mark("a@1", _T0, "alice")
        expect_equal((second.current_definitions(), _history(second, "a"),
                      second.high_water_mark("a@1"), second.audit_log()),
                     ([], [], None, []), "another project's view of the first")
        expect_equal(_apply(second, "a", 1, description="second").action, "created",
                     "action of applying the same definition in the second project")
        expect_equal([r.spec["description"] for r in first.current_definitions()], ["first"],
                     "first project's spec after the second applied its own")
        expect_equal(len(first.audit_log()), 2, "first project's audit entries")


METADATA_BACKEND_CHECKS: list[Callable[[MetadataBackendFactory], None]] = [
    check_apply_creates_new_definitions,
    check_reapplying_is_unchanged,
    check_unhashed_change_is_described,
    check_new_hash_is_changed,
    check_history_keeps_every_version_in_order,
    check_current_definitions_hold_only_the_latest,
    check_returning_to_an_old_hash,
    check_kinds_are_separate,
    check_repeated_name_in_one_batch,
    check_specs_round_trip_as_json,
    check_unstorable_spec_fails_the_whole_batch,
    check_high_water_mark_is_per_view,
    check_high_water_mark_never_moves_back,
    check_high_water_mark_keeps_the_instant,
    check_naive_high_water_mark_is_rejected,
    check_audit_log_is_newest_first,
    check_projects_are_isolated,
]
"""Every metadata-backend check, in the order ``check_metadata_backend`` runs them."""


def check_metadata_backend(factory: MetadataBackendFactory) -> None:
    """Run every check of ``METADATA_BACKEND_CHECKS`` on backends made by ``factory``.

    Each call of ``factory`` must return a backend for a new project in one shared database.
    Raises ``AssertionError`` listing every check that failed and why.
    """
    run_checks("metadata backend", METADATA_BACKEND_CHECKS, factory)
