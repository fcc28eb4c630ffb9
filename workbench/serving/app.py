"""The ASGI app: :func:`create_app` builds it from a workbench home.

Everything a worker owns (model cache, key cache, metrics, prediction-log writer, a watcher
thread) is created when the app starts (ASGI lifespan) and released when it stops, so the app
holds no process-global state and runs the same under one or many uvicorn workers.

Addressing a model
------------------
``/v2/models/{name}/…``               its ``production`` alias, else its latest version
``/v2/models/{name}/versions/{n}/…``  version ``n`` (all digits)
``/v2/models/{name}/versions/{a}/…``  alias ``a`` (anything else: ``production``, ``staging``)

The same holds for ``/v1/models/{name}[/versions/{v}]:predict``.
"""
from __future__ import annotations

import contextlib
import gc
import logging
import re
import threading
import time
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException
from starlette.routing import Route

from ..home import resolve_home
from ..monitoring.log import FILENAME, PredictionLog, Retention
from ..store import resolve_url
from ..registry import (AliasInUseError, ArchivedVersionError, IntegrityError, InvalidInputError,
                        InvalidNameError, NothingToRollBackError)
from . import inference, openapi
from .auth import Authenticator
from .batching import BatchConfig
from .errors import ApiError, error_response
from .guard import check as loopback_guard_check
from .keys import KeyStore
from .jwt_auth import JwtConfig, JwtVerifier
from .quota import QuotaStore
from .metrics import ServingMetrics
from .models_cache import ColdLoadLimitError, ModelCache
from .protocol import Limits
from .management import router as management_router
from .routes import router
from .shadow import ShadowRunner

logger = logging.getLogger("workbench.serving")

DESCRIPTION = """Open Inference Protocol v2 (and TF-Serving v1 `:predict`) over the models of a
workbench registry. Send `Authorization: Bearer <key>`; health routes are open. A bare model name
is answered by its `production` alias, else its latest version; `versions/{v}` takes a version
number or an alias name. Errors are `{"error": "..."}` with 400/401/403/404/409/413/422/503."""


@dataclass
class ServingState:
    """What one worker of the app holds while it runs."""

    home: object
    auth: Authenticator
    cache: ModelCache
    metrics: ServingMetrics
    log: PredictionLog
    limits: Limits
    shadows: ShadowRunner
    ready: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    def registry_error(self, exc: Exception) -> ApiError:
        """Map a registry exception to the status a client should see (no server paths)."""
        if isinstance(exc, ApiError):
            return exc
        if isinstance(exc, ColdLoadLimitError):
            return ApiError(429, str(exc), headers={"Retry-After": str(exc.retry_after)})
        if isinstance(exc, IntegrityError):
            return ApiError(503, f"the model cannot be served: {self.no_paths(exc)}")
        if isinstance(exc, (NothingToRollBackError, ArchivedVersionError, AliasInUseError)):
            return ApiError(409, self.no_paths(exc))
        if isinstance(exc, (LookupError, InvalidNameError, InvalidInputError)):
            return ApiError(404, self.no_paths(str(exc).replace(f" in {self.home}", "")))
        logger.exception("registry error", exc_info=exc)
        return ApiError(503, f"the registry could not answer: {type(exc).__name__}")

    def no_paths(self, message) -> str:
        """``message`` without the server's file paths (the home becomes ``<home>``)."""
        return _ABSOLUTE_PATH.sub("<path>", str(message).replace(str(self.home), "<home>"))


_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])/(?:[\w.@+-]+/)+[\w.@+-]*")


#: seconds between writes of keys' last-use times (each worker coalesces its own)
LAST_USED_INTERVAL = 60.0


def _watch(state: ServingState, interval: float, preload: bool) -> None:
    """Worker thread: preload, mark ready, then follow key and alias changes."""
    if preload:
        try:
            state.cache.preload()
        except Exception:
            logger.exception("preload failed")
    # what exists now (modules, loaded models) lives as long as the worker: keep it out of the
    # garbage collector's full passes, which would otherwise stall requests for milliseconds
    gc.freeze()
    if state.auth.jwt is not None:
        state.auth.jwt.warm()
    state.ready.set()
    next_touch = time.monotonic() + LAST_USED_INTERVAL
    while not state.stop.wait(interval):
        try:
            state.log.load_settings(state.home)    # per-model input fractions
            if state.auth.keys is not None:
                state.auth.keys.poll()
                if time.monotonic() >= next_touch:        # last-used times, coalesced
                    state.auth.keys.flush_used()
                    next_touch = time.monotonic() + LAST_USED_INTERVAL
            state.cache.poll()
            for name, version in state.cache.live().items():
                state.metrics.set_live(name, version)
        except Exception:
            logger.exception("watcher tick failed")


