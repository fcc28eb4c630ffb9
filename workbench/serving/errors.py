"""The one error type the service answers with: an HTTP status and a message for the client."""
from __future__ import annotations

import orjson
from starlette.responses import Response


class ApiError(Exception):
    """A request the service refuses: ``status`` (4xx / 503) and a message saying what is wrong.

    Parameters
    ----------
    status : int
        HTTP status code.
    message : str
        What is wrong and what was expected; sent to the client as ``{"error": message}``.
    model_version : int or None
        The version that was addressed, when one was resolved.
    headers : dict, optional
        Extra response headers (``WWW-Authenticate`` for 401).
    """

    def __init__(self, status: int, message: str, *, model_version=None, headers=None):
        super().__init__(message)
        self.status = int(status)
        self.message = message
        self.model_version = model_version
        self.headers = headers

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.message!r})"

    def response(self) -> Response:
        """Return the JSON response ``{"error": ..., ["model_version": ...]}``."""
        return error_response(self.status, self.message, model_version=self.model_version,
                              headers=self.headers)


def json_response(content, status: int = 200, headers=None) -> Response:
    """Return ``content`` serialised by orjson (numpy arrays allowed)."""
    return Response(orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY), status_code=status,
                    media_type="application/json", headers=headers)


def error_body(message: str, model_version=None) -> bytes:
    """``{"error": message[, "model_version": ...]}`` as JSON bytes; a message holding a lone
    surrogate (echoed client input) is escaped instead of failing."""
    content = {"error": message}
    if model_version is not None:
        content["model_version"] = str(model_version)
    try:
        return orjson.dumps(content)
    except TypeError:
        content["error"] = message.encode("utf-8", "backslashreplace").decode("utf-8")
        return orjson.dumps(content)


def error_response(status: int, message: str, *, model_version=None, headers=None) -> Response:
    """Return ``{"error": message}`` (plus ``model_version`` when known) with ``status``."""
    return Response(error_body(message, model_version), status_code=status,
                    media_type="application/json", headers=headers)
