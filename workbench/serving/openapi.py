"""OpenAPI declarations of the inference routes.

The inference routes are plain Starlette routes that parse their body with orjson (no pydantic
models on the hot path), so FastAPI cannot see their schema; it is declared here and merged into
``/openapi.json`` so ``/docs`` documents them like every other route.
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
            "data": {"type": "array", "items": {}, "description": "row-major, flat or nested",
                     "example": [5.1, 3.5, 1.4, 0.2]},
            "parameters": {"type": "object"},
        }},
    "InferRequest": {
        "type": "object", "required": ["inputs"],
        "properties": {
            "id": {"type": "string", "description": "echoed in the response"},
            "parameters": {"type": "object"},
            "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/InferInput"},
                       "description": "one input [n_rows, n_features], or one input per feature "
                                      "named as the model's feature names"},
            "outputs": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}}}, "description": "subset of outputs to return"},
        }},
    "InferOutput": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "shape": {"type": "array",
                                                              "items": {"type": "integer"}},
                       "datatype": {"type": "string"}, "data": {"type": "array", "items": {}}}},
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


def _ref(name):
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def _errors(*codes):
    text = {400: "malformed request", 401: "missing, invalid or revoked key",
            403: "key's role is below predictor", 404: "unknown model, version or alias",
            413: "body or batch too large", 422: "does not fit the model's signature",
            503: "not ready / model cannot be loaded"}
    return {str(c): {"description": text[c], "content": _ref("Error")} for c in codes}


def _operation(summary, request, response, path_params):
    return {"post": {
        "tags": ["inference"], "summary": summary,
        "security": [{"bearer": []}],
        "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"},
                        "description": d} for p, d in path_params],
        "requestBody": {"required": True, "content": _ref(request)},
        "responses": {"200": {"description": "predictions", "content": _ref(response)},
                      **_errors(400, 401, 403, 404, 413, 422, 503)},
    }}


_NAME = ("name", "model name; answered by its 'production' alias, else its latest version")
_VERSION = ("version", "a version number, or an alias name such as 'production' or 'staging'")

PATHS = {
    "/v2/models/{name}/infer": _operation("Infer (Open Inference Protocol v2)", "InferRequest",
                                          "InferResponse", [_NAME]),
    "/v2/models/{name}/versions/{version}/infer": _operation(
        "Infer with a version or alias (v2)", "InferRequest", "InferResponse", [_NAME, _VERSION]),
    "/v1/models/{name}:predict": _operation("Predict (TF-Serving / KServe v1)",
                                            "V1PredictRequest", "V1PredictResponse", [_NAME]),
    "/v1/models/{name}/versions/{version}:predict": _operation(
        "Predict with a version or alias (v1)", "V1PredictRequest", "V1PredictResponse",
        [_NAME, _VERSION]),
}


def extend(schema: dict) -> dict:
    """Add the inference routes, their schemas and the bearer security scheme to ``schema``."""
    schema.setdefault("paths", {}).update(PATHS)
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {}).update(SCHEMAS)
    components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer",
                                                "description": "an API key: wb_<id>_<secret>"}}
    return schema
