"""Durations and UTC handling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from skewless._time import format_duration, from_micros, micros, parse_duration, to_utc
from skewless.errors import DefinitionError, TimestampError


@pytest.mark.parametrize(("text", "expected"), [
    ("2d", timedelta(days=2)), ("12h", timedelta(hours=12)), ("1w", timedelta(days=7)),
    ("90m", timedelta(minutes=90)), ("45s", timedelta(seconds=45)), (" 3 d ", timedelta(days=3)),
])
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(("duration", "text"), [
    (timedelta(days=7), "7d"), (timedelta(hours=36), "36h"), (timedelta(minutes=90), "90m"),
    (timedelta(milliseconds=1), "1000us"),
])
def test_format_duration(duration: timedelta, text: str) -> None:
    assert format_duration(duration) == text


@pytest.mark.parametrize("bad", ["2 days", "-1d", "1.5h", "", 5])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(DefinitionError):
        parse_duration(bad)  # type: ignore[arg-type]


def test_to_utc_converts_and_rejects_naive() -> None:
    paris = datetime(2024, 1, 1, 12, tzinfo=timezone(timedelta(hours=1)))
    assert to_utc(paris) == datetime(2024, 1, 1, 11, tzinfo=UTC)
    assert to_utc(paris).tzinfo is UTC
    with pytest.raises(TimestampError, match="no time zone"):
        to_utc(datetime(2024, 1, 1))


def test_micros_round_trip_is_exact() -> None:
    moment = datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC)
    assert from_micros(micros(moment)) == moment
    assert micros(datetime(1970, 1, 1, tzinfo=UTC)) == 0
