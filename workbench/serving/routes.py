"""Health, metadata, metrics and management routes (FastAPI: they are documented by it).

The inference routes live in :mod:`.inference`; the role each route needs is listed in
:mod:`.auth`.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Security
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .errors import ApiError, json_response
from .inference import get_model, read_body
from .key_options import parse_duration, parse_expiry
from .keys import ROLES
from .protocol import parse_json

router = APIRouter()
_bearer = HTTPBearer(auto_error=False, description="an API key: wb_<id>_<secret>")
SERVER_NAME = "workbench"
#: protocol extensions answered by ``GET /v2`` and gRPC ``ServerMetadata``
EXTENSIONS = ["model_repository", "aliases", "v1_predict", "binary_tensor_data", "grpc"]


def requires(role: str):
    """A dependency that lets the request in if its key has ``role`` (or a higher one) and, on a
    route naming a model, the model is in the key's scope."""
    async def check(request: Request, _=Security(_bearer)):
        return request.app.state.serving.auth.require(request.headers, role,
                                                      request.path_params.get("name"))
    check.__name__ = f"requires_{role}"
    return check


def _state(request: Request):
    return request.app.state.serving


# -- health (open) --------------------------------------------------------------------------
@router.get("/v2/health/live", tags=["health"], summary="Server liveness (open)")
async def live():
    return json_response({"live": True})


@router.get("/v2/health/ready", tags=["health"], summary="Server readiness (open)")
async def ready(request: Request):
    ok = _state(request).ready.is_set()
    return json_response({"ready": ok}, 200 if ok else 503)


# -- metadata (viewer) ----------------------------------------------------------------------
@router.get("/v2", tags=["metadata"], summary="Server metadata",
            dependencies=[Depends(requires("viewer"))])
async def server_metadata():
    return json_response({"name": SERVER_NAME, "version": _version(),
                          "extensions": EXTENSIONS})


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("maas-workbench")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return "0+unknown"


@router.get("/v2/models", tags=["metadata"], summary="Every registered model (extension)",
            dependencies=[Depends(requires("viewer"))])
async def list_models(request: Request):
    state = _state(request)

    def collect():
        reg = state.cache.registry
        live = state.cache.live()
        return [{"name": n, "versions": [str(v.version) for v in reg.versions(n)],
                 "aliases": {a: str(v) for a, v in reg.aliases(n).items()},
                 "live_version": None if n not in live else str(live[n])} for n in reg.models()]
    return json_response({"models": await run_in_threadpool(collect)})


async def model_metadata(request: Request, name: str, version: str | None = None):
    state = _state(request)
    loaded = await get_model(state, name, version)
    sig = loaded.signature
    reg = state.cache.registry
    versions = await run_in_threadpool(lambda: [str(v.version) for v in reg.versions(name)])
    routes = await run_in_threadpool(reg.routes, name)
    aliases = {a: r.version for a, r in routes.items()}
    n_out = len(loaded.classes) if loaded.classifier else sig.get("n_outputs", 1)
    outputs = [{"name": "predictions", "datatype": loaded.float_datatype, "shape": [-1, n_out]}]
    if loaded.classifier:
        outputs = [{"name": "label", "datatype": loaded.label_datatype, "shape": [-1]},
                   {"name": "probabilities", "datatype": loaded.float_datatype,
                    "shape": [-1, n_out]}]
    return json_response({
        "name": name, "versions": versions, "platform": "workbench-numpy",
        "inputs": [{"name": "input-0", "datatype": loaded.float_datatype,
                    "shape": [-1, sig["n_features"]]}],
        "outputs": outputs, "model_version": str(loaded.version),
        "aliases": {a: str(v) for a, v in aliases.items()},
        "traffic": {a: route_json(r) for a, r in routes.items()
                    if r.is_split or r.shadow is not None},
        "model_class": loaded.model_class, "signature": sig})


async def model_ready(request: Request, name: str, version: str | None = None):
    loaded = await get_model(_state(request), name, version)
    return json_response({"name": name, "ready": True, "model_version": str(loaded.version)})


async def v1_status(request: Request, name: str, version: str | None = None):
    loaded = await get_model(_state(request), name, version)
    return json_response({"model_version_status": [{
        "version": str(loaded.version), "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""}}],
        "model_version": str(loaded.version)})


for _path, _fn, _summary in [
        ("/v2/models/{name}", model_metadata, "Model metadata (bare name → production, else latest)"),
        ("/v2/models/{name}/versions/{version}", model_metadata, "Model metadata of a version or alias"),
        ("/v2/models/{name}/ready", model_ready, "Model readiness"),
        ("/v2/models/{name}/versions/{version}/ready", model_ready, "Readiness of a version or alias"),
        ("/v1/models/{name}", v1_status, "Model status (TF-Serving v1)"),
        ("/v1/models/{name}/versions/{version}", v1_status, "Status of a version (v1)")]:
    router.add_api_route(_path, _fn, methods=["GET"], tags=["metadata"], summary=_summary,
                         dependencies=[Depends(requires("viewer"))])


@router.get("/metrics", tags=["metadata"], summary="Prometheus metrics (text)",
            dependencies=[Depends(requires("viewer"))])
async def metrics(request: Request):
    body, content_type = _state(request).metrics.render()
    return Response(body, media_type=content_type)


def route_json(route) -> dict:
    """``weights`` (version → share) and ``shadow`` of an alias, as JSON."""
    return {"weights": {str(v): w for v, w in route.weights.items()},
            "shadow": None if route.shadow is None else str(route.shadow)}


# -- management (maintainer): aliases, canary and shadow routes are in .management
def _body_doc(example: dict) -> dict:
    props = {k: {"type": "integer" if isinstance(v, int) else "string"} for k, v in example.items()}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": list(example), "properties": props,
        "example": example}}}}}


