"""Open Inference Protocol v2 and TF-Serving/KServe v1 request parsing and validation.

The inference routes parse the body themselves (orjson → numpy), not through pydantic models:
that is what keeps the service close to a bare Starlette endpoint in speed. Every check raises
:class:`~workbench.serving.errors.ApiError` with a message that names the problem and says what
was expected.

Status codes
------------
* 400 — not the protocol: body not JSON, not an object, a required field missing or of the
  wrong JSON type, an unknown v2 datatype, an unknown requested output.
* 413 — the body is over ``Limits.max_body_bytes``, the batch has more than
  ``Limits.max_rows`` rows or the request more than ``Limits.max_inputs`` inputs.
* 400 also — an ``id`` longer than ``Limits.max_id_chars`` or holding a lone surrogate, a shape
  with more than ``Limits.max_rank`` dimensions or a dimension over ``Limits.max_dim``, a body
  that is not valid UTF-8 or nests deeper than 1024 levels (see :mod:`.safety`).
* 422 — protocol-shaped but unusable by this model: ``len(data) != prod(shape)``, wrong number
  of features, non-numeric or non-finite values, a datatype the model cannot take
  (``BYTES``), an empty batch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ApiError
from .safety import Limits, check_id, client_text, parse_json  # noqa: F401 - re-exported

#: v2 tensor datatypes and whether each is numeric, integral or boolean
DATATYPES = {
    "BOOL": "b", "UINT8": "u", "UINT16": "u", "UINT32": "u", "UINT64": "u",
    "INT8": "i", "INT16": "i", "INT32": "i", "INT64": "i",
    "FP16": "f", "FP32": "f", "FP64": "f", "BYTES": "S",
}
_NUMPY_TO_V2 = {np.dtype(k): v for k, v in [("float16", "FP16"), ("float32", "FP32"),
                                             ("float64", "FP64"), ("int64", "INT64"),
                                             ("int32", "INT32"), ("bool", "BOOL")]}


def v2_datatype(dtype) -> str:
    """Return the v2 datatype name of a numpy dtype (``float32`` → ``"FP32"``)."""
    found = _NUMPY_TO_V2.get(dtype)
    return found if found is not None else _NUMPY_TO_V2.get(np.dtype(dtype), "FP64")


def _field(obj: dict, key: str, kinds, where: str, required=True):
    if key not in obj:
        if required:
            raise ApiError(400, f"{where} is missing the required field '{key}'")
        return None
    value = obj[key]
    if not isinstance(value, kinds) or isinstance(value, bool) and bool not in _tuple(kinds):
        names = " or ".join(k.__name__.replace("str", "string").replace("dict", "object")
                            .replace("list", "array") for k in _tuple(kinds))
        raise ApiError(400, f"{where}.{key} must be a JSON {names}, got {_jtype(value)}")
    return value


def _tuple(kinds):
    return kinds if isinstance(kinds, tuple) else (kinds,)


def _jtype(value) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


def _shape(value, where: str, limits: Limits) -> list[int]:
    if len(value) > limits.max_rank:
        raise ApiError(400, f"{where}.shape has {len(value)} dimensions, more than the limit of "
                            f"{limits.max_rank}; the model takes [n_rows, n_features]")
    if not all(type(d) is int and 0 <= d <= limits.max_dim for d in value):
        bad = next(d for d in value if not (type(d) is int and 0 <= d <= limits.max_dim))
        raise ApiError(400, f"{where}.shape must be an array of non-negative integers of at "
                            f"most {limits.max_dim}, got {client_text(repr(bad), 40)}")
    return value


def _numbers(data, datatype: str, where: str) -> np.ndarray:
    """Turn JSON data (nested or flat) into a numeric array, refusing strings, nulls, ragged rows."""
    kind = DATATYPES[datatype]
    if kind == "S":
        raise ApiError(422, f"{where}.datatype is BYTES but this model takes numbers; "
                            f"send FP32/FP64 (or an integer type)")
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError):
        raise ApiError(422, f"{where}.data is ragged: nested arrays must all have the same "
                            f"length") from None
    if arr.dtype.kind not in "biuf":
        raise ApiError(422, f"{where}.data must hold only numbers; found a "
                            f"{'string' if arr.dtype.kind == 'U' else 'null or non-number'} value")
    if kind in "iu" and arr.dtype.kind == "f":
        raise ApiError(422, f"{where}.datatype is {datatype} but data holds non-integer numbers;"
                            f" send FP32/FP64 for fractional values")
    if kind == "b" and arr.dtype.kind != "b":
        raise ApiError(422, f"{where}.datatype is BOOL but data holds non-boolean values")
    if kind == "u" and arr.size and arr.min() < 0:
        raise ApiError(422, f"{where}.datatype is {datatype} but data holds negative numbers")
    return arr


def check_rows(n_rows: int, limits: Limits, where: str) -> None:
    """Refuse an empty batch (422) or one over ``limits.max_rows`` (413)."""
    if n_rows == 0:
        raise ApiError(422, f"{where} is an empty batch (0 rows); send at least one row")
    if n_rows > limits.max_rows:
        raise ApiError(413, f"{where} has {n_rows} rows, more than the limit of "
                            f"{limits.max_rows} rows per request; split the batch")


def finish_matrix(X: np.ndarray, signature: dict, where: str) -> np.ndarray:
    """Check the feature count, cast to the model's dtype and refuse non-finite values (422)."""
    n_features = signature["n_features"]
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ApiError(422, f"{where} has shape {list(X.shape)} but the model expects "
                            f"[n_rows, {n_features}] ({n_features} features per row)")
    with np.errstate(over="ignore", invalid="ignore"):
        X = X.astype(signature.get("dtype") or "float64", copy=False)
    if X.dtype.kind == "f":
        finite = np.isfinite(X)
        if not finite.all():
            rows = np.flatnonzero(~finite.all(axis=1))[:5].tolist()
            raise ApiError(422, f"{where} holds non-finite values (NaN or ±infinity, or too large "
                                f"for {X.dtype.name}) in rows {rows}; every feature must be a "
                                f"finite number")
    return X


