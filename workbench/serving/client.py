"""A small HTTP client of the inference service (httpx)."""
from __future__ import annotations

import httpx
import numpy as np
import orjson

from .binary import NUMPY_DTYPES
from .protocol import v2_datatype

#: batches with at least this many values are sent and answered as binary tensors
BINARY_MIN_VALUES = 4096


class ServingError(Exception):
    """The service refused a request: ``status`` and the server's ``message``."""

    def __init__(self, status: int, message: str, model_version=None):
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message, self.model_version = status, message, model_version


def v2_request(X, *, id: str | None = None, outputs=None) -> dict:
    """Build a v2 inference request body for a matrix ``X`` of shape (n_samples, n_features)."""
    X = np.asarray(X)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    datatype = v2_datatype(X.dtype) if X.dtype.kind == "f" else "FP64"
    body = {"inputs": [{"name": "input-0", "shape": list(X.shape), "datatype": datatype,
                        "data": X.astype(np.float64 if datatype == "FP64" else X.dtype)
                        .ravel().tolist()}]}
    if id is not None:
        body["id"] = id
    if outputs:
        body["outputs"] = [{"name": o} for o in outputs]
    return body


def binary_request(X, *, id: str | None = None, outputs=None) -> tuple[bytes, dict]:
    """Build a v2 request for ``X`` in the binary tensor extension: ``(body, headers)``.

    All outputs are asked for as binary too (``binary_data_output``)."""
    X = np.asarray(X)
    X = X[None, :] if X.ndim == 1 else X
    body = v2_request(X[:0], id=id, outputs=outputs)      # the JSON header, data aside
    tensor = body["inputs"][0]
    raw = np.ascontiguousarray(X, dtype=NUMPY_DTYPES[tensor["datatype"]]).tobytes()
    del tensor["data"]
    tensor["shape"] = list(X.shape)
    tensor["parameters"] = {"binary_data_size": len(raw)}
    body["parameters"] = {"binary_data_output": True}
    header = orjson.dumps(body)
    return header + raw, {"Inference-Header-Content-Length": str(len(header)),
                          "Content-Type": "application/octet-stream"}


def decode_binary_answer(raw: bytes, header_length: int) -> dict:
    """Turn a binary v2 answer into the JSON form (each output's ``data`` a flat array)."""
    answer = orjson.loads(raw[:header_length])
    offset = header_length
    for out in answer.get("outputs", []):
        size = (out.get("parameters") or {}).get("binary_data_size")
        if size is None:
            continue
        chunk = raw[offset:offset + size]
        offset += size
        if out["datatype"] == "BYTES":
            values, at = [], 0
            while at < len(chunk):
                n = int.from_bytes(chunk[at:at + 4], "little")
                values.append(chunk[at + 4:at + 4 + n].decode("utf-8"))
                at += 4 + n
            out["data"] = values
        else:
            out["data"] = np.frombuffer(chunk, dtype=NUMPY_DTYPES[out["datatype"]])
    return answer