async def _json_body(request: Request) -> dict:
    body = parse_json(await read_body(request, 64 * 1024))
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    return body


@router.post("/v2/repository/models/{name}/load", tags=["management"],
             summary="Re-resolve and load a model now (maintainer)",
             dependencies=[Depends(requires("maintainer"))])
async def load_model(request: Request, name: str):
    state = _state(request)
    await run_in_threadpool(state.cache.refresh)
    loaded = await get_model(state, name, None)
    return json_response({"name": name, "loaded": True, "model_version": str(loaded.version)})


# -- feedback (predictor): true labels of earlier answers, see workbench.monitoring.feedback
@router.post("/v2/models/{name}/feedback", tags=["feedback"],
             summary="Post the true labels of earlier requests (predictor)",
             dependencies=[Depends(requires("predictor"))],
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"type": "object", "required": ["feedback"]},
                 "example": {"feedback": [{"id": "request-1", "labels": [3]}]}}}}})
async def post_feedback(request: Request, name: str):
    from ..monitoring.feedback import FeedbackError, record_feedback

    state = _state(request)
    body = parse_json(await read_body(request, state.limits.max_body_bytes))

    def store():
        state.cache.registry.resolve(name)       # 404 for a model that does not exist
        state.log.flush()                        # answers still queued can be labelled too
        return record_feedback(state.log.store.loop, name, body)
    try:
        return json_response(await run_in_threadpool(store))
    except FeedbackError as exc:
        raise ApiError(422, str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - registry errors map to 404/503
        raise state.registry_error(exc) from None


# -- keys (admin) ---------------------------------------------------------------------------
_ADMIN = Depends(requires("admin"))


def _keys(request: Request):
    keys = _state(request).auth.keys
    if keys is None:
        raise ApiError(404, "this server runs without authentication (--no-auth): it has no keys")
    return keys


@router.get("/admin/keys", tags=["keys"], summary="List API keys (admin)",
            dependencies=[Depends(requires("admin"))])
async def list_keys(request: Request):
    keys = await run_in_threadpool(_keys(request).list)
    return json_response({"keys": [k.to_json() for k in keys]})


@router.post("/admin/keys", tags=["keys"], summary="Create an API key, shown once (admin)",
             openapi_extra=_body_doc({"name": "app", "role": "predictor"}))
async def create_key(request: Request, admin=_ADMIN):
    store = _keys(request)
    body = await _json_body(request)
    name, role = body.get("name"), body.get("role")
    if role not in ROLES:
        raise ApiError(422, f"role must be one of {', '.join(ROLES)}, got {role!r:.40}")
    try:
        expires_at = parse_expiry(body.get("expires_at"), body.get("expires_in"))
        key = await run_in_threadpool(
            lambda: store.create(name, role, models=body.get("models"), expires_at=expires_at,
                                 rate=body.get("rate"), burst=body.get("burst"),
                                 daily_rows=body.get("daily_rows"), author=admin.name))
    except (ValueError, TypeError) as exc:
        raise ApiError(409 if "already exists" in str(exc) else 422, str(exc)) from None
    return json_response({"name": name, "role": role, "key": key}, 201)


@router.delete("/admin/keys/{name_or_id}", tags=["keys"], summary="Revoke an API key (admin)")
async def revoke_key(request: Request, name_or_id: str, admin=_ADMIN):
    try:
        key = await run_in_threadpool(
            lambda: _keys(request).revoke(name_or_id, author=admin.name))
    except LookupError as exc:
        raise ApiError(404, str(exc)) from None
    return json_response({"id": key.id, "name": key.name, "revoked_at": key.revoked_at})


@router.post("/admin/keys/{name_or_id}/rotate", tags=["keys"],
             summary="New secret for a key, shown once; the old one works for 'grace' (admin)",
             openapi_extra=_body_doc({"grace": "1h"}))
async def rotate_key(request: Request, name_or_id: str, admin=_ADMIN):
    body = await _json_body(request)
    try:
        grace = parse_duration(body.get("grace", 0))
        key = await run_in_threadpool(
            lambda: _keys(request).rotate(name_or_id, grace=grace, author=admin.name))
    except LookupError as exc:
        raise ApiError(404, str(exc)) from None
    except (ValueError, TypeError) as exc:
        raise ApiError(422, str(exc)) from None
    return json_response({"name": name_or_id, "key": key, "grace_s": grace})


@router.put("/admin/keys/{name_or_id}/limits", tags=["keys"],
            summary="Set a key's rate, burst and daily rows (admin)",
            openapi_extra=_body_doc({"rate": "50/s", "burst": 100, "daily_rows": 100000}))
async def limit_key(request: Request, name_or_id: str, admin=_ADMIN):
    body = await _json_body(request)
    try:
        key = await run_in_threadpool(lambda: _keys(request).limit(
            name_or_id, rate=body.get("rate"), burst=body.get("burst"),
            daily_rows=body.get("daily_rows"), author=admin.name))
    except LookupError as exc:
        raise ApiError(404, str(exc)) from None
    except (ValueError, TypeError) as exc:
        raise ApiError(422, str(exc)) from None
    return json_response(key.to_json())
