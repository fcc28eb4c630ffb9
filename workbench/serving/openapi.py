"""OpenAPI declarations of the inference routes, and the truth about every other route.

The inference routes are plain Starlette routes that parse their body with orjson (no pydantic
models on the hot path), so FastAPI cannot see their schema; it is declared here and merged into
``/openapi.json`` so ``/docs`` documents them like every other route. The v2 infer routes also
take and give the binary tensor extension (``application/octet-stream``, see :mod:`.binary`).

FastAPI documents only 200 and its own 422 for the other routes; :func:`complete` adds the
statuses they really answer (every error as ``{"error": ...}`` JSON): 401/403 on routes that
need a key, 404/409/503 where a model is addressed, 400/413/422 where a JSON body is read.
``tests/test_openapi_conformance.py`` holds the service to it with schemathesis.
"""
from __future__ import annotations

_ERROR = {"type": "object", "required": ["error"],
          "properties": {"error": {"type": "string"}, "model_version": {"type": "string"}}}

SCHEMAS = {
    "Error": _ERROR,
    "InferInput": {
        "type": "object", "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"type": "string", "example": "input-0"},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0},
                      "example": [1, 4]},
            "datatype": {"type": "string", "enum": ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64",
                                                    "INT8", "INT16", "INT32", "INT64", "FP16",
                                                    "FP32", "FP64", "BYTES"], "example": "FP32"},
            "data": {"type": "array", "items": {}, "description": "row-major, flat or nested; "
                     "left out when parameters.binary_data_size is set",
                     "example": [5.1, 3.5, 1.4, 0.2]},
            "parameters": {"type": "object", "properties": {"binary_data_size": {
                "type": "integer", "minimum": 0,
                "description": "binary extension: the input's bytes follow the JSON header"}}},
        }},
    "InferRequest": {
        "type": "object", "required": ["inputs"],
        "properties": {
            "id": {"type": "string", "description": "echoed in the response"},
            "parameters": {"type": "object", "properties": {"binary_data_output": {
                "type": "boolean", "description": "answer every output as binary data"}}},
            "inputs": {"type": "array", "minItems": 1,
                       "items": {"$ref": "#/components/schemas/InferInput"},
                       "description": "one input [n_rows, n_features], or one input per feature "
                                      "named as the model's feature names"},
            "outputs": {"type": "array", "items": {
                "type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string"},
                    "parameters": {"type": "object", "properties": {"binary_data": {
                        "type": "boolean", "description": "answer this output as binary"}}}}},
                "description": "subset of outputs to return"},
        }},
    "InferOutput": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "shape": {"type": "array",
                                                              "items": {"type": "integer"}},
                       "datatype": {"type": "string"}, "data": {"type": "array", "items": {}},
                       "parameters": {"type": "object", "properties": {
                           "binary_data_size": {"type": "integer", "minimum": 0}}}}},
    "InferResponse": {
        "type": "object", "required": ["model_name", "model_version", "outputs"],
        "properties": {
            "model_name": {"type": "string"}, "model_version": {"type": "string"},
            "id": {"type": "string"},
            "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/InferOutput"},
                        "description": "classifiers: label [n] and probabilities [n, k]; "
                                       "regressors: predictions [n, k]"},
        }},
    "V1PredictRequest": {
        "type": "object", "required": ["instances"],
        "properties": {
            "instances": {"type": "array", "items": {},
                          "description": "rows: arrays of numbers, or objects by feature name",
                          "example": [[5.1, 3.5, 1.4, 0.2]]},
            "probabilities": {"type": "boolean", "default": False,
                              "description": "classifiers: also return class probabilities"},
        }},
    "V1PredictResponse": {
        "type": "object", "required": ["predictions", "model_version"],
        "properties": {"predictions": {"type": "array", "items": {}},
                       "probabilities": {"type": "array", "items": {}},
                       "model_name": {"type": "string"}, "model_version": {"type": "string"}}},
}


_BINARY = {"schema": {"type": "string", "format": "binary"}}
_BINARY_NOTE = ("Binary tensor extension: the body is the JSON header (its length in the "
                "Inference-Header-Content-Length header) followed by the tensors' bytes, "
                "little-endian, row-major, BOOL one byte each.")


def _ref(name, binary=False):
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}
    if binary:
        content["application/octet-stream"] = {**_BINARY, "description": _BINARY_NOTE}
    return content


_TEXT = {400: "malformed request (not JSON, wrong field types, bad binary framing)",
         401: "missing, invalid or revoked key", 403: "the key's role is too low",
         404: "unknown model, version, alias or key", 409: "the registry's state forbids it "
         "(archived version, alias in use, nothing to roll back)",
         413: "body or batch too large", 422: "valid JSON that does not fit (signature, values)",
         503: "not ready / model cannot be loaded / registry busy"}


def _errors(*codes):
    return {str(c): {"description": _TEXT[c], "content": _ref("Error")} for c in codes}


_HEADER = {"name": "Inference-Header-Content-Length", "in": "header", "required": False,
           "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
           "description": "binary extension: length of the JSON header at the start of the body"}


