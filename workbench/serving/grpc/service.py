"""The ``inference.GRPCInferenceService`` servicer over a running app's :class:`ServingState`.

Roles are those of REST (:mod:`..auth`): ``ServerLive`` and ``ServerReady`` are open,
``ServerMetadata``, ``ModelMetadata`` and ``ModelReady`` need a viewer key, ``ModelInfer`` a
predictor key, sent as the metadata ``authorization: Bearer <key or JWT>``; a key's model scope,
rate and daily row quota apply as on REST (429 → ``RESOURCE_EXHAUSTED``). Refusals map to gRPC
status codes (:data:`STATUS`); every ``ModelInfer`` — answered or refused — is counted in the
metrics and written to the prediction log with ``protocol="grpc"``, like a REST request.
"""
from __future__ import annotations

import logging
import time

import grpc
from starlette.concurrency import run_in_threadpool

from ..errors import ApiError
from ..inference import _v2_content, forward, get_model, record_answer
from ..protocol import parse_v2
from ..routing import SplitRoute
from ..shadow import outputs_of
from . import grpc_predict_v2_pb2 as pb2
from . import grpc_predict_v2_pb2_grpc as pb2_grpc
from .tensors import request_payload, response_message

logger = logging.getLogger("workbench.serving")

#: HTTP status of an ApiError -> gRPC status code
STATUS = {400: grpc.StatusCode.INVALID_ARGUMENT, 422: grpc.StatusCode.INVALID_ARGUMENT,
          401: grpc.StatusCode.UNAUTHENTICATED, 403: grpc.StatusCode.PERMISSION_DENIED,
          404: grpc.StatusCode.NOT_FOUND, 409: grpc.StatusCode.FAILED_PRECONDITION,
          413: grpc.StatusCode.RESOURCE_EXHAUSTED, 429: grpc.StatusCode.RESOURCE_EXHAUSTED,
          503: grpc.StatusCode.UNAVAILABLE,
          500: grpc.StatusCode.INTERNAL}


def _metadata(context, key: str) -> str | None:
    for name, value in context.invocation_metadata() or ():
        if name == key:
            return value if isinstance(value, str) else value.decode("latin-1")
    return None


def _version(raw: str):
    return raw or None      # "" (the proto default) is the bare name


class InferenceServicer(pb2_grpc.GRPCInferenceServiceServicer):
    """Answers the six v2 RPCs from ``state`` (the REST app's per-worker state)."""

    def __init__(self, state):
        self.state = state

    def __repr__(self) -> str:
        return f"<InferenceServicer home={self.state.home}>"

    async def _refuse(self, context, exc: ApiError):
        await context.abort(STATUS.get(exc.status, grpc.StatusCode.UNKNOWN), exc.message)

    async def _checked(self, context, role: str, work, model: str | None = None):
        try:
            self.state.auth.check(_metadata(context, "authorization"), role, model)
            return await work()
        except ApiError as exc:
            await self._refuse(context, exc)

    # -- health (open) ------------------------------------------------------------------------
    async def ServerLive(self, request, context):
        return pb2.ServerLiveResponse(live=True)

    async def ServerReady(self, request, context):
        return pb2.ServerReadyResponse(ready=self.state.ready.is_set())

    # -- metadata (viewer) --------------------------------------------------------------------
    async def ServerMetadata(self, request, context):
        from ..routes import EXTENSIONS, SERVER_NAME
        from ..routes import _version as server_version

        async def work():
            return pb2.ServerMetadataResponse(name=SERVER_NAME, version=server_version(),
                                              extensions=EXTENSIONS)
        return await self._checked(context, "viewer", work)

    async def ModelReady(self, request, context):
        async def work():
            await get_model(self.state, request.name, _version(request.version))
            return pb2.ModelReadyResponse(ready=True)
        return await self._checked(context, "viewer", work, request.name)

    async def ModelMetadata(self, request, context):
        state = self.state

        async def work():
            loaded = await get_model(state, request.name, _version(request.version))
            sig = loaded.signature
            reg = state.cache.registry
            versions = await run_in_threadpool(
                lambda: [str(v.version) for v in reg.versions(request.name)])
            tensor = pb2.ModelMetadataResponse.TensorMetadata
            n_out = len(loaded.classes) if loaded.classifier else sig.get("n_outputs", 1)
            outputs = [tensor(name="predictions", datatype=loaded.float_datatype,
                              shape=[-1, n_out])]
            if loaded.classifier:
                outputs = [tensor(name="label", datatype=loaded.label_datatype, shape=[-1]),
                           tensor(name="probabilities", datatype=loaded.float_datatype,
                                  shape=[-1, n_out])]
            return pb2.ModelMetadataResponse(
                name=request.name, versions=versions, platform="workbench-numpy",
                inputs=[tensor(name="input-0", datatype=loaded.float_datatype,
                               shape=[-1, sig["n_features"]])],
                outputs=outputs,
                properties={"model_version": str(loaded.version),
                            "model_class": loaded.model_class})
        return await self._checked(context, "viewer", work, request.name)

    # -- inference (predictor) ----------------------------------------------------------------
    async def ModelInfer(self, request, context):
        state = self.state
        arrived, start = time.time(), time.perf_counter()
        loaded = X = outputs = request_id = error = shadow = response = key_id = None
        rows, status = 0, 200
        state.metrics.request_started()
        try:
            auth = state.auth
            principal = auth.identify(_metadata(context, "authorization"))
            key_id = principal.id if auth.enabled else None
            auth.authorize(principal, "predictor", request.model_name)
            auth.admit(principal)
            loaded = await get_model(state, request.model_name, _version(request.model_version),
                                     routed=True)
            if type(loaded) is SplitRoute:
                loaded, shadow = loaded.pick(_metadata(context, "x-client-id")), loaded.shadow
            payload = request_payload(request)
            parsed = parse_v2(payload, loaded.signature, state.limits, loaded.output_names)
            request_id, X = parsed.id, parsed.X
            rows = len(X)
            auth.charge_rows(principal, rows)
            result = await forward(loaded, X)
            content = _v2_content(loaded, rows, request_id, result, parsed.outputs)
            response = response_message(content, raw=bool(request.raw_input_contents))
            outputs = outputs_of(loaded, result)
        except ApiError as exc:
            status, error = exc.status, exc.message
        except Exception:  # a bug of ours: INTERNAL, keep serving
            logger.exception("error while answering gRPC ModelInfer")
            status, error = 500, "internal error while answering; see the server log"
        finally:
            state.metrics.request_finished()
            record_answer(state, loaded, status=status, rows=rows,
                          elapsed=time.perf_counter() - start, outputs=outputs, X=X, error=error,
                          request_id=request_id, protocol="grpc", arrived=arrived,
                          key_id=key_id, shadow=shadow)
        if status != 200:
            await context.abort(STATUS.get(status, grpc.StatusCode.UNKNOWN), error)
        return response