def create_app(home=None, *, auth: bool = True, limits: Limits | None = None,
               input_fraction: float = 0.1, poll_interval: float = 0.2, max_versions: int = 8,
               preload: bool = True, batching: BatchConfig | None = None,
               jwt: JwtConfig | dict | None = None,
               loopback_guard: bool | None = None, retention_days: float | None = 30.0,
               retention_max_bytes: int | None = None, max_cold_loads: int = 30,
               log_max_queue: int = 100_000, rollout_interval: float = 1.0,
               grpc=None, store: str | None = None,
               log_process: bool = True) -> "ServingApp":
    """Return the inference service of a workbench home as an ASGI app.

    Parameters
    ----------
    home : path-like, optional
        Workbench home (``registry.db``, ``predictions.db``); see ``workbench.home``.
    auth : bool, default=True
        Require API keys. ``False`` lets every caller in as admin: only for loopback servers.
    limits : Limits, optional
        Body byte and row limits (413 beyond them).
    input_fraction : float, default=0.1
        Fraction of successful requests whose input rows go to the prediction log.
    poll_interval : float, default=0.2
        Seconds between checks for alias, version and key changes.
    max_versions : int, default=8
        Versions addressed by number kept loaded per worker.
    preload : bool, default=True
        Load every model's served version at start (``/v2/health/ready`` is 503 until done).
    batching : BatchConfig, optional
        Adaptive batching of concurrent requests (off by default); registry tags
        ``serving.batch_max_rows`` / ``serving.batch_max_delay_ms`` of a version override it.
    jwt : JwtConfig or dict, optional
        Also accept an identity provider's JWTs (see :mod:`.jwt_auth`); needs ``auth``.
    loopback_guard : bool, optional
        Refuse requests whose ``Host`` is not loopback (403) and state-changing requests that
        are not ``application/json`` (415); see :mod:`.guard`. On by default when ``auth`` is
        off (the guard belongs to the app, whatever started it).
    retention_days, retention_max_bytes : float, int, optional
        How long (default 30 days) and up to what size rows stay in ``predictions.db``; older
        rows are pruned in the background (see :class:`~workbench.monitoring.log.Retention`).
        None keeps them.
    max_cold_loads : int, default=30
        Versions addressed by number loaded per minute at most (429 beyond; see
        :class:`.models_cache.ModelCache`).
    log_max_queue : int, default=100_000
        Records waiting for the prediction-log writer; beyond, records are dropped and counted.
    rollout_interval : float, default=1.0
        Seconds between looks of the rollout controller this worker runs (0: none); the
        workers share one lease, so exactly one acts (see ``workbench.rollout.controller``).
    grpc : GrpcConfig, optional
        Also serve ``inference.GRPCInferenceService`` there (see :mod:`.grpc`); off by default.
    store : str, optional
        Store URL (``postgresql://…``) for registry, keys and prediction log;
        ``$WORKBENCH_STORE`` or SQLite files in the home when None.
    log_process : bool, default=True
        SQLite: the prediction log's inserts run in a helper process of this worker
        (:mod:`workbench.monitoring.write_process`), so they never wait for the worker's GIL:
        about 15 % more requests/s at concurrency 8–64 on a 2-core machine, for about 20 MB of
        memory (``workbench serve --no-log-process`` turns it off). The rows are the same either
        way; see :mod:`workbench.monitoring.write_process` for the roll-ups' edge cases.

    Examples
    --------
    >>> app = create_app("/tmp/home")           # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1")      # doctest: +SKIP
    """
    home = resolve_home(home)
    store = resolve_url(store)
    limits = limits or Limits()
    batching = batching or BatchConfig()
    if not (isinstance(poll_interval, (int, float)) and 0 < poll_interval <= 1):
        raise ValueError(f"poll_interval must be in (0, 1] seconds, got {poll_interval!r}")
    if not (isinstance(input_fraction, (int, float)) and 0 <= input_fraction <= 1):
        raise ValueError(f"input_fraction must be in [0, 1], got {input_fraction!r}")
    if isinstance(jwt, dict):
        jwt = JwtConfig(**jwt)
    if jwt is not None and not auth:
        raise ValueError("JWT checking needs authentication on; drop --no-auth")

    retention = Retention(days=retention_days, max_bytes=retention_max_bytes)
    guard = (not auth) if loopback_guard is None else bool(loopback_guard)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        metrics = ServingMetrics()
        # with log_process a helper process turns records into rows and inserts them: the
        # writer thread only encodes each chunk (one orjson call) and hands it over
        log = PredictionLog(home / FILENAME, input_fraction=input_fraction, flush_interval=0.25,
                            max_queue=log_max_queue, retention=retention,
                            on_drop=metrics.log_dropped, store=store, write_process=log_process)
        state = ServingState(
            home=home, auth=Authenticator(
                KeyStore(home, store=store) if auth else None, jwt=JwtVerifier(jwt) if jwt else None,
                quotas=QuotaStore(home, store=store) if auth else None),
            cache=ModelCache(home, max_versions=max_versions, on_load=metrics.model_loaded,
                             batching=batching, on_batch=metrics.observe_batch,
                             max_cold_loads=max_cold_loads, store=store),
            metrics=metrics, log=log, limits=limits, shadows=ShadowRunner(log, metrics))
        app.state.serving = state
        watcher = threading.Thread(target=_watch, args=(state, poll_interval, preload),
                                   name="serving-watcher", daemon=True)
        watcher.start()
        if rollout_interval:
            from ..rollout.controller import run_in_background
            rollout = run_in_background(home, state.stop, rollout_interval, store=store)
        grpc_server = None
        try:
            if grpc is not None:    # the gRPC service shares this state (see .grpc)
                from .grpc import start as start_grpc
                grpc_server, app.state.grpc_port = await start_grpc(state, grpc)
            yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop(grace=5)
            state.stop.set()
            if rollout_interval:
                rollout.join(timeout=10)
            await state.shadows.drain()
            watcher.join(timeout=10)
            state.log.close()
            state.cache.close()
            if state.auth.keys is not None:
                state.auth.keys.close()
                state.auth.quotas.close()
            metrics.worker_exit()

    app = FastAPI(title="MaaS Workbench inference service", description=DESCRIPTION,
                  version="2", lifespan=lifespan)
    hot = [Route("/v2/models/{name}/infer", inference.infer_v2, methods=["POST"]),
           Route("/v2/models/{name}/versions/{version}/infer", inference.infer_v2,
                 methods=["POST"]),
           Route("/v1/models/{name}:predict", inference.predict_v1, methods=["POST"]),
           Route("/v1/models/{name}/versions/{version}:predict", inference.predict_v1,
                 methods=["POST"])]
    app.router.routes[0:0] = hot          # first: matched before anything else
    app.include_router(router)
    app.include_router(management_router)
    _install_error_handlers(app)

    def custom_openapi():
        if app.openapi_schema is None:
            app.openapi_schema = openapi.extend(get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes))
        return app.openapi_schema
    app.openapi = custom_openapi
    return ServingApp(app, guard=guard)


