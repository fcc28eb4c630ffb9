"""What a client may send, and how a body becomes JSON without ever costing a 5xx.

:class:`Limits` holds every cap the inference routes enforce (body bytes, rows, inputs per
request, shape rank and dimension sizes, ``id`` length). :func:`parse_json` turns a body into
Python objects: orjson first; a body orjson refuses for another reason than invalid UTF-8, a
lone surrogate or nesting deeper than its 1024 levels (all 400) goes through the standard
library instead, so ``NaN``/``Infinity`` literals and numbers too large for a double parse and
the validator can name them (422); its nesting is bounded by the interpreter's recursion limit
(``RecursionError`` is answered 400). Strings it lets through are checked where they matter
(``id``) or escaped where echoed (:func:`client_text`).

:func:`client_text` makes any string safe to echo in a JSON error (lone surrogates escaped).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import orjson

from .errors import ApiError

#: bodies larger than this are parsed in a worker thread, off the event loop
THREAD_BODY_BYTES = 256 * 1024


@dataclass(frozen=True)
class Limits:
    """Request limits of the inference routes.

    Attributes
    ----------
    max_body_bytes : int, default=8 MiB
        Larger bodies get 413 (checked on ``Content-Length`` before reading, and while reading).
    max_rows : int, default=10_000
        Larger batches get 413.
    max_inputs : int, default=1024
        More input tensors in one v2 request get 413 (a model takes one input, or one per
        feature).
    max_rank : int, default=8
        Shapes with more dimensions get 400 (the models take 2-D inputs).
    max_dim : int, default=2**31 - 1
        A larger shape dimension gets 400.
    max_id_chars : int, default=256
        A longer v2 ``id`` gets 400 (it is echoed and stored in the prediction log).
    """

    max_body_bytes: int = 8 * 1024 * 1024
    max_rows: int = 10_000
    max_inputs: int = 1024
    max_rank: int = 8
    max_dim: int = 2**31 - 1
    max_id_chars: int = 256

    def __post_init__(self):
        for field in ("max_body_bytes", "max_rows", "max_inputs", "max_rank", "max_dim",
                      "max_id_chars"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field} must be a positive int, got {value!r}")


def client_text(text, limit: int = 64) -> str:
    """``text`` cut to ``limit`` characters, with lone surrogates escaped, for an error message."""
    text = str(text)[:limit]
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def parse_json(body: bytes):
    """Parse a request body; NaN/Infinity literals parse (so validation can name them), else 400."""
    if not body:
        raise ApiError(400, "request body is empty; expected a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        reason = str(exc)
    if "UTF-8" in reason or "surrogate" in reason:
        raise ApiError(400, f"request body is not valid JSON: it must be UTF-8 text without "
                            f"lone surrogates ({reason})")
    if "depth" in reason or "recursion" in reason:
        raise ApiError(400, "request body is not valid JSON here: it nests arrays or objects "
                            "too deeply (more than 1024 levels)")
    try:  # NaN, Infinity and 1e999 are not JSON, but say so precisely (422 later)
        return json.loads(body.decode("utf-8"))
    except RecursionError:
        raise ApiError(400, "request body is not valid JSON here: it nests arrays or objects "
                            "too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, f"request body is not valid JSON: {reason}") from None


def check_objects(raw: bytes, limits: Limits) -> None:
    """Refuse (413) a big body holding more JSON objects than any valid request can, before
    parsing it: parsing builds every object while holding the GIL, so even off the event loop
    155k tensors would stall the server for most of a second. One ``bytes.count`` (C speed);
    the inference routes call it for bodies over :data:`THREAD_BODY_BYTES` only."""
    bound = max(limits.max_inputs, limits.max_rows) + 64
    if raw.count(b"{") > bound:
        raise ApiError(413, f"request body holds more than {bound} JSON objects; a request "
                            f"has at most {limits.max_inputs} inputs and {limits.max_rows} rows")


_SURROGATE = re.compile("[\ud800-\udfff]")


def check_id(request_id, limits: Limits):
    """Return a v2 ``id`` if it is a string short enough and valid UTF-8, else raise 400."""
    if request_id is None:
        return None
    if type(request_id) is not str:
        return request_id   # the general path explains the type
    if len(request_id) > limits.max_id_chars:
        raise ApiError(400, f"request.id is {len(request_id)} characters, more than the limit "
                            f"of {limits.max_id_chars}")
    if not request_id.isascii() and _SURROGATE.search(request_id):
        raise ApiError(400, "request.id holds a lone surrogate (\\ud800-\\udfff); it must be "
                            "valid UTF-8 text")
    return request_id