@dataclass
class V2Request:
    """A validated v2 inference request: the input matrix and what to answer with."""

    X: np.ndarray
    id: str | None
    outputs: list | None
    parameters: dict
    #: outputs to answer as binary tensors (see :mod:`.binary`); None: all JSON
    binary_outputs: set | None = None


_MAXIMUM, _MINIMUM = np.maximum.reduce, np.minimum.reduce
_FLOAT_MAX = {"float32": float(np.finfo(np.float32).max), "float64": float(np.finfo(np.float64).max)}


def _fast_v2(payload, signature: dict, limits: Limits):
    """The common, valid case (one FP32/FP64 input [n, n_features], numbers only) without the
    general checks; None for anything else, which the general path then explains."""
    if type(payload) is not dict or "outputs" in payload:
        return None
    inputs = payload.get("inputs")
    if type(inputs) is not list or len(inputs) != 1 or type(inputs[0]) is not dict:
        return None
    tensor = inputs[0]
    shape, data = tensor.get("shape"), tensor.get("data")
    if (tensor.get("datatype") not in ("FP32", "FP64") or type(tensor.get("name")) is not str
            or type(shape) is not list or len(shape) != 2 or type(data) is not list):
        return None
    rows, features = shape
    if (type(rows) is not int or type(features) is not int or not 0 < rows <= limits.max_rows
            or features != signature["n_features"]):
        return None
    request_id, parameters = payload.get("id"), payload.get("parameters", {})
    if (request_id is not None and type(request_id) is not str) or type(parameters) is not dict:
        return None
    if request_id is not None:
        check_id(request_id, limits)
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError):
        return None
    dtype = signature.get("dtype") or "float64"
    if arr.dtype.kind not in "fi" or arr.size != rows * features or dtype not in _FLOAT_MAX:
        return None
    bound = _FLOAT_MAX[dtype]
    # the ufuncs' own reductions (ndarray.max/min add two Python-level wrappers); False for NaN
    if not (_MAXIMUM(arr, axis=None) <= bound and _MINIMUM(arr, axis=None) >= -bound):
        return None
    return V2Request(arr.reshape(rows, features).astype(dtype, copy=False), request_id, None,
                     parameters)


