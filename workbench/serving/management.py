"""Management routes of aliases (maintainer): point, split (canary), promote, abort, shadow,
roll back. Each change is made as the caller (``<key name> (api)`` in the audit log) and swapped
in by the answering worker at once, by the others within a poll.
"""
from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from ..registry import InvalidInputError, InvalidNameError, Registry
from ..registry.traffic import check_weights
from .errors import ApiError, json_response
from .inference import read_body
from .protocol import parse_json
from .safety import client_text
from .routes import _body_doc, _json_body, _state, requires, route_json

router = APIRouter()


#: a client may name itself (``X-Workbench-Actor: dashboard``): the audit log then shows
#: ``dashboard (key NAME)``; the key still decides what is allowed
ACTOR_HEADER = "x-workbench-actor"
_ACTOR = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def _as_author(state, key, headers=None) -> Registry:
    actor = (headers or {}).get(ACTOR_HEADER, "")
    author = f"{actor} (key {key.name})" if _ACTOR.fullmatch(actor) else f"{key.name} (api)"
    return Registry(state.cache.home, author=author, store=state.cache.store)


async def _alias_change(request: Request, name: str, alias: str, act, conflict: bool = False,
                        split_change: bool = False):
    """Run ``act(registry)`` as the caller; answer with the alias's new target (and its
    ``weights`` and ``shadow`` when it is split or shadowed, or ``split_change``). ``conflict``:
    the registry's ``InvalidInputError`` means the alias is not in a state to do this (409)."""
    state = _state(request)
    key = state.auth.require(request.headers, "maintainer")

    def run():
        reg = _as_author(state, key, request.headers)
        try:
            previous = reg.aliases(name).get(alias)
            act(reg)
            route = reg.route(name, alias)
        finally:
            reg.close()
        state.cache.refresh()          # this worker swaps now; the others within a poll
        return previous, route
    try:
        previous, route = await run_in_threadpool(run)
    except InvalidNameError as exc:     # a name that could never be created
        raise ApiError(422, str(exc)) from None
    except InvalidInputError as exc:
        raise ApiError(409 if conflict else 422, str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - mapped to a client-facing status
        raise state.registry_error(exc) from None
    content = {"name": name, "alias": alias, "model_version": str(route.version),
               "previous_version": None if previous is None else str(previous)}
    if route.is_split or route.shadow is not None or split_change:
        content.update(route_json(route))
    return json_response(content)


@router.put("/v2/models/{name}/aliases/{alias}", tags=["management"],
            summary="Point an alias at a version, or split it between versions (maintainer)",
            description="Body `{\"version\": 2}`, or `{\"weights\": {\"3\": 0.9, \"4\": 0.1}}` for "
                        "a canary split (weights add up to 1).",
            dependencies=[Depends(requires("maintainer"))], openapi_extra=_body_doc({"version": 2}))
async def set_alias(request: Request, name: str, alias: str):
    body = await _json_body(request)
    if "weights" in body:
        weights = body["weights"]
        if isinstance(weights, dict) and not all(_small_version(v) for v in weights):
            raise ApiError(422, "weights must be keyed by version numbers (positive integers "
                                "below 2**62), got keys "
                                f"{client_text(', '.join(map(str, weights)), 80)}")
        try:
            weights = check_weights(weights)
        except InvalidInputError as exc:
            raise ApiError(422, str(exc)) from None
        return await _alias_change(request, name, alias,
                                   lambda reg: reg.set_split(name, alias, weights),
                                   split_change=True)
    version = _version_field(body, "version")
    return await _alias_change(request, name, alias,
                               lambda reg: reg.set_alias(name, alias, version).version)


def _small_version(key) -> bool:
    """Whether a JSON key or value is a version number the registry can store (< 2**62)."""
    if isinstance(key, str):
        return key.isascii() and key.isdigit() and len(key) <= 18
    return type(key) is int and 1 <= key < 2**62


def _version_field(body: dict, field: str, optional: bool = False):
    version = body.get(field)
    if version is None and optional:
        return None
    if isinstance(version, str) and _small_version(version):
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version < 2**62:
        raise ApiError(422, f"body must be {{\"{field}\": <positive integer>"
                            f"{' or null' if optional else ''}}}"
                            + ("" if optional else " or {\"weights\": {version: share}}")
                            + f", got {client_text(body, 80)}")
    return version


@router.post("/v2/models/{name}/aliases/{alias}/promote", tags=["management"],
             summary="End a canary split: all traffic to the canary, or to `version` (maintainer)",
             dependencies=[Depends(requires("maintainer"))])
async def promote(request: Request, name: str, alias: str):
    raw = await read_body(request, 64 * 1024)
    body = parse_json(raw) if raw.strip() else {}
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    version = _version_field(body, "version", optional=True)
    return await _alias_change(request, name, alias,
                               lambda reg: reg.promote(name, alias, version), conflict=True,
                               split_change=True)


@router.post("/v2/models/{name}/aliases/{alias}/abort", tags=["management"],
             summary="End a canary split: all traffic back to the primary version (maintainer)",
             dependencies=[Depends(requires("maintainer"))])
async def abort(request: Request, name: str, alias: str):
    return await _alias_change(request, name, alias, lambda reg: reg.abort(name, alias),
                               conflict=True, split_change=True)


@router.put("/v2/models/{name}/aliases/{alias}/shadow", tags=["management"],
            summary="Copy an alias's traffic to a shadow version; null stops it (maintainer)",
            dependencies=[Depends(requires("maintainer"))], openapi_extra=_body_doc({"version": 2}))
async def set_shadow(request: Request, name: str, alias: str):
    version = _version_field(await _json_body(request), "version", optional=True)
    return await _alias_change(request, name, alias,
                               lambda reg: reg.set_shadow(name, alias, version),
                               split_change=True)


@router.post("/v2/models/{name}/aliases/{alias}/rollback", tags=["management"],
             summary="Move an alias back to its previous version (maintainer)",
             dependencies=[Depends(requires("maintainer"))])
async def rollback(request: Request, name: str, alias: str):
    return await _alias_change(request, name, alias, lambda reg: reg.rollback(name, alias))
