"""Redis as the online store: one string key per (namespace, entity), read with one MGET."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

import redis

from skewless.errors import OnlineStoreError, OnlineStoreUnavailableError
from skewless.online._store import OnlineStore, Record

__all__ = ["RedisOnlineStore"]

# Values are "<version>:<payload>"; the script writes each one only over an older version.
# Versions are compared as decimal text: Lua numbers are doubles, which would round 64-bit
# versions (e.g. nanosecond timestamps) and let an older record replace a newer one.
_CONDITIONAL_SET = """
local function at_most(a, b)
  local a_negative = a:byte(1) == 45
  if a_negative ~= (b:byte(1) == 45) then return a_negative end
  if #a ~= #b then return (#a < #b) ~= a_negative end
  return a == b or ((a < b) ~= a_negative)
end
local written = 0
for i, key in ipairs(KEYS) do
  local version = ARGV[2 * i - 1]
  local current = redis.call('GET', key)
  local stored = current and string.match(current, '^(-?%d+):')
  if not stored or at_most(stored, version) then
    redis.call('SET', key, version .. ':' .. ARGV[2 * i])
    written = written + 1
  end
end
return written
"""
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")
_BATCH = 1_000


class RedisOnlineStore(OnlineStore):
    """Online features in Redis under ``{key_prefix}:{namespace}:{entity_key}``.

    Namespaces must not contain ``:`` (skewless's are ``view@hash`` and ``view@hash#agg``):
    otherwise ``("a:b", "c")`` and ``("a", "b:c")`` would be the same Redis key.
    """

    def __init__(self, url: str, key_prefix: str, *, socket_timeout: float = 5.0,
                 retries: int | None = None) -> None:
        """``retries`` after a connection error (``None``: redis-py's default, 3 with backoff,
        which suits batch writes; the prediction server uses 0 so that an unreachable Redis
        costs a request one timeout, not seconds)."""
        self.url = url
        self.key_prefix = key_prefix
        options: dict[str, object] = {}
        if retries is not None:
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            options["retry"] = Retry(NoBackoff(), retries)
        try:
            _check_database(url)
            self._client = redis.Redis.from_url(url, socket_timeout=socket_timeout,
                                                socket_connect_timeout=socket_timeout,
                                                **options)
        except ValueError as exc:  # malformed, not unreachable: retrying cannot help
            raise OnlineStoreError(
                f"online_store.url {url!r} is not a Redis URL ({exc}); "
                "use e.g. redis://127.0.0.1:6379/0"
            ) from exc
        self._script = self._client.register_script(_CONDITIONAL_SET)

    def _key(self, namespace: str, entity_key: str) -> str:
        return f"{self.key_prefix}:{namespace}:{entity_key}"

    def _fail(self, action: str, exc: redis.RedisError) -> OnlineStoreError:
        if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
            return OnlineStoreUnavailableError(
                f"cannot reach Redis at {self.url} while {action}: {exc}; check that it is "
                "running and that online_store.url in skewless.yaml is right"
            )
        return OnlineStoreError(f"Redis at {self.url} failed while {action}: {exc}")

    def write(self, namespace: str, records: Sequence[Record]) -> int:
        written = 0
        try:
            for start in range(0, len(records), _BATCH):
                batch = records[start:start + _BATCH]
                args: list[bytes | int] = []
                for _, version, payload in batch:
                    args += [version, payload]
                written += int(self._script(
                    keys=[self._key(namespace, key) for key, _, _ in batch], args=args))
        except redis.RedisError as exc:
            raise self._fail("writing", exc) from exc
        return written

    def read(self, keys: Sequence[tuple[str, str]]) -> list[bytes | None]:
        if not keys:
            return []
        try:
            values = self._client.mget([self._key(n, k) for n, k in keys])
        except redis.RedisError as exc:
            raise self._fail("reading", exc) from exc
        try:
            return [None if v is None else v[v.index(b":") + 1:] for v in values]
        except ValueError as exc:  # no "<version>:" in front
            raise OnlineStoreError(
                f"Redis at {self.url} holds a value under key prefix {self.key_prefix!r} that "
                "was not written by skewless; give skewless a key_prefix of its own"
            ) from exc

    def drop_namespace(self, namespace: str) -> None:
        # Escape glob characters, or dropping namespace "v*" would delete "v2" as well.
        pattern = _GLOB_SPECIAL.sub(r"\\\1", self._key(namespace, "")) + "*"
        try:
            batch: list[bytes] = []
            for key in self._client.scan_iter(match=pattern, count=1_000):
                batch.append(key)
                if len(batch) >= 1_000:
                    self._client.unlink(*batch)
                    batch = []
            if batch:
                self._client.unlink(*batch)
        except redis.RedisError as exc:
            raise self._fail("deleting", exc) from exc

    def close(self) -> None:
        self._client.close()


def _check_database(url: str) -> None:
    """Refuse ``redis://host/abc``: redis-py would silently use database 0 instead."""
    parts = urlsplit(url)
    database = parts.path.strip("/")
    if parts.scheme in ("redis", "rediss") and database and not database.isdigit():
        raise ValueError(f"the database {database!r} is not a number")
