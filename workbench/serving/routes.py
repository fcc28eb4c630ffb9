"""Health, metadata, metrics and management routes (FastAPI: they are documented by it).

The inference routes live in :mod:`.inference`; the role each route needs is listed in
:mod:`.auth`.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Security
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ..registry import InvalidNameError, Registry
from .errors import ApiError, json_response
from .inference import get_model, read_body
from .protocol import parse_json
from .keys import ROLES

router = APIRouter()
_bearer = HTTPBearer(auto_error=False, description="an API key: wb_<id>_<secret>")
SERVER_NAME = "workbench"


def requires(role: str):
    """A dependency that lets the request in if its key has ``role`` (or a higher one)."""
    async def check(request: Request, _=Security(_bearer)):
        return request.app.state.serving.auth.require(request.headers, role)
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
                          "extensions": ["model_repository", "aliases", "v1_predict"]})


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
    aliases = await run_in_threadpool(reg.aliases, name)
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
        "model_class": type(loaded.model).__name__, "signature": sig})


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


# -- management (maintainer) ----------------------------------------------------------------
def _as_author(state, key) -> Registry:
    return Registry(state.cache.home, author=f"{key.name} (api)")


async def _alias_change(request: Request, name: str, alias: str, act):
    state = _state(request)
    key = state.auth.require(request.headers, "maintainer")

    def run():
        reg = _as_author(state, key)
        try:
            previous = reg.aliases(name).get(alias)
            version = act(reg)
        finally:
            reg.close()
        state.cache.refresh()          # this worker swaps now; the others within a poll
        return previous, version
    try:
        previous, version = await run_in_threadpool(run)
    except InvalidNameError as exc:     # a name that could never be created
        raise ApiError(422, str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - mapped to a client-facing status
        raise state.registry_error(exc) from None
    return json_response({"name": name, "alias": alias, "model_version": str(version),
                          "previous_version": None if previous is None else str(previous)})


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


@router.put("/v2/models/{name}/aliases/{alias}", tags=["management"],
            summary="Point an alias at a version (maintainer)",
            dependencies=[Depends(requires("maintainer"))], openapi_extra=_body_doc({"version": 2}))
async def set_alias(request: Request, name: str, alias: str):
    body = await _json_body(request)
    version = body.get("version")
    if isinstance(version, str) and version.isdigit():
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version < 2**62:
        raise ApiError(422, f"body must be {{\"version\": <positive integer>}}, got "
                            f"{str(body)[:80]}")
    return await _alias_change(request, name, alias,
                               lambda reg: reg.set_alias(name, alias, version).version)


@router.post("/v2/models/{name}/aliases/{alias}/rollback", tags=["management"],
             summary="Move an alias back to its previous version (maintainer)",
             dependencies=[Depends(requires("maintainer"))])
async def rollback(request: Request, name: str, alias: str):
    return await _alias_change(request, name, alias, lambda reg: reg.rollback(name, alias))


@router.post("/v2/repository/models/{name}/load", tags=["management"],
             summary="Re-resolve and load a model now (maintainer)",
             dependencies=[Depends(requires("maintainer"))])
async def load_model(request: Request, name: str):
    state = _state(request)
    await run_in_threadpool(state.cache.refresh)
    loaded = await get_model(state, name, None)
    return json_response({"name": name, "loaded": True, "model_version": str(loaded.version)})


# -- keys (admin) ---------------------------------------------------------------------------
def _keys(request: Request):
    keys = _state(request).auth.keys
    if keys is None:
        raise ApiError(404, "this server runs without authentication (--no-auth): it has no keys")
    return keys


@router.get("/admin/keys", tags=["keys"], summary="List API keys (admin)",
            dependencies=[Depends(requires("admin"))])
async def list_keys(request: Request):
    keys = await run_in_threadpool(_keys(request).list)
    return json_response({"keys": [{"id": k.id, "name": k.name, "role": k.role,
                                    "created_at": k.created_at, "revoked_at": k.revoked_at}
                                   for k in keys]})


@router.post("/admin/keys", tags=["keys"], summary="Create an API key, shown once (admin)",
             dependencies=[Depends(requires("admin"))],
             openapi_extra=_body_doc({"name": "app", "role": "predictor"}))
async def create_key(request: Request):
    store = _keys(request)
    body = await _json_body(request)
    name, role = body.get("name"), body.get("role")
    if role not in ROLES:
        raise ApiError(422, f"role must be one of {', '.join(ROLES)}, got {role!r:.40}")
    try:
        key = await run_in_threadpool(store.create, name, role)
    except ValueError as exc:
        raise ApiError(409 if "already exists" in str(exc) else 422, str(exc)) from None
    return json_response({"name": name, "role": role, "key": key}, 201)


@router.delete("/admin/keys/{name_or_id}", tags=["keys"], summary="Revoke an API key (admin)",
               dependencies=[Depends(requires("admin"))])
async def revoke_key(request: Request, name_or_id: str):
    try:
        key = await run_in_threadpool(_keys(request).revoke, name_or_id)
    except LookupError as exc:
        raise ApiError(404, str(exc)) from None
    return json_response({"id": key.id, "name": key.name, "revoked_at": key.revoked_at})
