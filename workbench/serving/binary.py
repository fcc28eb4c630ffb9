"""The v2 binary tensor data extension (Triton's ``binary_data``), both ways.

Request
-------
The body is a JSON header followed by raw tensor bytes. The header
``Inference-Header-Content-Length: N`` says the JSON is the first ``N`` bytes; an input whose
``parameters.binary_data_size`` is set has no ``data`` field and takes the next
``binary_data_size`` bytes, in the order of the inputs. Values are little-endian, row-major;
``BOOL`` is one byte per element (0 or 1), ``FP16`` two bytes.

Response
--------
An output asked for with ``parameters.binary_data: true`` (or every output, when the request's
``parameters.binary_data_output`` is true and the output does not say otherwise) is answered
without ``data`` but with ``parameters.binary_data_size``, its bytes following the JSON header;
the response then carries ``Inference-Header-Content-Length`` and the content type
``application/octet-stream``. ``BYTES`` values (string labels) are each prefixed by their
length as a 4-byte little-endian integer.

Validation: the decoded arrays go through the same :func:`~.protocol.parse_v2` checks as JSON
data. Framing errors — a header length that is not a number or points past the end of the
body, a size that does not match ``shape`` × the datatype's width, a body shorter or longer than
the declared sizes — are 400 with a message naming the input.
"""
from __future__ import annotations

import math
import struct

import numpy as np
import orjson

from .errors import ApiError
from .protocol import DATATYPES, parse_json

#: the header naming the JSON part's length (lower case, as ASGI gives header names)
HEADER = b"inference-header-content-length"
CONTENT_TYPE = "application/octet-stream"

#: little-endian numpy dtype of every fixed-width v2 datatype
NUMPY_DTYPES = {
    "BOOL": np.dtype("|b1"), "UINT8": np.dtype("|u1"), "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"), "UINT64": np.dtype("<u8"), "INT8": np.dtype("|i1"),
    "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"), "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
}
_DUMPS = orjson.OPT_SERIALIZE_NUMPY


def header_length(value: str, body_size: int) -> int:
    """Parse ``Inference-Header-Content-Length`` against a body of ``body_size`` bytes (400)."""
    if not (value.isascii() and value.strip().isdigit()):
        raise ApiError(400, f"Inference-Header-Content-Length must be a number of bytes, got "
                            f"{value[:20]!r}")
    length = int(value)
    if length == 0:
        raise ApiError(400, "Inference-Header-Content-Length is 0; the JSON header cannot be "
                            "empty")
    if length > body_size:
        raise ApiError(400, f"Inference-Header-Content-Length is {length} but the body has only "
                            f"{body_size} bytes; the JSON header cannot end past the body")
    return length


def decode_tensor(raw, datatype: str, shape, where: str) -> np.ndarray:
    """Return the array of ``raw`` bytes holding a ``datatype`` tensor of ``shape`` (flat).

    Raises ApiError 400 when the byte count is not ``prod(shape)`` × the datatype's width,
    422 for ``BYTES`` (the models take numbers) and for ``BOOL`` bytes other than 0 and 1.
    """
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise ApiError(400, f"{where}.datatype {str(datatype)[:32]!r} is not a v2 datatype; "
                            f"expected one of {', '.join(DATATYPES)}")
    if datatype == "BYTES":
        raise ApiError(422, f"{where}.datatype is BYTES but this model takes numbers; send "
                            f"FP32/FP64 (or an integer type)")
    if not isinstance(shape, (list, tuple)) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise ApiError(400, f"{where}.shape must be an array of non-negative integers")
    dtype = NUMPY_DTYPES[datatype]
    expected = math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        raise ApiError(400, f"{where} has {len(raw)} bytes of binary data but shape "
                            f"{list(shape)[:8]} of {datatype} needs {expected} "
                            f"({dtype.itemsize} per value)")
    if datatype == "BOOL":
        codes = np.frombuffer(raw, dtype=np.uint8)
        if codes.size and codes.max() > 1:
            raise ApiError(422, f"{where} is BOOL but holds bytes other than 0 and 1")
        return codes.view(np.bool_)
    return np.frombuffer(raw, dtype=dtype)