def _operation(summary, request, response, path_params, binary=False):
    ok = {"description": "predictions", "content": _ref(response, binary)}
    if binary:
        ok["headers"] = {"Inference-Header-Content-Length": {
            "schema": {"type": "string"},
            "description": "with application/octet-stream: length of the JSON header"}}
    return {"post": {
        "tags": ["inference"], "summary": summary,
        "description": _BINARY_NOTE if binary else "",
        "security": [{"bearer": []}],
        "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"},
                        "description": d} for p, d in path_params] + ([_HEADER] if binary else []),
        "requestBody": {"required": True, "content": _ref(request, binary)},
        "responses": {"200": ok, **_errors(400, 401, 403, 404, 409, 413, 422, 503)},
    }}


_NAME = ("name", "model name; answered by its 'production' alias, else its latest version")
_VERSION = ("version", "a version number, or an alias name such as 'production' or 'staging'")

PATHS = {
    "/v2/models/{name}/infer": _operation("Infer (Open Inference Protocol v2)", "InferRequest",
                                          "InferResponse", [_NAME], binary=True),
    "/v2/models/{name}/versions/{version}/infer": _operation(
        "Infer with a version or alias (v2)", "InferRequest", "InferResponse", [_NAME, _VERSION],
        binary=True),
    "/v1/models/{name}:predict": _operation("Predict (TF-Serving / KServe v1)",
                                            "V1PredictRequest", "V1PredictResponse", [_NAME]),
    "/v1/models/{name}/versions/{version}:predict": _operation(
        "Predict with a version or alias (v1)", "V1PredictRequest", "V1PredictResponse",
        [_NAME, _VERSION]),
}


def _codes(path: str, method: str, op: dict) -> set:
    """The error statuses a FastAPI route really answers (see the module docstring)."""
    codes = set()
    if op.get("security"):
        codes |= {401, 403}
    if path.startswith("/admin/keys"):
        codes.add(404)          # a server without auth has no keys
        if method == "post":
            codes |= {400, 409, 413, 422}
    elif "{name}" in path:
        codes |= {404, 409, 503}
        if "/aliases/" in path:
            codes.add(422)      # a name or alias that could never exist, a bad version
        if method == "put" or path.endswith("/promote"):
            codes |= {400, 413, 422}        # these read a JSON body
    if path == "/v2/health/ready":
        codes.add(503)
    return codes


_TENSOR_META = {"type": "object", "required": ["name", "datatype", "shape"], "properties": {
    "name": {"type": "string"}, "datatype": {"type": "string"},
    "shape": {"type": "array", "items": {"type": "integer"}}}}

#: the 200 bodies of the FastAPI routes whose answers have a fixed form
RESPONSES = {
    "/v2/health/live": {"type": "object", "required": ["live"],
                        "properties": {"live": {"type": "boolean"}}},
    "/v2/health/ready": {"type": "object", "required": ["ready"],
                         "properties": {"ready": {"type": "boolean"}}},
    "/v2": {"type": "object", "required": ["name", "version", "extensions"], "properties": {
        "name": {"type": "string"}, "version": {"type": "string"},
        "extensions": {"type": "array", "items": {"type": "string"}}}},
    "/v2/models/{name}": {"type": "object", "required": [
        "name", "versions", "platform", "inputs", "outputs", "model_version"], "properties": {
        "name": {"type": "string"}, "versions": {"type": "array", "items": {"type": "string"}},
        "platform": {"type": "string"}, "model_version": {"type": "string"},
        "inputs": {"type": "array", "items": _TENSOR_META},
        "outputs": {"type": "array", "items": _TENSOR_META},
        "aliases": {"type": "object", "additionalProperties": {"type": "string"}}}},
    "/v2/models/{name}/ready": {"type": "object", "required": ["name", "ready", "model_version"],
                                "properties": {"name": {"type": "string"},
                                               "ready": {"type": "boolean"},
                                               "model_version": {"type": "string"}}},
}
RESPONSES["/v2/models/{name}/versions/{version}"] = RESPONSES["/v2/models/{name}"]
RESPONSES["/v2/models/{name}/versions/{version}/ready"] = RESPONSES["/v2/models/{name}/ready"]


def complete(schema: dict) -> dict:
    """Document the real statuses and content types of the FastAPI routes in ``schema``."""
    for path, item in schema.get("paths", {}).items():
        if path in PATHS:
            continue
        for method, op in item.items():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)       # FastAPI's HTTPValidationError: never sent as such
            for code, response in _errors(*sorted(_codes(path, method, op))).items():
                responses.setdefault(code, response)
            if path in RESPONSES:
                responses["200"]["content"] = {"application/json": {"schema": RESPONSES[path]}}
            if path == "/v2/health/ready":
                responses["503"] = {"description": "not ready yet (models loading)",
                                    "content": responses["200"]["content"]}
            if path == "/metrics":
                responses["200"]["content"] = {"text/plain": {"schema": {"type": "string"}}}
    schemas = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return schema


def extend(schema: dict) -> dict:
    """Add the inference routes, their schemas and the bearer security scheme to ``schema``."""
    complete(schema)
    schema.setdefault("paths", {}).update(PATHS)
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {}).update(SCHEMAS)
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http", "scheme": "bearer", "description": "an API key: wb_<id>_<secret>"}
    return schema
