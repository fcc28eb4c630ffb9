"""gRPC tensors to and from numpy.

A ``ModelInferRequest`` becomes the same payload dict a JSON body parses to (its ``data``
fields numpy arrays), so :func:`~workbench.serving.protocol.parse_v2` validates both protocols
alike. Inputs come either as typed ``contents`` or — all of them — as ``raw_input_contents``
(little-endian bytes, as the REST binary extension). The answer mirrors the request: raw
outputs for raw inputs, typed ``contents`` otherwise.
"""
from __future__ import annotations

import numpy as np

from ..binary import NUMPY_DTYPES, decode_tensor, tensor_bytes
from ..errors import ApiError
from . import grpc_predict_v2_pb2 as pb2

#: the typed ``InferTensorContents`` field of each datatype (FP16 has none: raw only)
CONTENTS_FIELD = {
    "BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents",
    "INT32": "int_contents", "INT64": "int64_contents", "UINT8": "uint_contents",
    "UINT16": "uint_contents", "UINT32": "uint_contents", "UINT64": "uint64_contents",
    "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents",
}


def parameter_value(param: pb2.InferParameter):
    """The Python value of an ``InferParameter`` (None when unset)."""
    which = param.WhichOneof("parameter_choice")
    return None if which is None else getattr(param, which)


def _parameters(mapping) -> dict:
    return {key: parameter_value(value) for key, value in mapping.items()}


def _typed(tensor, datatype: str, where: str) -> np.ndarray:
    field = CONTENTS_FIELD.get(datatype)
    if datatype == "FP16":
        raise ApiError(400, f"{where} is FP16, which has no typed contents field; send it in "
                            f"raw_input_contents")
    if field is None:
        raise ApiError(400, f"{where}.datatype {datatype[:32]!r} is not a v2 datatype")
    if datatype == "BYTES":
        raise ApiError(422, f"{where}.datatype is BYTES but this model takes numbers; send "
                            f"FP32/FP64 (or an integer type)")
    values = getattr(tensor.contents, field)
    dtype = NUMPY_DTYPES[datatype]
    wide = np.asarray(values, dtype=np.float64 if dtype.kind == "f" else
                      (np.bool_ if dtype.kind == "b" else np.int64 if dtype.kind == "i"
                       else np.uint64))
    if dtype.kind in "iu" and wide.size:
        info = np.iinfo(dtype)
        if wide.min() < info.min or wide.max() > info.max:
            raise ApiError(422, f"{where} holds values outside the range of {datatype}")
    return wide.astype(dtype, copy=False)


def request_payload(request: pb2.ModelInferRequest) -> dict:
    """Turn a ``ModelInferRequest`` into a v2 payload dict for ``parse_v2`` (ApiError 400)."""
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise ApiError(400, f"raw_input_contents has {len(raw)} entries for "
                            f"{len(request.inputs)} inputs; send one per input (or none)")
    inputs = []
    for i, tensor in enumerate(request.inputs):
        where = f"inputs[{i}]"
        shape = list(tensor.shape)
        if any(d < 0 for d in shape):
            raise ApiError(400, f"{where}.shape must hold non-negative integers, got {shape[:8]}")
        if raw:
            if tensor.HasField("contents"):
                raise ApiError(400, f"{where} has typed contents and raw_input_contents; "
                                    f"send one")
            data = decode_tensor(raw[i], tensor.datatype, shape, where)
        else:
            data = _typed(tensor, tensor.datatype, where)
        inputs.append({"name": tensor.name, "shape": shape, "datatype": tensor.datatype,
                       "data": data, "parameters": _parameters(tensor.parameters)})
    payload = {"inputs": inputs, "parameters": _parameters(request.parameters)}
    if request.id:
        payload["id"] = request.id
    if request.outputs:
        payload["outputs"] = [{"name": out.name} for out in request.outputs]
    return payload


def response_message(content: dict, raw: bool) -> pb2.ModelInferResponse:
    """Build the ``ModelInferResponse`` of a v2 answer (``raw``: outputs as raw bytes)."""
    response = pb2.ModelInferResponse(model_name=content["model_name"],
                                      model_version=content["model_version"],
                                      id=content.get("id", ""))
    for out in content["outputs"]:
        tensor = response.outputs.add(name=out["name"], datatype=out["datatype"],
                                      shape=out["shape"])
        data, datatype = out["data"], out["datatype"]
        if raw:
            response.raw_output_contents.append(tensor_bytes(data, datatype))
        elif datatype == "BYTES":
            tensor.contents.bytes_contents.extend(
                v if isinstance(v, bytes) else str(v).encode("utf-8") for v in data)
        else:
            values = np.asarray(data, dtype=NUMPY_DTYPES[datatype]).ravel()
            getattr(tensor.contents, CONTENTS_FIELD[datatype]).extend(values.tolist())
    return response
