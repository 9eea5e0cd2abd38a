"""Durations and UTC timestamps: the only time helpers skewless uses.

Nothing here reads the wall clock except :func:`utc_now`, which callers use only where the
public API documents "the current time when omitted".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from skewless.errors import DefinitionError, TimestampError

__all__ = ["format_duration", "from_micros", "micros", "parse_duration", "to_utc", "utc_now"]

_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1),
          "m": timedelta(minutes=1), "s": timedelta(seconds=1)}
_FORMAT_UNITS = {unit: _UNITS[unit] for unit in "dhms"}
_DURATION = re.compile(r"^\s*(\d+)\s*([wdhms])\s*$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_duration(value: timedelta | str, what: str = "duration") -> timedelta:
    """Read a positive duration given as a ``timedelta`` or a string like ``"2d"`` or ``"12h"``."""
    if isinstance(value, timedelta):
        duration = value
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise DefinitionError(
                f"{what} {value!r} is not a duration: write a whole number and a unit, one "
                "of w (weeks), d (days), h (hours), m (minutes), s (seconds), e.g. '7d' or '12h'"
            )
        duration = int(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise DefinitionError(
            f"{what} must be a timedelta or a string like '7d', not {type(value).__name__}"
        )
    if duration <= timedelta(0):
        raise DefinitionError(f"{what} must be positive, got {value!r}")
    if duration % timedelta(microseconds=1):
        raise DefinitionError(f"{what} {value!r} is finer than a microsecond")
    return duration


def format_duration(duration: timedelta) -> str:
    """The shortest exact string in days or smaller units (``timedelta(hours=48)`` → ``"2d"``)."""
    for unit, size in _FORMAT_UNITS.items():
        if duration % size == timedelta(0):
            return f"{duration // size}{unit}"
    return f"{duration // timedelta(microseconds=1)}us"


def to_utc(value: datetime, what: str = "timestamp") -> datetime:
    """Return ``value`` in UTC; a naive datetime is rejected, never guessed."""
    if not isinstance(value, datetime):
        raise TimestampError(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise TimestampError(
            f"{what} {value.isoformat()} has no time zone; skewless never guesses one. "
            "Pass an aware datetime, e.g. datetime(2024, 1, 1, tzinfo=timezone.utc)"
        )
    return value.astimezone(UTC)


def micros(value: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime (exact, no float rounding)."""
    return (value - _EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    """The aware UTC datetime of a count of microseconds since the Unix epoch."""
    return _EPOCH + timedelta(microseconds=value)


def utc_now() -> datetime:
    """The current time in UTC (used only where the API documents that default)."""
    return datetime.now(UTC)