def split_request(body: bytes, header: str):
    """Return the JSON header of a binary request with each binary input's ``data`` decoded.

    The result goes to :func:`~.protocol.parse_v2` like a JSON payload (its ``data`` fields
    are numpy arrays instead of lists).
    """
    length = header_length(header, len(body))
    payload = parse_json(body[:length])
    binary = memoryview(body)[length:]
    offset = 0
    inputs = payload.get("inputs") if isinstance(payload, dict) else None
    for i, tensor in enumerate(inputs if isinstance(inputs, list) else ()):
        params = tensor.get("parameters") if isinstance(tensor, dict) else None
        if not isinstance(params, dict) or "binary_data_size" not in params:
            continue
        where = f"inputs[{i}]"
        size = params["binary_data_size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ApiError(400, f"{where}.parameters.binary_data_size must be a non-negative "
                                f"integer, got {orjson.dumps(size).decode()[:40]}")
        if "data" in tensor:
            raise ApiError(400, f"{where} has both 'data' and binary_data_size; send one")
        if offset + size > len(binary):
            raise ApiError(400, f"{where}.parameters.binary_data_size is {size} but only "
                                f"{len(binary) - offset} bytes of binary data are left; the "
                                f"body is truncated")
        tensor["data"] = decode_tensor(binary[offset:offset + size], tensor.get("datatype"),
                                       tensor.get("shape"), where)
        offset += size
    if offset != len(binary):
        raise ApiError(400, f"the body has {len(binary) - offset} bytes after the last binary "
                            f"input; the binary_data_size values must add up to the bytes "
                            f"after the JSON header")
    return payload


def _flag(params, key: str):
    if isinstance(params, dict) and key in params:
        value = params[key]
        if not isinstance(value, bool):
            raise ApiError(400, f"parameters.{key} must be true or false, got "
                                f"{orjson.dumps(value).decode()[:40]}")
        return value
    return None


def binary_outputs(payload) -> set | None:
    """Names of the outputs a request wants binary (``"*"`` in the set: every output not
    asking otherwise), or None for an all-JSON answer."""
    if not isinstance(payload, dict):
        return None
    default = _flag(payload.get("parameters"), "binary_data_output")
    wanted = {"*"} if default else set()
    outputs = payload.get("outputs")
    for out in outputs if isinstance(outputs, list) else ():
        if isinstance(out, dict) and isinstance(out.get("name"), str):
            flag = _flag(out.get("parameters"), "binary_data")
            if flag is True:
                wanted.add(out["name"])
            elif flag is False:
                wanted.add("!" + out["name"])
    return wanted if any(not w.startswith("!") for w in wanted) else None


def tensor_bytes(data, datatype: str) -> bytes:
    """The binary form of an output's ``data`` (an array, or a list of labels for BYTES)."""
    if datatype == "BYTES":
        parts = []
        for value in data:
            raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
            parts += [struct.pack("<I", len(raw)), raw]
        return b"".join(parts)
    return np.ascontiguousarray(data, dtype=NUMPY_DTYPES[datatype]).tobytes()


def encode_response(content: dict, wanted: set) -> tuple[bytes, dict]:
    """Return the body and extra headers of a v2 answer whose ``wanted`` outputs go binary."""
    chunks = []
    for out in content["outputs"]:
        name = out["name"]
        if name in wanted or ("*" in wanted and "!" + name not in wanted):
            raw = tensor_bytes(out.pop("data"), out["datatype"])
            out["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
    header = orjson.dumps(content, option=_DUMPS)
    return header + b"".join(chunks), {"Inference-Header-Content-Length": str(len(header))}
