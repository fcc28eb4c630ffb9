"""ONNX in: a checked ONNX graph wrapped as a model with ``predict``, run by onnxruntime.

:func:`inspect_onnx` refuses what the workbench cannot verify or run safely:

* bytes that are not a valid ONNX model (``onnx.checker`` is the judge);
* operators outside the standard domains ``''`` (ai.onnx) and ``ai.onnx.ml`` — custom ops run
  native code from a library the graph names, so they are never loaded;
* tensors stored as *external data* (weights in files beside the graph, outside the blob and
  its checksum);
* graphs with other than one tensor input.

A ``ZipMap`` at a classifier's end (scikit-learn's converter adds one by default, giving a list
of dicts) is cut off, so the class probabilities come out as a tensor ``[N, n_classes]``.

The model is persisted like every workbench model as ``(spec, arrays)``: the ONNX bytes are the
``uint8`` array ``onnx``, so the registry stores them in a SHA-256-checked blob.
"""
from __future__ import annotations

import json

import numpy as np

from .base import SPEC_FORMAT

ALLOWED_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")
_FLOATS = {1: "float32", 11: "float64", 10: "float16"}


class OnnxModelError(ValueError):
    """An ONNX graph the workbench refuses to load, with the reason."""


def _onnx():
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - onnx is a runtime dependency
        raise ImportError("ONNX models need the 'onnx' and 'onnxruntime' packages") from exc
    return onnx


def _dims(value_info) -> list:
    shape = value_info.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else None for d in shape.dim]


def _strip_zipmap(graph) -> list | None:
    """Replace a graph output fed by ZipMap with ZipMap's tensor input; return its class labels."""
    for node in list(graph.node):
        if node.op_type != "ZipMap":
            continue
        labels = None
        for attr in node.attribute:
            if attr.name == "classlabels_int64s":
                labels = list(attr.ints)
            elif attr.name == "classlabels_strings":
                labels = [s.decode() for s in attr.strings]
        for out in graph.output:
            if out.name == node.output[0]:
                out.name = node.input[0]
                out.type.Clear()
                out.type.tensor_type.elem_type = 1
                out.type.tensor_type.shape.dim.add()
                out.type.tensor_type.shape.dim.add().dim_value = len(labels or [])
        graph.node.remove(node)
        return labels
    return None


def _class_labels(graph) -> list | None:
    for node in graph.node:
        if node.domain == "ai.onnx.ml":
            for attr in node.attribute:
                if attr.name in ("classlabels_int64s", "classlabels_ints") and attr.ints:
                    return list(attr.ints)
                if attr.name == "classlabels_strings" and attr.strings:
                    return [s.decode() for s in attr.strings]
    return None


def inspect_onnx(data: bytes, *, classes=None, task=None):
    """Check ONNX bytes and derive what serving needs; return ``(proto, info)``.

    ``info`` has ``signature`` (task, n_features, feature_names, dtype, n_outputs, classes),
    ``input``, ``output`` (the tensor ``forward`` returns), ``label_output`` and ``outputs``
    (every graph output with its dtype and shape).

    Raises
    ------
    OnnxModelError
        For a malformed graph, custom operators, external data, or inputs/outputs the
        workbench cannot serve.
    """
    onnx = _onnx()
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise OnnxModelError("an ONNX model must be given as non-empty bytes or a file path")
    try:
        proto = onnx.load_from_string(bytes(data))
    except Exception as exc:  # noqa: BLE001 - protobuf raises several types
        raise OnnxModelError(f"not a valid ONNX model: {str(exc).splitlines()[0][:300]}") from None
    graph = proto.graph
    external = [t.name for t in graph.initializer
                if t.data_location == onnx.TensorProto.EXTERNAL or t.external_data]
    if external:
        raise OnnxModelError(f"tensors {external[:5]} are stored as external data outside the "
                             f"model file, which cannot be checksummed; save the model with all "
                             f"tensors inside (onnx.save_model(..., save_as_external_data=False))")
    try:
        onnx.checker.check_model(proto)
    except Exception as exc:  # noqa: BLE001 - the checker raises several types
        raise OnnxModelError(f"not a valid ONNX model: {str(exc).splitlines()[0][:300]}") from None
    custom = sorted({op.domain for op in proto.opset_import if op.domain not in ALLOWED_DOMAINS}
                    | {n.domain for n in graph.node if n.domain not in ALLOWED_DOMAINS})
    if custom or proto.functions:
        what = custom or [f.name for f in proto.functions]
        raise OnnxModelError(f"the graph uses custom operators or functions {what}; only the "
                             f"standard domains 'ai.onnx' and 'ai.onnx.ml' can be served")
    zip_labels = _strip_zipmap(graph)
    init_names = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in init_names]
    if len(inputs) != 1:
        raise OnnxModelError(f"the graph must have exactly one input tensor (rows of features), "
                             f"it has {[i.name for i in inputs]}")
    inp = inputs[0]
    elem = inp.type.tensor_type.elem_type
    dims = _dims(inp)
    if elem not in _FLOATS or len(dims) != 2 or dims[1] is None:
        raise OnnxModelError(f"the input {inp.name!r} must be a float tensor [N, n_features] with "
                             f"a fixed n_features, got elem_type {elem} and shape {dims}")
    outputs = [{"name": o.name, "elem_type": o.type.tensor_type.elem_type, "shape": _dims(o)}
               for o in graph.output]
    meta = {p.key: p.value for p in proto.metadata_props}
    floats = [o for o in outputs if o["elem_type"] in _FLOATS]
    labels = [o for o in outputs if o["elem_type"] not in _FLOATS and len(o["shape"]) == 1]
    if not floats:
        raise OnnxModelError(f"the graph has no float output to serve; outputs: {outputs}")
    if classes is None:
        if "workbench.classes" in meta:
            classes = json.loads(meta["workbench.classes"])
        else:
            classes = zip_labels or _class_labels(graph)
    task = task or meta.get("workbench.task") or (
        "classification" if classes is not None or labels else "regression")
    if task not in ("classification", "regression"):
        raise OnnxModelError(f"task must be 'classification' or 'regression', got {task!r}")
    main = floats[-1] if task == "classification" and len(floats) > 1 else floats[0]
    width = main["shape"][1] if len(main["shape"]) == 2 else 1
    if task == "classification":
        if classes is None:
            raise OnnxModelError("the graph does not name its classes; pass classes=[...] "
                                 "(in the order of the probability columns)")
        classes = [c.item() if isinstance(c, np.generic) else c for c in classes]
        if width is not None and width != len(classes):
            raise OnnxModelError(f"the output {main['name']!r} has {width} columns but "
                                 f"{len(classes)} classes were given: {classes}")
    names = json.loads(meta["workbench.feature_names"]) if "workbench.feature_names" in meta else None
    signature = {"task": task, "n_features": int(dims[1]), "feature_names": names,
                 "dtype": _FLOATS[elem], "n_outputs": len(classes) if task == "classification"
                 else int(width or 1), "classes": classes if task == "classification" else None}
    info = {"signature": signature, "input": inp.name, "output": main["name"],
            "label_output": labels[0]["name"] if labels else None, "outputs": outputs}
    return proto, info