class Client:
    """Call a workbench inference service.

    Batches of at least :data:`BINARY_MIN_VALUES` values travel as binary tensors (the v2
    binary extension) both ways, smaller ones as JSON; the answers look the same.

    Parameters
    ----------
    url : str
        Base URL, e.g. ``"http://127.0.0.1:8000"``.
    key : str, optional
        API key, sent as ``Authorization: Bearer <key>``.
    timeout : float, default=10.0
    verify : bool or str, default=True
        TLS verification (a CA bundle path for self-signed certificates).

    Examples
    --------
    >>> client = Client("http://127.0.0.1:8000", key)    # doctest: +SKIP
    >>> client.predict("iris", X[:3])                   # doctest: +SKIP
    array([0, 2, 1])
    """

    def __init__(self, url: str, key: str | None = None, *, timeout: float = 10.0, verify=True):
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout,
                                  verify=verify)
        self.last_version: int | None = None

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def request(self, method: str, path: str, **kwargs):
        """Send a request; return the decoded JSON (or text) or raise :class:`ServingError`."""
        response = self._http.request(method, path, **kwargs)
        binary = response.headers.get("inference-header-content-length")
        try:
            content = (decode_binary_answer(response.content, int(binary))
                       if binary is not None and response.status_code < 400 else response.json())
        except ValueError:
            content = response.text
        if response.status_code >= 400:
            message = content.get("error", str(content)) if isinstance(content, dict) else content
            raise ServingError(response.status_code, message,
                               content.get("model_version") if isinstance(content, dict) else None)
        if isinstance(content, dict) and "model_version" in content:
            self.last_version = int(content["model_version"])
        return content

    @staticmethod
    def _path(name: str, version=None) -> str:
        return f"/v2/models/{name}" + ("" if version is None else f"/versions/{version}")

    # -- health and metadata -------------------------------------------------------------
    def live(self) -> bool:
        """Whether the server answers ``/v2/health/live``."""
        return self._http.get("/v2/health/live").status_code == 200

    def ready(self) -> bool:
        """Whether the server answers ``/v2/health/ready`` with 200."""
        return self._http.get("/v2/health/ready").status_code == 200

    def server_metadata(self) -> dict:
        return self.request("GET", "/v2")

    def models(self) -> list[dict]:
        """Every registered model with its versions, aliases and live version."""
        return self.request("GET", "/v2/models")["models"]

    def model_metadata(self, name: str, version=None) -> dict:
        """v2 model metadata; ``version`` is a number or an alias name."""
        return self.request("GET", self._path(name, version))

    def metrics(self) -> str:
        """The Prometheus text of ``/metrics``."""
        return self.request("GET", "/metrics")

    # -- inference -----------------------------------------------------------------------
    def infer(self, name: str, X=None, *, version=None, outputs=None, id=None,
              body: dict | None = None) -> dict:
        """POST a v2 inference request (built from ``X``, or ``body`` as is); return the answer."""
        path = self._path(name, version) + "/infer"
        if body is None and np.size(X) >= BINARY_MIN_VALUES:
            content, headers = binary_request(X, id=id, outputs=outputs)
            return self.request("POST", path, content=content, headers=headers)
        if body is None:
            body = v2_request(X, id=id, outputs=outputs)
        return self.request("POST", path, json=body)

    def _output(self, answer: dict, out: str) -> np.ndarray:
        for o in answer["outputs"]:
            if o["name"] == out:
                return np.asarray(o["data"]).reshape(o["shape"])
        raise ServingError(200, f"the answer has no output {out!r}")

    def predict(self, name: str, X, *, version=None) -> np.ndarray:
        """Labels (classifiers) or values (regressors; 1-D for a single output)."""
        answer = self.infer(name, X, version=version)
        names = [o["name"] for o in answer["outputs"]]
        if "label" in names:
            return self._output(answer, "label")
        values = self._output(answer, "predictions")
        return values[:, 0] if values.ndim == 2 and values.shape[1] == 1 else values

    def predict_proba(self, name: str, X, *, version=None) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes)."""
        return self._output(self.infer(name, X, version=version, outputs=["probabilities"]),
                            "probabilities")

    def feedback(self, name: str, feedback) -> dict:
        """Post true labels of earlier requests: ``{request_id: [label per row]}``, or the
        ``{"feedback": [...]}`` body as is; return ``{"matched": n_rows, "unknown": [ids]}``."""
        if isinstance(feedback, dict) and "feedback" not in feedback:
            feedback = {"feedback": [{"id": str(rid), "labels": list(np.asarray(labels).tolist())}
                                     for rid, labels in feedback.items()]}
        return self.request("POST", f"/v2/models/{name}/feedback", json=feedback)

    # -- management ----------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int) -> dict:
        """Point ``alias`` at ``version`` (maintainer key)."""
        return self.request("PUT", f"/v2/models/{name}/aliases/{alias}", json={"version": version})

    def rollback(self, name: str, alias: str) -> dict:
        """Move ``alias`` back to its previous version (maintainer key)."""
        return self.request("POST", f"/v2/models/{name}/aliases/{alias}/rollback", json={})

    def canary(self, name: str, alias: str, weights: dict) -> dict:
        """Split ``alias`` between versions, e.g. ``{3: 0.9, 4: 0.1}`` (maintainer key)."""
        return self.request("PUT", f"/v2/models/{name}/aliases/{alias}",
                            json={"weights": {str(v): w for v, w in weights.items()}})

    def promote(self, name: str, alias: str, version: int | None = None) -> dict:
        """End ``alias``'s split in favour of its canary or ``version`` (maintainer key)."""
        return self.request("POST", f"/v2/models/{name}/aliases/{alias}/promote",
                            json={} if version is None else {"version": version})

    def abort(self, name: str, alias: str) -> dict:
        """End ``alias``'s split: all traffic back to its primary (maintainer key)."""
        return self.request("POST", f"/v2/models/{name}/aliases/{alias}/abort", json={})

    def shadow(self, name: str, alias: str, version: int | None) -> dict:
        """Copy ``alias``'s traffic to ``version`` (None stops it) (maintainer key)."""
        return self.request("PUT", f"/v2/models/{name}/aliases/{alias}/shadow",
                            json={"version": version})

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
