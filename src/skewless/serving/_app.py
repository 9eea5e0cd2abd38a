"""The ASGI app: prediction, feedback, health, readiness, metrics and admin endpoints.

``create_app(project, ["fraud@production"])`` returns a FastAPI app for any ASGI server;
``skewless serve`` runs it with uvicorn workers. The prediction route parses and checks its
JSON by hand (orjson, field-by-field messages) rather than through pydantic models, and builds
its answer without pandas: that route is where the server spends its time.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
import pyarrow as pa
from fastapi import FastAPI, Request
from fastapi.responses import Response

from skewless._time import utc_now
from skewless.config import ServingConfig
from skewless.errors import PredictionLogError, PredictionRequestError, SkewlessError
from skewless.serving._batching import Batcher
from skewless.serving._deployment import AliasPoller, Deployment, DeploymentSpec
from skewless.serving._gauges import DriftGauges
from skewless.serving._metrics import CONTENT_TYPE_LATEST, ServerMetrics
from skewless.serving._pipeline import (
    Answer,
    NoAnswerError,
    PredictionCache,
    Predictor,
    cached,
    default_rule,
    fallback_model,
    primary,
    with_fallbacks,
)
from skewless.serving._requests import Row, parse_feedback, parse_rows, read_json

if TYPE_CHECKING:
    from skewless._project import Project
    from skewless._store import FeatureStore
    from skewless.serving._feedback import FeedbackStore
    from skewless.serving._prediction_log import PredictionLog

__all__ = ["create_app"]

log = logging.getLogger("skewless.serving")

_ROW_SCHEMA = {
    "type": "object",
    "properties": {
        "entities": {"type": "object", "description": "Entity keys, e.g. {\"user_id\": 42}"},
        "request": {"type": "object", "description": "Request-time values of the model's "
                    "on-demand features, e.g. {\"amount\": 12.5}"},
        "features": {"type": "object", "description": "The feature vector itself, for models "
                     "without a feature service"},
    },
}
_PREDICT_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"oneOf": [_ROW_SCHEMA, {"type": "array", "items": _ROW_SCHEMA}]}}}}}
_FEEDBACK_ROW = {"type": "object", "required": ["request_id", "label"], "properties": {
    "request_id": {"type": "string"}, "label": {}}}
_FEEDBACK_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"oneOf": [_FEEDBACK_ROW, {"type": "array", "items": _FEEDBACK_ROW}]}}}}}


@dataclass
class ServingState:
    """Everything the routes share, built at start-up."""

    deployments: dict[str, Deployment] = field(default_factory=dict)
    predictors: dict[str, Predictor] = field(default_factory=dict)
    ready: bool = False


def _dumps(content: Any) -> bytes:
    return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


def _json(content: Any, status: int = 200) -> Response:
    return Response(_dumps(content), status_code=status, media_type="application/json")


def _error_body(status: int, message: str, field: str | None = None) -> tuple[int, bytes]:
    detail: dict[str, Any] = {"error": message}
    if field is not None:
        detail["field"] = field
    return status, _dumps(detail)


def _error(status: int, message: str, field: str | None = None) -> Response:
    code, payload = _error_body(status, message, field)
    return Response(payload, status_code=code, media_type="application/json")


T = TypeVar("T")
_COUNTS_INTERVAL_S = 1.0  # how often each worker copies its running counts into the metrics
_PREDICT_PATH = re.compile(r"^/v1/models/([^/]+)/predict$")
_JSON_HEADERS = [(b"content-type", b"application/json")]


class PredictionFastPath:
    """Answers ``POST /v1/models/{name}/predict`` straight from the ASGI scope, before
    FastAPI's middleware stack, routing, dependency injection and exception layers, which took
    about a third of each request's time in the serving benchmark."""

    def __init__(self, answer: Callable[..., Awaitable[tuple[int, bytes]]], limit: int) -> None:
        self.answer = answer
        self.limit = limit

    @staticmethod
    def model(scope: dict[str, Any]) -> str | None:
        """The model a prediction request is for; ``None`` for any other request."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        match = _PREDICT_PATH.match(scope["path"])
        return None if match is None else match.group(1)

    async def __call__(self, name: str, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = {key.decode("latin-1"): value.decode("latin-1")
                   for key, value in scope["headers"]}

        async def chunks() -> AsyncIterator[bytes]:
            more = True
            while more:
                message = await receive()
                yield message.get("body", b"")
                more = message.get("more_body", False)

        status, payload = await self.answer(
            name, lambda: _read_body(headers.get("content-length"), chunks(), self.limit),
            headers)
        await send({"type": "http.response.start", "status": status,
                    "headers": [*_JSON_HEADERS,
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


class _ServingApp(FastAPI):
    """The FastAPI app, entered through its prediction fast path unless a user added
    middleware to it (which must see predictions too: they then take the declared route)."""

    fast_path: PredictionFastPath | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        name = None if self.fast_path is None or self.user_middleware \
            else self.fast_path.model(scope)
        if name is None:
            await super().__call__(scope, receive, send)
        else:
            await self.fast_path(name, scope, receive, send)


async def _read_body(declared: str | None, chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The body, refused with 413 as soon as its declared or actual size exceeds ``limit``."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PredictionRequestError(f"the body is {declared} bytes; at most {limit}", "body",
                                     status=413)
    parts = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise PredictionRequestError(f"the body exceeds {limit} bytes", "body", status=413)
        parts.append(chunk)
    return b"".join(parts)


def _request_body(request: Request, limit: int) -> Awaitable[bytes]:
    return _read_body(request.headers.get("content-length"), request.stream(), limit)


def _authorized(headers: Mapping[str, str], key: str | None) -> bool:
    if key is None:
        return False
    given = headers.get("x-api-key")
    if given is None:
        bearer = headers.get("authorization", "")
        given = bearer[7:] if bearer.lower().startswith("bearer ") else None
    return given is not None and hmac.compare_digest(given.encode(), key.encode())


def _row_answers(answer: Answer, rows: list[Row], ids: list[str]) -> list[dict[str, Any]]:
    model = answer.model
    outputs = answer.outputs
    classes = model.classes if model is not None else None
    names = model.feature_names if model is not None else ()
    result = []
    for i, request_id in enumerate(ids):
        item: dict[str, Any] = {"request_id": request_id,
                                "prediction": outputs.predictions[i]}
        if outputs.probabilities is not None and classes is not None:
            item["probabilities"] = dict(zip(map(str, classes),
                                             outputs.probabilities[i].tolist(), strict=True))
        if answer.resolved is not None and answer.resolved.ages is not None:
            item["freshness"] = dict(zip(names, answer.resolved.ages[i], strict=True))
        result.append(item)
    return result


def create_app(project: str | os.PathLike[str] | Project | None, models: Sequence[str], *,
               settings: ServingConfig | None = None,
               prediction_log: PredictionLog | bool | None = True,
               feedback: FeedbackStore | bool | None = True) -> FastAPI:
    """A FastAPI app serving ``models`` (``NAME@ALIAS`` or ``NAME/VERSION``) of a project.

    ``settings`` default to the project's ``serving`` section. ``prediction_log`` and
    ``feedback`` default (``True``) to the project's ``prediction_log`` configuration; pass
    ``None`` to turn either off, or an instance to use it.
    """
    from skewless._project import Project

    context = project if isinstance(project, Project) else Project(project)
    config = settings or context.config.serving
    specs = [DeploymentSpec.parse(m) for m in models]
    if not specs:
        raise SkewlessError("serve at least one model, e.g. fraud@production")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise SkewlessError(f"each model can be served once; got {', '.join(map(str, specs))}")
    state = ServingState()
    metrics = ServerMetrics.create()
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="skewless-predict")
    pieces: dict[str, Any] = {}
    caches: dict[str, PredictionCache] = {}
    reported: dict[str, int] = {}

    def on_swap(name: str, role: str, version: int) -> None:
        metrics.served_version.labels(name, role).set(version)

    def report_counts() -> None:
        """Copy the prediction log's and the caches' running counts into the metrics."""
        sink = pieces.get("log")
        if sink is not None:
            metrics.log_queue_depth.set(sink.queue_depth)
            _advance(reported, "dropped", metrics.log_dropped, sink.dropped)
            _advance(reported, "written", metrics.log_written, sink.written)
        for name, cache in caches.items():
            _advance(reported, f"hits:{name}", metrics.cache_hits.labels(name), cache.hits)
            _advance(reported, f"misses:{name}", metrics.cache_misses.labels(name),
                     cache.misses)

    async def report_counts_every_second() -> None:
        """Each worker reports its own counts: a scrape reaches one worker, and the others'
        drops must show in the sum too."""
        while True:
            await asyncio.sleep(_COUNTS_INTERVAL_S)
            report_counts()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = _feature_store(context, config)
        pieces["store"] = store
        from skewless.serving._feedback import FeedbackStore
        from skewless.serving._prediction_log import PredictionLog

        logging_config = context.config.prediction_log
        pieces["log"] = _configured(prediction_log, context, lambda: PredictionLog.from_config(
            logging_config, context.path))
        pieces["feedback"] = _configured(feedback, context, lambda: FeedbackStore.from_config(
            logging_config, context.path))
        for spec in specs:
            deployment = Deployment(context, store, spec, retry_s=config.online_retry_s,
                                    default=config.defaults.get(spec.name),
                                    allow_pickle=config.allow_pickle, on_swap=on_swap)
            state.deployments[spec.name] = deployment
            on_swap(spec.name, "primary", deployment.primary.version)
            chain: Predictor = with_fallbacks(
                primary(deployment, executor, config.timeout_ms / 1000),
                fallback_model(deployment, executor), default_rule(deployment))
            if config.batch_max_rows > 1:
                chain = Batcher(chain, config.batch_max_rows,
                                metrics.batch_requests.labels(spec.name).observe)
            if config.cache_size:
                cache = PredictionCache(config.cache_size, config.cache_ttl_s)
                caches[spec.name] = cache
                chain = cached(cache, deployment, chain)
            state.predictors[spec.name] = chain
        poller = AliasPoller(list(state.deployments.values()), config.alias_poll_s)
        poller.start()
        monitoring = context.config.monitoring
        gauges = DriftGauges(context, state.deployments, metrics,
                             window=monitoring.gauge_window,
                             interval_s=monitoring.gauge_interval_s)
        pieces["gauges"] = gauges
        gauges.start()
        # pyarrow imports pandas at its first conversion, about 0.4 s holding the GIL: here,
        # not in the prediction log's first batch while requests wait.
        pa.array([0])
        # Everything loaded so far (libraries, models) lives as long as the process: moved out
        # of the collector's reach, a full collection no longer walks it and stalls requests
        # for tens of milliseconds.
        gc.collect()
        gc.freeze()
        reporter = asyncio.create_task(report_counts_every_second())
        state.ready = True
        log.info("serving %s", ", ".join(map(str, specs)))
        try:
            yield
        finally:
            state.ready = False
            reporter.cancel()
            poller.stop()
            gauges.stop()
            executor.shutdown(wait=True)
            for closable in (pieces["log"], pieces["feedback"]):
                if closable is not None:
                    closable.close()
            report_counts()
            if store is not None:
                store.close()
            gc.unfreeze()  # an app stopped in a longer-lived process leaves it collectable

    app = _ServingApp(title="skewless prediction server", version="1",
                  description="Predictions with features from the online store, "
                  "fallbacks, a prediction log and feedback.", lifespan=lifespan)
    app.state.serving = state

    def _log_answer(deployment: Deployment, answer: Answer, rows: list[Row], ids: list[str],
                    latency_ms: float, now: Any) -> None:
        model = answer.model
        if answer.degraded is None and model is not None and answer.resolved is not None:
            pieces["gauges"].observe(model.name, model.version, model.feature_names,
                                     answer.resolved.values)
        sink = pieces.get("log")
        if sink is None:
            return
        from skewless.serving._prediction_log import PredictionRecord

        outputs = answer.outputs
        classes = tuple(model.classes) if model is not None and model.classes else None
        served = model or deployment.primary
        for i, row in enumerate(rows):
            features = tuple(answer.resolved.values[i]) if answer.resolved is not None else ()
            probabilities = None if outputs.probabilities is None else \
                tuple(outputs.probabilities[i].tolist())
            sink.log(PredictionRecord(
                request_id=ids[i], at=now, model=served.name,
                version=served.version if model is not None else 0,
                entity_keys=served.entity_keys, entities=row.entities,
                request_fields=served.request_fields, request=row.request,
                feature_names=served.feature_names if answer.resolved is not None else (),
                features=features, prediction=outputs.predictions[i], classes=classes,
                probabilities=probabilities, latency_ms=latency_ms,
                degraded=answer.degraded is not None, reason=answer.degraded))

    async def answer_prediction(name: str, read_body: Callable[[], Awaitable[bytes]],
                                headers: Mapping[str, str]) -> tuple[int, bytes]:
        """Status and JSON body of a prediction request (shared by the fast ASGI path and
        the documented route)."""
        started = time.perf_counter()
        deployment = state.deployments.get(name)
        if deployment is None:
            return _error_body(404, f"this server does not serve {name!r}; it serves "
                               f"{', '.join(state.deployments)}", "name")
        if config.protect_predictions and not _authorized(headers, config.api_key):
            return _error_body(401, "missing or wrong API key (X-API-Key header)")
        metrics.in_flight.inc()
        version = str(deployment.primary.version)
        try:
            body = read_json(await read_body())
            rows, single = parse_rows(body, deployment.primary, config.max_rows)
            now = utc_now()
            answer = await state.predictors[name](rows, now)
        except PredictionRequestError as exc:
            metrics.requests.labels(name, version, str(exc.status)).inc()
            return _error_body(exc.status, str(exc), exc.field)
        except NoAnswerError as exc:
            metrics.requests.labels(name, version, "503").inc()
            return _error_body(503, str(exc))
        finally:
            metrics.in_flight.dec()
        ids = [headers.get("x-request-id") or uuid.uuid4().hex] if single \
            else [uuid.uuid4().hex for _ in rows]
        if answer.fallback is not None:
            metrics.fallbacks.labels(name, answer.fallback).inc()
        answered = answer.model or deployment.primary
        latency_ms = (time.perf_counter() - started) * 1000
        _log_answer(deployment, answer, rows, ids, latency_ms, now)
        metrics.requests.labels(name, str(answered.version), "200").inc()
        metrics.latency.labels(name).observe(latency_ms / 1000)
        items = _row_answers(answer, rows, ids)
        content: dict[str, Any] = {"model": name, "version": answered.version,
                                   "degraded": answer.degraded is not None}
        if answer.degraded is not None:
            content["reason"] = answer.degraded
        if single:
            content.update(items[0])
        else:
            content["predictions"] = items
        return 200, _dumps(content)

    @app.post("/v1/models/{name}/predict", openapi_extra=_PREDICT_BODY,
              summary="Predict for one row or a list of rows")
    async def predict(name: str, request: Request) -> Response:
        """Served by ``PredictionFastPath`` before routing; declared here for the OpenAPI
        document and for apps mounted without the fast path."""
        status, payload = await answer_prediction(
            name, lambda: _request_body(request, config.max_body_bytes), request.headers)
        return Response(payload, status_code=status, media_type="application/json")

    app.fast_path = PredictionFastPath(answer_prediction, config.max_body_bytes)

    @app.post("/v1/feedback", openapi_extra=_FEEDBACK_BODY,
              summary="Ground-truth labels for earlier predictions, by request id")
    async def post_feedback(request: Request) -> Response:
        store = pieces.get("feedback")
        if store is None:
            return _error(503, "feedback is not stored: prediction_log.sink is 'off'")
        if config.protect_predictions and not _authorized(request.headers, config.api_key):
            return _error(401, "missing or wrong API key (X-API-Key header)")
        try:
            records = parse_feedback(read_json(await _request_body(request, config.max_body_bytes)),
                                     utc_now())
        except PredictionRequestError as exc:
            return _error(exc.status, str(exc), exc.field)
        try:
            await asyncio.get_running_loop().run_in_executor(executor, store.add, records)
        except PredictionLogError as exc:
            return _error(503, str(exc))
        return _json({"stored": len(records)})

    @app.get("/health", summary="The process is up")
    async def health() -> Response:
        return _json({"status": "ok"})

    @app.get("/ready", summary="Every model is loaded and the server takes traffic")
    async def ready() -> Response:
        body = {"ready": state.ready, "models": {
            name: {"version": d.primary.version,
                   "fallback": d.fallback.version if d.fallback else None,
                   "flavor": d.primary.runner.flavor, "error": d.last_error}
            for name, d in state.deployments.items()}}
        return _json(body, 200 if state.ready else 503)

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus() -> Response:
        report_counts()
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/admin/reload", summary="Re-read aliases now (admin; needs the API key)")
    async def reload(request: Request) -> Response:
        if not _authorized(request.headers, config.api_key):
            return _admin_refused(config)
        swapped = {name: await asyncio.get_running_loop().run_in_executor(executor, d.refresh)
                   for name, d in state.deployments.items()}
        return _json({"swapped": swapped, "versions": {
            name: d.primary.version for name, d in state.deployments.items()}})

    @app.put("/v1/admin/models/{name}/aliases/{alias}",
             summary="Point an alias at a version (admin; needs the API key)")
    async def set_alias(name: str, alias: str, request: Request) -> Response:
        if not _authorized(request.headers, config.api_key):
            return _admin_refused(config)
        try:
            body = read_json(await _request_body(request, config.max_body_bytes))
            version = body.get("version") if isinstance(body, dict) else None
            if isinstance(version, bool) or not isinstance(version, int):
                raise PredictionRequestError("send {\"version\": N}", "version")
            before = context.registry.set_alias(name, alias, version,
                                                force=bool(body.get("force", False)))
        except PredictionRequestError as exc:
            return _error(exc.status, str(exc), exc.field)
        except SkewlessError as exc:
            return _error(409, str(exc))
        if name in state.deployments:
            await asyncio.get_running_loop().run_in_executor(
                executor, state.deployments[name].refresh)
        return _json({"model": name, "alias": alias, "from": before, "to": version})

    @app.post("/v1/admin/models/{name}/rollback",
              summary="Move an alias back to its previous version (admin; needs the API key)")
    async def rollback(name: str, request: Request, alias: str = "production") -> Response:
        if not _authorized(request.headers, config.api_key):
            return _admin_refused(config)
        try:
            before, after = context.registry.rollback(name, alias)
        except SkewlessError as exc:
            return _error(409, str(exc))
        if name in state.deployments:
            await asyncio.get_running_loop().run_in_executor(
                executor, state.deployments[name].refresh)
        return _json({"model": name, "alias": alias, "from": before, "to": after})

    return app


def _admin_refused(config: ServingConfig) -> Response:
    if config.api_key is None:
        return _error(403, "admin endpoints are off: set serving.api_key (e.g. with "
                      "SKEWLESS_SERVING__API_KEY) to turn them on")
    return _error(401, "missing or wrong API key (X-API-Key header)")


def _advance(reported: dict[str, int], key: str, counter: Any, total: int) -> None:
    """Move a Prometheus counter up to ``total``, a running count kept elsewhere (the log's,
    the cache's), remembering in ``reported`` how much was already added."""
    seen = reported.get(key, 0)
    if total > seen:
        counter.inc(total - seen)
        reported[key] = total


def _feature_store(project: Project, config: ServingConfig) -> FeatureStore:
    """The project's feature store, its online store with a short timeout and no retries."""
    from skewless._store import FeatureStore

    store = FeatureStore(project.path)
    online = store.config.online_store
    if online.type == "redis":
        store.config = store.config.model_copy(update={"online_store": online.model_copy(
            update={"socket_timeout": config.online_timeout_s, "retries": 0})})
    return store


def _configured(option: T | bool | None, project: Project, build: Callable[[], T | None]
                ) -> T | None:
    """The prediction log or feedback store to use: the one given, none (``None``, ``False``,
    or the log turned ``off``), or the one ``skewless.yaml`` describes (``True``: ``build``)."""
    if option is None or option is False or (
            option is True and project.config.prediction_log.sink == "off"):
        return None
    if option is not True:
        return option
    return build()