class ServingApp:
    """The ASGI app :func:`create_app` returns: inference POSTs go straight to their raw
    endpoints (no middleware, no dependency injection); everything else — lifespan, metadata,
    management, docs, errors — to the FastAPI app, available as ``.api``.

    Attribute access falls through to the FastAPI app (``.state``, ``.openapi()``, ``.routes``).
    """

    _HOT = (re.compile(r"^/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?/infer$"),
            re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+))?:predict$"))

    def __init__(self, api: FastAPI, *, guard: bool = False):
        self.api = api
        self.guard = guard

    def __getattr__(self, name):
        return getattr(self.api, name)

    def __repr__(self) -> str:
        return f"<ServingApp {self.api.title!r}>"

    async def __call__(self, scope, receive, send) -> None:
        if self.guard and scope["type"] == "http":
            refused = loopback_guard_check(scope)
            if refused is not None:
                await refused.response()(scope, receive, send)
                return
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            if path.endswith("/infer"):
                match, endpoint = self._HOT[0].match(path), inference.infer_v2
            elif path.endswith(":predict"):
                match, endpoint = self._HOT[1].match(path), inference.predict_v1
            else:
                match = None
            if match is not None and getattr(self.api.state, "serving", None) is not None:
                scope["app"] = self.api
                scope["path_params"] = match.groupdict()
                await endpoint(scope, receive, send)
                return
        await self.api(scope, receive, send)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request, exc: ApiError):
        return exc.response()

    @app.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}; the API is listed at /docs"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def internal_error(request, exc: Exception):
        logger.exception("unhandled error on %s", request.url.path, exc_info=exc)
        return error_response(500, "internal error; see the server log")


def tune_worker_process() -> None:
    """Settings for a process that only serves (a uvicorn worker, a Ray replica).

    * BLAS on one thread: a request's matrices are tiny, and a second BLAS thread spinning
      after each product only takes CPU from the event loop (and from the other workers).
    * When the log writer or the watcher thread wants the GIL, it goes back to the event loop
      within 1 ms rather than Python's default 5 ms (the latency tail at high concurrency).
    """
    import sys

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency; without it BLAS keeps its threads
        pass
    else:
        threadpool_limits(limits=1, user_api="blas")
    sys.setswitchinterval(0.001)


def app_from_env() -> FastAPI:
    """App factory for ``uvicorn --factory``: settings from ``$WORKBENCH_SERVE_CONFIG`` (JSON)."""
    import json
    import os

    tune_worker_process()
    config = json.loads(os.environ.get("WORKBENCH_SERVE_CONFIG", "{}"))
    limits = Limits(**config.pop("limits", {}))
    batching = BatchConfig(**config.pop("batching", {}))
    if config.get("grpc") is not None:
        from .grpc import GrpcConfig
        config["grpc"] = GrpcConfig(**config["grpc"])
    logging.basicConfig(level=config.pop("log_level", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s")
    return create_app(config.pop("home", None), limits=limits, batching=batching, **config)