class OnnxModel:
    """A model given as an ONNX graph, run with onnxruntime; ``Registry.load`` returns one.

    Use :meth:`from_bytes`; ``predict`` / ``predict_proba`` / ``forward`` as for workbench models.
    """

    def __init__(self, data: bytes, info: dict, proto):
        import onnxruntime as ort

        self._data, self.info = bytes(data), info
        clean = proto.SerializeToString()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        sig = info["signature"]
        try:
            self._session = ort.InferenceSession(clean, options, providers=["CPUExecutionProvider"])
            # a dry run on one row of zeros: a graph that cannot answer is refused now, not
            # on the first request
            out = self._session.run([info["output"]], {
                info["input"]: np.zeros((1, sig["n_features"]), dtype=np.dtype(sig["dtype"]))})[0]
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            message = str(exc).split(" : ")[-1].splitlines()[0][:300]
            raise OnnxModelError(f"onnxruntime cannot run the graph: {message}") from None
        if sig["task"] == "regression":   # the graph may leave the output width open
            sig["n_outputs"] = int(np.asarray(out).size)
        elif np.asarray(out).size != sig["n_outputs"]:
            raise OnnxModelError(f"the output {info['output']!r} gives {np.asarray(out).size} "
                                 f"values for one row, expected {sig['n_outputs']}")
        self.n_features_in_ = sig["n_features"]
        self.dtype = sig["dtype"]
        self.task = sig["task"]
        if self.task == "classification":
            self.classes_ = np.asarray(sig["classes"])

    @classmethod
    def from_bytes(cls, data: bytes, *, classes=None, task=None) -> OnnxModel:
        """Check and load ONNX bytes (see :func:`inspect_onnx` for what is refused)."""
        proto, info = inspect_onnx(data, classes=classes, task=task)
        return cls(data, info, proto)

    def __repr__(self) -> str:
        sig = self.info["signature"]
        return (f"OnnxModel(task={sig['task']!r}, n_features={sig['n_features']}, "
                f"outputs={[o['name'] for o in self.info['outputs']]})")

    def signature(self) -> dict:
        return dict(self.info["signature"])

    def _check_X(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.dtype(self.dtype))
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have shape (n_samples, {self.n_features_in_}), got {X.shape}")
        return X

    def forward(self, X: np.ndarray) -> np.ndarray:
        """The float output (probabilities or values), shape (n_samples, n_outputs)."""
        X = np.ascontiguousarray(X, dtype=np.dtype(self.dtype))
        out = np.asarray(self._session.run([self.info["output"]], {self.info["input"]: X})[0])
        return out.reshape(len(X), -1)

    def predict_proba(self, X) -> np.ndarray:
        if self.task != "classification":
            raise AttributeError("a regression ONNX model has no predict_proba")
        return self.forward(self._check_X(X))

    def predict(self, X) -> np.ndarray:
        out = self.forward(self._check_X(X))
        if self.task == "classification":
            return self.classes_[out.argmax(axis=1)]
        return out[:, 0] if out.shape[1] == 1 else out

    def score(self, X, y) -> float:
        """Accuracy (classification) or R² (regression), as scikit-learn's ``score``."""
        from sklearn.metrics import accuracy_score, r2_score

        pred = self.predict(X)
        return float(accuracy_score(y, pred) if self.task == "classification" else r2_score(y, pred))

    # -- persistence: the ONNX bytes as one uint8 array --------------------------------------
    def to_spec(self):
        spec = {"format": SPEC_FORMAT, "class": "OnnxModel", "params": {},
                "attributes": {"classes": self.info["signature"]["classes"],
                               "task": self.task}}
        return spec, {"onnx": np.frombuffer(self._data, dtype=np.uint8)}

    @classmethod
    def _from_spec(cls, spec: dict, arrays: dict) -> OnnxModel:
        if "onnx" not in arrays or np.asarray(arrays["onnx"]).dtype != np.uint8:
            raise ValueError("an OnnxModel spec needs the uint8 array 'onnx'")
        attrs = spec.get("attributes", {})
        return cls.from_bytes(np.asarray(arrays["onnx"]).tobytes(), classes=attrs.get("classes"),
                              task=attrs.get("task"))
