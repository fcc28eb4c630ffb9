"""The hot path: ``POST …/infer`` (v2) and ``POST /v1/models/…:predict``, as plain Starlette
endpoints (no dependency injection, no pydantic) that parse bodies with orjson into numpy.

Every request — answered or refused — is counted in the metrics and queued for the prediction
log; neither does I/O on the request path.
"""
from __future__ import annotations

import logging
import time

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from . import binary
from .errors import ApiError, error_body
from .routing import SplitRoute
from .shadow import outputs_of
from .protocol import parse_json, parse_v1, parse_v2, v2_datatype
from .safety import THREAD_BODY_BYTES, check_objects

logger = logging.getLogger("workbench.serving")

#: batches larger than this run the model in a worker thread, off the event loop
THREAD_ROWS = 512
_DUMPS_OPTION = orjson.OPT_SERIALIZE_NUMPY


def parse_selector(raw: str | None):
    """Return ``None`` (bare name), an ``int`` (all digits: a version) or an alias name."""
    if raw is None:
        return None
    if raw.isascii() and raw.isdigit():
        if len(raw) > 18:
            raise ApiError(404, f"no version {raw[:24]}...: version numbers are small integers")
        return int(raw)
    return raw


async def read_body(request: Request, limit: int) -> bytes:
    """Return the body of a Starlette request, refusing (413) one over ``limit`` bytes."""
    return await receive_body(request.receive, request.headers.get("content-length"), limit)


async def receive_body(receive, declared: str | None, limit: int) -> bytes:
    """Read an ASGI request body, refusing (413) one over ``limit`` bytes before or while
    reading it (``declared`` is the Content-Length header, if any)."""
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise ApiError(400, f"Content-Length must be a number of bytes, got {declared[:20]!r}")
        if int(declared) > limit:
            raise ApiError(413, f"request body is {int(declared)} bytes, more than the limit of "
                                f"{limit} bytes; send fewer rows per request")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "the client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body is more than the limit of {limit} bytes; send "
                                f"fewer rows per request")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def get_model(state, name: str, raw_selector, *, routed: bool = False):
    """Return the :class:`LoadedModel` a request addresses (404 / 503 when it cannot).

    With ``routed=True`` an alias split between versions is returned as its
    :class:`~.routing.SplitRoute` (the caller picks the version); otherwise as its
    primary version.
    """
    selector = parse_selector(raw_selector)
    if len(name) > 200:
        raise ApiError(404, f"no model named {name[:40]!r}...: names are at most 64 characters")
    loaded = state.cache.lookup(name, selector)
    if loaded is None:
        try:
            loaded = await run_in_threadpool(state.cache.resolve, name, selector)
        except Exception as exc:  # noqa: BLE001 - mapped to a client-facing status
            raise state.registry_error(exc) from None
    if not routed and type(loaded) is SplitRoute:
        return loaded.primary
    return loaded


def parse_body(protocol: str, raw: bytes, loaded, limits, binary_header: str | None = None):
    """Parse and validate a v2 or v1 body for ``loaded``; any failure is an :class:`ApiError`.

    The parsers raise only ``ApiError`` (fuzzed by the tests); anything else they raised would
    still be the client's input, so it is answered 422 and logged as a bug of ours."""
    try:
        if binary_header is not None and protocol == "v2":    # the binary tensor extension
            payload = binary.split_request(raw, binary_header)
        else:
            if len(raw) > THREAD_BODY_BYTES:
                check_objects(raw, limits)
            payload = parse_json(raw)
        if protocol == "v2":
            parsed = parse_v2(payload, loaded.signature, limits, loaded.output_names)
            parsed.binary_outputs = binary.binary_outputs(payload)
            return parsed
        return parse_v1(payload, loaded.signature, limits)
    except ApiError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
        logger.exception("the request parser failed on client input")
        raise ApiError(422, f"the request could not be read as input tensors "
                            f"({type(exc).__name__})") from None


def _v2_content(loaded, rows, request_id, result, wanted):
    outputs = []
    for out in wanted or loaded.output_names:
        data = result[out]
        if out == "label":
            outputs.append({"name": "label", "datatype": loaded.label_datatype, "shape": [rows],
                            "data": data})
        else:
            outputs.append({"name": out, "datatype": v2_datatype(data.dtype),
                            "shape": list(data.shape), "data": data.ravel()})
    content = {"model_name": loaded.name, "model_version": str(loaded.version),
               "outputs": outputs}
    if request_id is not None:
        content["id"] = request_id
    return content


def _v1_content(loaded, result, probabilities):
    if loaded.classifier:
        content = {"predictions": result["label"]}
        if probabilities:
            content["probabilities"] = result["probabilities"]
    else:
        values = result["predictions"]
        content = {"predictions": values[:, 0] if values.shape[1] == 1 else values}
    content["model_name"] = loaded.name
    content["model_version"] = str(loaded.version)
    return content


_JSON_HEADER = (b"content-type", b"application/json")
_BINARY_HEADER = (b"content-type", binary.CONTENT_TYPE.encode())