def parse_v2(payload, signature: dict, limits: Limits, output_names: tuple) -> V2Request:
    """Validate a v2 inference request body against a model signature.

    One input of shape ``[n_rows, n_features]`` (data nested or flat), or one input per feature
    named as in ``signature["feature_names"]``, each of shape ``[n_rows]`` or ``[n_rows, 1]``.
    """
    fast = _fast_v2(payload, signature, limits)
    if fast is not None:
        return fast
    if not isinstance(payload, dict):
        raise ApiError(400, f"request body must be a JSON object with an 'inputs' array, "
                            f"got {_jtype(payload)}")
    inputs = _field(payload, "inputs", list, "request")
    if not inputs:
        raise ApiError(400, "request.inputs is an empty array; send one input tensor")
    if len(inputs) > limits.max_inputs:
        raise ApiError(413, f"request has {len(inputs)} inputs, more than the limit of "
                            f"{limits.max_inputs}; send one input of shape [n_rows, n_features]")
    request_id = check_id(_field(payload, "id", str, "request", required=False), limits)
    parameters = _field(payload, "parameters", dict, "request", required=False) or {}
    outputs = _field(payload, "outputs", list, "request", required=False)
    if outputs is not None:
        names = []
        for i, out in enumerate(outputs):
            where = f"request.outputs[{i}]"
            if not isinstance(out, dict):
                raise ApiError(400, f"{where} must be an object with a 'name', got {_jtype(out)}")
            name = _field(out, "name", str, where)
            if name not in output_names:
                raise ApiError(400, f"{where}.name '{client_text(name)}' is not an output of this model; "
                                    f"outputs are {', '.join(output_names)}")
            names.append(name)
        outputs = names or None
    tensors = []
    for i, tensor in enumerate(inputs):
        where = f"inputs[{i}]"
        if not isinstance(tensor, dict):
            raise ApiError(400, f"{where} must be an object with name, shape, datatype and data, "
                                f"got {_jtype(tensor)}")
        name = _field(tensor, "name", str, where)
        shape = _shape(_field(tensor, "shape", list, where), where, limits)
        datatype = _field(tensor, "datatype", str, where)
        if datatype not in DATATYPES:
            raise ApiError(400, f"{where}.datatype '{client_text(datatype, 32)}' is not a v2 datatype; "
                                f"expected one of {', '.join(DATATYPES)}")
        data = tensor.get("data")
        if not isinstance(data, np.ndarray):     # ndarray: decoded binary data (.binary, gRPC)
            data = _field(tensor, "data", list, where)
        if shape:
            check_rows(shape[0], limits, where)
        expected = math.prod(shape)
        arr = _numbers(data, datatype, where)
        if arr.size != expected:
            raise ApiError(422, f"{where}.data has {arr.size} values but shape {shape} needs "
                                f"{expected}; len(data) must equal the product of shape")
        tensors.append((name, shape, arr.reshape(shape)))
    if len(tensors) == 1:
        _, shape, X = tensors[0]
        if len(shape) != 2:
            raise ApiError(422, f"inputs[0].shape is {shape} but the model expects a 2-D shape "
                                f"[n_rows, {signature['n_features']}]")
    else:
        X = _stack_columns(tensors, signature)
    return V2Request(finish_matrix(X, signature, "inputs[0]" if len(tensors) == 1 else "inputs"),
                     request_id, outputs, parameters)


def _stack_columns(tensors, signature) -> np.ndarray:
    names = signature.get("feature_names")
    n_features = signature["n_features"]
    got = [t[0] for t in tensors]
    if not names or sorted(got) != sorted(names):
        expect = (f"one input per feature named {', '.join(names)}" if names
                  else "no per-feature inputs (the model has no feature names)")
        raise ApiError(422, f"got {len(tensors)} inputs named {client_text(', '.join(got), 200)}; the model "
                            f"expects one input of shape [n_rows, {n_features}] or {expect}")
    by_name = {}
    for name, shape, arr in tensors:
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
            raise ApiError(422, f"input '{client_text(name)}' has shape {shape}; a per-feature input must "
                                f"have shape [n_rows] or [n_rows, 1]")
        by_name[name] = arr.reshape(-1)
    lengths = {len(a) for a in by_name.values()}
    if len(lengths) != 1:
        raise ApiError(422, f"per-feature inputs have different row counts {sorted(lengths)}; "
                            f"all must have the same")
    return np.stack([by_name[n] for n in names], axis=1)


from .protocol_v1 import V1Request, parse_v1  # noqa: E402,F401  (re-exported)
