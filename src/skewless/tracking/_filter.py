"""The ``search_runs`` filter language, parsed into a small typed tree.

    filter    := condition ("and" condition)*
    condition := field operator value
    field     := ("metrics" | "params" | "tags") "." key  |  ["attributes" "."] attribute
    key       := name | `any text in backquotes`
    operator  := "=" | "!=" | ">" | ">=" | "<" | "<=" | "like" | "ilike"
    value     := number | 'text' | "text"

Metrics compare with numbers; params, tags and attributes with quoted text (params are
strings, as logged). ``order_by`` items are ``field ["asc" | "desc"]``. Errors quote the filter
and put a caret under the offending token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from skewless.errors import FilterError

__all__ = ["ATTRIBUTES", "Condition", "FieldRef", "OrderItem", "parse_filter", "parse_order_by"]

ATTRIBUTES = ("run_id", "name", "status", "start_time", "end_time", "created_by")
_KINDS = ("metrics", "params", "tags", "attributes")
_OPERATORS = ("=", "!=", ">", ">=", "<", "<=", "like", "ilike")
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<field>[A-Za-z_][\w]*(?:\.(?:`[^`]+`|[\w\-]+(?:\.[\w\-]+)*))?)
  | (?P<operator>!=|>=|<=|=|>|<)
  | (?P<other>.)
""", re.VERBOSE)


@dataclass(frozen=True)
class FieldRef:
    """What a condition or ordering looks at: a metric, param, tag or run attribute."""

    kind: Literal["metrics", "params", "tags", "attributes"]
    key: str

    def __str__(self) -> str:
        return f"{self.kind}.{self.key}"


@dataclass(frozen=True)
class Condition:
    field: FieldRef
    operator: str
    value: float | str | datetime


@dataclass(frozen=True)
class OrderItem:
    field: FieldRef
    descending: bool


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int


def _fail(text: str, token: _Token | None, problem: str) -> FilterError:
    start = len(text) if token is None else token.start
    width = 1 if token is None else max(1, len(token.text))
    return FilterError(f"{problem}\n  {text}\n  {' ' * start}{'^' * width}")


def _tokens(text: str) -> list[_Token]:
    tokens = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        if kind == "space":
            continue
        token = _Token(kind, match.group(), match.start())
        if kind == "other":
            raise _fail(text, token, f"unexpected character {token.text!r} in the filter")
        if kind == "field" and token.text.lower() in ("and", "or", "like", "ilike", "asc",
                                                      "desc"):
            token = _Token("keyword", token.text.lower(), token.start)
        tokens.append(token)
    return tokens


def _field(text: str, token: _Token) -> FieldRef:
    kind, dot, key = token.text.partition(".")
    kind = kind.lower()
    if not dot:
        if kind in ATTRIBUTES:
            return FieldRef("attributes", kind)
        raise _fail(text, token, f"{token.text!r} is not a field: write metrics.NAME, "
                                 f"params.NAME, tags.NAME or one of {', '.join(ATTRIBUTES)}")
    if kind not in _KINDS:
        raise _fail(text, token, f"unknown field kind {kind!r}: use metrics, params, tags or "
                                 "attributes")
    key = key.strip("`")
    if kind == "attributes" and key not in ATTRIBUTES:
        raise _fail(text, token, f"unknown attribute {key!r}; attributes: {', '.join(ATTRIBUTES)}")
    return FieldRef(kind, key)  # type: ignore[arg-type]


_TIMES = ("start_time", "end_time")


def _value(text: str, field: FieldRef, operator: str,
           token: _Token | None) -> float | str | datetime:
    if token is None or token.kind not in ("number", "string"):
        raise _fail(text, token, f"expected a value after {field} {operator}")
    if field.kind == "metrics":
        if token.kind != "number" or operator in ("like", "ilike"):
            raise _fail(text, token, f"metrics compare with numbers using =, !=, <, <=, >, >=; "
                                     f"write e.g. {field} > 0.8")
        return float(token.text)
    if token.kind != "string":
        raise _fail(text, token, f"{field.kind} are compared as text: quote the value, e.g. "
                                 f"{field} = '{token.text}'")
    value = re.sub(r"\\(.)", r"\1", token.text[1:-1])
    if field.kind == "attributes" and field.key in _TIMES:
        return _time(text, field, operator, token, value)
    return value


def _time(text: str, field: FieldRef, operator: str, token: _Token, value: str) -> datetime:
    """A start/end time: ISO 8601 with a zone, compared with =, !=, <, <=, >, >=."""
    example = f"write e.g. {field} > '2024-03-01T00:00:00Z'"
    if operator in ("like", "ilike"):
        raise _fail(text, token, f"{field} is a time, compared with =, !=, <, <=, >, >=; "
                                 f"{example}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(text, token, f"{value!r} is not an ISO 8601 time; {example}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _fail(text, token, f"{value!r} has no time zone and skewless never guesses one; "
                                 f"add Z or an offset: {example}")
    return moment.astimezone(UTC)


def parse_filter(text: str | None) -> list[Condition]:
    """Parse a filter into conditions that must all hold; ``None`` or blank means none."""
    if text is None or not text.strip():
        return []
    tokens = _tokens(text)
    conditions: list[Condition] = []
    position = 0

    def next_token() -> _Token | None:
        nonlocal position
        token = tokens[position] if position < len(tokens) else None
        position += 1
        return token

    while True:
        token = next_token()
        if token is None or token.kind != "field":
            raise _fail(text, token, "expected a field such as metrics.auc or params.max_depth")
        field = _field(text, token)
        operator_token = next_token()
        operator = operator_token.text.lower() if operator_token else ""
        if operator_token is None or operator not in _OPERATORS:
            raise _fail(text, operator_token, f"expected an operator after {field}: "
                                              f"{', '.join(_OPERATORS)}")
        conditions.append(Condition(field, operator, _value(text, field, operator,
                                                             next_token())))
        joiner = next_token()
        if joiner is None:
            return conditions
        if joiner.text == "or":
            raise _fail(text, joiner, "only 'and' joins conditions; run one search per "
                                      "alternative")
        if joiner.text != "and":
            raise _fail(text, joiner, "expected 'and' or the end of the filter")


def parse_order_by(items: list[str] | None) -> list[OrderItem]:
    """Parse ``["metrics.auc DESC", "start_time"]``; the default is newest run first."""
    if not items:
        return [OrderItem(FieldRef("attributes", "start_time"), descending=True)]
    order = []
    for item in items:
        tokens = _tokens(item)
        if not tokens or tokens[0].kind != "field":
            raise _fail(item, tokens[0] if tokens else None, "expected a field to order by")
        direction = tokens[1].text if len(tokens) > 1 else "asc"
        if direction not in ("asc", "desc") or len(tokens) > 2:
            bad = tokens[1] if direction not in ("asc", "desc") else tokens[2]
            raise _fail(item, bad, "expected ASC or DESC after the field")
        order.append(OrderItem(_field(item, tokens[0]), direction == "desc"))
    return order