async def forward(loaded, X):
    """Run ``loaded`` on a validated matrix: through its batcher, inline for small batches,
    else in a worker thread (REST and gRPC alike)."""
    batcher = loaded.batcher
    if batcher is not None:
        return await batcher.run(X)
    if len(X) <= THREAD_ROWS:
        return loaded.run(X)
    return await run_in_threadpool(loaded.run, X)


async def _send(send, status: int, body: bytes, extra=None, content_type=_JSON_HEADER) -> None:
    headers = [content_type, (b"content-length", str(len(body)).encode())]
    if extra:
        headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def record_answer(state, loaded, *, status: int, rows: int, elapsed: float, outputs, X, error,
                  request_id, protocol: str, arrived: float, key_id, shadow=None) -> None:
    """After an answer (REST or gRPC, errors included): its metrics, its prediction-log record,
    and the shadow's copy of a successful request."""
    version = None if loaded is None else loaded.version
    model = None if loaded is None else loaded.name
    state.metrics.observe(model, version, status, elapsed, rows)
    state.log.record(model=model, version=version, status=status, rows=rows,
                     latency_ms=1000.0 * elapsed, outputs=outputs, inputs=X, error=error,
                     request_id=request_id, protocol=protocol, time_=arrived, key_id=key_id)
    if shadow is not None and status == 200 and shadow is not loaded:
        state.shadows.submit(shadow, X, loaded, outputs, request_id=request_id, protocol=protocol)


class InferenceEndpoint:
    """Raw ASGI endpoint of one inference protocol (``"v2"`` infer or ``"v1"`` predict).

    Reads ``scope["path_params"]`` (``name``, optional ``version``) and the app state at
    ``scope["app"].state.serving``; answers every request itself, errors included.
    """

    def __init__(self, protocol: str):
        self.protocol = protocol

    def __repr__(self) -> str:
        return f"<InferenceEndpoint {self.protocol}>"

    async def __call__(self, scope, receive, send) -> None:
        state = getattr(scope["app"].state, "serving", None)
        if state is None:     # the app has not started (no ASGI lifespan yet)
            await _send(send, 503, _error_body("the service is starting; retry shortly", None))
            return
        protocol = self.protocol
        arrived, start = time.time(), time.perf_counter()
        loaded = X = outputs = request_id = error = shadow = None
        rows, status, extra = 0, 200, None
        authorization = declared = client_id = key_id = binary_header = None
        content_type = _JSON_HEADER
        for key, value in scope["headers"]:
            if key == b"authorization":
                authorization = value.decode("latin-1")
            elif key == b"content-length":
                declared = value.decode("latin-1")
            elif key == b"x-client-id":
                client_id = value.decode("latin-1")
            elif key == binary.HEADER:
                binary_header = value.decode("latin-1")
        state.metrics.request_started()
        try:
            params = scope["path_params"]
            principal = state.auth.identify(authorization)
            key_id = principal.id if state.auth.enabled else None
            state.auth.authorize(principal, "predictor", params["name"])
            state.auth.admit(principal)
            loaded = await get_model(state, params["name"], params.get("version"), routed=True)
            if type(loaded) is SplitRoute:
                loaded, shadow = loaded.pick(client_id), loaded.shadow
            raw = await receive_body(receive, declared, state.limits.max_body_bytes)
            if len(raw) > THREAD_BODY_BYTES:    # a big body: parse it off the event loop
                parsed = await run_in_threadpool(parse_body, protocol, raw, loaded, state.limits,
                                                 binary_header)
            else:
                parsed = parse_body(protocol, raw, loaded, state.limits, binary_header)
            if protocol == "v2":
                request_id = parsed.id
            X = parsed.X
            rows = len(X)
            state.auth.charge_rows(principal, rows)
            result = await forward(loaded, X)
            if protocol == "v2":
                content = _v2_content(loaded, rows, request_id, result, parsed.outputs)
            else:
                content = _v1_content(loaded, result, parsed.probabilities)
            outputs = outputs_of(loaded, result)
            wanted = parsed.binary_outputs if protocol == "v2" else None
            if wanted:
                body, extra = binary.encode_response(content, wanted)
                content_type = _BINARY_HEADER
            else:
                body = orjson.dumps(content, option=_DUMPS_OPTION)
        except ApiError as exc:
            status, error, extra = exc.status, exc.message, exc.headers
            content_type = _JSON_HEADER
            body = _error_body(exc.message, loaded)
        except Exception:
            logger.exception("error while answering %s", scope.get("path"))
            status, error = 500, "internal error while answering; see the server log"
            extra, content_type = None, _JSON_HEADER
            body = _error_body(error, loaded)
        finally:
            state.metrics.request_finished()
        try:
            await _send(send, status, body, extra, content_type)
        finally:
            record_answer(state, loaded, status=status, rows=rows,
                          elapsed=time.perf_counter() - start, outputs=outputs, X=X, error=error,
                          request_id=request_id, protocol=protocol, arrived=arrived,
                          key_id=key_id, shadow=shadow)


def _error_body(message: str, loaded) -> bytes:
    return error_body(message, None if loaded is None else loaded.version)


infer_v2 = InferenceEndpoint("v2")
predict_v1 = InferenceEndpoint("v1")
