"""A deployment: the versions a server answers with for one model name, kept current.

``fraud@production`` serves the version the alias points at and follows the alias: a poller
re-reads the model's aliases every ``alias_poll_s`` and, when one moved (a promotion, a
rollback), loads the new version beside the old one and swaps the reference. Requests in flight
keep the version they started with, so a swap fails nothing. The version at alias ``fallback``
is kept current the same way; it answers when the primary times out or fails.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from skewless.errors import SkewlessError
from skewless.registry import parse_model_ref
from skewless.serving._models import ServedModel, load_served_model

if TYPE_CHECKING:
    from skewless._project import Project
    from skewless._store import FeatureStore

__all__ = ["FALLBACK_ALIAS", "AliasPoller", "Deployment", "DeploymentSpec"]

FALLBACK_ALIAS = "fallback"
log = logging.getLogger("skewless.serving")


@dataclass(frozen=True)
class DeploymentSpec:
    """``NAME@ALIAS`` (follows the alias) or ``NAME/VERSION`` (pinned)."""

    name: str
    selector: str | int

    @classmethod
    def parse(cls, text: str) -> DeploymentSpec:
        name, selector = parse_model_ref(text)
        return cls(name, selector)

    def __str__(self) -> str:
        return f"{self.name}@{self.selector}" if isinstance(self.selector, str) \
            else f"{self.name}/{self.selector}"


class Deployment:
    """The primary and fallback versions of one model, swapped atomically when aliases move.

    ``default`` is the prediction of last resort (from ``serving.defaults``), used when
    neither the primary nor a fallback version can answer.
    """

    def __init__(self, project: Project, store: FeatureStore | None, spec: DeploymentSpec, *,
                 retry_s: float, default: Any = None, allow_pickle: bool = False,
                 on_swap: Callable[[str, str, int], None] | None = None) -> None:
        self.project = project
        self.store = store
        self.spec = spec
        self.retry_s = retry_s
        self.default = default
        self.allow_pickle = allow_pickle
        self.on_swap = on_swap
        self.last_error: str | None = None
        self._lock = threading.Lock()
        aliases = self._aliases()
        self.primary: ServedModel = self._load(self._target(aliases))
        target = aliases.get(FALLBACK_ALIAS)
        self.fallback: ServedModel | None = None if target is None or \
            target == self.primary.version else self._load(target)

    @property
    def name(self) -> str:
        return self.spec.name

    def _aliases(self) -> dict[str, int]:
        store = self.project.registry.store
        aliases = store.aliases(self.name)
        selector = self.spec.selector
        if isinstance(selector, str) and selector != "latest" and selector not in aliases:
            store.resolve(self.name, selector)  # raises, naming the model's aliases
        return aliases

    def _target(self, aliases: dict[str, int]) -> int:
        selector = self.spec.selector
        if isinstance(selector, int):
            return selector
        if selector == "latest":
            return self.project.registry.store.resolve(self.name, "latest")
        return aliases[selector]

    def _load(self, version: int) -> ServedModel:
        try:
            return load_served_model(self.project, self.store, self.name, version,
                                     retry_s=self.retry_s, allow_pickle=self.allow_pickle)
        except SkewlessError as first:
            if self.store is None:
                raise
            self.store.refresh()  # the definitions may have been applied after the store opened
            try:
                return load_served_model(self.project, self.store, self.name, version,
                                         retry_s=self.retry_s, allow_pickle=self.allow_pickle)
            except SkewlessError:
                raise first from None

    def refresh(self) -> bool:
        """Re-read the aliases and load whatever moved; True when something was swapped. A
        version that fails to load is not swapped in: the current one keeps serving."""
        with self._lock:
            aliases = self.project.registry.store.aliases(self.name)
            swapped = False
            if isinstance(self.spec.selector, str):
                target = aliases.get(self.spec.selector) if self.spec.selector != "latest" \
                    else self.project.registry.store.resolve(self.name, "latest")
                if target is not None and target != self.primary.version:
                    swapped |= self._swap("primary", target)
            target = aliases.get(FALLBACK_ALIAS)
            current = self.fallback.version if self.fallback else None
            if target != current:
                if target is None or target == self.primary.version:
                    self.fallback = None
                    swapped = True
                else:
                    swapped |= self._swap("fallback", target)
            return swapped

    def _swap(self, role: str, version: int) -> bool:
        try:
            loaded = self._load(version)
        except SkewlessError as exc:
            self.last_error = f"{self.name}/{version} not loaded: {exc}"
            log.error("keeping the current %s version of %s: %s", role, self.name, exc)
            return False
        setattr(self, role, loaded)
        self.last_error = None
        log.info("%s now serves %s/%s as %s", self.spec, self.name, version, role)
        if self.on_swap is not None:
            self.on_swap(self.name, role, version)
        return True


class AliasPoller:
    """A daemon thread that refreshes every deployment every ``interval`` seconds."""

    def __init__(self, deployments: list[Deployment], interval: float) -> None:
        self.deployments = deployments
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="skewless-alias-poller",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for deployment in self.deployments:
                try:
                    deployment.refresh()
                except SkewlessError as exc:  # the registry may be briefly unreachable
                    deployment.last_error = str(exc)
                    log.warning("could not refresh %s: %s", deployment.spec, exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
